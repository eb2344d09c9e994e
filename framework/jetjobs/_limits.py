"""Resource limits of ``cpu_bound`` tasks, as values: parsing and checking the declaration.

Enforced in the worker's process pool (``worker/_procpool.py``, ``worker/_child.py``):
``max_memory`` by ``setrlimit(RLIMIT_AS)`` in the child for the duration of the job,
``cpu_limit`` by the parent pausing the child (SIGSTOP / SIGCONT) whenever its CPU
time runs ahead of ``cpu_limit`` x wall time.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal

from .errors import ConfigError

TimeoutAction = Literal["retry", "fail"]

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
MIN_MEMORY = 64 * 1024**2  # below this the interpreter itself does not fit


def parse_memory(value: int | str) -> int:
    """Bytes from ``512MB`` (10^6), ``512MiB`` / ``512M`` (2^20), ``2GB``, or an int of bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    elif isinstance(value, str) and (match := _SIZE_RE.match(value)) and match.group(2).lower() in _UNITS:
        size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    else:
        raise ConfigError(f"max_memory {value!r}: use bytes or a size like '512MB', '512MiB', '2GB'")
    if size < MIN_MEMORY:
        raise ConfigError(f"max_memory {value!r} is below 64 MiB: the worker's child process itself needs more")
    return size


@dataclass(frozen=True, slots=True)
class Limits:
    """``max_memory`` (bytes of address space) and ``cpu_limit`` (share of one core) of a process task."""

    memory: int | None = None
    memory_text: str | None = None
    cpu: float | None = None


def make_limits(task: str, kind: str, max_memory: int | str | None, cpu_limit: float | None) -> Limits | None:
    if max_memory is None and cpu_limit is None:
        return None
    option = "max_memory" if max_memory is not None else "cpu_limit"
    if kind != "process":
        raise ConfigError(
            f"task {task!r}: {option} needs cpu_bound=True: only a task in its own process can be limited "
            f"({'an' if kind == 'async' else 'a'} {kind} task shares the worker's process)"
        )
    if cpu_limit is not None:
        if isinstance(cpu_limit, bool) or not isinstance(cpu_limit, int | float) or not 0.01 <= cpu_limit <= 1:
            raise ConfigError(f"task {task!r}: cpu_limit is a share of one core from 0.01 to 1, got {cpu_limit!r}")
        if not os.path.exists("/proc/self/stat"):
            raise ConfigError(f"task {task!r}: cpu_limit needs Linux (/proc), it cannot be enforced here")
    memory = parse_memory(max_memory) if max_memory is not None else None
    text = str(max_memory) if max_memory is not None else None
    return Limits(memory, text, float(cpu_limit) if cpu_limit is not None else None)


def check_timeout_action(task: str, action: str) -> TimeoutAction:
    if action not in ("retry", "fail"):
        raise ConfigError(f"task {task!r}: timeout_action must be 'retry' or 'fail', got {action!r}")
    return action  # type: ignore[return-value]
