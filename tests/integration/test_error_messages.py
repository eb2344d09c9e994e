"""Bad input to the read APIs gives one clear jetjobs error naming what was given, not a NATS error."""

from __future__ import annotations

import pytest

from jetjobs import App, JobNotFound
from tests.helpers import AppFactory


def register(app: App) -> None:
    @app.task(queue="orders")
    async def charge(n: int) -> int:
        return n


@pytest.mark.parametrize("job_id", ["a b*>", "orders.>", "", "x" * 500, "a..b", "tab\there"])
async def test_status_of_an_id_no_job_can_have(app_factory: AppFactory, job_id: str) -> None:
    app = app_factory(register)
    async with app:
        with pytest.raises(JobNotFound, match="not a valid job id") as caught:
            await app.status(job_id)
        with pytest.raises(JobNotFound, match="not a valid job id"):
            await app.job(job_id).result(timeout_s=1)
    assert repr(job_id)[:40] in str(caught.value)


@pytest.mark.parametrize("seq", [-1, 0, 2**64])
async def test_dead_letter_sequences_that_cannot_exist(app_factory: AppFactory, seq: int) -> None:
    app = app_factory(register)
    async with app:
        await app.provision(["orders"])
        with pytest.raises(JobNotFound, match=f"no dead letter with sequence {seq}$"):
            await app.dead_letters.get(seq)
        assert await app.dead_letters.delete(seq) is False
        assert await app.dead_letters.list("orders", after_seq=-5) == []
