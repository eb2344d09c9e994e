"""Least-privilege services at start-up: what is refused is an error naming it, not a silent idle worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetjobs import PermissionDenied, Worker
from tests.helpers import running_worker
from tests.security import scenario
from tests.security.test_permissions import blocks, server


async def test_a_worker_that_may_not_pull_one_consumer_does_not_start(tmp_path: Path) -> None:
    roles = blocks()
    refused = "$JS.API.CONSUMER.MSG.NEXT.JOBS_work.work-low"
    roles["worker"] = roles["worker"].without(refused)
    with server(tmp_path, roles) as nats_server:
        await scenario.provision(nats_server.url)
        worker = Worker(scenario.build("worker", nats_server.url, scenario.Calls()), queues=[scenario.QUEUE])
        with pytest.raises(PermissionDenied) as denied:
            await worker.run()
        assert denied.value.subject == refused
        assert f"NATS denied publish to '{refused}' (permissions violation)" in str(denied.value)
        assert not worker.started.is_set()
        assert not worker.ready


async def test_a_worker_before_provisioning_says_what_to_run(tmp_path: Path) -> None:
    with server(tmp_path, blocks()) as nats_server:
        worker = Worker(scenario.build("worker", nats_server.url, scenario.Calls()), queues=[scenario.QUEUE])
        with pytest.raises(PermissionDenied, match=r"\$JS\.API\.STREAM\.CREATE\..*run 'jetjobs provision'"):
            await worker.run()


async def test_a_worker_that_provisions_without_the_rights_is_told_how_to_start(tmp_path: Path) -> None:
    with server(tmp_path, blocks()) as nats_server:
        await scenario.provision(nats_server.url)
        app = scenario.build("worker", nats_server.url, scenario.Calls(), provision_on_start=True)
        worker = Worker(app, queues=[scenario.QUEUE])
        with pytest.raises(PermissionDenied, match=r"\$JS\.API\.STREAM\.CREATE\..*provision_on_start=false"):
            await worker.run()
        assert not worker.started.is_set()


async def test_a_least_privilege_worker_runs_jobs(tmp_path: Path) -> None:
    with server(tmp_path, blocks()) as nats_server:
        await scenario.provision(nats_server.url)
        calls = scenario.Calls()
        app = scenario.build("worker", nats_server.url, calls)
        async with (
            scenario.build("producer", nats_server.url, calls) as producer,
            running_worker(app, queues=[scenario.QUEUE], shutdown_grace_s=1.0),
        ):
            job = await producer.enqueue("double", [4], queue=scenario.QUEUE)
            assert await job.result(timeout_s=15) == 8
