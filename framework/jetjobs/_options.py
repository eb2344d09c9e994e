"""The names of ``@app.task`` options, and a clear error for one that does not exist.

A misspelt or foreign option (``retries=3``, ``timeout=30``, Celery's ``bind=True``)
must fail with the option's name and the closest valid one, never with a
``TypeError`` from an internal function.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._duration import parse_duration
from .errors import ConfigError

if TYPE_CHECKING:
    from ._settings import ScheduledTask

# Options a task class may also set as class attributes.
CLASS_OPTIONS = (
    "queue", "priority", "max_retries", "retry_backoff", "retry_delay_s", "retry_max_delay_s", "retry_factor",
    "retry_jitter", "retry_for", "timeout_s", "store_result", "cpu_bound", "description", "version", "middleware",
    "hooks", "unique", "unique_key", "unique_policy", "unique_ttl_s", "timeout_action", "max_memory", "cpu_limit",
)  # fmt: skip
TASK_OPTIONS = ("name", "base", *CLASS_OPTIONS)
SCHEDULE_OPTIONS = ("tz", "jitter_s", "exclusive", "misfire", "misfire_grace_s", "start_at")

# Spellings from other frameworks and the specification, with what to write instead.
_ALIASES = {
    "retries": "max_retries",
    "timeout": "timeout_s",
    "soft_time_limit": "timeout_s",
    "time_limit": "timeout_s",
    "retry_backoff_max": "retry_max_delay_s",
    "default_retry_delay": "retry_delay_s",
    "autoretry_for": "retry_for",
    "ignore_result": "store_result (inverted)",
    "retry_policy": "max_retries / retry_backoff / retry_delay_s ... (or a queue's retry_policy)",
}


def unknown_option(option: str, valid: tuple[str, ...], what: str) -> ConfigError:
    if option in _ALIASES:
        hint = f"; did you mean {_ALIASES[option]}?"
    else:
        close = difflib.get_close_matches(option, valid, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else f"; valid options: {', '.join(valid)}"
    return ConfigError(f"unknown {what} option {option!r}{hint}")


def check_task_options(options: Mapping[str, Any], *, extra: tuple[str, ...] = ()) -> None:
    """Raise ConfigError naming the first option ``@app.task`` does not have, with the closest one."""
    valid = (*TASK_OPTIONS, *extra)
    for option in options:
        if option not in valid:
            raise unknown_option(option, valid, "task")


def schedule_fields(entry: ScheduledTask) -> dict[str, Any]:
    """``register_periodic`` keyword arguments for one ``scheduler: tasks:`` entry of the settings."""
    fields: dict[str, Any] = {"args": list(entry.args), "kwargs": dict(entry.kwargs)}
    try:
        fields["every"] = parse_duration(entry.schedule)  # 5m, 1h: an interval
    except ValueError:
        fields["schedule"] = entry.schedule  # else a cron expression
    for key, value in (
        ("queue", entry.queue),
        ("priority", entry.priority),
        ("timeout_s", entry.timeout),
        ("tz", entry.timezone),
    ):
        if value is not None:
            fields[key] = value
    policy = entry.retry_policy
    if policy is not None:
        fields["retry_policy"] = policy.header_json()
    return fields
