"""Timeouts and limits: timeout_action, max_memory and cpu_limit of process tasks, refused elsewhere."""

from __future__ import annotations

import asyncio

import pytest

from jetjobs import App, JobState
from jetjobs._limits import parse_memory
from jetjobs.errors import ConfigError, JobFailed
from tests.apps import semantics
from tests.helpers import AppFactory, running_worker


async def test_timeout_action_fail_ends_the_job_without_a_retry(app_factory: AppFactory) -> None:
    attempts: list[int] = []

    def register(app: App) -> None:
        @app.task(queue="t", timeout_s=0.2, max_retries=3, retry_delay_s=0.1, timeout_action="fail")
        async def slow_fail() -> None:
            attempts.append(1)
            await asyncio.sleep(5)

        @app.task(queue="t", timeout_s=0.2, max_retries=1, retry_delay_s=0.1)  # timeout_action="retry"
        async def slow_retry() -> None:
            attempts.append(2)
            await asyncio.sleep(5)

    producer, worker_app = app_factory(register), app_factory(register)
    async with producer, running_worker(worker_app):
        failing = await producer.tasks["slow_fail"].enqueue()
        with pytest.raises(JobFailed, match="JobTimeout"):
            await failing.result(timeout_s=20)
        retried = await producer.tasks["slow_retry"].enqueue()
        with pytest.raises(JobFailed, match="JobTimeout"):
            await retried.result(timeout_s=20)
        assert (await failing.status()).attempts == 1
        assert (await retried.status()).attempts == 2
        dead = {d.job_id: d for d in await producer.dead_letters.list("t")}
    assert attempts.count(1) == 1
    assert attempts.count(2) == 2
    assert dead[failing.id].reason == "timed out (timeout_action='fail')"


async def test_max_memory_exceeded_fails_the_job_with_the_limit_in_the_error(app_factory: AppFactory) -> None:
    producer = app_factory(semantics.register_limits)
    worker_app = app_factory(semantics.register_limits, processes=1)
    async with producer, running_worker(worker_app):
        small = await producer.tasks["allocate"].enqueue(16)
        assert await small.result(timeout_s=30) == 16 * 1024 * 1024
        big = await producer.tasks["allocate"].enqueue(1024)
        with pytest.raises(JobFailed, match=r"went over max_memory=256MiB \(address space of its process, RLIMIT_AS\)"):
            await big.result(timeout_s=30)
        info = await big.status()
        assert info.state is JobState.FAILED
        assert info.attempts == 1  # not retried although max_retries=3
        assert info.error is not None
        assert info.error.type == "jetjobs.errors.ResourceLimitExceeded"
        # The limit is lifted after the job: the same child runs the next one.
        again = await producer.tasks["allocate"].enqueue(16)
        assert await again.result(timeout_s=30) == 16 * 1024 * 1024


async def test_cpu_limit_holds_a_process_task_to_its_share_of_a_core(app_factory: AppFactory) -> None:
    producer = app_factory(semantics.register_limits)
    worker_app = app_factory(semantics.register_limits, processes=1)
    async with producer, running_worker(worker_app):
        share = await (await producer.tasks["burn"].enqueue(0.6)).result(timeout_s=60)
    assert share < 0.25 * 1.4, share  # cpu_limit=0.25 (some slack: the parent checks every 50 ms)


def test_limits_are_refused_where_they_cannot_be_enforced() -> None:
    app = App("t")

    def plain(x: int) -> int:
        return x

    async def coro(x: int) -> int:
        return x

    with pytest.raises(ConfigError, match=r"'plain': max_memory needs cpu_bound=True: .*a thread task"):
        app.task(max_memory="512MB")(plain)
    with pytest.raises(ConfigError, match=r"'coro': cpu_limit needs cpu_bound=True: .*an async task"):
        app.task(cpu_limit=0.5)(coro)
    with pytest.raises(ConfigError, match="timeout_action must be 'retry' or 'fail'"):
        app.task(name="t2", timeout_action="terminate")(coro)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="cpu_limit is a share of one core"):
        app.task(name="t3", cpu_bound=True, cpu_limit=2)(semantics.burn)


@pytest.mark.parametrize(
    ("text", "size"),
    [("512MB", 512 * 10**6), ("512MiB", 512 * 2**20), ("512M", 512 * 2**20), ("2GB", 2 * 10**9),
     ("1.5GiB", int(1.5 * 2**30)), (2**27, 2**27)],
)  # fmt: skip
def test_memory_sizes(text: str | int, size: int) -> None:
    assert parse_memory(text) == size


def test_bad_memory_sizes() -> None:
    with pytest.raises(ConfigError, match="use bytes or a size like"):
        parse_memory("lots")
    with pytest.raises(ConfigError, match="below 64 MiB"):
        parse_memory("1MB")
