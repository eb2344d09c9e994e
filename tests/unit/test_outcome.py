"""decide(error, attempt, policy) -> Outcome, and ErrorInfo.from_exception (pure, no server)."""

from __future__ import annotations

import pytest

from jetjobs._outcome import (
    Cancelled,
    DeadLetter,
    ErrorInfo,
    Outcome,
    RemoteError,
    RetryLater,
    decide,
)
from jetjobs._retry import RetryPolicy
from jetjobs.errors import Cancel, JobTimeout, Retry

# 3 attempts; delays without jitter: 2 s after attempt 1, 4 s after attempt 2.
ANY = RetryPolicy(max_retries=2, delay_s=2.0, factor=2.0, jitter=False)
ONLY_CONN = RetryPolicy(max_retries=2, delay_s=2.0, factor=2.0, jitter=False, retry_for=(ConnectionError,))
JITTERED = RetryPolicy(max_retries=2, delay_s=2.0, factor=2.0, jitter=True)

REMOTE_CONN = RemoteError(
    ErrorInfo("builtins.ConnectionResetError", "reset by peer"),
    ("builtins.ConnectionResetError", "builtins.ConnectionError", "builtins.OSError", "builtins.Exception"),
)
REMOTE_VALUE = RemoteError(ErrorInfo("builtins.ValueError", "bad value"), ("builtins.ValueError", "builtins.Exception"))


def _rand() -> float:
    return 0.5


@pytest.mark.parametrize(
    ("error", "attempt", "policy", "expected_delay"),
    [
        (ValueError("x"), 1, ANY, 2.0),
        (ValueError("x"), 2, ANY, 4.0),
        (ConnectionError("down"), 1, ONLY_CONN, 2.0),
        (ConnectionResetError("reset"), 2, ONLY_CONN, 4.0),  # subclass of a retry_for class
        (Retry(), 1, ANY, 2.0),
        (Retry(), 2, ONLY_CONN, 4.0),  # Retry is retried whatever retry_for says
        (Retry(delay_s=7), 1, ANY, 7.0),
        (Retry(delay_s=7), 2, ONLY_CONN, 7.0),
        (Retry(delay_s=0), 1, ANY, 0.0),
        (JobTimeout("too slow"), 1, ONLY_CONN, 2.0),  # timeouts are retried whatever retry_for says
        (REMOTE_CONN, 1, ONLY_CONN, 2.0),
        (REMOTE_VALUE, 2, ANY, 4.0),
        (ValueError("x"), 2, JITTERED, 3.0),  # 4 s with rand 0.5 -> 2 + 0.5 * 2
        (Retry(delay_s=7), 1, JITTERED, 7.0),  # an explicit delay is not jittered
    ],
)
def test_retryable_error_with_attempts_left_is_retried_later(
    error: BaseException, attempt: int, policy: RetryPolicy, expected_delay: float
) -> None:
    outcome = decide(error, attempt, policy, rand=_rand)
    assert isinstance(outcome, RetryLater)
    assert outcome.delay_s == pytest.approx(expected_delay)


@pytest.mark.parametrize(
    ("error", "attempt", "policy", "error_type", "reason"),
    [
        (ValueError("x"), 1, ONLY_CONN, "ValueError", "ValueError is not in retry_for"),
        (KeyError("k"), 2, ONLY_CONN, "KeyError", "KeyError is not in retry_for"),
        (ValueError("x"), 3, ONLY_CONN, "ValueError", "ValueError is not in retry_for"),
        (REMOTE_VALUE, 1, ONLY_CONN, "builtins.ValueError", "builtins.ValueError is not in retry_for"),
        (ValueError("x"), 3, ANY, "ValueError", "gave up after 3 attempts"),
        (ConnectionError("down"), 3, ONLY_CONN, "ConnectionError", "gave up after 3 attempts"),
        (ConnectionError("down"), 9, ONLY_CONN, "ConnectionError", "gave up after 9 attempts"),
        (Retry(), 3, ANY, "jetjobs.errors.Retry", "gave up after 3 attempts"),
        (Retry(delay_s=7), 3, ANY, "jetjobs.errors.Retry", "gave up after 3 attempts"),
        (JobTimeout("slow"), 3, ONLY_CONN, "jetjobs.errors.JobTimeout", "gave up after 3 attempts"),
        (REMOTE_CONN, 3, ONLY_CONN, "builtins.ConnectionResetError", "gave up after 3 attempts"),
        (ValueError("x"), 1, RetryPolicy(max_retries=0), "ValueError", "gave up after 1 attempt"),
    ],
)
def test_unretryable_or_exhausted_error_is_dead_lettered(
    error: BaseException, attempt: int, policy: RetryPolicy, error_type: str, reason: str
) -> None:
    outcome = decide(error, attempt, policy, rand=_rand)
    assert isinstance(outcome, DeadLetter)
    assert outcome.reason == reason
    assert outcome.state == "failed"
    assert outcome.error.type == error_type


