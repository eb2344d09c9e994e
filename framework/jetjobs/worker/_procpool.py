"""A process pool whose jobs can be killed: what ``cpu_bound=True`` tasks run in.

``concurrent.futures.ProcessPoolExecutor`` cannot stop one running call, so a
timeout would leave a runaway process burning a core. Here each child runs one
job at a time; on timeout (or shutdown) the child is killed and replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import multiprocessing
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from .._context import JobContext, JobControl
from .._outcome import ErrorInfo, RemoteError
from .._task import TaskSpec
from ..errors import Cancel, JobTimeout, Retry
from ._child import PROGRESS_PREFIX as _PROGRESS
from ._child import child_main
from ._throttle import CpuThrottle, running

log = logging.getLogger("jetjobs.worker")


class ChildDied(Exception):
    """The child process exited while running a job (crash, OOM kill, os._exit)."""


class _Child:
    def __init__(self, mp: Any) -> None:
        self.conn, child_conn = mp.Pipe()
        self.process: BaseProcess = mp.Process(target=child_main, args=(child_conn,), daemon=True, name="jetjobs-cpu")
        self.process.start()
        child_conn.close()

    async def call(self, payload: bytes, control: JobControl) -> bytes:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        conn: Connection = self.conn
        fd = conn.fileno()

        def readable() -> None:
            if future.done():
                loop.remove_reader(fd)
                return
            try:
                message = conn.recv_bytes()
            except (EOFError, OSError):
                loop.remove_reader(fd)
                future.set_exception(ChildDied(f"process exited with code {self.process.exitcode}"))
                return
            if message.startswith(_PROGRESS):  # the task's progress report; the reply comes later
                with contextlib.suppress(Exception):
                    report = json.loads(message)["progress"]
                    control.report(report[0], report[1])
                return
            loop.remove_reader(fd)
            future.set_result(message)

        conn.send_bytes(payload)
        loop.add_reader(fd, readable)
        try:
            return await future
        finally:
            loop.remove_reader(fd)

    def kill(self) -> None:
        with contextlib.suppress(Exception):
            self.process.kill()
            self.process.join(timeout=5)
        with contextlib.suppress(Exception):
            self.conn.close()


class ProcessPool:
    """Up to ``size`` child processes, started on first use (spawn start method)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._mp = multiprocessing.get_context("spawn")
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()

    async def run(
        self,
        spec: TaskSpec,
        args: list[Any],
        kwargs: dict[str, Any],
        ctx: JobContext,
        timeout_s: float | None,
    ) -> Any:
        """Run one job in a child; return its result (JSON-decoded: it crossed as JSON) or raise its error."""
        limits = spec.limits
        payload = json.dumps(
            {
                "module": spec.module,
                "qualname": spec.qualname,
                "name": spec.name,
                "args": args,
                "kwargs": kwargs,
                "context": _context_fields(ctx),
                "max_memory": limits.memory if limits is not None else None,
                "max_memory_text": limits.memory_text if limits is not None else None,
            }
        ).encode()
        async with self._slots:
            child = self._idle.pop() if self._idle else await asyncio.to_thread(_Child, self._mp)
            self._busy.add(child)
            pid = child.process.pid
            throttle = CpuThrottle(pid, limits.cpu) if limits is not None and limits.cpu and pid else None
            try:
                async with asyncio.timeout(timeout_s), running(throttle):
                    reply = await child.call(payload, ctx.control)
            except TimeoutError:
                child.kill()
                raise JobTimeout(f"task {spec.name} ran longer than {timeout_s:g}s; its process was killed") from None
            except BaseException:
                child.kill()  # cancelled (shutdown) or died: never reuse a child in an unknown state
                raise
            else:
                self._idle.append(child)
            finally:
                self._busy.discard(child)
        return _unpack(reply)

    async def close(self) -> None:
        children = [*self._idle, *self._busy]
        self._idle.clear()
        for child in children:
            await asyncio.to_thread(child.kill)


def _context_fields(ctx: JobContext) -> dict[str, Any]:
    skip = ("args", "kwargs", "control")
    fields = {f.name: getattr(ctx, f.name) for f in dataclasses.fields(ctx) if f.name not in skip}  # JSON
    fields["metadata"] = dict(ctx.metadata)
    fields["headers"] = dict(ctx.headers)
    return fields


def _unpack(reply: bytes) -> Any:
    decoded = json.loads(reply)
    if decoded.get("ok"):
        return decoded["result"]
    if "cancel" in decoded:
        raise Cancel(decoded["cancel"])
    if "retry" in decoded:
        raise Retry(delay_s=decoded["retry"]["delay_s"], reason=decoded["retry"]["reason"])
    error = decoded["error"]
    raise RemoteError(ErrorInfo(error["type"], error["message"], error["traceback"]), tuple(decoded["mro"]))
