"""RetryPolicy validation and retry_delay backoff math (pure, no server)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from jetjobs._retry import RetryPolicy, retry_delay
from jetjobs.errors import ConfigError


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_retries": -1}, "max_retries"),
        ({"backoff": "quadratic"}, "retry_backoff"),
        ({"backoff": ""}, "retry_backoff"),
        ({"delay_s": -0.1}, "retry_delay_s"),
        ({"max_delay_s": -1.0}, "retry_max_delay_s"),
        ({"factor": 0.99}, "retry_factor"),
        ({"factor": 0}, "retry_factor"),
        ({"retry_for": (ValueError, "ConnectionError")}, "retry_for"),
        ({"retry_for": (int,)}, "retry_for"),
        ({"retry_for": (ValueError(),)}, "retry_for"),
    ],
)
def test_invalid_policy_raises_config_error_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RetryPolicy(**fields)


def test_policy_accepts_a_bare_retry_for_class_as_a_one_element_tuple() -> None:
    assert RetryPolicy(retry_for=ValueError).retry_for == (ValueError,)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="retry_for"):
        RetryPolicy(retry_for=5)  # type: ignore[arg-type]


@pytest.mark.parametrize("field", ["delay_s", "max_delay_s", "factor"])
def test_policy_rejects_nan(field: str) -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(**{field: math.nan})


@pytest.mark.parametrize(
    ("fields", "max_attempts"),
    [({"max_retries": 0}, 1), ({}, 4), ({"max_retries": 10}, 11)],
)
def test_max_attempts_is_retries_plus_first_run(fields: dict[str, Any], max_attempts: int) -> None:
    assert RetryPolicy(**fields).max_attempts == max_attempts


def _policy(backoff: str, **fields: Any) -> RetryPolicy:
    return RetryPolicy(backoff=backoff, jitter=False, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "attempt", "expected"),
    [
        # exponential: delay_s * factor ** (attempt - 1)
        (_policy("exponential", delay_s=1.0), 1, 1.0),
        (_policy("exponential", delay_s=1.0), 2, 2.0),
        (_policy("exponential", delay_s=1.0), 5, 16.0),
        (_policy("exponential", delay_s=0.5, factor=3.0), 3, 4.5),
        (_policy("exponential", delay_s=1.0, max_delay_s=10.0), 5, 10.0),
        (_policy("exponential", delay_s=2.0, factor=1.0), 9, 2.0),
        # attempt numbers below 1 count as the first attempt
        (_policy("exponential", delay_s=1.0), 0, 1.0),
        (_policy("exponential", delay_s=1.0), -3, 1.0),
        # linear: delay_s * attempt
        (_policy("linear", delay_s=1.5), 1, 1.5),
        (_policy("linear", delay_s=1.5), 4, 6.0),
        (_policy("linear", delay_s=10.0, max_delay_s=25.0), 3, 25.0),
        # fixed: always delay_s
        (_policy("fixed", delay_s=7.0), 1, 7.0),
        (_policy("fixed", delay_s=7.0), 50, 7.0),
        (_policy("fixed", delay_s=7.0, max_delay_s=5.0), 1, 5.0),
        # zero delays stay zero
        (_policy("exponential", delay_s=0.0), 30, 0.0),
    ],
)
def test_retry_delay_without_jitter(policy: RetryPolicy, attempt: int, expected: float) -> None:
    assert retry_delay(policy, attempt) == pytest.approx(expected)


@pytest.mark.parametrize("backoff", ["exponential", "linear", "fixed"])
@pytest.mark.parametrize("attempt", [1_000, 10**9, 10**18])
def test_huge_attempt_numbers_are_capped_not_overflowing(backoff: str, attempt: int) -> None:
    delay = retry_delay(_policy(backoff, delay_s=1.0, max_delay_s=300.0), attempt)
    assert math.isfinite(delay)
    assert delay == (1.0 if backoff == "fixed" else 300.0)


def test_huge_factor_with_many_attempts_is_capped_not_overflowing() -> None:
    assert retry_delay(_policy("exponential", factor=1e6, max_delay_s=60.0), 100) == 60.0


@pytest.mark.parametrize(
    ("rand_value", "expected"),
    [(0.0, 2.0), (0.25, 2.5), (0.5, 3.0), (1.0, 4.0)],
)
def test_jitter_draws_between_half_and_full_delay(rand_value: float, expected: float) -> None:
    # attempt 3 of an exponential 1 s policy waits 4 s; equal jitter maps rand in [0, 1] to [2, 4].
    policy = RetryPolicy(backoff="exponential", delay_s=1.0, jitter=True)
    assert retry_delay(policy, 3, rand=lambda: rand_value) == pytest.approx(expected)


@pytest.mark.parametrize(("rand_value", "expected"), [(0.0, 5.0), (1.0, 10.0)])
def test_jitter_applies_after_the_cap(rand_value: float, expected: float) -> None:
    policy = RetryPolicy(backoff="linear", delay_s=100.0, max_delay_s=10.0, jitter=True)
    assert retry_delay(policy, 4, rand=lambda: rand_value) == pytest.approx(expected)


def test_jitter_off_never_calls_rand() -> None:
    def rand() -> float:
        raise AssertionError("rand must not be used without jitter")

    assert retry_delay(_policy("fixed", delay_s=3.0), 2, rand=rand) == 3.0


@pytest.mark.parametrize("attempt", [1, 2, 3, 8, 20])
def test_default_random_jitter_stays_within_bounds(attempt: int) -> None:
    policy = RetryPolicy(jitter=True)
    full = retry_delay(RetryPolicy(jitter=False), attempt)
    for _ in range(50):
        assert full / 2 <= retry_delay(policy, attempt) <= full
