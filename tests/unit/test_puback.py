"""Reading the server's publish acknowledgement without a JSON parse (and with one when it must)."""

from __future__ import annotations

import pytest

from jetjobs.transport._publish import Published, _published


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b'{"stream":"JOBS_q","seq":7}', Published(7, False)),
        (b'{"stream":"S","seq":1,"duplicate": true}', Published(1, True)),  # as nats-server 2.15 writes it
        (b'{"stream":"S","seq":12,"duplicate":true}', Published(12, True)),
        (b'{"stream":"S","seq":3,"duplicate":false}', Published(3, False)),
        (b'{"stream":"S","domain":"hub","seq":40}', Published(40, False)),
        (b'{\n  "stream": "S",\n  "seq": 9,\n  "duplicate": true\n}', Published(9, True)),
        (b'{"stream":"S"}', Published(0, False)),  # no sequence: read the long way
    ],
)
def test_puback_is_read_like_json(reply: bytes, expected: Published) -> None:
    assert _published(reply) == expected
