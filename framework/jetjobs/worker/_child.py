"""The loop of a process-pool child: run cpu_bound tasks, one at a time.

Requests and replies are JSON over a pipe (no pickle): the task is found by
module and qualified name, its arguments are validated here, and errors come
back as values with their class hierarchy so the parent can apply retry_for.
"""

from __future__ import annotations

import importlib
import json
import signal
from multiprocessing.connection import Connection
from typing import Any

from .._context import JobContext, set_current
from .._outcome import ErrorInfo
from .._signature import Signature
from ..errors import Cancel, Retry


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
        conn.send_bytes(_run(request, cache))


def _run(request: dict[str, Any], cache: dict[tuple[str, str], tuple[Any, Signature]]) -> bytes:
    try:
        fn, signature = _resolve(request["module"], request["qualname"], request["name"], cache)
        set_current(JobContext(**request["context"]))
        args, kwargs = signature.decode_call(request["args"], request["kwargs"])
        result = signature.encode_result(fn(*args, **kwargs))
    except BaseException as exc:
        return _error_reply(exc)
    return b'{"ok":true,"result":' + result + b"}"


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