def test_dead_letter_reason_uses_singular_for_one_attempt() -> None:
    outcome = decide(ValueError("x"), 1, RetryPolicy(max_retries=0))
    assert isinstance(outcome, DeadLetter)
    assert not outcome.reason.endswith("attempts")


@pytest.mark.parametrize(
    ("error", "attempt", "policy", "reason"),
    [
        (Cancel("x"), 1, ANY, "x"),
        (Cancel("x"), 3, ANY, "x"),  # the last attempt still cancels, no dead letter
        (Cancel("x"), 2, ONLY_CONN, "x"),  # not in retry_for does not matter
        (Cancel(), 1, ANY, "cancelled by the task"),
    ],
)
def test_cancel_wins_over_retry_and_dead_letter(
    error: BaseException, attempt: int, policy: RetryPolicy, reason: str
) -> None:
    assert decide(error, attempt, policy) == Cancelled(reason=reason)


@pytest.mark.parametrize(
    ("error", "expected_type"),
    [
        (ValueError("boom"), "ValueError"),
        (ConnectionResetError("boom"), "ConnectionResetError"),
        (JobTimeout("boom"), "jetjobs.errors.JobTimeout"),
        (Cancel("boom"), "jetjobs.errors.Cancel"),
    ],
)
def test_error_info_names_builtins_plainly_and_others_qualified(error: BaseException, expected_type: str) -> None:
    info = ErrorInfo.from_exception(error)
    assert info.type == expected_type
    assert info.message == "boom"


class _Outer:
    class NestedError(Exception):
        pass


def test_error_info_uses_module_and_qualname_for_nested_classes() -> None:
    info = ErrorInfo.from_exception(_Outer.NestedError("n"))
    assert info.type == f"{__name__}._Outer.NestedError"


def test_error_info_keeps_the_traceback_of_a_raised_error() -> None:
    try:
        raise KeyError("missing")
    except KeyError as exc:
        info = ErrorInfo.from_exception(exc)
    assert info.message == "'missing'"
    assert "test_error_info_keeps_the_traceback_of_a_raised_error" in info.traceback
    assert info.traceback.rstrip().endswith("KeyError: 'missing'")


@pytest.mark.parametrize(("length", "truncated"), [(10, False), (3_900, False), (10_000, True)])
def test_error_info_truncates_long_tracebacks_keeping_the_end(length: int, truncated: bool) -> None:
    message = "m" * (length - 1) + "END"
    info = ErrorInfo.from_exception(RuntimeError(message))
    assert info.message == message  # the message itself is never cut
    assert info.traceback.rstrip().endswith("END")
    assert info.traceback.startswith("…") is truncated
    if truncated:
        assert len(info.traceback) == 4_001


def test_remote_error_keeps_its_info_in_the_outcome() -> None:
    outcome = decide(REMOTE_VALUE, 1, ANY, rand=_rand)
    assert isinstance(outcome, RetryLater)
    assert outcome.error is REMOTE_VALUE.info


def _outcome_kind(outcome: Outcome) -> str:
    return type(outcome).__name__


@pytest.mark.parametrize(
    ("retry_for", "expected"),
    [
        ((ConnectionError,), "RetryLater"),
        ((OSError,), "RetryLater"),
        ((ConnectionResetError,), "RetryLater"),
        ((ValueError,), "DeadLetter"),
        ((ValueError, ConnectionError), "RetryLater"),
        ((), "DeadLetter"),
    ],
)
def test_remote_error_matches_retry_for_by_mro_names(retry_for: tuple[type[BaseException], ...], expected: str) -> None:
    policy = RetryPolicy(max_retries=2, jitter=False, retry_for=retry_for)
    assert _outcome_kind(decide(REMOTE_CONN, 1, policy)) == expected
