"""The wire contract: job body and headers (pure, no server)."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from jetjobs._wire import (
    JobHeaders,
    decode_body,
    decode_headers,
    encode_body,
    header_value,
    replay_headers,
)
from jetjobs.errors import InvalidPayload

BASE = {
    "Nats-Msg-Id": "job-1",
    "Jetjobs-Job-Id": "job-1",
    "Jetjobs-Task": "send_email",
    "Jetjobs-Enqueued-At": "2026-01-02T03:04:05.000000Z",
    "Content-Type": "application/json",
}


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ([], {}),
        ([1, "two", None, True], {}),
        ([], {"to": "a@example.com", "n": 3.5}),
        ([[1, [2]], {"nested": {"x": []}}], {"unicode": "héllo ✓", "empty": ""}),
        ((1, 2), {"t": [1]}),
    ],
)
def test_body_round_trips(args: list[Any], kwargs: dict[str, Any]) -> None:
    data = encode_body(args, kwargs)
    assert decode_body(data) == (list(args), kwargs)


def test_body_is_compact_json_object() -> None:
    assert encode_body([1], {"a": "b"}) == b'{"args":[1],"kwargs":{"a":"b"}}'


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"{}", ([], {})),
        (b'{"args":[1]}', ([1], {})),
        (b'{"kwargs":{"a":1}}', ([], {"a": 1})),
    ],
)
def test_missing_body_keys_default_to_empty(data: bytes, expected: tuple[list[Any], dict[str, Any]]) -> None:
    assert decode_body(data) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not valid JSON"),
        (b"not json", "not valid JSON"),
        (b'{"args": [1,', "not valid JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b'{"args":["\xe9"]}', "not UTF-8"),
        ('{"args":[1]}'.encode("utf-16"), "not UTF-8"),
        ('{"args":[1]}'.encode("utf-16-le"), "not valid JSON"),  # valid UTF-8 (NULs), not JSON
        ('{"args":[1]}'.encode("utf-32"), "not UTF-8"),
        (b"\xef\xbb\xbf" + b'{"args":[1]}', "not valid JSON"),  # a BOM is not part of the contract
        (b'{"args":' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
        (b'{"args":[' + b"7" * 5_000 + b"]}", "cannot be decoded: .*digits"),
        (b"[1, 2]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"args":[],"kwargs":{},"extra":1}', "unknown keys \\['extra'\\]"),
        (b'{"arg":[]}', "unknown keys \\['arg'\\]"),
        (b'{"args":{"a":1}}', "'args' must be a JSON array"),
        (b'{"args":"abc"}', "'args' must be a JSON array"),
        (b'{"args":null}', "'args' must be a JSON array"),
        (b'{"kwargs":[1]}', "'kwargs' must be a JSON object"),
        (b'{"kwargs":"a=1"}', "'kwargs' must be a JSON object"),
    ],
)
def test_malformed_body_raises_invalid_payload(data: bytes, message: str) -> None:
    with pytest.raises(InvalidPayload, match=message):
        decode_body(data)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ([math.nan], {}),
        ([], {"x": math.inf}),
        ([object()], {}),
        ([], {"s": {1, 2}}),
        ([b"bytes"], {}),
    ],
)
def test_encode_body_rejects_non_json_values(args: list[Any], kwargs: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload, match="not JSON-serialisable"):
        encode_body(args, kwargs)


FULL = JobHeaders(
    job_id="order-42.retry",
    task="charge",
    enqueued_at="2026-01-02T03:04:05.123456Z",
    task_version="v2",
    timeout_s=30.0,
    max_retries=7,
    metadata={"tenant": "acme", "trace": "abc"},
)


@pytest.mark.parametrize(
    "headers",
    [
        FULL,
        JobHeaders(job_id="j", task="t", enqueued_at=""),
        JobHeaders(job_id="a_b-c=", task="mod.task", enqueued_at="x", timeout_s=0.5),
    ],
)
def test_headers_round_trip(headers: JobHeaders) -> None:
    assert decode_headers(headers.to_headers()) == headers


def test_to_headers_writes_every_field_under_its_name() -> None:
    assert FULL.to_headers(msg_id="custom") == {
        "Nats-Msg-Id": "custom",
        "Jetjobs-Job-Id": "order-42.retry",
        "Jetjobs-Task": "charge",
        "Jetjobs-Enqueued-At": "2026-01-02T03:04:05.123456Z",
        "Content-Type": "application/json",
        "Jetjobs-Task-Version": "v2",
        "Jetjobs-Timeout-S": "30",
        "Jetjobs-Max-Retries": "7",
        "Jetjobs-Meta-tenant": "acme",
        "Jetjobs-Meta-trace": "abc",
    }


def test_extra_headers_are_added_verbatim() -> None:
    headers = JobHeaders(job_id="j", task="t", enqueued_at="", extra={"traceparent": "00-ab"}).to_headers()
    assert headers["traceparent"] == "00-ab"
    assert headers["Nats-Msg-Id"] == "j"


@pytest.mark.parametrize(
    ("timeout_s", "text"),
    [(30.0, "30"), (30, "30"), (0.5, "0.5"), (1.25, "1.25"), (86_400.0, "86400")],
)
def test_timeout_header_formatting(timeout_s: float, text: str) -> None:
    headers = JobHeaders(job_id="j", task="t", enqueued_at="", timeout_s=timeout_s).to_headers()
    assert headers["Jetjobs-Timeout-S"] == text


def test_job_id_falls_back_to_msg_id() -> None:
    headers = {k: v for k, v in BASE.items() if k != "Jetjobs-Job-Id"}
    assert decode_headers(headers).job_id == "job-1"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Jetjobs-Job-Id": None, "Nats-Msg-Id": None}, "Jetjobs-Job-Id is missing"),
        ({"Jetjobs-Job-Id": "", "Nats-Msg-Id": ""}, "Jetjobs-Job-Id is missing"),
        ({"Jetjobs-Task": None}, "Jetjobs-Task is missing"),
        ({"Jetjobs-Task": ""}, "Jetjobs-Task is missing"),
        ({"Jetjobs-Job-Id": "has space"}, "not a valid job id"),
        ({"Jetjobs-Job-Id": "a*b"}, "not a valid job id"),
        ({"Jetjobs-Job-Id": "a..b"}, "not a valid job id"),
        ({"Jetjobs-Job-Id": "x" * 201}, "not a valid job id"),
        ({"Content-Type": "text/plain"}, "unsupported Content-Type"),
        ({"Content-Type": "application/msgpack"}, "unsupported Content-Type"),
        ({"Jetjobs-Timeout-S": "soon"}, "must be a number of seconds"),
        ({"Jetjobs-Timeout-S": ""}, "must be a number of seconds"),
        ({"Jetjobs-Timeout-S": "0"}, "must be > 0"),
        ({"Jetjobs-Timeout-S": "-5"}, "must be > 0"),
        ({"Jetjobs-Timeout-S": "nan"}, "must be > 0"),
    ],
)
def test_bad_headers_raise_invalid_payload(changes: dict[str, str | None], message: str) -> None:
    headers = {**BASE, **{k: v for k, v in changes.items() if v is not None}}
    for key in [k for k, v in changes.items() if v is None]:
        del headers[key]
    with pytest.raises(InvalidPayload, match=message):
        decode_headers(headers)


@pytest.mark.parametrize("headers", [None, {}])
def test_no_headers_raise_invalid_payload(headers: dict[str, str] | None) -> None:
    with pytest.raises(InvalidPayload, match="no headers"):
        decode_headers(headers)


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/json; charset=utf-8", " application/json "]
)
def test_json_content_types_are_accepted(content_type: str | None) -> None:
    headers = dict(BASE)
    if content_type is None:
        del headers["Content-Type"]
    else:
        headers["Content-Type"] = content_type
    assert decode_headers(headers).task == "send_email"


def test_metadata_is_read_from_meta_headers_only() -> None:
    headers = {**BASE, "Jetjobs-Meta-tenant": "acme", "Jetjobs-Meta-": "empty-key", "X-Other": "no"}
    assert decode_headers(headers).metadata == {"tenant": "acme", "": "empty-key"}


def test_replay_headers_keep_the_job_and_drop_dlq_and_server_headers() -> None:
    dead = {
        **BASE,
        "Jetjobs-Meta-tenant": "acme",
        "Jetjobs-Dlq-Reason": "gave up after 4 attempts",
        "Jetjobs-Dlq-Error-Type": "ValueError",
        "Jetjobs-Dlq-Attempts": "4",
        "Nats-Expected-Stream": "JOBS_emails",
        "Nats-Schedule": "@at 2026-01-01T00:00:00Z",
        "Status": "100",
        "traceparent": "00-ab",
    }
    assert replay_headers(dead, msg_id="job-1-replay-1", replay_of="job-1") == {
        "Nats-Msg-Id": "job-1-replay-1",
        "Jetjobs-Job-Id": "job-1",
        "Jetjobs-Task": "send_email",
        "Jetjobs-Enqueued-At": "2026-01-02T03:04:05.000000Z",
        "Content-Type": "application/json",
        "Jetjobs-Meta-tenant": "acme",
        "traceparent": "00-ab",
        "Jetjobs-Replay-Of": "job-1",
    }


def test_replayed_headers_still_decode_as_the_same_job() -> None:
    replayed = replay_headers({**BASE, "Jetjobs-Dlq-Reason": "x"}, msg_id="new", replay_of="job-1")
    assert decode_headers(replayed).job_id == "job-1"


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("plain", 1024, "plain"),
        ("line one\nline two\r\n\tthree", 1024, "line one line two three"),
        ("  padded  ", 1024, "padded"),
        ("", 1024, ""),
        ("abcdef", 6, "abcdef"),
        ("abcdefg", 6, "abcde…"),
        ("a\nb\nc\nd", 5, "a b …"),
    ],
)
def test_header_value_flattens_and_truncates(text: str, limit: int, expected: str) -> None:
    assert header_value(text, limit) == expected


def test_header_value_default_limit_is_1024() -> None:
    value = header_value("x" * 5_000)
    assert len(value) == 1024
    assert value.endswith("…")


def test_body_decodes_what_another_language_would_publish() -> None:
    foreign = json.dumps({"kwargs": {"to": "a@b"}, "args": [1]}, indent=2).encode("utf-8")
    assert decode_body(foreign) == ([1], {"to": "a@b"})
