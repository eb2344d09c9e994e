"""Queue pause is JetStream consumer pause: it holds across re-provisioning (a worker restart)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jetjobs import transport
from tests.helpers import AppFactory


async def test_pause_survives_provisioning_and_resume_clears_it(app_factory: AppFactory) -> None:
    app = app_factory()
    async with app:
        await app.provision(["emails"])
        conn = app.connection
        assert await transport.queue_pause_state(conn, "emails") == transport.PauseState(False, None)
        await transport.pause_queue(conn, "emails", datetime.now(UTC) + timedelta(hours=1))
        await app.provision(["emails"])  # what every worker does at start
        state = await transport.queue_pause_state(conn, "emails")
        assert state.paused is True
        assert state.until is not None
        await transport.resume_queue(conn, "emails")
        assert (await transport.queue_pause_state(conn, "emails")).paused is False
