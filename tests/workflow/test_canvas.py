"""Canvas and composition patterns on a real nats-server: one engine underneath."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from jetjobs import (
    App,
    BatchTask,
    MemberFailed,
    Pipeline,
    TaskGraph,
    TaskGroup,
    WorkflowFailed,
    chain,
    chord,
    execute_subtask,
    group,
)
from jetjobs.errors import InvalidPayload
from jetjobs.workflow import compile_canvas
from tests.helpers import AppFactory, running_worker


def image_tasks(app: App, calls: Counter[str]) -> None:
    @app.task(queue="images")
    async def process_image(path: str) -> dict[str, Any]:
        calls["process"] += 1
        return {"path": path, "pixels": 100}

    @app.task(queue="images")
    async def resize(image: dict[str, Any], size: str) -> str:
        calls[f"resize:{size}"] += 1
        return f"{image['path']}@{size}"

    @app.task(queue="images")
    async def update_metadata(sizes: list[str]) -> dict[str, Any]:
        calls["metadata"] += 1
        return {"sizes": sizes}

    @app.task(queue="images")
    async def add(x: int, y: int) -> int:
        return x + y

    @app.task(queue="images", max_retries=0)
    async def maybe_fail(i: int) -> int:
        calls["member"] += 1
        if i == 123:
            raise ValueError(f"member {i} is broken")
        return i

    @app.task(queue="images")
    async def collect(values: list[Any]) -> dict[str, Any]:
        calls["collect"] += 1
        errors = [v for v in values if isinstance(v, dict) and "error" in v]
        return {"count": len(values), "errors": len(errors), "sum": sum(v for v in values if isinstance(v, int))}


async def test_the_image_processing_canvas(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    app = app_factory(lambda a: image_tasks(a, calls), name="images")
    producer = app_factory(lambda a: image_tasks(a, calls), name="producer")
    async with running_worker(app), producer:
        t = producer.tasks
        canvas = chain(
            t["process_image"].s("img.png"),
            group([t["resize"].s(size="small"), t["resize"].s(size="large"), t["resize"].s(size="thumb")]),
            t["update_metadata"].s(),
        )
        run = await producer.enqueue(canvas)
        result = await run.result(timeout_s=20)
        assert result == {"sizes": ["img.png@small", "img.png@large", "img.png@thumb"]}  # declared order
        status = await run.status()
        assert list(status.steps) == ["process_image", "resize", "resize-2", "resize-3", "update_metadata"]
        assert calls["metadata"] == 1
        again = await canvas.enqueue()  # the same shape reuses its definition
        assert (await again.status()).version == status.version


async def test_nested_chain_group_chain_fires_the_callback_once(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    app = app_factory(lambda a: image_tasks(a, calls), name="w")
    async with running_worker(app), app_factory(lambda a: image_tasks(a, calls), name="p") as producer:
        add, collect = producer.tasks["add"], producer.tasks["collect"]
        inner = [chain(add.s(i, 1), add.s(10), group([add.s(100), add.s(1000)])) for i in range(4)]
        run = await producer.enqueue(chain(group(inner), collect.s()))
        result = await run.result(timeout_s=30)
        assert calls["collect"] == 1
        assert result["count"] == 4  # each inner chain's value is its group's list


@pytest.mark.parametrize("rule", ["all_success", "all_done"])
async def test_a_500_member_chord_with_one_failure(app_factory: AppFactory, rule: str) -> None:
    calls: Counter[str] = Counter()
    app = app_factory(lambda a: image_tasks(a, calls), name="w", queues={"images": {"concurrency": 64}})
    async with running_worker(app), app_factory(lambda a: image_tasks(a, calls), name="p") as producer:
        member, collect = producer.tasks["maybe_fail"], producer.tasks["collect"]
        run = await producer.enqueue(chord([member.si(i) for i in range(500)], collect.s(), trigger=rule))
        if rule == "all_success":
            with pytest.raises(WorkflowFailed) as failed:
                await run.result(timeout_s=60)
            assert "member 123 is broken" in failed.value.message
            assert calls["collect"] == 0
        else:
            result = await run.result(timeout_s=60)
            assert result == {"count": 500, "errors": 1, "sum": sum(range(500)) - 123}
            assert calls["collect"] == 1


async def test_task_group_gathers_in_order_and_names_a_failing_member(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    app = app_factory(lambda a: image_tasks(a, calls), name="w")
    async with running_worker(app), app_factory(lambda a: image_tasks(a, calls), name="p") as producer:
        add, member = producer.tasks["add"], producer.tasks["maybe_fail"]
        async with TaskGroup(producer) as g:
            for i in range(5):
                g.create_task(add.s(i, i))
            assert await g.gather(timeout_s=20) == [0, 2, 4, 6, 8]
        failing = TaskGroup(producer)
        failing.create_task(member.s(1))
        failing.create_task(member.s(123))
        with pytest.raises(MemberFailed) as failed:
            await failing.gather(timeout_s=20)
        assert "maybe_fail" in str(failed.value)
        assert "member 123 is broken" in str(failed.value)


async def test_task_graph_with_a_diamond(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    app = app_factory(lambda a: image_tasks(a, calls), name="w")
    async with running_worker(app), app_factory(lambda a: image_tasks(a, calls), name="p") as producer:
        add, collect = producer.tasks["add"], producer.tasks["collect"]
        graph = TaskGraph(producer)
        top = graph.add_task(add.s(1, 1), name="top")
        left = graph.add_task(add.s(10), name="left")
        right = graph.add_task(add.s(100), name="right")
        bottom = graph.add_task(collect.s(), name="bottom")
        graph.add_dependency(left, top)
        graph.add_dependency(right, top)
        graph.add_dependency(bottom, left)
        graph.add_dependency(bottom, right)
        results = await graph.execute_all(timeout_s=20)
        assert results == {"top": 2, "left": 12, "right": 102, "bottom": {"count": 2, "errors": 0, "sum": 114}}


async def test_pipeline_runs_as_a_chain(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    app = app_factory(lambda a: image_tasks(a, calls), name="w")
    async with running_worker(app), app_factory(lambda a: image_tasks(a, calls), name="p") as producer:
        add = producer.tasks["add"]

        class Sums(Pipeline):
            steps = (add, add.s(10), add.s(100))

        assert await Sums(producer).run(1, 2, timeout_s=20) == 113


def batch_tasks(app: App, seen: Counter[int]) -> None:
    @app.task(queue="batch")
    async def square_all(items: list[int]) -> list[int]:
        for item in items:
            seen[item] += 1
        return [i * i for i in items]


async def test_batch_task_of_10000_items_in_chunks_of_100(app_factory: AppFactory) -> None:
    seen: Counter[int] = Counter()
    app = app_factory(lambda a: batch_tasks(a, seen), name="w", queues={"batch": {"concurrency": 32}})
    async with running_worker(app), app_factory(lambda a: batch_tasks(a, seen), name="p") as producer:
        batch = BatchTask(producer, producer.tasks["square_all"], batch_size=100)
        items = list(range(10_000))
        results = await batch.run(items, timeout_s=60)
        assert results == [i * i for i in items]
        assert len(seen) == 10_000
        assert set(seen.values()) == {1}


def composite_tasks(app: App, calls: Counter[str]) -> None:
    @app.task(queue="single")
    async def step_one(order: str) -> str:
        calls["one"] += 1
        return f"{order}:1"

    @app.task(queue="single")
    async def step_two(value: str) -> str:
        calls["two"] += 1
        return f"{value}:2"

    @app.task(queue="single")
    async def composite(order: str):  # type: ignore[no-untyped-def]  # returns a sub-run
        calls["composite"] += 1
        return execute_subtask(chain(step_one.s(order), step_two.s()))

    @app.task(queue="single")
    async def finish(value: str) -> str:
        return f"done {value}"


async def test_composite_task_on_a_queue_with_concurrency_1_completes(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    app = app_factory(lambda a: composite_tasks(a, calls), name="w", queues={"single": {"concurrency": 1}})
    async with running_worker(app), app_factory(lambda a: composite_tasks(a, calls), name="p") as producer:
        t = producer.tasks
        run = await producer.enqueue(chain(t["composite"].s("o-1"), t["finish"].s()))
        assert await run.result(timeout_s=20) == "done o-1:1:2"
        status = await run.status()
        assert status.steps["composite"].state == "succeeded"
        assert calls == {"composite": 1, "one": 1, "two": 1}


async def test_cancelling_a_run_cancels_its_sub_runs(app_factory: AppFactory) -> None:
    gate = asyncio.Event()

    def build(app: App) -> None:
        @app.task(queue="sub")
        async def slow(x: int) -> int:
            await gate.wait()
            return x

        @app.task(queue="sub")
        async def parent(x: int):  # type: ignore[no-untyped-def]
            return execute_subtask(group([slow.s(x), slow.s(x + 1)]))

    async with running_worker(app_factory(build, name="w")), app_factory(build, name="p") as producer:
        run = await producer.enqueue(producer.tasks["parent"].s(1))
        child_id = f"{run.id}--parent"

        async def child_running() -> bool:
            try:
                return (await (await producer.workflow_run(child_id)).status()).state == "running"
            except Exception:
                return False

        from tests.helpers import eventually

        await eventually(child_running)
        assert await run.cancel()
        child = await producer.workflow_run(child_id)
        with pytest.raises(WorkflowFailed) as failed:
            await child.result(timeout_s=10)
        assert failed.value.state == "cancelled"
        gate.set()


def test_arguments_are_checked_when_the_canvas_is_built(app_factory: AppFactory) -> None:
    calls: Counter[str] = Counter()
    app = app_factory(lambda a: image_tasks(a, calls), name="p")
    with pytest.raises(InvalidPayload, match="add"):
        compile_canvas(chain(app.tasks["add"].s(1, 2, 3)))
    with pytest.raises(InvalidPayload, match="unexpected keyword"):
        compile_canvas(chain(app.tasks["process_image"].s("x"), app.tasks["resize"].s(colour="red")))
