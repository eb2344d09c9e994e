"""Unique tasks: one live job per key. Pure values: the declaration and the key of a call.

The lock itself lives on the server (``transport.LockStore``); the producer takes
it for ``reject`` / ``return_existing``, every worker takes it before running, so
two jobs of one key never run at the same time, whichever service enqueued them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .errors import ConfigError

UniquePolicy = Literal["reject", "return_existing", "queue"]
UNIQUE_POLICIES: tuple[str, ...] = get_args(UniquePolicy)
DEFAULT_UNIQUE_TTL_S = 3600.0


@dataclass(frozen=True, slots=True)
class UniqueSpec:
    """How a task is unique.

    ``key`` builds the key from the task's arguments (None: the task name and all
    arguments); ``policy`` says what a second enqueue with a live key does; ``ttl_s``
    is how long a key taken at enqueue stays held when no worker runs its job.
    """

    key: Callable[..., Any] | None
    policy: UniquePolicy
    ttl_s: float

    @property
    def at_enqueue(self) -> bool:
        """The producer takes the key (reject / return_existing); for ``queue`` only workers do."""
        return self.policy != "queue"


def make_unique(
    task: str,
    unique: bool,
    key: Callable[..., Any] | None,
    policy: str,
    ttl_s: float,
) -> UniqueSpec | None:
    if not unique and key is None:
        return None
    if key is not None and not callable(key):
        raise ConfigError(f"task {task!r}: unique_key must be a function of the task's arguments, got {key!r}")
    if policy not in UNIQUE_POLICIES:
        raise ConfigError(f"task {task!r}: unique_policy must be one of {', '.join(UNIQUE_POLICIES)}; got {policy!r}")
    if not ttl_s >= 1:
        raise ConfigError(f"task {task!r}: unique_ttl_s must be >= 1 (seconds)")
    return UniqueSpec(key, policy, float(ttl_s))  # type: ignore[arg-type]


def call_key(
    task: str, fn: Callable[..., Any], spec: UniqueSpec, args: list[Any] | tuple[Any, ...], kwargs: Mapping[str, Any]
) -> tuple[str, str]:
    """The (readable key, bucket key) of one call, from its JSON (wire) arguments.

    Arguments are bound to the function's parameters first, so ``f(1)`` and
    ``f(user_id=1)`` have one key. ``unique_key`` gets the arguments it names.
    """
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except TypeError:
        named: dict[str, Any] = {"args": list(args), **kwargs}
    else:
        bound.apply_defaults()
        named = dict(bound.arguments)
    if spec.key is None:
        readable = f"{task}:{json.dumps(named, sort_keys=True, separators=(',', ':'), default=str)}"
    else:
        readable = f"{task}:{spec.key(**_accepted(spec.key, named))}"
    return readable, hashlib.sha256(readable.encode()).hexdigest()[:40]


def _accepted(key_fn: Callable[..., Any], named: dict[str, Any]) -> dict[str, Any]:
    try:
        params = inspect.signature(key_fn).parameters
    except (TypeError, ValueError):
        return named
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return named
    return {k: v for k, v in named.items() if k in params}
