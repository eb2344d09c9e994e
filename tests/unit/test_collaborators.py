"""The App's collaborators work from what they are handed, without an App (no server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from jetjobs import App, Job, JobInfo, JobRequest, QueueConfig
from jetjobs._link import Link
from jetjobs._settings import load_settings
from jetjobs.errors import ConfigError, JetjobsError
from jetjobs.scheduler import Schedules


class FakeBackend:
    """A JobBackend of three methods that records what a handle asks."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    async def status(self, job_id: str, *, wait_s: float = 0.0) -> JobInfo:
        self.calls.append(("status", job_id, {"wait_s": wait_s}))
        raise NotImplementedError

    async def result(self, job_id: str, *, timeout_s: float | None = None) -> Any:
        self.calls.append(("result", job_id, {"timeout_s": timeout_s}))
        return 42

    async def cancel(self, job_id: str, *, queue: str | None = None, wait_s: float = 0.0) -> bool:
        self.calls.append(("cancel", job_id, {"queue": queue, "wait_s": wait_s}))
        return True

    async def watch(self, job_id: str, *, timeout_s: float | None = None) -> AsyncIterator[JobInfo]:
        self.calls.append(("watch", job_id, {"timeout_s": timeout_s}))
        return
        yield


async def test_a_job_handle_asks_its_backend_with_its_id_queue_and_first_record_wait() -> None:
    backend = FakeBackend()
    job = Job(backend, "order-42", "charge", "payments", wait_s=2.5)

    assert await job.result(timeout_s=3) == 42
    assert await job.cancel() is True
    with pytest.raises(NotImplementedError):
        await job.status()
    assert backend.calls == [
        ("result", "order-42", {"timeout_s": 3}),
        ("cancel", "order-42", {"queue": "payments", "wait_s": 2.5}),
        ("status", "order-42", {"wait_s": 2.5}),
    ]


async def test_a_link_used_before_connect_names_the_app() -> None:
    link = Link("billing", load_settings(nats_url="nats://127.0.0.1:1"))

    assert (link.connected, link.closed) == (False, True)
    with pytest.raises(JetjobsError, match="app 'billing' is not connected"):
        _ = link.connection
    with pytest.raises(JetjobsError, match="app 'billing' is not connected"):
        _ = link.status_store


def test_schedules_check_declarations_against_the_queue_settings_they_are_handed() -> None:
    link = Link("reports", load_settings(nats_url="nats://127.0.0.1:1"))
    queues = {"maintenance": QueueConfig(priorities=["low"], max_deliveries=6)}

    async def never(request: JobRequest) -> Job:
        raise AssertionError("declaring enqueues nothing")

    schedules = Schedules(link, {}, lambda name: queues[name], never)
    definition = schedules.declare("cleanup", every=timedelta(minutes=5), queue="maintenance", priority="low")
    assert (definition.owner, definition.queue) == ("reports", "maintenance")
    with pytest.raises(ConfigError, match="has no 'high' priority"):
        schedules.declare("urgent", name="u", every=60, queue="maintenance", priority="high")
    with pytest.raises(ConfigError, match="does not fit queue 'maintenance'"):
        schedules.declare("retry", name="r", every=60, queue="maintenance", max_retries=5)


def test_the_app_wires_one_link_into_every_collaborator() -> None:
    app = App("unit", nats_url="nats://127.0.0.1:1")  # does not connect

    assert app.producer._link is app.link
    assert app.results._link is app.link
    assert app.dead_letters._link is app.link
    assert app.schedules._link is app.link
    assert app.producer._tasks is app.tasks  # tasks registered later are seen
