"""Token, nkey, TLS and mutual TLS against real nats-servers (keys and certificates made here).

User/password with per-role permissions is tests/security/test_permissions.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nkeys
import pytest
from nacl.signing import SigningKey

from jetjobs import App, ConnectionFailed
from jetjobs.testing import NatsServer
from tests.helpers import running_worker

# Without openssl these tests are skipped on a laptop; in CI (CI set, as .ci/run does) they run and fail.
pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None and not os.environ.get("CI"), reason="openssl is needed for the certificates"
)


def _register(app: App) -> None:
    @app.task(queue="auth")
    async def add(a: int, b: int) -> int:
        return a + b


@contextlib.contextmanager
def _server(tmp_path: Path, conf: str) -> Iterator[NatsServer]:
    path = tmp_path / "server.conf"
    path.write_text(conf)
    with NatsServer(store_dir=tmp_path / "store", extra_args=("-c", str(path))) as server:
        yield server


@contextlib.asynccontextmanager
async def _round_trip(**settings: Any) -> AsyncIterator[None]:
    """A worker and a producer with these connection settings run one job."""
    worker_app = App("auth-worker", **settings)
    _register(worker_app)
    async with running_worker(worker_app, shutdown_grace_s=1.0), App("auth-producer", **settings) as producer:
        job = await producer.enqueue("add", [2, 3], queue="auth")
        assert await job.result(timeout_s=15) == 5
        yield


async def test_token(tmp_path: Path) -> None:
    with _server(tmp_path, 'authorization { token: "t0ken-for-tests" }\n') as server:
        async with _round_trip(nats_url=server.url, nats_token="t0ken-for-tests"):
            pass
        with pytest.raises(ConnectionFailed, match="refused the credentials"):
            await App("x", nats_url=server.url, nats_token="wrong", connect_timeout_s=2).connect()


async def test_nkey(tmp_path: Path) -> None:
    seed = nkeys.encode_seed(bytes(SigningKey.generate()), nkeys.PREFIX_BYTE_USER)
    public = nkeys.from_seed(seed).public_key.decode()
    (tmp_path / "user.nk").write_bytes(seed)
    with _server(tmp_path, f'authorization {{ users = [ {{nkey: "{public}"}} ] }}\n') as server:
        async with _round_trip(nats_url=server.url, nats_nkey_seed_file=tmp_path / "user.nk"):
            pass


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def certs(tmp_path: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA."""
    d = tmp_path / "certs"
    d.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "extendedKeyUsage=clientAuth")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                 "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)  # fmt: skip
        (d / f"{name}.ext").write_text(ext + "\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "1", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)  # fmt: skip
    return d


def _tls_conf(d: Path, *, verify: bool) -> str:
    lines = [f'  cert_file: "{d / "server.pem"}"', f'  key_file: "{d / "server.key"}"']
    if verify:
        lines += [f'  ca_file: "{d / "ca.pem"}"', "  verify: true"]
    return "tls {\n" + "\n".join(lines) + "\n}\n"


async def test_tls(tmp_path: Path, certs: Path) -> None:
    with _server(tmp_path, _tls_conf(certs, verify=False)) as server:
        url = f"tls://127.0.0.1:{server.port}"
        async with _round_trip(nats_url=url, nats_tls_ca_file=certs / "ca.pem"):
            pass
        # (A client without the server's CA hangs in nats-py's TLS handshake today: issue 9, item 6.)


async def test_mutual_tls(tmp_path: Path, certs: Path) -> None:
    with _server(tmp_path, _tls_conf(certs, verify=True)) as server:
        url = f"tls://127.0.0.1:{server.port}"
        client = {"nats_tls_cert_file": certs / "client.pem", "nats_tls_key_file": certs / "client.key"}
        async with _round_trip(nats_url=url, nats_tls_ca_file=certs / "ca.pem", **client):
            pass
        with pytest.raises(ConnectionFailed):  # no client certificate
            await App("x", nats_url=url, nats_tls_ca_file=certs / "ca.pem", connect_timeout_s=2).connect()
