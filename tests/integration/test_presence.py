"""Worker presence records: written at start, refreshed, marked stale by readers, deleted at stop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jetjobs import App
from tests.helpers import AppFactory, running_worker

pytest.importorskip("starlette", reason="the reader lives in the web UI package")
from jetjobs.ui._workers import worker_rows


def register(app: App) -> None:
    @app.task(queue="emails")
    async def send(to: str) -> None:
        return None


async def test_worker_presence_lifecycle(app_factory: AppFactory) -> None:
    reader = app_factory(register, name="reader")
    async with reader:
        assert await worker_rows(reader) == []  # no bucket yet: no workers, no error
        worker_app = app_factory(register, name="billing")
        async with running_worker(worker_app, concurrency=3):
            (row,) = await worker_rows(reader)
            assert row["app"] == "billing"
            assert row["queues"] == {"emails": 3}
            assert row["concurrency"] == 3
            assert row["running"] == 0
            assert row["stale"] is False
            later = datetime.now(UTC) + timedelta(seconds=20)  # three missed beats of 5 s
            (stale,) = await worker_rows(reader, now=later)
            assert stale["stale"] is True
        assert await worker_rows(reader) == []  # a clean stop deletes the record
