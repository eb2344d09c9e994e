"""App-wide and per-queue defaults a task or schedule takes when it does not say: retry policy, time zone.

Set them in code (``App(retry_policy=..., timezone=...)``, ``app.queue(name, retry_policy=...)``),
in the environment (``JETJOBS_RETRY_POLICY__BACKOFF__INITIAL=2s``) or in YAML, in the form of
the specification::

    retry_policy:                 # app-wide
      max_retries: 5
      backoff: {type: exponential, initial: 1s, max: 60s, multiplier: 2}
    timezone: Europe/Berlin
    tasks:
      queues:
        default:
          concurrency: 10
          rate_limit: 100
          retry_policy:
            backoff: {type: exponential, initial: 1s, max: 60s, multiplier: 2}

A task's own ``@app.task`` options win over its class's, which win over its queue's,
which win over the app's.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ._duration import parse_duration


def _seconds(value: Any) -> float:
    return parse_duration(value)


Duration = Annotated[float, BeforeValidator(_seconds)]
"""Seconds, from a number or text such as ``500ms``, ``1s``, ``5m``, ``1h30m``, ``7d``."""


def check_timezone(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as 'Europe/Berlin'") from None
    return value


TimeZone = Annotated[str | None, BeforeValidator(check_timezone)]


class Backoff(BaseModel):
    """How the delay between attempts grows: ``type``, ``initial``, ``max``, ``multiplier``, ``jitter``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["exponential", "linear", "fixed"] | None = None
    initial: Duration | None = Field(None, ge=0)
    max: Duration | None = Field(None, ge=0)
    multiplier: float | None = Field(None, ge=1)
    jitter: bool | None = None


class RetryDefaults(BaseModel):
    """A retry policy as settings: only the fields given are defaults.

    Example::

        App("billing", retry_policy={"max_retries": 5, "backoff": {"initial": "2s", "max": "1m"}})
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_retries: int | None = Field(None, ge=0)
    max_attempts: int | None = Field(None, ge=1, description="max_retries + 1; give one of them")
    backoff: Backoff | None = None

    @model_validator(mode="after")
    def _one_count(self) -> RetryDefaults:
        if self.max_retries is not None and self.max_attempts is not None:
            raise ValueError("give max_retries or max_attempts, not both")
        return self

    def task_options(self) -> dict[str, Any]:
        """As ``@app.task`` keyword arguments (only those set)."""
        options: dict[str, Any] = {}
        if self.max_retries is not None:
            options["max_retries"] = self.max_retries
        elif self.max_attempts is not None:
            options["max_retries"] = self.max_attempts - 1
        b = self.backoff
        if b is not None:
            for key, value in (
                ("retry_backoff", b.type),
                ("retry_delay_s", b.initial),
                ("retry_max_delay_s", b.max),
                ("retry_factor", b.multiplier),
                ("retry_jitter", b.jitter),
            ):
                if value is not None:
                    options[key] = value
        return options

    def header_json(self) -> str:
        """As the ``Jetjobs-Retry-Policy`` header of one job (docs/wire-protocol.md)."""
        raw: dict[str, Any] = {}
        options = self.task_options()
        if "max_retries" in options:
            raw["max_attempts"] = options["max_retries"] + 1
        for key, name in (
            ("retry_backoff", "backoff"),
            ("retry_delay_s", "initial_s"),
            ("retry_max_delay_s", "max_s"),
            ("retry_factor", "multiplier"),
            ("retry_jitter", "jitter"),
        ):
            if key in options:
                raw[name] = options[key]
        return json.dumps(raw, separators=(",", ":"))


def merged(*layers: RetryDefaults | None) -> dict[str, Any]:
    """Task options from retry defaults, later layers winning."""
    options: dict[str, Any] = {}
    for layer in layers:
        if layer is not None:
            options.update(layer.task_options())
    return options
