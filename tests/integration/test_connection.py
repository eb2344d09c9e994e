"""Bad environments get one clear error: unreachable server, old server, JetStream off."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
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


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 no client trusts, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is needed for the TLS tests")
        pytest.skip("openssl not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
    args += ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        [openssl, *args],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_an_untrusted_server_certificate_fails_within_connect_timeout(tmp_path: Path) -> None:
    """After a failed TLS handshake nats-py used to wait forever for the socket to close."""
    cert, key = self_signed_cert(tmp_path)
    extra = ("--tls", "--tlscert", str(cert), "--tlskey", str(key))
    with NatsServer(store_dir=tmp_path / "store", extra_args=extra) as server:
        url = server.url.replace("nats://", "tls://")
        app = App("test", nats_url=url, connect_timeout_s=1)
        started = time.monotonic()
        with pytest.raises(ConnectionFailed) as error:
            await asyncio.wait_for(app.connect(), 10)
        trusted = App("test", nats_url=url, nats_tls_ca_file=str(cert), connect_timeout_s=5)
        async with trusted:
            connected = trusted.connection.connected
    assert time.monotonic() - started < 10
    assert str(error.value) == (
        f"TLS handshake with NATS at {url} failed: certificate verify failed: self-signed certificate "
        "(is nats_tls_ca_file the server's CA?)"
    )
    assert connected  # the same server with its CA given
