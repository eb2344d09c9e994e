"""``jetjobs worker --processes N``: N complete worker processes under one supervisor.

One Python process runs one event loop on one core; a pod with two cores runs two
workers to use both. How it works (docs/operations.md, "Several processes per pod"):

* **Children** are the same command, ``python -m jetjobs worker APP ... --processes 1``,
  each a complete worker: its own connection, the same durable consumers (the server
  spreads the jobs as it does over replicas), its own worker id and presence record
  (``host:pid``). They start in a session of their own, so a terminal's Ctrl-C
  reaches only the supervisor, which forwards it once.
* **A socket pair per child** (its end passed with ``--supervised-by FD``): the child
  writes ``ready <port>`` once its worker has started; end-of-file on it tells the
  child that its supervisor is gone (even by SIGKILL), and the child stops gracefully.
  No orphans, on any Unix, without polling.
* **Signals**: SIGTERM or SIGINT to the supervisor → SIGTERM to every child (each stops
  fetching, gives running jobs ``shutdown_grace_s``, hands back the rest); a second
  signal is forwarded too (children stop hard). Exit 0 once all exited 0. A child still
  running ``shutdown_grace_s`` + 10 s after the signal is killed (exit 1).
* **A child that exits unasked** (crash, OOM kill, lost connection): the supervisor
  stops the others gracefully and exits non-zero (the child's code, or 128 + signal),
  so the pod restarts: Kubernetes counts and backs off restarts, and a pod is never
  left running at partial capacity without anyone seeing it.
* **One endpoint**: children serve ``/metrics``, ``/healthz`` and ``/readyz`` on
  ephemeral 127.0.0.1 ports; the supervisor serves the operator's port and asks them.
  ``/metrics`` is the merge of theirs (``telemetry._exposition``), ``/readyz`` is 200
  only when every child is ready, ``/healthz`` only when every running child is alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..telemetry import HealthServer
from ..telemetry._exposition import merge_exposition
from ..telemetry._http import loopback_get
from ..worker import Worker

log = logging.getLogger("jetjobs.cli")

STOP_MARGIN_S = 10.0  # after shutdown_grace_s: time to hand back jobs and close, then SIGKILL
_READY_LINE = "ready"


@dataclass
class _Child:
    index: int
    proc: asyncio.subprocess.Process
    channel: socket.socket
    port: int | None = None
    ready: bool = False
    metrics: str = ""  # the last exposition it answered with (a slow answer keeps counters steady)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.proc.returncode is None


class Supervisor:
    """Starts ``processes`` children with ``command(fd)``, serves one endpoint, stops them together.

    Example::

        supervisor = Supervisor(lambda fd: [*argv, "--supervised-by", str(fd)], 2, http_port=9464)
        exit_code = await supervisor.run()      # until request_stop() or a child exits unasked
    """

    def __init__(
        self,
        command: Callable[[int], Sequence[str]],
        processes: int,
        *,
        http_port: int | None = None,
        http_host: str = "0.0.0.0",
        shutdown_grace_s: float = 25.0,
        additive_gauges: Sequence[str] = (),
    ) -> None:
        self._command = command
        self.processes = processes
        self.stop_timeout_s = shutdown_grace_s + STOP_MARGIN_S
        self._additive = tuple(additive_gauges)
        self.children: list[_Child] = []
        self._stop = asyncio.Event()
        self._stopping = False
        self.http = (
            HealthServer(http_port, host=http_host, ready=self.ready, alive=self.alive, render=self.render)
            if http_port is not None
            else None
        )

    @property
    def serves_http(self) -> bool:
        return self.http is not None

    def request_stop(self) -> None:
        """Stop every child gracefully; called again, forward the signal again (children stop hard)."""
        if self._stop.is_set():
            self._signal_children(signal.SIGTERM)
        self._stop.set()

    async def run(self) -> int:
        """Start, supervise, stop; the exit code (0 only when asked to stop and every child exited 0)."""
        if self.http is not None:
            await self.http.start()  # a taken port fails here, before any child starts
        failed: int | None = None
        try:
            for index in range(self.processes):
                await self._start_child(index)
            failed = await self._supervise()
        finally:
            codes = await self._stop_children()
            if self.http is not None:
                await self.http.stop()
        if failed is not None:
            return failed
        return 0 if all(code == 0 for code in codes) else 1

    async def _start_child(self, index: int) -> None:
        ours, theirs = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._command(theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,  # terminal signals reach the supervisor only
            )
        finally:
            theirs.close()
        child = _Child(index, proc, ours)
        self.children.append(child)
        child.tasks.append(asyncio.create_task(self._listen(child), name=f"jetjobs-child-{index}"))
        log.info("worker process %d/%d started (pid %d)", index + 1, self.processes, proc.pid)

    async def _listen(self, child: _Child) -> None:
        """Read the child's reports until it closes its end (it exited)."""
        reader, writer = await asyncio.open_unix_connection(sock=child.channel)
        try:
            while line := await reader.readline():
                word, _, port = line.decode().strip().partition(" ")
                if word != _READY_LINE:
                    continue
                child.port = int(port) if port.isdigit() else None
                child.ready = True
                log.info("worker process %d/%d ready (pid %d)", child.index + 1, self.processes, child.proc.pid)
                if all(c.ready for c in self.children) and len(self.children) == self.processes:
                    pids = ", ".join(str(c.proc.pid) for c in self.children)
                    log.info("all %d worker processes ready (pids %s)", self.processes, pids)
        finally:
            writer.close()

    async def _supervise(self) -> int | None:
        """Wait for a stop request or a child that exits unasked; the exit code for the latter."""
        stop = asyncio.create_task(self._stop.wait())
        exits = {asyncio.create_task(c.proc.wait()): c for c in self.children}
        try:
            done, _ = await asyncio.wait({stop, *exits}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stop, *exits):
                task.cancel()
        if stop in done:
            return None
        child = next(c for c in self.children if not c.running)
        code = child.proc.returncode
        assert code is not None
        log.error(
            "worker process %d/%d (pid %d) exited with %s; stopping the others and exiting, so the "
            "service restarts as a whole",
            child.index + 1,
            self.processes,
            child.proc.pid,
            f"signal {-code}" if code < 0 else f"code {code}",
        )
        return 128 - code if code < 0 else max(code, 1)

    async def _stop_children(self) -> list[int]:
        """SIGTERM to the running children, wait for them (kill the late ones); their exit codes."""
        self._stopping = True
        self._signal_children(signal.SIGTERM)
        waits = [c.proc.wait() for c in self.children]
        try:
            async with asyncio.timeout(self.stop_timeout_s):
                await asyncio.gather(*waits)
        except TimeoutError:
            late = [c for c in self.children if c.running]
            log.error(
                "%d worker processes still running %.0fs after SIGTERM: killing them", len(late), self.stop_timeout_s
            )
            self._signal_children(signal.SIGKILL)
            await asyncio.gather(*(c.proc.wait() for c in self.children))
        for child in self.children:
            for task in child.tasks:
                task.cancel()
            await asyncio.gather(*child.tasks, return_exceptions=True)
            child.channel.close()
        codes = [c.proc.returncode for c in self.children]
        return [code if code is not None else 1 for code in codes]

    def _signal_children(self, sig: signal.Signals) -> None:
        for child in self.children:
            if child.running:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(sig)

    # --- the one endpoint ------------------------------------------------------------------

    async def ready(self) -> bool:
        """Every child started its worker and answers ``/readyz`` with 200 (false while stopping)."""
        children = self.children
        if self._stopping or len(children) < self.processes or not all(c.ready for c in children):
            return False
        answers = await asyncio.gather(*(self._ask(c, "/readyz") for c in children))
        return all(status == 200 for status, _ in answers)

    async def alive(self) -> bool:
        """Every running child's event loop answers ``/healthz`` (one still starting counts as alive)."""
        asked = [c for c in self.children if c.running and c.port is not None]
        answers = await asyncio.gather(*(self._ask(c, "/healthz") for c in asked))
        return all(status == 200 for status, _ in answers)

    async def render(self) -> str:
        """The children's metrics merged: what one process serving all their jobs would show."""
        children = [c for c in self.children if c.port is not None]
        for child, (status, body) in zip(
            children, await asyncio.gather(*(self._ask(c, "/metrics") for c in children)), strict=True
        ):
            if status == 200:
                child.metrics = body.decode()
        return merge_exposition([c.metrics for c in children], self._additive)

    async def _ask(self, child: _Child, path: str) -> tuple[int, bytes]:
        if child.port is None:
            return 0, b""
        return await loopback_get(child.port, path)


