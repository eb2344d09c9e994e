"""Dead letters always fit the server's max_payload, with bounded headers the server will accept."""

from __future__ import annotations

import hashlib

import pytest

from jetjobs._wire import (
    DLQ_BODY_PREVIEW,
    DLQ_HEADERS_MAX,
    copyable_headers,
    fit_dead_letter,
    header_block_size,
)
from jetjobs.transport._protocol import HeaderCodec

MB = 1024 * 1024


def test_header_block_size_is_what_the_codec_writes() -> None:
    headers = {"Jetjobs-Task": "t", "Unicode": "café ☕", "Empty": ""}
    assert header_block_size(headers) == len(HeaderCodec().encode(headers))


def test_a_dead_letter_that_fits_is_kept_as_it_is() -> None:
    headers = {"Jetjobs-Task": "t", "Jetjobs-Dlq-Reason": "x"}
    body = b"x" * 500_000
    assert fit_dead_letter(headers, body, MB) == (headers, body)


@pytest.mark.parametrize("size", [MB - 1000, MB, 5 * MB])
def test_a_body_too_large_is_truncated_with_its_size_and_sha256(size: int) -> None:
    body = bytes(range(256)) * (size // 256)
    headers, kept = fit_dead_letter({"Jetjobs-Task": "t"}, body, MB)
    assert kept == body[:DLQ_BODY_PREVIEW]
    assert headers["Jetjobs-Dlq-Body-Truncated"] == "true"
    assert headers["Jetjobs-Dlq-Body-Size"] == str(len(body))
    assert headers["Jetjobs-Dlq-Body-Sha256"] == hashlib.sha256(body).hexdigest()
    assert header_block_size(headers) + len(kept) <= MB


def test_huge_headers_are_cut_then_dropped_but_the_essentials_stay() -> None:
    original = {
        "Jetjobs-Job-Id": "j-1",
        "Jetjobs-Task": "t",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        **{f"Jetjobs-Meta-K{i}": "v" * 3000 for i in range(40)},
        "Jetjobs-Meta-Huge": "h" * 900_000,
        "Jetjobs-Dlq-Reason": "gave up",
    }
    headers, body = fit_dead_letter(original, b"{}", MB)
    assert header_block_size(headers) <= DLQ_HEADERS_MAX
    assert headers["Jetjobs-Dlq-Headers-Cut"] == "1"
    assert "Jetjobs-Meta-Huge" in headers["Jetjobs-Dlq-Headers-Dropped"]
    for name in ("Jetjobs-Job-Id", "Jetjobs-Task", "traceparent", "Jetjobs-Dlq-Reason"):
        assert headers[name] == original[name]
    assert body == b"{}"


def test_a_small_server_limit_still_gets_a_dead_letter_that_fits() -> None:
    headers, body = fit_dead_letter({"Jetjobs-Task": "t", "Big": "b" * 3000}, b"x" * 20_000, 8192)
    assert header_block_size(headers) + len(body) <= 8192


def test_only_headers_the_server_accepts_and_does_not_act_on_are_copied() -> None:
    original = {
        "Jetjobs-Task": "t",
        "Nats-Msg-Id": "m",
        "Nats-Expected-Stream": "JOBS_q",  # held for the original; would refuse the copy
        "nats-rollup": "all",
        "Status": "404",  # a direct get of the dead letter would read as "no message"
        "Description": "No Messages",
        "Jetjobs-Dlq-Reason": "forged",
        "Bad(Name": "x",
        "traceparent": "00-1-2-01",
    }
    assert copyable_headers(original) == {"Jetjobs-Task": "t", "traceparent": "00-1-2-01"}
