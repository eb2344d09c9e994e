"""Bad messages for the fuzz tests (hypothesis strategies) and the run that counts what became of them.

Every message drawn here is one no worker may run: a broken header block, a body
that is not UTF-8 JSON of the right shape, or both. ``run_corpus`` publishes them
raw (``HPUB`` as written, with a reply inbox for the PubAck, so it knows which the
server stored) to ``jobs.fuzz.normal``, interleaved with good jobs, and waits until
every good job ran and every stored bad message is in the dead-letter queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import nats
from hypothesis import strategies as st

from jetjobs import App, current_job
from tests.helpers import running_worker

QUEUE = "fuzz"
SUBJECT = f"jobs.{QUEUE}.normal"
GOOD_BODY = b'{"kwargs":{"n":1}}'

Message = tuple[bytes | None, bytes]  # header block (None: a plain PUB), body

_NAMES = [
    "Jetjobs-Job-Id",
    "Jetjobs-Task",
    "Content-Type",
    "Jetjobs-Timeout-S",
    "Jetjobs-Max-Retries",
    "Jetjobs-Task-Version",
    "Jetjobs-Enqueued-At",
    "Jetjobs-Meta-k",
    "traceparent",
    "Status",
    "Description",
    "Nats-Expected-Stream",
    "Nats-Expected-Last-Sequence",
    "Bad(Name",
    "Two Words",
    "Ünïcode",
    "",
]
_VALUES = [b"count", b"application/json", b"text/plain", b"-1", b"nan", b"1e999", b"404", b"fuzz-x", b"JOBS_fuzz", b"0"]


def _text_bytes(max_size: int) -> st.SearchStrategy[bytes]:
    return st.text(max_size=max_size).map(lambda t: t.encode("utf-8", "surrogatepass"))


def header_lines() -> st.SearchStrategy[list[bytes]]:
    name = st.sampled_from([n.encode() for n in _NAMES]) | _text_bytes(20)
    value = st.sampled_from(_VALUES) | _text_bytes(60) | st.binary(max_size=60)
    line = st.builds(lambda n, sep, v: n + sep + v, name, st.sampled_from([b": ", b":", b" : ", b""]), value)
    return st.lists(line | st.binary(max_size=80), max_size=8)


ID = b"@ID@"  # replaced by a unique job id when published: the server would drop a repeated Nats-Msg-Id


def header_blocks() -> st.SearchStrategy[tuple[bytes | None, bool]]:
    """(block, whether its headers may name a valid job of task ``count``)."""
    status = st.sampled_from([b"", b" 404", b" 503 No Responders", b" \xff\xfe", b" 100 Idle Heartbeat", b" abc"])
    version = st.sampled_from([b"NATS/1.0", b"NATS", b"NATS/2.0", b"nats/1.0", b"HTTP/1.1 200 OK", b""])
    valid = b"NATS/1.0\r\nNats-Msg-Id: " + ID + b"\r\nJetjobs-Job-Id: " + ID + b"\r\nJetjobs-Task: count\r\n"
    return st.one_of(
        st.just((None, False)),
        st.binary(max_size=200).map(lambda b: (b, False)),
        # Random lines may well name a valid job (the vocabulary has "count"): the body must be bad then too.
        st.builds(
            lambda v, s, ls: (v + s + b"\r\n" + b"\r\n".join(ls) + b"\r\n\r\n", True), version, status, header_lines()
        ),
        st.builds(lambda lines: (valid + b"".join(x + b"\r\n" for x in lines) + b"\r\n", True), header_lines()),
    )


def bad_bodies() -> st.SearchStrategy[bytes]:
    """Bodies no task ``count(n: int)`` accepts."""
    wrong_shape = [
        b"",
        b"{}",
        b"[]",
        b"null",
        b'{"args":"x"}',
        b'{"kwargs":{"n":[1]}}',
        b'{"kwargs":{"n":null}}',
        b'{"kwargs":{"n":{"a":1}}}',
        b'{"extra":1}',
        b'{"args":[1,2,3]}',
        b'{"kwargs":{"m":1}}',
        b'{"kwargs":{"n":1}',
        b'\xef\xbb\xbf{"kwargs":{"n":1}}',
    ]
    encodings = st.sampled_from(["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
    return st.one_of(
        st.binary(max_size=300).filter(lambda b: b != GOOD_BODY),
        st.sampled_from(wrong_shape),
        st.integers(1_000, 30_000).map(lambda n: b'{"args":[' + b"[" * n + b"]" * n + b"]}"),
        st.integers(4_301, 8_000).map(lambda n: b'{"args":[' + b"7" * n + b"]}"),
        encodings.map(lambda e: GOOD_BODY.decode().encode(e)),
        st.sampled_from([b'{"kwargs":{"n":"', b'{"kwargs":{"n":1e999}}']).map(lambda b: b + b"\x80\xff"),
    )


@st.composite
def bad_messages(draw: st.DrawFn) -> Message:
    block, names_a_job = draw(header_blocks())
    # A block that names a valid job needs a bad body; any other may carry even a good one.
    body = draw(bad_bodies() if names_a_job else bad_bodies() | st.just(GOOD_BODY))
    return block, body


@dataclass
class Report:
    bad_published: int = 0
    bad_stored: int = 0
    bad_refused: int = 0  # the server answered with an error (e.g. Nats-Expected-Stream did not match)
    good_enqueued: int = 0
    good_ran: int = 0
    bad_ran: int = 0
    dead_lettered: int = 0
    dead_on_first_delivery: int = 0
    missing_from_dlq: list[int] = field(default_factory=list)
    late: list[str] = field(default_factory=list)  # dead letters not on their first delivery, why
    worker_alive: bool = False
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"fuzz: {self.bad_published} bad published, {self.bad_stored} stored by the server, "
            f"{self.bad_refused} refused by it; {self.dead_lettered} dead-lettered "
            f"({self.dead_on_first_delivery} on their first delivery, {len(self.missing_from_dlq)} missing); "
            f"{self.good_ran}/{self.good_enqueued} good jobs ran, {self.bad_ran} bad ones; "
            f"worker alive: {self.worker_alive}; {self.seconds:.1f}s"
        )


def _register(app: App, ran: set[str]) -> None:
    @app.task(queue=QUEUE, max_retries=0)
    async def count(n: int) -> int:
        ran.add(current_job().id)
        return n


async def run_corpus(url: str, corpus: list[Message], *, good_every: int = 3, timeout_s: float = 60.0) -> Report:
    """Publish ``corpus`` raw with a good job after every ``good_every`` bad ones; count the outcome."""
    started = time.monotonic()
    report = Report()
    ran: set[str] = set()
    # An unknown task name is not malformed: by default it goes back to the queue a few times, for a
    # replica of a newer version (unknown_task_retries). Here it must be dead at once, like the rest.
    worker_app = App("fuzz", nats_url=url, unknown_task_retries=0)
    _register(worker_app, ran)
    nc = await nats.connect(url)
    acks: dict[str, dict[str, Any]] = {}
    inbox = nc.new_inbox()

    async def on_ack(msg: Any) -> None:
        acks[msg.subject.rsplit(".", 1)[1]] = json.loads(msg.data)

    await nc.subscribe(f"{inbox}.*", cb=on_ack)
    try:
        async with running_worker(worker_app, concurrency=16) as worker:
            bad_index: list[str] = []
            for i, (block, body) in enumerate(corpus):
                if block is not None:
                    block = block.replace(ID, f"bad-{i}".encode())
                await _publish(nc, block, body, f"{inbox}.b{i}")
                bad_index.append(f"b{i}")
                if i % good_every == 0:
                    good = f"good-{report.good_enqueued}"
                    block = f"NATS/1.0\r\nNats-Msg-Id: {good}\r\nJetjobs-Job-Id: {good}\r\nJetjobs-Task: count\r\n\r\n"
                    await _publish(nc, block.encode(), GOOD_BODY, f"{inbox}.{good}")
                    report.good_enqueued += 1
            await nc.flush()
            report.bad_published = len(corpus)
            await _until(lambda: all(i in acks for i in bad_index), timeout_s)
            stored = {int(acks[i]["seq"]) for i in bad_index if "error" not in acks[i] and not acks[i].get("duplicate")}
            report.bad_stored = len(stored)
            report.bad_refused = sum(1 for i in bad_index if "error" in acks[i])
            dlq_seqs: dict[int, int] = {}

            async def settled() -> bool:
                if sum(1 for job in ran if job.startswith("good-")) < report.good_enqueued:
                    return False
                for letter in await worker_app.dead_letters.list(
                    QUEUE, limit=100_000, after_seq=max(dlq_seqs, default=0)
                ):
                    dlq_seqs[letter.seq] = int(letter.headers.get("Jetjobs-Dlq-Stream-Seq", 0))
                    if letter.attempts == 1:
                        report.dead_on_first_delivery += 1
                    else:
                        report.late.append(f"{letter.attempts} deliveries: {letter.reason}: {letter.error_message}")
                return set(dlq_seqs.values()) >= stored

            with contextlib.suppress(TimeoutError):  # the report says what is missing
                await _until(settled, timeout_s)
            report.good_ran = sum(1 for job in ran if job.startswith("good-"))
            report.bad_ran = len(ran) - report.good_ran
            report.dead_lettered = len(dlq_seqs)
            report.missing_from_dlq = sorted(stored - set(dlq_seqs.values()))
            report.worker_alive = worker.ready
    finally:
        await nc.close()
    report.seconds = time.monotonic() - started
    return report


async def _publish(nc: Any, block: bytes | None, body: bytes, reply: str) -> None:
    if block is None:
        cmd = f"PUB {SUBJECT} {reply} {len(body)}\r\n".encode()
    else:
        cmd = f"HPUB {SUBJECT} {reply} {len(block)} {len(block) + len(body)}\r\n".encode() + block
    await nc._send_command(cmd + body + b"\r\n")


async def _until(check: Any, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.05)