class SupervisorLink:
    """A child's end of the socket pair: report readiness, stop when the supervisor is gone.

    Example (in the child)::

        link = SupervisorLink(fd)
        watch = asyncio.create_task(link.run(worker, port=lambda: worker.runtime.http.port))
    """

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)

    async def run(self, worker: Worker, port: Callable[[], int | None]) -> None:
        reader, writer = await asyncio.open_unix_connection(sock=self._sock)
        gone = asyncio.create_task(reader.read())  # the supervisor never writes: this ends at EOF
        started = asyncio.create_task(worker.started.wait())
        try:
            done, _ = await asyncio.wait({gone, started}, return_when=asyncio.FIRST_COMPLETED)
            if started in done:
                writer.write(f"{_READY_LINE} {port() or '-'}\n".encode())
                await writer.drain()
            await gone
        except ConnectionError:
            pass
        finally:
            for task in (gone, started):
                task.cancel()
            writer.close()
        log.warning("the supervisor of this worker process is gone; stopping")
        worker.request_stop()


async def run_supervised(worker: Worker, fd: int, *, serve_http: bool) -> None:
    """Run ``worker`` as a child of a Supervisor whose socket is ``fd``.

    With ``serve_http`` the probes and metrics go to an ephemeral 127.0.0.1 port for the
    supervisor only — never to the operator's port, whatever the settings say.
    """
    runtime = worker.runtime
    http = runtime.http = (
        HealthServer(0, host="127.0.0.1", ready=lambda: worker.ready, alive=runtime.watchdog.healthy)
        if serve_http
        else None
    )
    link = asyncio.create_task(SupervisorLink(fd).run(worker, lambda: http.port if http else None))
    try:
        await worker.run()
    finally:
        link.cancel()
        await asyncio.gather(link, return_exceptions=True)
