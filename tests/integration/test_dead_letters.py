"""Poison messages end in the DLQ with their reason; dead letters can be replayed."""

from __future__ import annotations

import json

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig

from jetjobs import App, JobFailed, JobState, current_job
from jetjobs.telemetry import metrics
from jetjobs.testing import NatsServer
from tests.helpers import AppFactory, eventually, running_worker

BODY = json.dumps({"args": [], "kwargs": {"order_id": "o-1"}}).encode()


def register(app: App, runs: list[int]) -> None:
    @app.task(queue="orders", max_retries=0)
    async def charge(order_id: str) -> str:
        runs.append(current_job().attempt)
        if len(runs) == 1:
            raise RuntimeError("card declined")
        return f"charged {order_id}"


def headers(task: str = "charge", job_id: str = "raw-1") -> dict[str, str]:
    return {
        "Nats-Msg-Id": job_id,
        "Jetjobs-Job-Id": job_id,
        "Jetjobs-Task": task,
        "Content-Type": "application/json",
    }


async def test_poison_messages_are_dead_lettered_with_reasons(app_factory: AppFactory, raw_nc: Client) -> None:
    runs: list[int] = []
    app = app_factory(lambda a: register(a, runs), unknown_task_retries=0)
    js = raw_nc.jetstream()
    async with running_worker(app, queues=["orders"]):
        await js.publish("jobs.orders.normal", b"{not json", headers=headers(job_id="bad-json"))
        await js.publish("jobs.orders.normal", BODY, headers=headers(task="no_such_task", job_id="unknown"))
        await js.publish("jobs.orders.normal", BODY, headers={"Content-Type": "application/json"})
        bad_args = json.dumps({"kwargs": {"order_id": 5}}).encode()
        await js.publish("jobs.orders.normal", bad_args, headers=headers(job_id="bad-args"))
        pickle_like = b"\x80\x04\x95"
        await js.publish("jobs.orders.normal", pickle_like, headers=headers(job_id="pickled"))

        async def all_dead() -> bool:
            return len(await app.dead_letters.list("orders")) == 5

        await eventually(all_dead, timeout_s=10)
        dead = {d.job_id or d.headers.get("Nats-Msg-Id", "?"): d for d in await app.dead_letters.list("orders")}
        bad_json_status = await app.status("bad-json")
    assert runs == []
    assert dead["bad-json"].reason == "malformed message"
    assert "not valid JSON" in dead["bad-json"].error_message
    assert dead["unknown"].reason == "unknown task"
    assert "no_such_task" in dead["unknown"].error_message
    assert dead["bad-args"].reason == "invalid arguments"
    assert "order_id" in dead["bad-args"].error_message
    assert dead["pickled"].reason == "malformed message"
    no_headers = [d for d in dead.values() if not d.job_id]
    assert len(no_headers) == 1
    assert "Jetjobs-Job-Id" in no_headers[0].error_message
    assert dead["bad-json"].body == b"{not json"  # the original bytes are kept
    assert bad_json_status.state is JobState.DEAD


async def test_replay_runs_a_dead_job_again(app_factory: AppFactory) -> None:
    runs: list[int] = []
    producer, worker_app = app_factory(lambda a: register(a, runs)), app_factory(lambda a: register(a, runs))
    async with producer, running_worker(worker_app):
        job = await producer.tasks["charge"].enqueue("o-7")
        with pytest.raises(JobFailed, match="card declined"):
            await job.result(timeout_s=10)
        (dead,) = await producer.dead_letters.list("orders")
        assert dead.job_id == job.id
        assert dead.error_type == "RuntimeError"
        assert dead.attempts == 1
        assert "raise RuntimeError" in dead.traceback
        assert dead.first_failure_at
        assert dead.last_failure_at
        replayed = await producer.dead_letters.replay(dead.seq)
        assert replayed.id == job.id
        assert await replayed.result(timeout_s=10) == "charged o-7"
        assert await producer.dead_letters.list("orders") == []
    assert len(runs) == 2


async def test_max_deliveries_advisory_moves_a_stuck_job_to_the_dlq(
    app_factory: AppFactory, jetjobs_server: NatsServer
) -> None:
    """Deliveries that all end without a settle (crashing workers) land in the DLQ via the advisory."""
    runs: list[int] = []
    queues = {"orders": {"max_deliveries": 4, "ack_wait_s": 1}}
    app = app_factory(lambda a: register(a, runs), queues=queues)
    async with app:
        await app.provision(["orders"])
        # A stand-in for crashing workers: it takes every delivery and never settles it.
        nc = await nats.connect(jetjobs_server.url)
        js = nc.jetstream()
        await js.publish("jobs.orders.normal", BODY, headers=headers(job_id="crashy"))
        sub = await js.pull_subscribe_bind("orders-normal", stream="JOBS_orders")
        for _ in range(4):
            await sub.fetch(1, timeout=5)
        await nc.close()
        # The worker's pull requests make the server notice the exhausted message and
        # publish the MAX_DELIVERIES advisory, which the mover turns into a dead letter.
        async with running_worker(app_factory(lambda a: register(a, runs), queues=queues)):

            async def moved() -> bool:
                dead = await app.dead_letters.list("orders")
                return len(dead) == 1 and await js_stream_messages(app, "JOBS_orders") == 0

            await eventually(moved, timeout_s=15)
        (dead,) = await app.dead_letters.list("orders")
        info = await js_stream_messages(app, "JOBS_orders")
        status = await app.status("crashy")
    assert runs == []
    assert dead.job_id == "crashy"
    assert dead.reason == "max deliveries reached"
    assert dead.attempts == 4
    assert info == 0  # the stuck message was removed from the work queue
    assert status.state is JobState.DEAD
    assert metrics.jobs.values.get(("charge", "orders", "dead"), 0) >= 1  # hooks saw the move


async def js_stream_messages(app: App, stream: str) -> int:
    info = await app.connection.js.stream_info(stream)
    return int(info.state.messages)


async def test_consumer_config_uses_explicit_acks_and_caps(app_factory: AppFactory, raw_nc: Client) -> None:
    app = app_factory(queues={"orders": {"max_in_flight": 7, "ack_wait_s": 12, "max_deliveries": 9}})
    async with app:
        await app.provision(["orders"])
    info = await raw_nc.jetstream().consumer_info("JOBS_orders", "orders-high")
    config: ConsumerConfig = info.config
    assert config.ack_policy == AckPolicy.EXPLICIT
    assert (config.max_ack_pending, config.ack_wait, config.max_deliver) == (7, 12, 9)
    assert config.filter_subject == "jobs.orders.high"
