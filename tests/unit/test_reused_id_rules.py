"""Which enqueues may replace an earlier run's final status record (see StatusStore.first_of_run)."""

from __future__ import annotations

from datetime import UTC, datetime

from jetjobs._first_record import may_replace
from jetjobs._wire import H_WORKFLOW_STEP
from jetjobs.transport._kv import _earlier_final

NOW = "2026-01-01T00:00:01.000000Z"


def test_only_chosen_ids_of_jobs_a_worker_surely_settles() -> None:
    assert may_replace("order-7", None, None)
    assert not may_replace(None, None, None)  # a random id has no earlier run
    assert not may_replace("run1.step", {H_WORKFLOW_STEP: "step"}, None)  # the fence may ack it unrun
    assert not may_replace("later", None, datetime(2030, 1, 1, tzinfo=UTC))  # a delayed job


def test_earlier_final_records_only() -> None:
    def rec(state: str, enqueued_at: str | None) -> bytes:
        at = "null" if enqueued_at is None else f'"{enqueued_at}"'
        return f'{{"state":"{state}","enqueued_at":{at}}}'.encode()

    assert _earlier_final(rec("succeeded", "2026-01-01T00:00:00.000000Z"), NOW)
    assert _earlier_final(rec("cancelled", None), NOW)  # a record without a time is older
    assert not _earlier_final(rec("succeeded", NOW), NOW)  # this run's
    assert not _earlier_final(rec("succeeded", "2026-01-01T00:00:02.000000Z"), NOW)  # a later run's
    assert not _earlier_final(rec("retrying", "2026-01-01T00:00:00.000000Z"), NOW)  # still in progress
    assert not _earlier_final(rec("whatever", "2026-01-01T00:00:00.000000Z"), NOW)
    assert not _earlier_final(b"[1]", NOW)
    assert not _earlier_final(rec("succeeded", "2026-01-01T00:00:00.000000Z"), None)
