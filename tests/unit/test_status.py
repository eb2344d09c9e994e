"""Status records: what the worker writes is what App.status reads (pure, no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jetjobs._outcome import ErrorInfo
from jetjobs._status import JobError, JobState, StatusRecord, decode_status

RECORD = StatusRecord("job-1", "send_email", "emails", "high", "2026-01-02T03:04:05.000000Z")
UPDATED = "2026-01-02T03:04:06.000000Z"


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (b'{"a":[1,2]}', {"a": [1, 2]}),
        (b"null", None),
        (b"42", 42),
        (b'"text with \\" quote"', 'text with " quote'),
        (b"[]", []),
    ],
)
def test_result_bytes_are_spliced_and_read_back(result: bytes, expected: Any) -> None:
    data = RECORD.encode(JobState.SUCCEEDED, updated_at=UPDATED, attempts=1, result=result)
    assert json.loads(data)["result"] == expected
    info = decode_status(data)
    assert info.state is JobState.SUCCEEDED
    assert info.result == expected


def test_every_field_round_trips() -> None:
    error = ErrorInfo("ValueError", "bad", "Traceback ...\nValueError: bad")
    data = RECORD.encode(
        JobState.RETRYING,
        updated_at=UPDATED,
        attempts=2,
        error=error,
        started_at="2026-01-02T03:04:05.500000Z",
        first_failure_at="2026-01-02T03:04:05.900000Z",
        next_attempt_in_s=4.0,
        worker="host-1",
    )
    info = decode_status(data)
    assert (info.id, info.task, info.queue, info.priority) == ("job-1", "send_email", "emails", "high")
    assert info.attempts == 2
    assert info.enqueued_at == "2026-01-02T03:04:05.000000Z"
    assert info.updated_at == UPDATED
    assert info.started_at == "2026-01-02T03:04:05.500000Z"
    assert info.first_failure_at == "2026-01-02T03:04:05.900000Z"
    assert info.next_attempt_in_s == 4.0
    assert info.worker == "host-1"
    assert info.error == JobError(type="ValueError", message="bad", traceback="Traceback ...\nValueError: bad")
    assert info.result is None


def test_unset_times_are_left_out() -> None:
    data = RECORD.encode(JobState.QUEUED, updated_at=UPDATED, started_at=None, finished_at=None)
    record = json.loads(data)
    assert "started_at" not in record
    assert "finished_at" not in record
    assert "error" not in record
    assert "result" not in record


def test_record_without_priority_or_enqueue_time() -> None:
    data = StatusRecord("j", "t", "q", None, None).encode(JobState.SCHEDULED, updated_at=UPDATED)
    info = decode_status(data)
    assert (info.priority, info.enqueued_at, info.state) == (None, None, JobState.SCHEDULED)


@pytest.mark.parametrize("state", list(JobState))
def test_every_state_round_trips(state: JobState) -> None:
    assert decode_status(RECORD.encode(state, updated_at=UPDATED)).state is state


@pytest.mark.parametrize(
    ("state", "final"),
    [
        (JobState.SCHEDULED, False),
        (JobState.QUEUED, False),
        (JobState.RUNNING, False),
        (JobState.RETRYING, False),
        (JobState.SUCCEEDED, True),
        (JobState.FAILED, True),
        (JobState.DEAD, True),
        (JobState.CANCELLED, True),
    ],
)
def test_is_final(state: JobState, final: bool) -> None:
    assert state.is_final is final


def test_decode_ignores_fields_from_newer_writers() -> None:
    data = b'{"id":"j","state":"queued","task":"t","queue":"q","future_field":1}'
    assert decode_status(data).id == "j"


@pytest.mark.parametrize("task", ["send_email", 'billing."quoted"\\task', "café.naïve"])
@pytest.mark.parametrize(
    ("state", "scheduled_for"),
    [(JobState.QUEUED, None), (JobState.SCHEDULED, "2026-01-02T04:00:00.000000Z")],
)
def test_first_record_written_at_enqueue_equals_the_general_encoding(
    task: str, state: JobState, scheduled_for: str | None
) -> None:
    from jetjobs._producer import _Route

    route = _Route("emails", "high", None, "jobs.emails.high", "delayed.emails.due.high", 50)
    record = StatusRecord("0f3a9c", task, "emails", "high", "2026-01-02T03:04:05.000000Z")
    fast = route.queued_record(record, state, scheduled_for)
    general = record.encode(state, updated_at=record.enqueued_at or "", scheduled_for=scheduled_for)
    assert json.loads(fast) == json.loads(general)
    assert decode_status(fast) == decode_status(general)


@pytest.mark.parametrize(
    "task",
    ["send_email", 'quote"d', "back\\slash", "naïve", "tab\tand\nnewline", "\u2028", "emoji 🎉", ""],
)
def test_text_encoding_equals_json_dumps_of_the_record(task: str) -> None:
    record = StatusRecord("job-1", task, "emails", None, "2026-01-02T03:04:05.000000Z")
    error = ErrorInfo("ValueError", 'bad "value"\n', "Traceback ...")
    data = record.encode(
        JobState.FAILED,
        updated_at=UPDATED,
        attempts=3,
        error=error,
        progress={"fraction": 0.5, "message": "half"},
        started_at=UPDATED,
        next_attempt_in_s=1.25,
        first_failure_at=None,
    )
    expected = {
        "id": "job-1",
        "state": "failed",
        "task": task,
        "queue": "emails",
        "priority": None,
        "attempts": 3,
        "enqueued_at": "2026-01-02T03:04:05.000000Z",
        "updated_at": UPDATED,
        "started_at": UPDATED,
        "next_attempt_in_s": 1.25,
        "error": {"type": "ValueError", "message": 'bad "value"\n', "traceback": "Traceback ..."},
        "progress": {"fraction": 0.5, "message": "half"},
    }
    assert json.loads(data) == expected
    assert list(json.loads(data)) == list(expected)  # the same keys, in the same order
    assert data == json.dumps(expected, separators=(",", ":")).encode()
