"""Chaos scenarios (issue 9): jobs run while servers, leaders and workers are taken away.

Every scenario enqueues numbered jobs (every ``fail_every``-th one fails for good and
must end in the dead-letter queue), injects its faults while they run, then counts:
enqueued, acknowledged (left the queue stream), executed, lost (never ran, or failed
and not dead-lettered), duplicated (ran more than once), results missing (no final
status) and the longest stall (longest time without a job finishing while jobs were
waiting). ``bench/chaos.py`` runs the long versions; tests/cluster runs short ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import resource
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import nats
from nats.js import JetStreamContext

from jetjobs import App, JobState, QueueConfig, Worker
from jetjobs.testing import NatsCluster, NatsServer

QUEUE = "chaos"
STALL_TARGET_S = 10.0
_FINAL = {JobState.SUCCEEDED, JobState.FAILED, JobState.DEAD}


@dataclass
class Tally:
    """What one scenario measured."""

    scenario: str
    enqueued: int = 0
    acknowledged: int = 0
    executed: int = 0
    lost: int = 0
    duplicated: int = 0
    results_missing: int = 0
    longest_stall_s: float = 0.0
    faults: int = 0
    rss_mb: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    def meets_targets(self) -> bool:
        return (
            self.lost == 0
            and self.results_missing == 0
            and self.acknowledged == self.enqueued
            and self.longest_stall_s <= STALL_TARGET_S
        )

    def line(self) -> str:
        verdict = "ok" if self.meets_targets() else "MISSED"
        rss = f"{self.rss_mb[0]:.1f}->{self.rss_mb[1]:.1f}" if self.rss_mb[1] else "-"
        return (
            f"{self.scenario:<34} {self.enqueued:>8} {self.acknowledged:>8} {self.executed:>8} {self.lost:>5} "
            f"{self.duplicated:>5} {self.results_missing:>8} {self.longest_stall_s:>8.2f} {self.faults:>6} "
            f"{rss:>12} {verdict}"
        )


HEADER = (
    f"{'scenario':<34} {'enqueued':>8} {'acked':>8} {'executed':>8} {'lost':>5} {'dup':>5} {'no-result':>8} "
    f"{'stall(s)':>8} {'faults':>6} {'rss(MB)':>12}"
)


def rss_mb() -> float:
    """This process's current resident set (Linux /proc), in MB."""
    with contextlib.suppress(OSError), open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 1e6
    return 0.0


class Ledger:
    """Executions and finish times, recorded by the task in this process."""

    def __init__(self) -> None:
        self.runs: Counter[int] = Counter()
        self.finished: list[float] = []

    def record(self, n: int) -> None:
        self.runs[n] += 1
        self.finished.append(time.monotonic())


def chaos_app(urls: str, ledger: Ledger, *, namespace: str, replicas: int, ack_wait_s: float) -> App:
    app = App(
        "chaos",
        nats_url=urls,
        namespace=namespace,
        replicas=replicas,
        request_timeout_s=2.0,
        queues={QUEUE: QueueConfig(ack_wait_s=ack_wait_s, concurrency=32)},
    )

    @app.task(queue=QUEUE, max_retries=0, name="chaos.work")
    async def work(n: int, fail: bool) -> int:
        ledger.record(n)
        if fail:
            raise ValueError(f"job {n} fails for good")
        return n

    return app


Fault = Callable[[], Awaitable[str]]


async def run_scenario(
    name: str,
    urls: str,
    *,
    jobs: int,
    faults: list[Fault],
    namespace: str,
    replicas: int = 1,
    ack_wait_s: float = 5.0,
    fail_every: int = 10,
    settle_timeout_s: float = 120.0,
) -> Tally:
    """Enqueue ``jobs`` at a steady pace while ``faults`` run one after another, then count."""
    ledger = Ledger()
    app = chaos_app(urls, ledger, namespace=namespace, replicas=replicas, ack_wait_s=ack_wait_s)
    tally = Tally(name)
    async with app:
        await app.provision()
        worker = Worker(app, close_app=False, shutdown_grace_s=5)
        running = asyncio.create_task(worker.run())
        await worker.started.wait()
        tally.rss_mb = (rss_mb(), 0.0)
        began = time.monotonic()
        ids: dict[int, str] = {}
        producer = asyncio.create_task(_produce(app, jobs, fail_every, ids))
        for fault in faults:
            tally.notes.append(await fault())
            tally.faults += 1
        await producer
        tally.enqueued = len(ids)
        await _until_settled(app, ids, settle_timeout_s)
        tally.rss_mb = (tally.rss_mb[0], rss_mb())
        await _count(app, ids, ledger, fail_every, tally, began)
        worker.request_stop()
        await asyncio.wait_for(running, 60)
    return tally


