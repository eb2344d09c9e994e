"""Property: whatever bytes are published to a queue, good jobs run, bad ones are dead-lettered on their
first delivery, and the worker keeps running.

The normal run checks a few hundred fuzzed messages (about 10 s; ``FUZZ_EXAMPLES=<n>`` draws more
corpora). The big run, 10,000 fuzzed messages interleaved with about 1,000 good jobs
(docs/operations.md), prints its counts::

    CHAOS_FUZZ=10000 .venv/bin/python -m pytest tests/integration/test_fuzz.py -k big -s -p no:cacheprovider
"""

from __future__ import annotations

import asyncio
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jetjobs.testing import NatsServer
from tests.integration.fuzz_corpus import Message, Report, bad_messages, run_corpus

_FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def check(report: Report) -> None:
    assert report.bad_ran == 0, report.line()
    assert report.good_ran == report.good_enqueued, report.line()
    assert report.missing_from_dlq == [], report.line()
    assert report.dead_lettered == report.bad_stored, report.line()
    assert report.dead_on_first_delivery == report.dead_lettered, report.line()
    assert report.worker_alive, report.line()


@settings(_FUZZ, max_examples=int(os.environ.get("FUZZ_EXAMPLES", "12")))
@given(corpus=st.lists(bad_messages(), min_size=20, max_size=50))
def test_fuzzed_messages_never_stop_a_queue(corpus: list[Message]) -> None:
    with NatsServer() as server:
        report = asyncio.run(run_corpus(server.url, corpus, timeout_s=float(os.environ.get("FUZZ_TIMEOUT_S", "30"))))
    check(report)


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not os.environ.get("CHAOS_FUZZ"), reason="set CHAOS_FUZZ=<messages> to run")
def test_big_fuzz_corpus() -> None:
    """Hypothesis draws the corpus in batches of 100; one worker gets all of it."""
    target = int(os.environ["CHAOS_FUZZ"])
    corpus: list[Message] = []

    @settings(_FUZZ, max_examples=max(1, target // 100))
    @given(batch=st.lists(bad_messages(), min_size=100, max_size=100))
    def collect(batch: list[Message]) -> None:
        corpus.extend(batch)

    collect()
    corpus = corpus[:target]
    with NatsServer() as server:
        report = asyncio.run(run_corpus(server.url, corpus, good_every=10, timeout_s=600))
    print("\n" + report.line())
    check(report)
