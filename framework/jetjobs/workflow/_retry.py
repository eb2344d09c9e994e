"""A step's retry policy and its backoff math (pure)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from ._errors import WorkflowDefinitionError

Backoff = Literal["exponential", "linear", "fixed"]
BACKOFFS: tuple[str, ...] = get_args(Backoff)


@dataclass(frozen=True)
class StepRetry:
    """How often and how soon a failed step runs again.

    ``max_attempts`` counts every run, the first included. After failed attempt ``n``
    the step waits ``initial_s * multiplier**(n-1)`` (exponential), ``initial_s +
    step_s*(n-1)`` (linear; ``step_s`` defaults to ``initial_s``) or ``initial_s``
    (fixed), at most ``max_s``; with ``jitter`` the wait is drawn from [wait/2, wait].

    Example::

        StepRetry(max_attempts=5, backoff="linear", initial_s=1, step_s=2, max_s=10)
    """

    max_attempts: int = 3
    backoff: Backoff = "exponential"
    initial_s: float = 1.0
    step_s: float | None = None
    max_s: float = 60.0
    multiplier: float = 2.0
    jitter: bool = True

    def __post_init__(self) -> None:
        def bad(key: str, reason: str) -> WorkflowDefinitionError:
            return WorkflowDefinitionError(reason, field=f"retry.{key}")

        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise bad("max_attempts", f"max_attempts must be an integer >= 1, not {self.max_attempts!r}")
        if self.backoff not in BACKOFFS:
            raise bad("backoff", f"backoff must be one of {', '.join(BACKOFFS)}, not {self.backoff!r}")
        for key in ("initial_s", "step_s", "max_s", "multiplier"):
            value = getattr(self, key)
            if value is None and key == "step_s":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
                raise bad(key, f"{key} must be a finite number >= 0, not {value!r}")
            object.__setattr__(self, key, float(value))
        if self.multiplier < 1:
            raise bad("multiplier", f"multiplier must be >= 1, not {self.multiplier!r}")
        if not isinstance(self.jitter, bool):
            raise bad("jitter", f"jitter must be true or false, not {self.jitter!r}")

    def delay_for(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next one.

        >>> StepRetry(backoff="linear", initial_s=1, step_s=2, jitter=False).delay_for(3)
        5.0
        """
        n = max(attempt, 1)
        if self.backoff == "exponential":
            try:
                raw = self.initial_s * self.multiplier ** min(n - 1, 1024)
            except OverflowError:
                raw = math.inf
        elif self.backoff == "linear":
            step = self.initial_s if self.step_s is None else self.step_s
            raw = self.initial_s + step * (n - 1)
        else:
            raw = self.initial_s
        delay = min(raw, self.max_s)
        if self.jitter:
            delay = delay / 2 + rand() * delay / 2
        return delay

    def to_json(self) -> dict[str, Any]:
        return {
            "backoff": self.backoff,
            "initial_s": self.initial_s,
            "jitter": self.jitter,
            "max_attempts": self.max_attempts,
            "max_s": self.max_s,
            "multiplier": self.multiplier,
            "step_s": self.step_s,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepRetry:
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise WorkflowDefinitionError(f"unknown key {unknown[0]!r}", field="retry")
        return cls(**data)


def error_type_names(error: BaseException) -> tuple[str, ...]:
    """Qualified names of the error's class and its bases, most specific first (``object`` left out).

    >>> error_type_names(KeyError("x"))
    ('builtins.KeyError', 'builtins.LookupError', 'builtins.Exception', 'builtins.BaseException')
    """
    return tuple(f"{t.__module__}.{t.__qualname__}" for t in type(error).__mro__ if t is not object)


def matches_retry_on(retry_on: tuple[str, ...], type_names: tuple[str, ...]) -> bool:
    """True when an error whose class (and bases) are ``type_names`` is worth a retry.

    An empty ``retry_on`` retries everything. A dotted entry must equal a qualified name;
    a plain entry (``TransientError``) matches the last part of one, whatever the module.

    >>> matches_retry_on(("TransientError",), ("shop.payments.TransientError", "builtins.Exception"))
    True
    >>> matches_retry_on(("httpx.ReadTimeout",), ("shop.ReadTimeout",))
    False
    """
    if not retry_on:
        return True
    wanted = set(retry_on)
    return any(name in wanted or name.rpartition(".")[2] in wanted for name in type_names)
