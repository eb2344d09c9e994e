"""Bad environments get one clear error: unreachable server, old server, JetStream off."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jetjobs import App, ConnectionFailed, ServerTooOld
from jetjobs.testing import NatsServer, free_port
from tests.helpers import OLD_SERVER_VERSION, old_nats_server


async def test_unreachable_server_fails_within_connect_timeout() -> None:
    app = App("test", nats_url=f"nats://127.0.0.1:{free_port()}", connect_timeout_s=1)
    started = time.monotonic()
    with pytest.raises(ConnectionFailed, match="connection refused") as error:
        await app.connect()
    assert time.monotonic() - started < 4
    assert "cannot reach NATS at nats://127.0.0.1:" in str(error.value)


async def test_server_older_than_2_12_is_refused(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path, binary=old_nats_server()) as server:
        app = App("test", nats_url=server.url)
        with pytest.raises(ServerTooOld, match=f"is {OLD_SERVER_VERSION}; jetjobs needs 2.12.0 or newer"):
            await app.connect()


async def test_server_without_jetstream_is_refused(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path, jetstream=False) as server:
        app = App("test", nats_url=server.url)
        with pytest.raises(ServerTooOld, match="JetStream is not enabled"):
            await app.connect()


async def test_wrong_credentials_are_reported(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path, extra_args=("--user", "svc", "--pass", "right")) as server:
        app = App("test", nats_url=server.url, nats_user="svc", nats_password="wrong", connect_timeout_s=1)
        with pytest.raises(ConnectionFailed, match="authorization"):
            await app.connect()
        good = App("test", nats_url=server.url, nats_user="svc", nats_password="right")
        async with good:
            assert good.connection.connected
