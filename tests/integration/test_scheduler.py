"""The scheduler in-process: exclusive runs, misfire policies, runtime control."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from jetjobs import App, ConfigError, current_job
from jetjobs.scheduler import Scheduler
from jetjobs.testing import NatsServer
from tests.helpers import AppFactory, eventually, quiet_for, running_worker


@contextlib.asynccontextmanager
async def running_scheduler(app: App) -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(app)
    task = asyncio.create_task(scheduler.run())
    started = asyncio.create_task(scheduler.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        await task
    try:
        yield scheduler
    finally:
        scheduler.request_stop()
        await asyncio.wait_for(task, 10)


async def test_exclusive_schedule_skips_fires_while_the_previous_run_lasts(app_factory: AppFactory) -> None:
    runs: list[tuple[str, float, float]] = []

    def register(app: App) -> None:
        @app.periodic(every=timedelta(seconds=1), queue="slow", exclusive=True, name="slow")
        async def slow_report() -> None:
            started = time.monotonic()
            await asyncio.sleep(2.5)
            runs.append((current_job().id, started, time.monotonic()))

    async with running_worker(app_factory(register)), running_scheduler(app_factory(register)):
        await eventually(lambda: len(runs) >= 2, timeout_s=15)
    for (_, _, first_end), (_, second_start, _) in itertools.pairwise(runs):
        assert second_start >= first_end - 0.05  # never two runs at once
    fired = [int(job_id.rsplit("-", 1)[1]) for job_id, _, _ in runs]
    assert fired[1] - fired[0] >= 3000  # the fires in between were skipped


@pytest.mark.parametrize(("policy", "expect_missed"), [("skip", False), ("all", True)])
async def test_misfire_policy_after_the_scheduler_was_down(
    app_factory: AppFactory, policy: str, expect_missed: bool
) -> None:
    fired: list[int] = []

    def register(app: App) -> None:
        @app.periodic(every=timedelta(seconds=1), queue="ticks", misfire=policy, misfire_grace_s=0.5, name="tick")
        async def tick() -> None:
            fired.append(int(current_job().id.rsplit("-", 1)[1]))

    async with running_worker(app_factory(register)):
        async with running_scheduler(app_factory(register)):
            await eventually(lambda: len(fired) >= 2, timeout_s=10)
        down_from = max(fired)
        await asyncio.sleep(3.2)  # the scheduler is down for three fires
        async with running_scheduler(app_factory(register)):
            await eventually(lambda: max(fired) >= down_from + 5000, timeout_s=10)
    # The two fires after down_from came and went while no scheduler ran (the third may be on time).
    missed = [f for f in fired if down_from < f <= down_from + 2000]
    assert bool(missed) is expect_missed, (policy, sorted(fired), down_from)
    assert len(fired) == len(set(fired))


async def test_pause_resume_and_run_now_of_a_code_schedule(app_factory: AppFactory) -> None:
    ran: list[str] = []

    def register(app: App) -> None:
        @app.periodic(cron="0 0 1 1 *", queue="yearly", name="new-year")  # next fire months away
        async def new_year(greeting: str = "happy") -> None:
            ran.append(current_job().id)

    control = app_factory(register)
    async with running_worker(app_factory(register)), running_scheduler(app_factory(register)), control:
        (info,) = await control.schedules.list()
        assert info.definition.source == "code"
        assert info.next_fire is not None
        job = await control.schedules.run_now("new-year")
        await job.result(timeout_s=10)
        assert ran == [job.id]
        assert job.id.startswith("new-year-manual-")
        paused = await control.schedules.pause("new-year")
        assert paused.paused
        with pytest.raises(ConfigError, match="declared in the code"):
            await control.schedules.remove("new-year")
        assert (await control.schedules.resume("new-year")).paused is False


async def test_invalid_schedules_fail_at_declaration(app_factory: AppFactory) -> None:
    app = app_factory()
    with pytest.raises(ConfigError, match="invalid cron expression"):
        app.register_periodic("t", schedule="99 * * * *", queue="q")
    with pytest.raises(ConfigError, match="unknown time zone"):
        app.register_periodic("t", schedule="0 2 * * *", tz="Nowhere/Land", queue="q")
    with pytest.raises(ConfigError, match="give queue"):
        app.register_periodic("unknown_task", schedule=timedelta(minutes=5))
    async with app:
        with pytest.raises(ConfigError, match="invalid cron expression"):
            await app.schedules.add("bad", "t", cron="* * 32 * *", queue="q")


async def test_resuming_a_paused_schedule_does_not_replay_what_it_skipped(app_factory: AppFactory) -> None:
    fired: list[int] = []

    def register(app: App) -> None:
        @app.periodic(every=timedelta(seconds=1), queue="ticks", misfire="all", name="tick")
        async def tick() -> None:
            fired.append(int(current_job().id.rsplit("-", 1)[1]))

    control = app_factory(register)
    async with running_worker(app_factory(register)), running_scheduler(app_factory(register)), control:
        await eventually(lambda: len(fired) >= 1, timeout_s=10)
        await control.schedules.pause("tick")
        await quiet_for(lambda: len(fired), quiet_s=2.5)  # a fire in flight may land; then none while paused
        paused_at = max(fired)
        await control.schedules.resume("tick")
        await eventually(lambda: max(fired) >= paused_at + 5000, timeout_s=10)
    skipped = [f for f in fired if paused_at < f <= paused_at + 2000]
    assert skipped == []


async def test_two_apps_cannot_declare_the_same_schedule(app_factory: AppFactory) -> None:
    def first(app: App) -> None:
        app.register_periodic("cleanup", schedule="0 3 * * *", queue="maintenance")

    async with running_scheduler(app_factory(first, name="svc-a")):
        with pytest.raises(ConfigError, match="declared by app 'svc-a' too"):
            async with running_scheduler(app_factory(first, name="svc-b")):
                pass


async def test_a_stop_that_comes_while_fires_are_published_ends_the_scheduler_at_once(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM mid-tick must not wait for the next fire (up to 30 s idle): Kubernetes would kill the pod."""

    # Due in a second, then not for an hour: after the fire the loop would idle for 30 s.
    start_at = datetime.now(UTC) + timedelta(seconds=1) - timedelta(hours=1)

    def register(app: App) -> None:
        @app.periodic(every=timedelta(hours=1), start_at=start_at, queue="hourly", name="hourly")
        async def hourly() -> None: ...

    scheduler = Scheduler(app_factory(register), serve_http=False)
    original = Scheduler._fire

    async def fire_then_stop(self: Scheduler, *args: object) -> None:
        await original(self, *args)  # type: ignore[arg-type]
        self.request_stop()  # as the signal handler does, between two publishes
        monkeypatch.setattr(Scheduler, "_fire", original)

    monkeypatch.setattr(Scheduler, "_fire", fire_then_stop)
    started = time.monotonic()
    await asyncio.wait_for(scheduler.run(), 20)
    assert scheduler.fired == 1
    assert time.monotonic() - started < 5


async def test_scheduler_and_worker_catch_up_after_a_server_outage(
    app_factory: AppFactory, jetjobs_server: NatsServer
) -> None:
    fired: list[int] = []

    def register(app: App) -> None:
        @app.periodic(every=timedelta(seconds=1), queue="ticks", misfire="all", misfire_grace_s=30, name="tick")
        async def tick() -> None:
            fired.append(int(current_job().id.rsplit("-", 1)[1]))

    async with running_worker(app_factory(register)), running_scheduler(app_factory(register)) as scheduler:
        await eventually(lambda: len(fired) >= 2, timeout_s=10)
        await asyncio.to_thread(jetjobs_server.stop, kill=True)
        await asyncio.sleep(3)  # three fires fall while the server is away
        await asyncio.to_thread(jetjobs_server.start)
        restarted = max(fired)
        await eventually(lambda: max(fired) >= restarted + 4000, timeout_s=30)
        assert scheduler.ready
    seconds = sorted(fired)
    assert len(seconds) == len(set(seconds))  # nothing twice
    assert [b - a for a, b in itertools.pairwise(seconds)] == [1000] * (len(seconds) - 1)  # nothing skipped
