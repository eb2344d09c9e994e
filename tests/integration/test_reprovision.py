"""A worker whose consumers were deleted provisions them again; a leader election does not (issue 9)."""

from __future__ import annotations

import pytest
from nats.aio.client import Client

from jetjobs import App
from jetjobs.errors import ConfigError
from tests.helpers import AppFactory, running_worker


def _register(app: App) -> None:
    @app.task(queue="again")
    async def echo(n: int) -> int:
        return n


async def test_deleted_consumers_are_provisioned_again(app_factory: AppFactory, raw_nc: Client) -> None:
    worker_app = app_factory(_register)
    producer = app_factory(_register)
    async with running_worker(worker_app, queues=["again"]), producer:
        names = producer.connection.names
        js = raw_nc.jetstream()
        for priority in ("high", "normal", "low"):
            await js.delete_consumer(names.stream("again"), names.consumer("again", priority))  # type: ignore[arg-type]
        job = await producer.enqueue("echo", [7])
        assert await job.result(timeout_s=30) == 7


async def test_a_worker_that_does_not_provision_checks_instead(app_factory: AppFactory, raw_nc: Client) -> None:
    worker_app = app_factory(_register, provision_on_start=False)
    with pytest.raises(ConfigError, match=r"queue 'again' is not provisioned: stream .*again does not exist; run"):
        async with running_worker(worker_app, queues=["again"]):
            pass
    provisioner = app_factory(_register)
    async with provisioner:
        await provisioner.provision()
    streams_before = {info.config.name for info in await raw_nc.jetstream().streams_info()}
    producer = app_factory(_register)
    async with running_worker(app_factory(_register, provision_on_start=False), queues=["again"]), producer:
        job = await producer.enqueue("echo", [3])
        assert await job.result(timeout_s=30) == 3
    assert {info.config.name for info in await raw_nc.jetstream().streams_info()} == streams_before
