"""A job id used again after the queue's duplicate window: the new run's record replaces the
earlier run's final one as soon as the message is stored, and never a newer record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jetjobs import App, JobState, ResultTimeout
from jetjobs.transport import KeyValueStore, StatusStore
from tests.helpers import AppFactory, eventually, running_worker

QUEUES = {"again": {"duplicate_window_s": 1}}


def _register(app: App) -> None:
    @app.task(queue="again")
    async def echo(x: int) -> int:
        return x


async def _enqueue_again(producer: App, job_id: str, x: int, **options: Any) -> None:
    """Enqueue until the server stores it as new (once the 1 s duplicate window has passed)."""

    async def stored_as_new() -> bool:
        return not (await producer.enqueue("echo", args=[x], job_id=job_id, **options)).duplicate

    await eventually(stored_as_new, timeout_s=10, every_s=0.2)


async def test_reenqueued_job_is_queued_as_soon_as_stored_and_result_waits_for_the_new_run(
    app_factory: AppFactory,
) -> None:
    worker_app, producer = app_factory(_register, queues=QUEUES), app_factory(_register, queues=QUEUES)
    async with producer:
        async with running_worker(worker_app):
            job = await producer.enqueue("echo", args=[1], job_id="order-7")
            assert await job.result(timeout_s=10) == 1
        first = await producer.status("order-7")
        assert first.state is JobState.SUCCEEDED

        await _enqueue_again(producer, "order-7", 2)  # no worker is running now
        info = await producer.status("order-7")
        assert info.state is JobState.QUEUED
        assert info.result is None
        assert info.enqueued_at is not None
        assert first.enqueued_at is not None
        assert info.enqueued_at > first.enqueued_at
        with pytest.raises(ResultTimeout):  # the earlier run's result is not this run's
            await producer.result("order-7", timeout_s=0.3)

        async with running_worker(app_factory(_register, queues=QUEUES)):
            assert await producer.result("order-7", timeout_s=10) == 2
        assert (await producer.status("order-7")).state is JobState.SUCCEEDED


async def test_reenqueued_job_with_a_worker_running_ends_in_the_new_runs_result(app_factory: AppFactory) -> None:
    worker_app, producer = app_factory(_register, queues=QUEUES), app_factory(_register, queues=QUEUES)
    async with producer, running_worker(worker_app):
        assert await (await producer.enqueue("echo", args=[1], job_id="order-8")).result(timeout_s=10) == 1
        await _enqueue_again(producer, "order-8", 2)
        assert await producer.result("order-8", timeout_s=10) == 2
        info = await producer.status("order-8")
        assert info.state is JobState.SUCCEEDED
        assert info.result == 2


async def test_a_duplicate_enqueue_leaves_the_record_alone(app_factory: AppFactory) -> None:
    # An enqueue retried within the window (after a timeout, say) is reported duplicate:
    # it must not set the finished job back to queued (no worker would ever write again).
    worker_app, producer = app_factory(_register), app_factory(_register)
    async with producer:
        async with running_worker(worker_app):
            assert await (await producer.enqueue("echo", args=[1], job_id="order-9")).result(timeout_s=10) == 1
        revision = await producer.status_store.revision("order-9")
        again = await producer.enqueue("echo", args=[2], job_id="order-9")
        assert again.duplicate
        assert await producer.status_store.revision("order-9") == revision
        info = await producer.status("order-9")
        assert info.state is JobState.SUCCEEDED
        assert info.result == 1
        assert await again.result(timeout_s=1) == 1


async def test_reused_ids_run_by_a_fast_worker_all_end_final(app_factory: AppFactory) -> None:
    # The worker often writes the result before the producer's first write arrives: the
    # producer must then keep it (its create is conditional, its read sees this run's record).
    worker_app, producer = app_factory(_register), app_factory(_register)
    async with producer, running_worker(worker_app):
        jobs = [await producer.enqueue("echo", args=[i], job_id=f"fast-{i}") for i in range(100)]
        jobs += await producer.enqueue_many(
            producer.tasks["echo"].options(job_id=f"bulk-{i}").call(i) for i in range(300)
        )
        assert [await job.result(timeout_s=20) for job in jobs] == [*range(100), *range(300)]
        for job in jobs:
            assert (await job.status()).state is JobState.SUCCEEDED, job.id


async def test_reenqueued_delayed_job_keeps_the_earlier_record_until_it_runs(app_factory: AppFactory) -> None:
    # Not replaced at enqueue: a delayed job that comes due within the queue's duplicate window of
    # the earlier run is dropped by the queue when forwarded, and a "scheduled" record would stay.
    worker_app, producer = app_factory(_register, queues=QUEUES), app_factory(_register, queues=QUEUES)
    async with producer:
        async with running_worker(worker_app):
            assert await (await producer.enqueue("echo", args=[1], job_id="later-1")).result(timeout_s=10) == 1
        again = await producer.enqueue("echo", args=[2], job_id="later-1", delay_s=1.5)
        assert not again.duplicate  # the delayed-jobs stream has its own window
        assert (await producer.status("later-1")).state is JobState.SUCCEEDED

        async with running_worker(app_factory(_register, queues=QUEUES)):

            async def ran_again() -> bool:
                return (await producer.status("later-1")).result == 2

            await eventually(ran_again, timeout_s=15, every_s=0.1)


def _record(state: str, enqueued_at: str) -> bytes:
    return json.dumps({"id": "k", "state": state, "task": "t", "queue": "q", "enqueued_at": enqueued_at}).encode()


EARLY, NOW, LATE = "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:01.000000Z", "2026-01-01T00:00:02.000000Z"


@pytest.mark.parametrize(
    ("stored", "replaced"),
    [
        (None, True),  # nothing stored: created
        (_record("succeeded", EARLY), True),  # an earlier run's final record gives way
        (_record("dead", EARLY), True),
        (_record("succeeded", NOW), False),  # this run's result (a fast worker): kept
        (_record("running", NOW), False),  # this run's running record: kept
        (_record("running", EARLY), False),  # an earlier run still in progress: its worker writes on
        (_record("succeeded", LATE), False),  # a later run's record: kept
        (b"not json", False),
    ],
)
async def test_first_record_of_a_run_replaces_only_an_earlier_runs_final_record(
    app_factory: AppFactory, stored: bytes | None, replaced: bool
) -> None:
    app = app_factory()
    async with app:
        await app.provision([])
        store: StatusStore = app.status_store
        if stored is not None:
            await store.kv.put("k", stored)
        ours = _record("queued", NOW)
        assert await (await store.first_of_run("k", ours, NOW)) is replaced
        assert await store.get("k") == (ours if replaced else stored)


async def test_a_worker_write_between_the_read_and_the_replacement_is_kept(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The compare-and-set fails when the worker of this run writes after the producer read
    # the earlier run's record; the producer reads again, sees this run, and stops.
    app = app_factory()
    async with app:
        await app.provision([])
        store: StatusStore = app.status_store
        await store.kv.put("k", _record("succeeded", EARLY))
        worker_result = _record("succeeded", NOW)
        read = KeyValueStore.get
        reads = 0

        async def read_then_worker_writes(self: KeyValueStore, key: str) -> Any:
            nonlocal reads
            entry = await read(self, key)
            reads += 1
            if reads == 1:
                await store.put("k", worker_result)
            return entry

        monkeypatch.setattr(KeyValueStore, "get", read_then_worker_writes)
        assert await (await store.first_of_run("k", _record("queued", NOW), NOW)) is False
        assert reads == 2
        assert await store.get("k") == worker_result
