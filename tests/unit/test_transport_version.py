"""Server version parsing and the minimum-version check (pure, no server)."""

from __future__ import annotations

import re

import pytest

from jetjobs.errors import ConnectionFailed, ServerTooOld
from jetjobs.transport import MIN_SERVER, check_server_version, parse_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2.15.1", (2, 15, 1)),
        ("v2.12.0-RC.1", (2, 12, 0)),
        ("2.11.9", (2, 11, 9)),
        (" 2.12.3 ", (2, 12, 3)),
        ("10.0.0-beta+build", (10, 0, 0)),
        ("garbage", None),
        ("", None),
        ("2.12", None),
        ("version 2.12.0", None),
        ("x2.12.0", None),
    ],
)
def test_parse_version(text: str, expected: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == expected


def test_minimum_is_2_12_0() -> None:
    assert MIN_SERVER == (2, 12, 0)


@pytest.mark.parametrize("text", ["2.15.1", "v2.12.0-RC.1", "2.12.0", "3.0.0", "2.100.0"])
def test_new_enough_servers_pass(text: str) -> None:
    check_server_version(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2.11.9", "is 2.11.9; jetjobs needs 2.12.0 or newer"),
        ("v2.10.22", "is v2.10.22; jetjobs needs 2.12.0 or newer"),
        ("1.99.99", "needs 2.12.0 or newer"),
        ("garbage", "unreadable version 'garbage'; jetjobs needs 2.12.0\\+"),
        ("", "unreadable version ''"),
    ],
)
def test_old_or_unreadable_servers_are_refused(text: str, message: str) -> None:
    with pytest.raises(ServerTooOld, match=message):
        check_server_version(text)


def test_refusal_names_the_server_url_and_is_a_connection_failure() -> None:
    with pytest.raises(ConnectionFailed, match=re.escape("NATS server at nats://old:4222 is 2.11.0")):
        check_server_version("2.11.0", url="nats://old:4222")
