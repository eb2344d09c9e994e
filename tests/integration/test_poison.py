"""No message can stop a queue: whatever its bytes, a delivery ends in the DLQ on its first delivery.

The bad messages are published raw (``HPUB`` written by a plain nats-py client), as a
buggy or hostile producer in any language could: the server stores them as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from typing import Any

import pytest
from nats.aio.client import Client

from jetjobs import App, ConnectionFailed, JetjobsError, Worker
from jetjobs.transport import Puller
from jetjobs.worker._running import RunningMarker
from tests.helpers import AppFactory, eventually, running_worker

GOOD_BODY = json.dumps({"args": [], "kwargs": {"n": 1}}).encode()


def register(app: App, runs: list[int]) -> None:
    @app.task(queue="orders", max_retries=0)
    async def count(n: int) -> int:
        runs.append(n)
        return n


async def publish_raw(nc: Client, subject: str, header_block: bytes | None, body: bytes) -> None:
    """Write one message on the wire exactly as given (no client-side header encoding)."""
    if header_block is None:
        cmd = f"PUB {subject} {len(body)}\r\n".encode()
    else:
        cmd = f"HPUB {subject} {len(header_block)} {len(header_block) + len(body)}\r\n".encode() + header_block
    await nc._send_command(cmd + body + b"\r\n")
    await nc.flush()


def job_headers(job_id: str, task: str = "count") -> bytes:
    lines = [
        "NATS/1.0",
        f"Nats-Msg-Id: {job_id}",
        f"Jetjobs-Job-Id: {job_id}",
        f"Jetjobs-Task: {task}",
        "Content-Type: application/json",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def stream_messages(nc: Client, stream: str) -> int:
    info = await nc.jetstream().stream_info(stream)
    return int(info.state.messages)


async def test_an_unparseable_header_block_does_not_stop_the_queue(app_factory: AppFactory, raw_nc: Client) -> None:
    """``NATS\\r\\n\\r\\n`` as the header block made nats-py raise IndexError and the puller hang."""
    runs: list[int] = []
    app = app_factory(lambda a: register(a, runs))
    async with app:
        await app.provision(["orders"])
    # The bad message first, then a backlog: the worker's first pull takes it with three good ones.
    await publish_raw(raw_nc, "jobs.orders.normal", b"NATS\r\n\r\n", b"hello")
    for i in range(10):
        await publish_raw(raw_nc, "jobs.orders.normal", job_headers(f"good-{i}"), GOOD_BODY)

    async def all_stored() -> bool:  # plain publishes: stream info may answer before the last is stored
        return await stream_messages(raw_nc, "JOBS_orders") == 11

    await eventually(all_stored, timeout_s=5)  # the server stored the bad one as it is
    worker_app = app_factory(lambda a: register(a, runs))
    async with running_worker(worker_app, concurrency=4):
        await eventually(lambda: len(runs) == 10, timeout_s=15)

        async def dead() -> bool:
            return len(await worker_app.dead_letters.list("orders")) == 1

        await eventually(dead, timeout_s=10)
        (letter,) = await worker_app.dead_letters.list("orders")
    assert letter.reason == "malformed message"
    assert letter.attempts == 1  # on its first delivery, not after ack_wait
    assert "header" in letter.error_message
    assert letter.body == b"hello"
    assert await stream_messages(raw_nc, "JOBS_orders") == 0


async def test_a_failing_job_of_about_one_megabyte_is_dead_lettered_and_the_worker_goes_on(
    app_factory: AppFactory,
) -> None:
    """Its dead letter would exceed max_payload: it is stored with a truncated body, the connection stays up."""
    runs: list[int] = []

    def tasks(app: App) -> None:
        register(app, runs)

        @app.task(queue="orders", max_retries=0)
        async def big(blob: str) -> None:
            raise RuntimeError("cannot handle " + str(len(blob)))

    producer, worker_app = app_factory(tasks), app_factory(tasks)
    async with producer, running_worker(worker_app, concurrency=8) as worker:
        blob = "x" * 1_047_000  # accepted by the producer's size check
        job = await producer.tasks["big"].enqueue(blob)

        async def dead() -> bool:
            return len(await producer.dead_letters.list("orders")) == 1

        await eventually(dead, timeout_s=15)
        jobs = [await producer.tasks["count"].enqueue(i) for i in range(100)]
        await eventually(lambda: len(runs) == 100, timeout_s=20)
        assert worker.ready
        assert worker_app.connection.connected
        (letter,) = await producer.dead_letters.list("orders")
        status = await producer.status(job.id)
        results = [await j.result(timeout_s=10) for j in jobs[:3]]
        with pytest.raises(JetjobsError, match="keeps only the first 4096 bytes of its body"):
            await producer.dead_letters.replay(letter.seq)
    original = json.dumps({"args": [], "kwargs": {"blob": blob}}, separators=(",", ":")).encode()
    assert letter.job_id == job.id
    assert letter.error_message == "cannot handle 1047000"
    assert letter.headers["Jetjobs-Dlq-Body-Truncated"] == "true"
    assert int(letter.headers["Jetjobs-Dlq-Body-Size"]) == len(original)
    assert letter.headers["Jetjobs-Dlq-Body-Sha256"] == hashlib.sha256(original).hexdigest()
    assert letter.body == original[:4096]
    assert status.state.value == "failed"
    assert results == [0, 1, 2]


async def test_a_connection_closed_for_good_stops_the_worker_with_an_error(app_factory: AppFactory) -> None:
    """nats-py never reconnects after a server -ERR: the worker must not idle on as if it were fine."""
    worker_app = app_factory(lambda a: register(a, []))
    worker = Worker(worker_app, queues=["orders"])
    task = asyncio.create_task(worker.run())
    await eventually(lambda: worker.started.is_set() or task.done())
    assert worker.ready
    nc = worker_app.connection.nc
    # What a too-large publish does: the server answers -ERR 'Maximum Payload Violation' and nats-py closes.
    await nc._send_command(f"PUB oversized {nc.max_payload + 1}\r\n".encode())
    with contextlib.suppress(Exception):  # the server's answer closes the client, maybe during the flush
        await nc.flush(timeout=2)
    await eventually(lambda: not worker.ready, timeout_s=5)
    with pytest.raises(ConnectionFailed, match="was closed"):
        await asyncio.wait_for(task, 15)


async def test_the_pull_watchdog_repairs_a_puller_whose_answer_was_lost(
    app_factory: AppFactory, raw_nc: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delivery lost before the puller counts it (the old header bug) must not stop the queue."""
    runs: list[int] = []
    dropped: list[str] = []
    original = Puller._on_msg

    async def lose_first(self: Puller, subject: str, reply: str, data: bytes, headers: dict[str, str] | None) -> None:
        if headers and headers.get("Jetjobs-Job-Id") == "lost" and not dropped:
            dropped.append(reply)  # dropped uncounted, as nats-py's IndexError used to
            return
        await original(self, subject, reply, data, headers)

    monkeypatch.setattr(Puller, "_on_msg", lose_first)
    queues = {"orders": {"ack_wait_s": 2}}
    app = app_factory(lambda a: register(a, runs), queues=queues)
    async with app:
        await app.provision(["orders"])
    await publish_raw(raw_nc, "jobs.orders.normal", job_headers("lost"), GOOD_BODY)
    for i in range(10):
        await publish_raw(raw_nc, "jobs.orders.normal", job_headers(f"good-{i}"), GOOD_BODY)
    worker_app = app_factory(lambda a: register(a, runs), queues=queues)
    async with running_worker(worker_app, concurrency=4) as worker:
        # The first pull asks for 4 and gets 4, one of them lost: without the watchdog only 3 ever run.
        await eventually(lambda: len(runs) == 11, timeout_s=20)
        repairs = worker.fetchers["orders"].watchdog.repairs
    assert dropped
    assert repairs >= 1


