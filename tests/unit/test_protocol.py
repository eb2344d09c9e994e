"""The faster header codec writes and reads exactly what nats-py's own does."""

from __future__ import annotations

import asyncio

import pytest
from nats.aio.client import Client
from nats.aio.subscription import Subscription
from nats.errors import BadHeaderError, BadSubjectError, MaxPayloadError

from jetjobs.transport._protocol import HeaderCodec, UnreadableHeaders, install, parse_header_lines

HEADER_SETS: list[dict[str, str]] = [
    {},
    {"Nats-Msg-Id": "abc", "Jetjobs-Task": "billing.charge", "Jetjobs-Enqueued-At": "2026-01-01T00:00:00Z"},
    {" Padded ": "  spaces around  "},
    {"Multi": "line\r\nvalue\nand\rmore"},
    {"Empty": ""},
    {"": "skipped", "Kept": "yes"},
    {"Unicode": "café ☕"},
    {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "a=b"},
]


def _captured(nc: Client) -> list[bytes]:
    sent: list[bytes] = []

    async def send_command(cmd: bytes, priority: bool = False) -> None:
        sent.append(cmd)

    nc._send_command = send_command  # type: ignore[method-assign]
    nc._flush_queue = None
    return sent


async def _publish_bytes(fast: bool, subject: str, reply: str, payload: bytes, headers: dict[str, str] | None) -> bytes:
    nc = Client()
    sent = _captured(nc)
    if fast:
        install(nc)
    await nc._send_publish(subject, reply, payload, len(payload), headers)
    assert nc.stats["out_msgs"] == 1
    assert nc.stats["out_bytes"] == len(payload)
    return b"".join(sent)


@pytest.mark.parametrize("headers", [*HEADER_SETS, None])
@pytest.mark.parametrize("reply", ["", "_INBOX.abc.1"])
def test_publish_bytes_match_nats_py(headers: dict[str, str] | None, reply: str) -> None:
    payload = b'{"args":[1],"kwargs":{}}'
    ours = asyncio.run(_publish_bytes(True, "jobs.q.normal", reply, payload, headers))
    theirs = asyncio.run(_publish_bytes(False, "jobs.q.normal", reply, payload, headers))
    assert ours == theirs


@pytest.mark.parametrize("name", ["Bad Name", "Colon:", "Ünicode", "new\nline"])
def test_invalid_header_names_are_refused_like_nats_py(name: str) -> None:
    with pytest.raises(BadHeaderError):
        HeaderCodec().encode({name: "x"})
    with pytest.raises(BadHeaderError):
        asyncio.run(_publish_bytes(False, "s", "", b"", {name: "x"}))


def test_a_name_refused_once_is_refused_again() -> None:
    codec = HeaderCodec()
    assert codec.encode({"Good": "1"}) == b"NATS/1.0\r\nGood: 1\r\n\r\n"
    for _ in range(2):
        with pytest.raises(BadHeaderError):
            codec.encode({"Bad Name": "1"})


def test_empty_subject_is_refused() -> None:
    with pytest.raises(BadSubjectError):
        asyncio.run(_publish_bytes(True, "", "", b"x", None))


@pytest.mark.parametrize("headers", [h for h in HEADER_SETS if h])
def test_parse_reads_back_what_was_written(headers: dict[str, str]) -> None:
    block = HeaderCodec().encode(headers)
    raw = block[len(b"NATS/1.0\r\n") :]
    assert parse_header_lines(raw) == Client._parse_header_lines(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b"A: 1\r\nB:2\r\n\r\n",
        b"Two words: x\r\nOk: y\r\n",
        b"NoColon\r\nK: v: with colon\r\n",
        b"K:   spaced   \r\n",
        "Ü: v\r\nK: é\r\n".encode(),
        b"K: \xff\xfe\r\n",
    ],
)
def test_parse_matches_nats_py(raw: bytes) -> None:
    assert parse_header_lines(raw) == Client._parse_header_lines(raw)


def _received(raw_headers: bytes) -> dict[str, str] | None:
    """What a direct-subscription handler is given for a message with this header block."""
    nc = Client()
    direct = install(nc)
    seen: list[dict[str, str] | None] = []

    async def handler(subject: str, reply: str, data: bytes, headers: dict[str, str] | None) -> None:
        seen.append(headers)

    direct._handlers[1] = handler  # as subscribe() leaves it, without a server
    nc._subs[1] = Subscription(nc, 1, "jobs.>")
    asyncio.run(direct.process_msg(1, b"jobs.q.normal", b"$JS.ACK.S.C.1.1.1.1.0", b"{}", raw_headers))
    assert len(seen) == 1, "every message must reach its handler"
    return seen[0]


@pytest.mark.parametrize(
    ("block", "reason"),
    [
        (b"NATS\r\n\r\n", "does not start with NATS/1.0"),  # nats-py: IndexError
        (b"HTTP/1.1 200 OK\r\n\r\n", "does not start with NATS/1.0"),
        (b"\x00\xff\xfe", "does not start with NATS/1.0"),
        (b"NATS/1.0", "IndexError"),
        (b"NATS/1.0 \xff\xfe\r\n\r\n", "UnicodeDecodeError"),
    ],
)
def test_an_unreadable_header_block_still_reaches_the_handler(block: bytes, reason: str) -> None:
    headers = _received(block)
    assert isinstance(headers, UnreadableHeaders)
    assert headers == {}
    assert reason in headers.reason
    assert headers.describe().startswith("unreadable header block (")


def test_readable_header_blocks_are_parsed_as_before() -> None:
    assert _received(b"NATS/1.0\r\nJetjobs-Task: t\r\n\r\n") == {"Jetjobs-Task": "t"}
    assert _received(b"NATS/1.0 404 No Messages\r\n\r\n") == {"Status": "404", "Description": "No Messages"}


def test_a_publish_over_max_payload_is_refused_before_it_is_sent() -> None:
    """Sent, it would make the server answer -ERR, and nats-py closes the connection for good."""
    nc = Client()
    sent = _captured(nc)
    install(nc)
    limit = nc.max_payload
    headers = {"Big": "h" * 1000}
    with pytest.raises(MaxPayloadError):
        asyncio.run(nc._send_publish("s", "", b"x" * (limit - 500), limit - 500, headers))
    assert sent == []
    asyncio.run(nc._send_publish("s", "", b"x" * (limit - 2000), limit - 2000, headers))
    assert len(sent) == 1


def test_enum_header_names_are_written_by_their_value_every_time() -> None:
    # nats-py's KV create/update pass Header enum members; a member formats as
    # "Header.EXPECTED_LAST_SUBJECT_SEQUENCE", which the server would ignore (the write
    # would lose its condition). Plain and enum spellings share one cached name.
    from nats.js.api import Header

    codec = HeaderCodec()
    expected = b"NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 0\r\n\r\n"
    for name in (Header.EXPECTED_LAST_SUBJECT_SEQUENCE, "Nats-Expected-Last-Subject-Sequence") * 2:
        assert codec.encode({name: "0"}) == expected
    codec = HeaderCodec()
    codec.encode({"Nats-Expected-Last-Subject-Sequence": "0"})  # the plain name cached first
    assert codec.encode({Header.EXPECTED_LAST_SUBJECT_SEQUENCE: "7"}) == expected.replace(b": 0", b": 7")
