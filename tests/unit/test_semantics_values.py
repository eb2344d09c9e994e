"""Pure values of the task semantics: unique keys, hand-over delays, retry defaults, option hints."""

from __future__ import annotations

import json

import pytest

from jetjobs._defaults import RetryDefaults, merged
from jetjobs._options import check_task_options
from jetjobs._unique import UniqueSpec, call_key
from jetjobs.errors import ConfigError
from jetjobs.worker._executor import handover_delay


def sync_user(user_id: int, full: bool = False) -> None: ...


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [([42], {}), ([], {"user_id": 42}), ([42, False], {}), ([42], {"full": False})],
)
def test_the_default_key_binds_arguments_to_parameters(args: list[object], kwargs: dict[str, object]) -> None:
    spec = UniqueSpec(key=None, policy="reject", ttl_s=60)
    assert call_key("sync_user", sync_user, spec, args, kwargs) == call_key("sync_user", sync_user, spec, [42], {})


def test_a_key_function_gets_the_arguments_it_names() -> None:
    spec = UniqueSpec(key=lambda user_id: f"user:{user_id}", policy="queue", ttl_s=60)
    readable, key = call_key("sync_user", sync_user, spec, [7], {"full": True})
    assert readable == "sync_user:user:7"
    assert key == call_key("sync_user", sync_user, spec, [7], {})[1]
    assert len(key) == 40
    assert call_key("other", sync_user, spec, [7], {})[1] != key  # the task name is part of the key


@pytest.mark.parametrize(("handovers", "delay"), [(0, 0), (5, 0), (6, 1), (7, 2), (8, 4), (9, 8), (10, 10), (50, 10)])
def test_handover_delays(handovers: int, delay: float) -> None:
    assert handover_delay(handovers) == delay


def test_retry_defaults_layer_field_by_field() -> None:
    app = RetryDefaults.model_validate({"max_retries": 4, "backoff": {"initial": "2s"}})
    queue = RetryDefaults.model_validate({"backoff": {"type": "fixed", "max": "1m"}})
    assert merged(app, queue) == {
        "max_retries": 4,
        "retry_delay_s": 2.0,
        "retry_backoff": "fixed",
        "retry_max_delay_s": 60.0,
    }
    header = json.loads(
        RetryDefaults.model_validate({"max_attempts": 3, "backoff": {"initial": "500ms"}}).header_json()
    )
    assert header == {"max_attempts": 3, "initial_s": 0.5}
    with pytest.raises(ValueError, match="give max_retries or max_attempts, not both"):
        RetryDefaults(max_retries=1, max_attempts=2)


def test_task_options_are_checked_by_name() -> None:
    check_task_options({"queue": "q", "max_retries": 1, "base": object, "unique": True})
    with pytest.raises(ConfigError, match=r"unknown task option 'cpu_limt'; did you mean 'cpu_limit'\?"):
        check_task_options({"cpu_limt": 0.5})
