"""The wire contract of docs/wire-protocol.md, exercised with plain nats-py (as another language would)."""

from __future__ import annotations

import json

from nats.aio.client import Client
from nats.aio.msg import Msg

from jetjobs import App, current_job
from tests.helpers import AppFactory, eventually, running_worker


def register(app: App) -> None:
    @app.task(queue="emails")
    async def send_email(to: str, subject: str, body: str = "") -> dict[str, object]:
        job = current_job()
        return {"to": to, "subject": subject, "priority": job.priority, "tenant": job.metadata.get("tenant")}


async def read_status(raw_nc: Client, job_id: str, final: str) -> dict[str, object]:
    kv = await raw_nc.jetstream().key_value("JOBS_STATUS")
    record: dict[str, object] = {}

    async def reached() -> bool:
        nonlocal record
        try:
            record = json.loads((await kv.get(job_id)).value or b"{}")
        except Exception:  # not written yet
            record = {}
        return record.get("state") == final

    await eventually(reached, timeout_s=10)
    return record


async def test_a_raw_publish_following_the_docs_runs_a_job(app_factory: AppFactory, raw_nc: Client) -> None:
    async with running_worker(app_factory(register)):
        js = raw_nc.jetstream()
        ack = await js.publish(
            "jobs.emails.high",
            json.dumps({"args": ["a@example.com"], "kwargs": {"subject": "from Go"}}).encode(),
            headers={
                "Nats-Msg-Id": "ext-1",
                "Jetjobs-Job-Id": "ext-1",
                "Jetjobs-Task": "send_email",
                "Jetjobs-Enqueued-At": "2026-11-22T10:00:00.000000Z",
                "Jetjobs-Meta-tenant": "acme",
                "Content-Type": "application/json",
            },
        )
        assert ack.stream == "JOBS_emails"
        record = await read_status(raw_nc, "ext-1", "succeeded")
    assert record["result"] == {
        "to": "a@example.com",
        "subject": "from Go",
        "priority": "high",
        "tenant": "acme",
    }
    assert record["task"] == "send_email"
    assert record["queue"] == "emails"
    assert record["attempts"] == 1


async def test_minimal_raw_message_with_only_required_headers(app_factory: AppFactory, raw_nc: Client) -> None:
    async with running_worker(app_factory(register)):
        await raw_nc.jetstream().publish(
            "jobs.emails.normal",
            b'{"kwargs": {"to": "b@example.com", "subject": "minimal"}}',
            headers={"Jetjobs-Job-Id": "ext-2", "Jetjobs-Task": "send_email"},
        )
        record = await read_status(raw_nc, "ext-2", "succeeded")
    assert record["result"]["subject"] == "minimal"  # type: ignore[index]


async def test_python_producer_writes_what_the_docs_describe(app_factory: AppFactory, raw_nc: Client) -> None:
    seen: list[tuple[str, dict[str, str], bytes]] = []

    async def record(msg: Msg) -> None:
        seen.append((msg.subject, dict(msg.headers or {}), msg.data))

    sub = await raw_nc.subscribe("jobs.emails.*", cb=record)
    async with app_factory(register) as producer:
        job = (
            await producer.tasks["send_email"]
            .options(metadata={"tenant": "acme"})
            .enqueue("c@example.com", subject="x")
        )
        await raw_nc.flush()
        await eventually(lambda: bool(seen), timeout_s=2)
    await sub.unsubscribe()
    subject, headers, body = seen[0]
    assert subject == "jobs.emails.normal"
    assert headers["Nats-Msg-Id"] == headers["Jetjobs-Job-Id"] == job.id
    assert headers["Jetjobs-Task"] == "send_email"
    assert headers["Content-Type"] == "application/json"
    assert headers["Jetjobs-Meta-tenant"] == "acme"
    assert headers["Jetjobs-Enqueued-At"].endswith("Z")
    assert json.loads(body) == {"args": [], "kwargs": {"to": "c@example.com", "subject": "x"}}
