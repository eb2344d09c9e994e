"""Unique jobs in one process: the three policies, the default key, a key freed when its job ends."""

from __future__ import annotations

import asyncio

import pytest

from jetjobs import App, JobState
from jetjobs.errors import ConfigError, DuplicateJob
from tests.helpers import AppFactory, running_worker


def _register(release: asyncio.Event, runs: list[int]) -> object:
    def register(app: App) -> None:
        @app.task(queue="u", unique=True, unique_key=lambda user_id: f"user:{user_id}")
        async def sync_user(user_id: int, full: bool = False) -> int:
            runs.append(user_id)
            await release.wait()
            return user_id

        @app.task(queue="u", unique=True, unique_policy="return_existing")
        async def report(account: int, month: str) -> str:
            await release.wait()
            return f"{account}-{month}"

    return register


async def test_reject_names_the_holder_and_the_key_frees_when_the_job_ends(app_factory: AppFactory) -> None:
    release, runs = asyncio.Event(), []
    register = _register(release, runs)
    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        sync_user = producer.tasks["sync_user"]
        first = await sync_user.enqueue(1)
        with pytest.raises(DuplicateJob, match=f"unique key 'sync_user:user:1': job {first.id}") as caught:
            await sync_user.enqueue(1, full=True)  # other arguments, same key
        assert caught.value.holder == first.id
        other_user = await sync_user.enqueue(2)  # another key is free
        release.set()
        assert await first.result(timeout_s=10) == 1
        assert await other_user.result(timeout_s=10) == 2
        # Freed when it ended, not after a dedupe window: a fresh job is accepted at once.
        again = await sync_user.enqueue(1)
        assert await again.result(timeout_s=10) == 1


async def test_fifty_concurrent_enqueues_of_one_key_accept_exactly_one(app_factory: AppFactory) -> None:
    release, runs = asyncio.Event(), []
    producer = app_factory(_register(release, runs))
    async with producer:
        sync_user = producer.tasks["sync_user"]
        outcomes = await asyncio.gather(*(sync_user.enqueue(9) for _ in range(50)), return_exceptions=True)
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    rejected = [o for o in outcomes if isinstance(o, DuplicateJob)]
    assert len(accepted) == 1
    assert len(rejected) == 49
    assert {r.holder for r in rejected} == {accepted[0].id}  # type: ignore[union-attr]


async def test_return_existing_gives_the_holders_job_with_the_default_key(app_factory: AppFactory) -> None:
    release, runs = asyncio.Event(), []
    register = _register(release, runs)
    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        report = producer.tasks["report"]
        first = await report.enqueue(7, "2026-11")
        same = await report.enqueue(account=7, month="2026-11")  # keyword form: the same key
        assert (same.id, same.duplicate) == (first.id, True)
        other = await report.enqueue(7, "2026-12")  # other arguments: another key
        assert other.id != first.id
        release.set()
        assert await same.result(timeout_s=10) == "7-2026-11"
        assert (await first.status()).state is JobState.SUCCEEDED


async def test_a_cancelled_queued_unique_job_frees_its_key(app_factory: AppFactory) -> None:
    release, runs = asyncio.Event(), []
    register = _register(release, runs)
    producer, worker_app = app_factory(register), app_factory(register)
    async with producer:
        sync_user = producer.tasks["sync_user"]
        doomed = await sync_user.enqueue(3)
        assert await doomed.cancel() is True
        async with running_worker(worker_app):
            release.set()
            nxt = await sync_user.enqueue(4)
            assert await nxt.result(timeout_s=10) == 4
            fresh = await sync_user.enqueue(3)  # the worker skipped the cancelled job and freed its key
            assert await fresh.result(timeout_s=10) == 3
    assert runs == [4, 3]


def test_unique_options_are_checked_at_registration() -> None:
    app = App("t")

    async def f(x: int) -> None: ...

    with pytest.raises(ConfigError, match="unique_policy must be one of reject, return_existing, queue"):
        app.task(name="a", unique=True, unique_policy="wait")(f)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="unique_key must be a function"):
        app.task(name="b", unique=True, unique_key="user")(f)  # type: ignore[arg-type]
