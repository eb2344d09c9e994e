"""Scheduler replicas as separate processes: no double fires, no missed fires, runtime schedules."""

from __future__ import annotations

import asyncio
import itertools
import signal
import statistics
from pathlib import Path

from jetjobs import App
from jetjobs._wire import parse_iso
from jetjobs.testing import NatsServer
from tests.e2e.conftest import StartWorker
from tests.e2e.processes import done_counts
from tests.e2e.test_cli import jetjobs
from tests.helpers import eventually, quiet_for

SCHED = "tests.apps.sched:app"


def fire_ms(job_id: str) -> int:
    return int(job_id.rsplit("-", 1)[1])


def fires(record_dir: Path, prefix: str) -> dict[str, int]:
    return {j: n for j, n in done_counts(record_dir).items() if j.startswith(prefix)}


async def test_three_replicas_fire_every_second_exactly_once_even_when_one_is_killed(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    start_worker(app=SCHED)
    replicas = [start_worker(app=SCHED, role="scheduler") for _ in range(3)]
    await eventually(lambda: len(fires(record_dir, "tick-")) >= 4, timeout_s=15)
    replicas[0].signal(signal.SIGKILL)
    await eventually(lambda: len(fires(record_dir, "tick-")) >= 12, timeout_s=20)
    for replica in replicas[1:]:
        replica.signal(signal.SIGTERM)
        assert await asyncio.to_thread(replica.wait, 20) == 0
    counts = fires(record_dir, "tick-")
    await eventually(lambda: len(fires(record_dir, "tick-")) == len(counts), timeout_s=5)
    seconds = sorted(fire_ms(j) for j in counts)
    assert set(counts.values()) == {1}, counts  # every fire ran exactly once
    assert [b - a for a, b in itertools.pairwise(seconds)] == [1000] * (len(seconds) - 1)  # none missed
    async with App("reader", nats_url=jetjobs_server.url) as reader:
        lateness = []
        for job_id in counts:
            info = await reader.status(job_id)
            enqueued = parse_iso(info.enqueued_at or "")
            lateness.append(enqueued.timestamp() - fire_ms(job_id) / 1000)
    lateness.sort()
    p50, p99 = statistics.median(lateness), lateness[min(len(lateness) - 1, int(len(lateness) * 0.99))]
    print(f"\nscheduler: {len(seconds)} fires, each once; lateness p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")
    assert 0 <= p50 < 0.25
    assert p99 < 1.0


async def test_schedules_added_at_runtime_reach_every_replica_and_stop_when_paused(
    jetjobs_server: NatsServer, start_worker: StartWorker, record_dir: Path
) -> None:
    start_worker(app=SCHED)
    debug = {"JETJOBS_LOG_LEVEL": "DEBUG"}
    replicas = [start_worker(app=SCHED, role="scheduler", env=debug) for _ in range(2)]
    added = jetjobs(
        jetjobs_server,
        "schedules",
        "add",
        "dyn",
        "--task",
        "dynamic_tick",
        "--every",
        "1s",
        "--queue",
        "ticks",
        "--kwargs",
        '{"label": "runtime"}',
    )
    assert added.returncode == 0, added.stderr
    await eventually(lambda: len(fires(record_dir, "dyn-")) >= 3, timeout_s=15)
    for replica in replicas:  # both replicas publish each fire (JetStream keeps one)
        assert "schedule dyn fired" in replica.log()

    assert jetjobs(jetjobs_server, "schedules", "pause", "dyn").returncode == 0
    # A fire already in flight may land; then none for 2.5 s of a 1 s schedule.
    paused_at = await quiet_for(lambda: len(fires(record_dir, "dyn-")), quiet_s=2.5)

    assert jetjobs(jetjobs_server, "schedules", "resume", "dyn").returncode == 0
    await eventually(lambda: len(fires(record_dir, "dyn-")) >= paused_at + 2, timeout_s=10)

    listing = jetjobs(jetjobs_server, "schedules", "list")
    assert "dyn " in listing.stdout
    assert "tick " in listing.stdout
    removed = jetjobs(jetjobs_server, "schedules", "remove", "tick")
    assert removed.returncode == 1
    assert "declared in the code" in removed.stderr
    assert jetjobs(jetjobs_server, "schedules", "remove", "dyn").returncode == 0
    assert "dyn " not in jetjobs(jetjobs_server, "schedules", "list").stdout


def test_bad_schedules_are_rejected_with_one_line(jetjobs_server: NatsServer) -> None:
    for args, message in (
        (("--cron", "61 * * * *"), "invalid cron expression"),
        (("--cron", "0 8 * * *", "--tz", "Mars/Olympus"), "unknown time zone 'Mars/Olympus'"),
        (("--every", "soon"), "invalid duration 'soon'"),
        (("--every", "0.5s"), "every_s"),
    ):
        result = jetjobs(jetjobs_server, "schedules", "add", "bad", "--task", "t", "--queue", "q", *args)
        assert result.returncode == 1, result.stdout
        assert len(result.stderr.strip().splitlines()) == 1
        assert message in result.stderr, result.stderr
