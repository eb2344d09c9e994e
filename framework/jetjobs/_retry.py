"""Retry policy and backoff math (pure)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .errors import ConfigError

Backoff = Literal["exponential", "linear", "fixed"]

# Deliveries beyond a job's attempts that a worker still runs: an attempt cut short
# by a worker restart (nak on shutdown) or a lost worker also counts as a delivery.
LOST_DELIVERY_SLACK = 2


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how soon a failing job runs again.

    ``max_retries`` counts re-runs, so a job runs at most ``max_retries + 1`` times.
    The n-th retry waits ``delay_s * factor**(n-1)`` (exponential), ``delay_s * n``
    (linear) or ``delay_s`` (fixed), capped at ``max_delay_s``. With ``jitter`` the
    wait is drawn uniformly from [wait/2, wait] ("equal jitter"), which spreads a
    thundering herd while keeping a lower bound.
    """

    max_retries: int = 3
    backoff: Backoff = "exponential"
    delay_s: float = 1.0
    max_delay_s: float = 300.0
    factor: float = 2.0
    jitter: bool = True
    retry_for: tuple[type[BaseException], ...] = (Exception,)
    step_s: float | None = None  # linear: delay_s + step_s * (n - 1); None: delay_s * n
    retry_on: tuple[str, ...] = ()  # error type names (any class in the error's MRO); empty: retry_for decides

    def __post_init__(self) -> None:
        if isinstance(self.retry_for, type):
            object.__setattr__(self, "retry_for", (self.retry_for,))
        if not all(math.isfinite(v) for v in (self.delay_s, self.max_delay_s, self.factor)):
            raise ConfigError("retry_delay_s, retry_max_delay_s and retry_factor must be finite numbers")
        if self.max_retries < 0:
            raise ConfigError("max_retries must be >= 0")
        if self.backoff not in ("exponential", "linear", "fixed"):
            raise ConfigError(f"retry_backoff must be exponential, linear or fixed, not {self.backoff!r}")
        if self.delay_s < 0 or self.max_delay_s < 0:
            raise ConfigError("retry_delay_s and retry_max_delay_s must be >= 0")
        if self.factor < 1:
            raise ConfigError("retry_factor must be >= 1")
        kinds = self.retry_for if isinstance(self.retry_for, tuple | list) else (self.retry_for,)
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in kinds):
            raise ConfigError("retry_for must be a tuple of exception classes")
        object.__setattr__(self, "retry_for", tuple(kinds))

    @property
    def max_attempts(self) -> int:
        return self.max_retries + 1


def retry_delay(policy: RetryPolicy, attempt: int, *, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    n = max(attempt, 1)
    if policy.backoff == "exponential":
        try:
            raw = policy.delay_s * policy.factor ** min(n - 1, 64)
        except OverflowError:
            raw = math.inf
    elif policy.backoff == "linear":
        raw = policy.delay_s * n if policy.step_s is None else policy.delay_s + policy.step_s * (n - 1)
    else:
        raw = policy.delay_s
    delay = min(raw, policy.max_delay_s)
    if policy.jitter:
        delay = delay / 2 + rand() * delay / 2
    return delay


def policy_from_json(text: str, base: RetryPolicy) -> RetryPolicy:
    """A job's own retry policy (header ``Jetjobs-Retry-Policy``) over its task's policy.

    Keys: ``max_attempts``, ``backoff``, ``initial_s``, ``step_s``, ``max_s``,
    ``multiplier``, ``jitter``, ``retry_on`` (error type names); missing keys keep
    the task's values. Raises ValueError when the JSON is malformed.
    """
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("retry policy must be a JSON object")
    fields = {
        "max_retries": int(raw["max_attempts"]) - 1 if "max_attempts" in raw else base.max_retries,
        "backoff": raw.get("backoff", base.backoff),
        "delay_s": float(raw.get("initial_s", base.delay_s)),
        "max_delay_s": float(raw.get("max_s", base.max_delay_s)),
        "factor": float(raw.get("multiplier", base.factor)),
        "jitter": bool(raw.get("jitter", base.jitter)),
        "step_s": float(raw["step_s"]) if raw.get("step_s") is not None else base.step_s,
        "retry_on": tuple(str(n) for n in raw.get("retry_on") or ()),
        "retry_for": (Exception,) if raw.get("retry_on") else base.retry_for,
    }
    try:
        return RetryPolicy(**fields)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
