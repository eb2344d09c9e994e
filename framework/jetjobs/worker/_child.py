"""The loop of a process-pool child: run cpu_bound tasks, one at a time.

Requests and replies are JSON over a pipe (no pickle): the task is found by
module and qualified name, its arguments are validated here, and errors come
back as values with their class hierarchy so the parent can apply retry_for.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import resource
import signal
import threading
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from typing import Any

from .._context import JobContext, JobControl, set_current
from .._outcome import ErrorInfo
from .._signature import Signature
from ..errors import Cancel, ResourceLimitExceeded, Retry

PROGRESS_PREFIX = b'{"progress":'
_PROGRESS_EVERY_S = 0.2


def child_main(conn: Connection) -> None:
    # The parent decides when a job stops (timeout, shutdown): a Ctrl-C sent to
    # the whole process group must not interrupt a job half-way.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    cache: dict[tuple[str, str], tuple[Any, Signature]] = {}
    while True:
        try:
            request = json.loads(conn.recv_bytes())
        except EOFError:
            return
        progress = _ProgressPipe(conn)
        reply = _run(request, cache, progress)
        progress.close()
        conn.send_bytes(reply)


class _ProgressPipe:
    """Sends the task's progress to the parent at most every 0.2 s, the last report included.

    A report that comes too soon is sent by a timer thread when its time comes, so
    a task that reports and then blocks still shows its latest value. ``close``
    sends what is left before the reply goes out.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._sent_at = 0.0
        self._pending: JobControl | None = None
        self._timer: threading.Timer | None = None

    def __call__(self, control: JobControl) -> None:
        with self._lock:
            self._pending = control
            wait = self._sent_at + _PROGRESS_EVERY_S - time.monotonic()
            if wait <= 0:
                self._send()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._on_timer)
                self._timer.daemon = True
                self._timer.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._timer = None
            self._send()

    def close(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._send()

    def _send(self) -> None:
        control, self._pending = self._pending, None
        if control is None or control.latest is None:
            return
        self._sent_at = time.monotonic()
        latest = control.latest
        self._conn.send_bytes(PROGRESS_PREFIX + json.dumps([latest["fraction"], latest["message"]]).encode() + b"}")


def _run(
    request: dict[str, Any], cache: dict[tuple[str, str], tuple[Any, Signature]], progress: _ProgressPipe
) -> bytes:
    try:
        fn, signature = _resolve(request["module"], request["qualname"], request["name"], cache)
        set_current(JobContext(**request["context"], control=JobControl(on_report=progress)))
        args, kwargs = signature.decode_call(request["args"], request["kwargs"])
        with _memory_limit(request.get("max_memory")):
            value = fn(*args, **kwargs)
        result = signature.encode_result(value)
    except MemoryError as exc:
        if not request.get("max_memory"):
            return _error_reply(exc)
        return _error_reply(
            ResourceLimitExceeded(
                f"task {request['name']} went over max_memory={request['max_memory_text']} "
                f"(address space of its process, RLIMIT_AS): {type(exc).__name__} {exc}".rstrip()
            )
        )
    except BaseException as exc:
        return _error_reply(exc)
    return b'{"ok":true,"result":' + result + b"}"


@contextlib.contextmanager
def _memory_limit(limit: int | None) -> Iterator[None]:
    """Cap the address space of this process while the task runs (soft limit, restored after)."""
    if not limit:
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    capped = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (capped, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _resolve(
    module: str, qualname: str, name: str, cache: dict[tuple[str, str], tuple[Any, Signature]]
) -> tuple[Any, Signature]:
    key = (module, qualname)
    if key not in cache:
        obj: Any = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        fn = getattr(obj, "fn", obj)
        signature = getattr(obj, "signature", None) or Signature(fn, name)
        cache[key] = (fn, signature)
    return cache[key]


def _error_reply(exc: BaseException) -> bytes:
    info = ErrorInfo.from_exception(exc)
    reply: dict[str, Any] = {
        "ok": False,
        "error": {"type": info.type, "message": info.message, "traceback": info.traceback},
        "mro": [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__],
    }
    if isinstance(exc, Retry):
        reply["retry"] = {"delay_s": exc.delay_s, "reason": exc.reason}
    if isinstance(exc, Cancel):
        reply["cancel"] = exc.reason
    return json.dumps(reply).encode()