def _poison() -> list[tuple[str, bytes, bytes]]:
    """(name, header block, body) of messages that must each become one dead letter on first delivery."""
    deep = b'{"args":[' + b"[" * 10_000 + b"]" * 10_000 + b"]}"
    digits = b'{"args":[' + b"9" * 5_000 + b"]}"
    utf16 = json.dumps({"args": [1]}).encode("utf-16")
    return [
        ("no version", b"NATS\r\n\r\n", b"x"),
        ("not nats", b"HTTP/1.1 200 OK\r\nJetjobs-Task: count\r\n\r\n", GOOD_BODY),
        ("binary status", b"NATS/1.0 \xff\xfe\r\n\r\n", GOOD_BODY),
        ("deep", job_headers("deep"), deep),
        ("digits", job_headers("digits"), digits),
        ("utf16", job_headers("utf16"), utf16),
        ("latin1", job_headers("latin1"), '{"args":["é"]}'.encode("latin-1")),
        ("status header", job_headers("status")[:-2] + b"Status: 404\r\nDescription: No Messages\r\n\r\n", b"{"),
        ("expected stream", job_headers("expect")[:-2] + b"Nats-Expected-Stream: JOBS_orders\r\n\r\n", b"{"),
        ("bad name", job_headers("badname")[:-2] + b"Bad(Name: 1\r\n\r\n", b"{"),
        # (the server does not store a header block over 64 KiB)
        ("big header", job_headers("bighdr")[:-2] + b"Jetjobs-Meta-X: " + b"m" * 60_000 + b"\r\n\r\n", b"{"),
    ]


