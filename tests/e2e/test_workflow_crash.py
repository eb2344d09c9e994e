"""SIGKILL a worker at each named point of the workflow engine; a fresh worker finishes the run.

After every crash: each step ran exactly once (the crash points are all after a
step's state was fenced or stored), the fan-in step once, the compensation once,
and the run reached exactly one terminal state.
"""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from jetjobs import App, WorkflowFailed
from jetjobs.testing import NatsServer
from jetjobs.workflow._faults import POINTS
from tests.apps.wf_crash import declare
from tests.e2e.processes import WorkerProcess, events

WORKER_POINTS = [p for p in POINTS if not p.startswith("start.")]


@pytest.mark.slow
@pytest.mark.parametrize("point", WORKER_POINTS)
async def test_a_crash_at_each_point_is_repaired_by_redelivery(
    jetjobs_server: NatsServer, tmp_path: Path, point: str
) -> None:
    crashing = WorkerProcess(
        jetjobs_server.url, tmp_path, app="tests.apps.wf_crash:app", env={"JJ_FAULT_POINT": point}
    ).wait_ready()
    producer = App("producer", nats_url=jetjobs_server.url)
    declare(producer)
    try:
        await _run_crash_scenario(producer, crashing, jetjobs_server, tmp_path, point)
    finally:
        crashing.stop()  # never outlive the test, whatever failed


async def _run_crash_scenario(
    producer: App, crashing: WorkerProcess, jetjobs_server: NatsServer, tmp_path: Path, point: str
) -> None:
    async with producer:
        run = await producer.execute_workflow("crash", run_id=f"crash-{point.replace('.', '-').replace('_', '-')}")
        assert crashing.wait(timeout_s=30) == -signal.SIGKILL, crashing.log()
        healthy = WorkerProcess(jetjobs_server.url, tmp_path, app="tests.apps.wf_crash:app").wait_ready()
        try:
            with pytest.raises(WorkflowFailed) as failed:
                await run.result(timeout_s=30)
            assert failed.value.state == "compensated", failed.value
            assert failed.value.step == "d"
        finally:
            healthy.stop()
        ran = Counter(e.job_id.split(".", 1)[1] for e in events(tmp_path))
        assert ran == {"a": 1, "b1": 1, "b2": 1, "c": 1, "d": 1, "compensate-a": 1}, (point, ran)
        kinds = Counter([e.kind async for e in run.logs()])
        assert kinds["run_compensated"] == 1
        assert kinds["compensating"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("point", ["advance.after_count", "advance.after_trigger", "advance.before_ack"])
async def test_a_worker_killed_mid_chord_still_fires_the_callback_once(
    jetjobs_server: NatsServer, tmp_path: Path, point: str
) -> None:

    crashing = WorkerProcess(
        jetjobs_server.url, tmp_path, app="tests.apps.wf_crash:app", env={"JJ_FAULT_POINT": point}
    ).wait_ready()
    try:
        await _run_chord_scenario(crashing, jetjobs_server, tmp_path)
    finally:
        crashing.stop()


async def _run_chord_scenario(crashing: WorkerProcess, jetjobs_server: NatsServer, tmp_path: Path) -> None:
    from jetjobs import chord
    from jetjobs.workflow import signature

    async with App("producer", nats_url=jetjobs_server.url) as producer:
        members = [signature("member", i, immutable=True).set(queue="crash") for i in range(20)]
        run = await producer.enqueue(chord(members, signature("total").set(queue="crash")))
        assert crashing.wait(timeout_s=30) == -signal.SIGKILL, crashing.log()
        healthy = WorkerProcess(jetjobs_server.url, tmp_path, app="tests.apps.wf_crash:app").wait_ready()
        try:
            assert await run.result(timeout_s=30) == sum(range(20))
        finally:
            healthy.stop()
    ran = Counter(e.job_id.split(".", 1)[1] for e in events(tmp_path))
    assert ran["total"] == 1, ran
    # Every member ran; one that was running in the killed worker may have run twice (at least once).
    assert len([step for step in ran if step.startswith("member")]) == 20, ran
