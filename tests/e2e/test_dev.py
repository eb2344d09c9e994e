"""`jetjobs dev`: an embedded nats-server with a persistent store, a worker and the scheduler in one command."""

from __future__ import annotations

import asyncio
import signal
import urllib.request
from pathlib import Path

from jetjobs import App
from jetjobs.testing import free_port
from tests.e2e.processes import WorkerProcess
from tests.helpers import eventually


def readyz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
        return int(response.status)


async def test_dev_runs_server_worker_and_scheduler_and_keeps_the_data(tmp_path: Path) -> None:
    port, metrics = free_port(), free_port()
    data = tmp_path / "nats"
    args = ("--port", str(port), "--data-dir", str(data))
    env = {"JETJOBS_METRICS_PORT": str(metrics), "JETJOBS_METRICS_HOST": "127.0.0.1"}
    dev = WorkerProcess("nats://127.0.0.1:1", tmp_path, *args, app="tests.apps.sched:app", role="dev", env=env)
    try:
        dev.wait_ready()
        async with App("client", nats_url=f"nats://127.0.0.1:{port}") as client:
            job = await client.enqueue("dynamic_tick", kwargs={"label": "x"}, queue="ticks")
            assert await job.result(timeout_s=10) is None

            async def ticked() -> bool:  # the scheduler runs in the same process
                infos = {i.definition.name: i for i in await client.schedules.list()}
                return "tick" in infos and infos["tick"].last_job_id is not None

            await eventually(ticked, timeout_s=10)
        status = await asyncio.to_thread(readyz, metrics)
        assert status == 200  # one HTTP server (the worker's), no port clash
        dev.signal(signal.SIGINT)
        assert await asyncio.to_thread(dev.wait, 30) == 0
    finally:
        dev.stop()
    assert (data / "jetstream").is_dir()  # the store outlives the process
    assert "nats-server nats://127.0.0.1:" in dev.log()
