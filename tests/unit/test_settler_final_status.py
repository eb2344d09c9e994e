"""A final status write that fails is retried (job kept in progress) before the ack (issue 9, item 3)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from jetjobs._outcome import Succeeded
from jetjobs._settings import QueueConfig
from jetjobs._status import StatusRecord
from jetjobs.transport import DeadLetterStore, Delivery, StatusStore
from jetjobs.worker._settler import Settler


class FlakyStatus:
    """Fails the first ``failures`` writes (like a status bucket electing a leader)."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.stored: dict[str, bytes] = {}

    def _maybe_fail(self) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("no responders (leader election)")

    async def put(self, job_id: str, data: bytes) -> None:
        self._maybe_fail()
        self.stored[job_id] = data

    async def put_then(self, job_id: str, data: bytes, then: Any) -> None:
        try:
            self._maybe_fail()
        except RuntimeError as exc:
            await then(exc)
            return
        self.stored[job_id] = data
        await then(None)


class RecordingDelivery:
    def __init__(self, stored: dict[str, bytes]) -> None:
        self.num_delivered = 1
        self.settled = False
        self.events: list[str] = []
        self._stored = stored

    async def ack(self) -> None:
        self.events.append("ack:stored" if "j1" in self._stored else "ack:missing")
        self.settled = True

    async def in_progress(self) -> None:
        self.events.append("wpi")


def _settler(status: FlakyStatus, ack_wait_s: float = 3.0) -> Settler:
    cfg = QueueConfig(ack_wait_s=ack_wait_s)
    return Settler(cast(StatusStore, status), cast(DeadLetterStore, None), lambda _q: cfg)


async def _settle(settler: Settler, delivery: RecordingDelivery) -> None:
    record = StatusRecord("j1", "t", "q", None, None)
    await settler._settle(cast(Delivery, delivery), record, None, Succeeded(result=b"42"), None)


async def test_result_is_stored_before_the_ack_after_failed_writes() -> None:
    status = FlakyStatus(failures=4)  # put_then, then three retries fail
    settler = _settler(status)
    delivery = RecordingDelivery(status.stored)
    await _settle(settler, delivery)
    assert not delivery.settled  # not acked while the write is being retried
    await settler.drain(timeout_s=10)
    assert delivery.events[0] == "wpi"  # kept in progress meanwhile
    assert delivery.events[-1] == "ack:stored"
    assert "ack:missing" not in delivery.events
    assert settler.stored_after_retry == 1
    assert settler.given_up == 0


async def test_gives_up_after_the_documented_deadline_then_acks() -> None:
    status = FlakyStatus(failures=10_000)
    settler = _settler(status, ack_wait_s=1.0)  # deadline: FINAL_STATUS_ACK_WAITS x 1 s
    delivery = RecordingDelivery(status.stored)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await _settle(settler, delivery)
    await settler.drain(timeout_s=30)
    assert delivery.events[-1] == "ack:missing"
    assert settler.given_up == 1
    assert 3.0 <= loop.time() - began <= 8.0
    assert delivery.events.count("wpi") >= 3  # kept in progress every ack_wait / 3


async def test_drain_leaves_the_job_unacked_when_shutdown_comes_first() -> None:
    status = FlakyStatus(failures=10_000)
    settler = _settler(status, ack_wait_s=30.0)
    delivery = RecordingDelivery(status.stored)
    await _settle(settler, delivery)
    await settler.drain(timeout_s=0.3)
    assert not any(e.startswith("ack") for e in delivery.events)  # redelivered later, not lost


class SlowStatus:
    """Stores at once but answers only when told (a status bucket that is slow to confirm)."""

    def __init__(self) -> None:
        self.answers: list[Any] = []

    async def put_then(self, job_id: str, data: bytes, then: Any) -> None:
        self.answers.append(then)

    async def answer(self, count: int, error: Exception | None = None) -> None:
        for then in self.answers[:count]:
            await then(error)
        del self.answers[:count]


async def test_settling_waits_while_too_many_results_await_confirmation() -> None:
    status = SlowStatus()
    settler = Settler(cast(StatusStore, status), cast(DeadLetterStore, None), max_unconfirmed=3)
    deliveries = [RecordingDelivery({"j1": b""}) for _ in range(5)]
    settles = [asyncio.create_task(_settle(settler, d)) for d in deliveries]
    await asyncio.wait_for(asyncio.gather(*settles[:3]), timeout=5)
    await asyncio.sleep(0.05)  # the other two had time to finish, had they not been held
    assert [t.done() for t in settles] == [True, True, True, False, False]  # 3 slots freed, 2 held
    assert settler.unconfirmed == 3
    await status.answer(1)  # one result confirmed: its job is acked, one held settle goes on
    await asyncio.wait_for(settles[3], timeout=5)
    assert deliveries[0].settled
    assert not settles[4].done()
    assert settler.unconfirmed == 3
    await status.answer(3)
    await asyncio.wait_for(settles[4], timeout=5)
    await status.answer(1)
    assert settler.unconfirmed == 0
    assert all(d.settled for d in deliveries)


async def test_a_result_write_being_retried_counts_until_its_job_is_acked() -> None:
    status = FlakyStatus(failures=3)  # the write fails: retried in a task of its own (0.1 s, 0.2 s pauses)
    settler = Settler(cast(StatusStore, status), cast(DeadLetterStore, None), max_unconfirmed=1)
    first = RecordingDelivery({"j1": b""})
    await _settle(settler, first)
    assert settler.unconfirmed == 1
    second = asyncio.create_task(_settle(settler, RecordingDelivery({"j1": b""})))
    await asyncio.sleep(0.05)  # time to finish, had it not been held
    assert not second.done()  # held while the first is still being retried
    await settler.drain(timeout_s=10)
    assert first.settled
    await asyncio.wait_for(second, timeout=5)
    assert settler.unconfirmed == 0
