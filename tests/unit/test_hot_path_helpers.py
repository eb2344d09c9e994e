"""Helpers of the per-job path that replace slower library calls: same results (pure)."""

from __future__ import annotations

import dataclasses
import re
import threading
from datetime import UTC, datetime

import pytest

from jetjobs._context import JobContext, JobControl, new_context
from jetjobs._wire import now_iso, parse_iso


def test_now_iso_is_rfc3339_utc_with_microseconds_and_current() -> None:
    before = datetime.now(UTC)
    text = now_iso()
    after = datetime.now(UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text)
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= parse_iso(text) <= after


def test_now_iso_from_many_threads_stays_consistent() -> None:
    """The cached second is shared: no thread may pair a new second's text with another's fraction."""
    runs: list[list[str]] = [[] for _ in range(4)]

    def call(out: list[str]) -> None:
        out.extend(now_iso() for _ in range(5000))

    threads = [threading.Thread(target=call, args=(out,)) for out in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for out in runs:
        assert out == sorted(out)  # each thread's times never go back (same format: text order is time order)
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", text) for text in out)


def test_new_context_equals_the_dataclass_and_stays_frozen() -> None:
    values = ("j1", "t", "q", "high", 2, 5, "2026-01-02T03:04:05Z", 1.5, {"m": "1"}, {"h": "v"}, (1,), {"k": 2})
    tail = ("jobs.q.high", "c", 42, JobControl())
    built = new_context(*values, *tail)
    names = [f.name for f in dataclasses.fields(JobContext)]
    assert built == JobContext(**dict(zip(names, (*values, *tail), strict=True)))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.attempt = 3  # type: ignore[misc]
    with pytest.raises(TypeError, match="takes 16 values"):
        new_context(*values)