async def _produce(app: App, jobs: int, fail_every: int, ids: dict[int, str]) -> None:
    """Enqueue jobs 0..jobs-1 at about 400 a second; a failed enqueue is retried with the same job id
    (deduplicated by the server), as a careful producer would."""
    for n in range(jobs):
        job_id = f"chaos-{n}"
        while True:
            try:
                await app.enqueue("chaos.work", [n, n % fail_every == fail_every - 1], job_id=job_id, queue=QUEUE)
                break
            except Exception:
                await asyncio.sleep(0.2)
        ids[n] = job_id
        if n % 20 == 19:
            await asyncio.sleep(0.05)


async def _until_settled(app: App, ids: dict[int, str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    remaining = set(ids.values())
    while remaining and time.monotonic() < deadline:
        for job_id in list(remaining)[:200]:
            with contextlib.suppress(Exception):
                if (await app.status(job_id)).state in _FINAL:
                    remaining.discard(job_id)
        if remaining:
            await asyncio.sleep(0.2)


async def _count(app: App, ids: dict[int, str], ledger: Ledger, fail_every: int, tally: Tally, began: float) -> None:
    dead = await _dead_lettered(app)
    for n, job_id in ids.items():
        runs = ledger.runs[n]
        tally.executed += runs > 0
        tally.duplicated += runs > 1
        failing = n % fail_every == fail_every - 1
        if runs == 0 or (failing and job_id not in dead):
            tally.lost += 1
        try:
            state = (await app.status(job_id)).state
        except Exception:
            state = None
        wanted = {JobState.FAILED, JobState.DEAD} if failing else {JobState.SUCCEEDED}
        tally.results_missing += state not in wanted
    stats = await queue_messages(app, QUEUE)
    tally.acknowledged = tally.enqueued - stats
    times = [began, *sorted(ledger.finished)]
    tally.longest_stall_s = max((b - a for a, b in itertools.pairwise(times)), default=0.0)


async def _dead_lettered(app: App) -> set[str]:
    found: set[str] = set()
    after = 0
    while page := await app.dead_letters.list(QUEUE, limit=500, after_seq=after):
        found.update(letter.job_id for letter in page)
        after = max(letter.seq for letter in page)
    return found


async def queue_messages(app: App, queue: str) -> int:
    """Jobs still stored in the queue's stream (WorkQueue: an acked job is removed)."""
    nc = await nats.connect(app.settings.servers)
    try:
        info = await nc.jetstream().stream_info(app.connection.names.stream(queue))
        return int(info.state.messages)
    finally:
        await nc.close()


# -- faults --------------------------------------------------------------------------


async def _js(urls: str) -> tuple[nats.NATS, JetStreamContext]:
    nc = await nats.connect(urls.split(","), max_reconnect_attempts=2, connect_timeout=2)
    return nc, nc.jetstream()


async def stream_leader(urls: str, stream: str) -> str | None:
    nc, js = await _js(urls)
    try:
        info = await js.stream_info(stream)
        return info.cluster.leader if info.cluster is not None else None
    finally:
        await nc.close()


async def wait_for_leader(urls: str, stream: str, timeout_s: float = 30.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            leader = await stream_leader(urls, stream)
            if leader:
                return leader
        await asyncio.sleep(0.2)
    raise RuntimeError(f"stream {stream} has no leader after {timeout_s}s")


def step_down(urls: str, stream: str, after_s: float) -> Fault:
    """Ask the stream's leader to step down (a leader election), ``after_s`` from now."""

    async def fault() -> str:
        await asyncio.sleep(after_s)
        before = await wait_for_leader(urls, stream)
        nc, _ = await _js(urls)
        try:
            await nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", b"", timeout=5)
        finally:
            await nc.close()
        after = await wait_for_leader(urls, stream)
        return f"step-down {stream}: {before} -> {after}"

    return fault


def kill_leader(cluster: NatsCluster, stream: str, after_s: float, down_s: float = 3.0) -> Fault:
    """SIGKILL the server leading ``stream``, keep it down ``down_s``, start it again."""

    async def fault() -> str:
        await asyncio.sleep(after_s)
        leader = await wait_for_leader(cluster.urls, stream)
        server = cluster.server_named(leader)
        server.stop(kill=True)
        await asyncio.sleep(down_s)  # the outage itself: the fault being simulated
        server.start()
        await asyncio.to_thread(cluster.wait_for_meta_leader)
        after = await wait_for_leader(cluster.urls, stream)
        return f"killed {leader} (leader of {stream}); now {after}"

    return fault


def restart_server(server: NatsServer, after_s: float, down_s: float = 2.0) -> Fault:
    """SIGKILL the only server and start it again on the same port and data."""

    async def fault() -> str:
        await asyncio.sleep(after_s)
        server.stop(kill=True)
        await asyncio.sleep(down_s)  # the outage itself
        await asyncio.to_thread(server.start)
        return f"killed and restarted {server.url}"

    return fault


def stream_names(namespace: str) -> dict[str, str]:
    """The streams a fault can target, by role, for ``namespace`` (same naming as jetjobs)."""
    from jetjobs._names import Names

    names = Names(namespace)
    return {
        "queue": names.stream(QUEUE),
        "status": f"KV_{names.status_bucket}",
        "dlq": names.dlq_stream,
        "advisory": names.advisory_stream,
    }
