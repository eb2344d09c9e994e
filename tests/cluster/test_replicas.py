"""Every stream and bucket jetjobs creates has the replicas asked for (issue 9, item 4)."""

from __future__ import annotations

import nats

from jetjobs import App


async def _replicas(urls: str) -> dict[str, int]:
    nc = await nats.connect(urls.split(","))
    try:
        js = nc.jetstream()
        return {info.config.name or "": info.config.num_replicas or 1 for info in await js.streams_info()}
    finally:
        await nc.close()


async def test_one_setting_replicates_everything(cluster_urls: str) -> None:
    app = App("replicas", nats_url=cluster_urls, namespace="rall", replicas=3)

    @app.task(queue="mail")
    async def send(to: str) -> str:
        return to

    async with app:
        await app.provision()
    streams = {n: r for n, r in (await _replicas(cluster_urls)).items() if "rall" in n.lower()}
    # queue, DLQ, advisories, delayed, status, workers, schedules, workflow defs/runs/joins/events/objects
    assert len(streams) >= 12, streams
    assert set(streams.values()) == {3}, streams


async def test_explicit_setting_wins_and_shared_streams_are_raised(cluster_urls: str) -> None:
    first = App("replicas", nats_url=cluster_urls, namespace="rmix", dlq_replicas=1)

    @first.task(queue="one")
    async def one() -> None: ...

    async with first:
        await first.provision()
    before = await _replicas(cluster_urls)
    assert {r for n, r in before.items() if "rmix" in n.lower()} == {1}

    second = App("replicas", nats_url=cluster_urls, namespace="rmix", replicas=3, dlq_replicas=1)

    @second.task(queue="two")
    async def two() -> None: ...

    async with second:
        await second.provision(["two"])
        names = second.connection.names
    after = {n: r for n, r in (await _replicas(cluster_urls)).items() if "rmix" in n.lower()}
    assert after[names.dlq_stream] == 1  # set explicitly
    assert after[names.stream("two")] == 3
    assert after[names.advisory_stream] == 3  # shared with queue "one": raised, not left R1
    assert after[names.delayed_stream] == 3
    assert after[names.stream("one")] == 1  # another queue's own setting is not touched