async def test_every_kind_of_poison_is_dead_lettered_on_its_first_delivery(
    app_factory: AppFactory, raw_nc: Client
) -> None:
    runs: list[int] = []
    worker_app = app_factory(lambda a: register(a, runs))
    poison = _poison()
    async with running_worker(worker_app, concurrency=4):
        for i, (_, block, body) in enumerate(poison):
            await publish_raw(raw_nc, "jobs.orders.normal", block, body)
            await publish_raw(raw_nc, "jobs.orders.normal", job_headers(f"good-{i}"), GOOD_BODY)

        async def all_dead() -> bool:
            return len(await worker_app.dead_letters.list("orders")) == len(poison)

        await eventually(lambda: len(runs) == len(poison), timeout_s=15)
        await eventually(all_dead, timeout_s=15)
        letters = await worker_app.dead_letters.list("orders")
        left = await stream_messages(raw_nc, "JOBS_orders")
    assert [letter.attempts for letter in letters] == [1] * len(poison)
    assert {letter.reason for letter in letters} == {"malformed message"}
    by_id = {letter.job_id: letter for letter in letters}
    assert "nested too deeply" in by_id["deep"].error_message
    assert "digits" in by_id["digits"].error_message
    assert "not UTF-8" in by_id["utf16"].error_message
    assert "not UTF-8" in by_id["latin1"].error_message
    assert "Status" not in by_id["status"].headers  # a direct get would read it as "no message"
    assert "Nats-Expected-Stream" not in by_id["expect"].headers
    assert "Bad(Name" not in by_id["badname"].headers
    assert len(by_id["bighdr"].headers["Jetjobs-Meta-X"]) == 4096
    assert left == 0


async def test_poison_in_the_delayed_stream_is_forwarded_and_dead_lettered(
    app_factory: AppFactory, raw_nc: Client
) -> None:
    """The forwarder of due delayed jobs passes any message on; the queue's worker dead-letters the bad ones."""
    runs: list[int] = []
    worker_app = app_factory(lambda a: register(a, runs))
    due = "delayed.orders.due.normal"
    odd_headers = b"NATS/1.0\r\nJetjobs-Job-Id: a b\r\nJetjobs-Task: count\r\nBad(Name: 1\r\nStatus: 404\r\n\r\n"
    async with running_worker(worker_app):
        await publish_raw(raw_nc, due, b"NATS\r\n\r\n", GOOD_BODY)
        await publish_raw(raw_nc, due, odd_headers, GOOD_BODY)
        await publish_raw(raw_nc, due, job_headers("due-good"), GOOD_BODY)

        async def dead() -> bool:
            return len(await worker_app.dead_letters.list("orders")) == 2

        await eventually(lambda: runs == [1], timeout_s=10)
        await eventually(dead, timeout_s=10)
        letters = await worker_app.dead_letters.list("orders")
        delayed_left = await stream_messages(raw_nc, "JOBS_DELAYED")
    assert [letter.attempts for letter in letters] == [1, 1]
    assert {letter.reason for letter in letters} == {"malformed message"}
    assert delayed_left == 0


async def test_an_error_in_the_worker_itself_hands_the_job_back(
    app_factory: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug between fetch and settle must not leave the message unsettled until ack_wait (30 s here)."""
    runs: list[int] = []
    failures: list[str] = []
    original = RunningMarker.started

    def fail_once(self: RunningMarker, job_id: str, *args: Any) -> None:
        if not failures:
            failures.append(job_id)
            raise RuntimeError("a bug in the worker")
        original(self, job_id, *args)

    monkeypatch.setattr(RunningMarker, "started", fail_once)
    producer, worker_app = app_factory(lambda a: register(a, runs)), app_factory(lambda a: register(a, runs))
    async with producer, running_worker(worker_app):
        job = await producer.tasks["count"].enqueue(7)
        assert await job.result(timeout_s=15) == 7  # redelivered after the 5 s nak, not after ack_wait
        status = await producer.status(job.id)
    assert failures == [job.id]
    assert runs == [7]
    assert status.attempts == 2
