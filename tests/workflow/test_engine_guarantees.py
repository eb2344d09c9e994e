"""Engine guarantees on a real nats-server: fan-in exactly once, failures, timeout, cancel, versions, sizes."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from jetjobs import App, Cancel, WorkflowFailed
from jetjobs.workflow import StepRetry
from tests.helpers import AppFactory, eventually, quiet_for, running_worker

WIDTH = 200


def fan_tasks(app: App, calls: Counter[str], *, failing: int | None = None) -> None:
    @app.task(queue="fan", max_retries=0)
    async def part(i: int) -> int:
        calls[f"part:{i}"] += 1
        if i == failing:
            raise ValueError(f"part {i} broke")
        return i

    @app.task(queue="fan")
    async def total(parts: dict[str, Any] | None = None) -> str:
        calls["total"] += 1
        return "joined"


def declare_fan(app: App, trigger: str) -> None:
    wf = app.workflow(f"fan-{trigger}", version="1")
    for i in range(WIDTH):
        wf.step(f"p{i}", "part", input={"i": i}, retry=StepRetry(max_attempts=1))
    wf.step("total", "total", depends_on=[f"p{i}" for i in range(WIDTH)], trigger=trigger)


@pytest.mark.parametrize("trigger", ["all_success", "all_done"])
async def test_wide_fan_in_with_one_failed_parent(app_factory: AppFactory, trigger: str) -> None:
    calls: Counter[str] = Counter()

    def build(app: App) -> None:
        fan_tasks(app, calls, failing=17)
        declare_fan(app, trigger)

    async with (
        running_worker(app_factory(build, name="w1", queues={"fan": {"concurrency": 64}})),
        app_factory(build, name="w2") as producer,
    ):
        run = await producer.execute_workflow(f"fan-{trigger}")
        if trigger == "all_success":
            with pytest.raises(WorkflowFailed) as failed:
                await run.result(timeout_s=60)
            assert failed.value.step == "p17"
            assert failed.value.state == "failed"

            async def parents_settled() -> bool:  # parents still finishing must not trigger the callback
                steps = (await run.status()).steps
                return all(steps[f"p{i}"].state in ("succeeded", "failed", "cancelled") for i in range(WIDTH))

            await eventually(parents_settled, timeout_s=30)
            assert calls["total"] == 0
            assert (await run.status()).steps["total"].state == "pending"
        else:
            assert await run.result(timeout_s=60) == "joined"
            assert calls["total"] == 1
            status = await run.status()
            assert status.steps["p17"].state == "failed"
            assert status.steps["total"].state == "succeeded"


async def test_wide_fan_in_fires_the_callback_exactly_once(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()

    def build(app: App) -> None:
        fan_tasks(app, calls)
        declare_fan(app, "all_success")

    workers = [app_factory(build, name=f"w{i}", queues={"fan": {"concurrency": 32}}) for i in range(3)]
    async with (
        running_worker(workers[0]),
        running_worker(workers[1]),
        running_worker(workers[2]),
        app_factory(build, name="shop") as producer,
    ):
        run = await producer.execute_workflow("fan-all_success")
        assert await run.result(timeout_s=60) == "joined"
    assert calls["total"] == 1
    assert all(calls[f"part:{i}"] == 1 for i in range(WIDTH))


def slow_tasks(app: App, calls: Counter[str], gate: asyncio.Event) -> None:
    @app.task(queue="slow")
    async def quick(name: str) -> str:
        calls[name] += 1
        return name

    @app.task(queue="slow")
    async def wait_forever(name: str) -> str:
        calls[name] += 1
        await gate.wait()
        return name

    @app.task(queue="slow")
    async def undo(name: str) -> str:
        calls[f"undo:{name}"] += 1
        await asyncio.sleep(1.5)  # long enough for the run's timeout to land while compensating
        return name

    @app.task(queue="slow")
    async def explode() -> None:
        raise Cancel("no way")  # a task that stops itself: the step fails for good


async def test_timeout_fires_from_the_server_and_cancels_running_steps(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    gate = asyncio.Event()

    def build(app: App) -> None:
        slow_tasks(app, calls, gate)
        wf = app.workflow("slow", version="1", timeout_s=1.5)
        wf.step("a", "quick", input={"name": "a"})
        wf.step("b", "wait_forever", depends_on=["a"], input={"name": "b"})
        wf.step("c", "quick", depends_on=["b"], input={"name": "c"})

    async with running_worker(app_factory(build, name="w")), app_factory(build, name="p") as producer:
        run = await producer.execute_workflow("slow")
        with pytest.raises(WorkflowFailed) as failed:
            await run.result(timeout_s=20)
        assert failed.value.state == "timed_out"
        await eventually(lambda: _step_state(run, "b", "cancelled"), timeout_s=10)
        assert calls["c"] == 0


async def test_timeout_while_compensating_lets_compensation_finish(app_factory: AppFactory) -> None:
    from jetjobs.workflow import Step

    calls: Counter[str] = Counter()
    gate = asyncio.Event()

    def build(app: App) -> None:
        slow_tasks(app, calls, gate)
        wf = app.workflow("saga", version="1", timeout_s=1.0, compensate={"a": Step("undo", input={"name": "a"})})
        wf.step("a", "quick", input={"name": "a"})
        wf.step("b", "explode", depends_on=["a"])

    async with running_worker(app_factory(build, name="w")), app_factory(build, name="p") as producer:
        run = await producer.execute_workflow("saga")
        with pytest.raises(WorkflowFailed) as failed:
            await run.result(timeout_s=20)
        assert failed.value.state == "compensated"
        assert calls["undo:a"] == 1
        kinds = [e.kind async for e in run.logs()]
        assert kinds.count("compensating") == 1
        assert "run_timed_out" not in kinds


async def test_cancel_during_a_fan_out(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    gate = asyncio.Event()

    def build(app: App) -> None:
        slow_tasks(app, calls, gate)
        wf = app.workflow("fanout", version="1")
        wf.step("root", "quick", input={"name": "root"})
        for i in range(20):
            wf.step(f"w{i}", "wait_forever", depends_on=["root"], input={"name": f"w{i}"})
        wf.step("end", "quick", depends_on=[f"w{i}" for i in range(20)], input={"name": "end"})

    async with (
        running_worker(app_factory(build, name="w", queues={"slow": {"concurrency": 5}})),
        app_factory(build, name="p") as producer,
    ):
        run = await producer.execute_workflow("fanout")
        await eventually(lambda: sum(calls[f"w{i}"] for i in range(20)) >= 5)
        assert await run.cancel() is True
        assert await run.cancel() is False  # idempotent: already ended
        with pytest.raises(WorkflowFailed) as failed:
            await run.result(timeout_s=10)
        assert failed.value.state == "cancelled"

        async def all_cancelled() -> bool:
            status = await run.status()
            return all(status.steps[f"w{i}"].state in ("cancelled", "queued") for i in range(20))

        await eventually(all_cancelled, timeout_s=15)
        gate.set()
        assert calls["end"] == 0
        assert sum(calls[f"w{i}"] for i in range(20)) < 20  # queued members never ran


async def test_running_v1_runs_finish_as_v1_when_v2_is_registered(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    gate = asyncio.Event()

    def v1(app: App) -> None:
        slow_tasks(app, calls, gate)
        wf = app.workflow("versioned", version="1")
        wf.step("a", "wait_forever", input={"name": "v1-a"})
        wf.step("b", "quick", depends_on=["a"], input={"name": "v1-b"})

    def v2(app: App) -> None:
        slow_tasks(app, calls, gate)
        wf = app.workflow("versioned", version="2")
        wf.step("a", "quick", input={"name": "v2-a"})
        wf.step("z", "quick", depends_on=["a"], input={"name": "v2-z"})

    async with (
        running_worker(app_factory(v1, name="w1")),
        app_factory(v1, name="p1") as old,
        app_factory(v2, name="p2") as new,
    ):
        first = await old.execute_workflow("versioned")
        await eventually(lambda: calls["v1-a"] == 1)
        second = await new.execute_workflow("versioned")  # registers v2 and starts it
        assert await second.result(timeout_s=10) == "v2-z"
        gate.set()
        assert await first.result(timeout_s=10) == "v1-b"
        assert (await first.status()).version == "1"
        assert calls["v2-a"] == 1


async def test_output_over_the_cap_fails_the_step_for_good(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()

    def build(app: App) -> None:
        @app.task(queue="big", max_retries=5)
        async def produce(size: int) -> str:
            calls["produce"] += 1
            return "x" * size

        wf = app.workflow("sizes", version="1")
        wf.step("make", "produce", input={"size": "{{input.size}}"})

    settings = {"workflow_inline_output_bytes": 1000, "workflow_max_output_bytes": 300_000}
    async with (
        running_worker(app_factory(build, name="w", **settings)),
        app_factory(build, name="p", **settings) as producer,
    ):
        large = await producer.execute_workflow("sizes", input={"size": 200_000})
        assert await large.result(timeout_s=20) == "x" * 200_000  # via the object store
        assert (await large.status()).steps["make"].output_ref is not None
        huge = await producer.execute_workflow("sizes", input={"size": 400_000})
        with pytest.raises(WorkflowFailed) as failed:
            await huge.result(timeout_s=20)
        assert failed.value.error_type.endswith("OutputTooLarge")
        assert "300000" in failed.value.message
        assert calls["produce"] == 2  # no retry loop


async def test_deep_error_reaches_the_caller_with_the_step_name(app_factory: AppFactory) -> None:
    def build(app: App) -> None:
        @app.task(queue="deep")
        async def ok(n: int) -> int:
            return n + 1

        @app.task(queue="deep", max_retries=0)
        async def broken(n: int) -> int:
            raise KeyError(f"missing record {n}")

        wf = app.workflow("deep", version="1")
        previous = None
        for i in range(6):
            wf.step(f"s{i}", "ok", depends_on=[previous] if previous else [], input={"n": i})
            previous = f"s{i}"
        wf.step("last", "broken", depends_on=[previous], input={"n": f"{{{{tasks.{previous}.output}}}}"})

    async with running_worker(app_factory(build, name="w")), app_factory(build, name="p") as producer:
        run = await producer.execute_workflow("deep")
        with pytest.raises(WorkflowFailed) as failed:
            await run.result(timeout_s=20)
        assert failed.value.step == "last"
        assert failed.value.error_type == "KeyError"
        assert "missing record 6" in failed.value.message
        assert "broken" in failed.value.traceback


async def test_run_id_is_an_idempotency_key(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    gate = asyncio.Event()
    gate.set()

    def build(app: App) -> None:
        slow_tasks(app, calls, gate)
        app.workflow("once", version="1").step("a", "quick", input={"name": "a"})

    async with running_worker(app_factory(build, name="w")), app_factory(build, name="p") as producer:
        runs = await asyncio.gather(*(producer.execute_workflow("once", run_id="order-7") for _ in range(5)))
        assert {r.id for r in runs} == {"order-7"}
        assert await runs[0].result(timeout_s=10) == "a"
        assert await quiet_for(lambda: calls["a"], quiet_s=0.3) == 1  # no second start shows up


async def _step_state(run: Any, step: str, state: str) -> bool:
    return bool((await run.status()).steps[step].state == state)


def saga_tasks(app: App, calls: Counter[str], barrier: asyncio.Barrier) -> None:
    @app.task(queue="saga")
    async def book(name: str) -> str:
        calls[f"book:{name}"] += 1
        return f"booking-{name}"

    @app.task(queue="saga", max_retries=0)
    async def fail_together(name: str) -> None:
        calls[f"fail:{name}"] += 1
        await barrier.wait()  # both branches fail at the same moment
        raise RuntimeError(f"{name} failed")

    @app.task(queue="saga")
    async def cancel_booking(booking: str) -> str:
        calls[f"undo:{booking}"] += 1
        return booking

    @app.task(queue="saga", max_retries=0)
    async def broken_undo(booking: str) -> str:
        calls[f"broken-undo:{booking}"] += 1
        raise ConnectionError("refund service down")


async def test_two_branches_failing_at_once_start_compensation_once(app_factory: AppFactory) -> None:
    from jetjobs.workflow import Step

    calls: Counter[str] = Counter()
    barrier = asyncio.Barrier(2)

    def build(app: App) -> None:
        saga_tasks(app, calls, barrier)
        wf = app.workflow(
            "trip",
            version="1",
            compensate={
                "hotel": Step("cancel_booking", input={"booking": "{{tasks.hotel.output}}"}),
                "flight": Step("cancel_booking", input={"booking": "{{tasks.flight.output}}"}),
            },
        )
        wf.step("hotel", "book", input={"name": "hotel"})
        wf.step("flight", "book", depends_on=["hotel"], input={"name": "flight"})
        wf.step("car", "fail_together", depends_on=["flight"], input={"name": "car"})
        wf.step("train", "fail_together", depends_on=["flight"], input={"name": "train"})

    async with running_worker(app_factory(build, name="w")), app_factory(build, name="p") as producer:
        run = await producer.execute_workflow("trip")
        with pytest.raises(WorkflowFailed) as failed:
            await run.result(timeout_s=20)
        assert failed.value.state == "compensated"
        assert failed.value.step in ("car", "train")
        assert calls["undo:booking-flight"] == 1
        assert calls["undo:booking-hotel"] == 1
        kinds = [e.kind async for e in run.logs()]
        assert kinds.count("compensating") == 1
        assert (await run.status()).compensation == ("flight", "hotel")  # reverse completion order


async def test_a_failing_compensation_is_visible(app_factory: AppFactory) -> None:
    from jetjobs.workflow import Step

    calls: Counter[str] = Counter()
    barrier = asyncio.Barrier(1)

    def build(app: App) -> None:
        saga_tasks(app, calls, barrier)
        wf = app.workflow(
            "pay", version="1", compensate={"charge": Step("broken_undo", input={"booking": "{{tasks.charge.output}}"})}
        )
        wf.step("charge", "book", input={"name": "card"})
        wf.step("ship", "fail_together", depends_on=["charge"], input={"name": "ship"})

    async with running_worker(app_factory(build, name="w")), app_factory(build, name="p") as producer:
        run = await producer.execute_workflow("pay")
        with pytest.raises(WorkflowFailed) as failed:
            await run.result(timeout_s=20)
        assert failed.value.state == "compensation_failed"
        assert failed.value.step == "ship"  # the cause stays the original failure
        status = await run.status()
        assert status.steps["compensate-charge"].state == "failed"
        assert "refund service down" in (status.steps["compensate-charge"].error.message or "")  # type: ignore[union-attr]

        async def dead_lettered() -> bool:
            letters = await producer.dead_letters.list("saga")
            return any(letter.job_id == f"{run.id}.compensate-charge" for letter in letters)

        await eventually(dead_lettered)


async def test_replaying_a_failed_step_does_not_resume_the_run_and_says_so(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    barrier = asyncio.Barrier(1)

    def build(app: App) -> None:
        saga_tasks(app, calls, barrier)
        app.workflow("once", version="1").step("only", "fail_together", input={"name": "x"})

    async with running_worker(app_factory(build, name="w")), app_factory(build, name="p") as producer:
        run = await producer.execute_workflow("once")
        with pytest.raises(WorkflowFailed):
            await run.result(timeout_s=20)
        letters: list[Any] = []

        async def dead_lettered() -> bool:  # stored by the settle that follows the run's failure
            letters[:] = [d for d in await producer.dead_letters.list("saga") if d.job_id == f"{run.id}.only"]
            return bool(letters)

        await eventually(dead_lettered)
        await producer.dead_letters.replay(letters[0].seq)

        async def ignored() -> bool:
            return "step_replay_ignored" in [e.kind async for e in run.logs()]

        await eventually(ignored)
        assert calls["fail:x"] == 1
        assert (await run.status()).state == "failed"
