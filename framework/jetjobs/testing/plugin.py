"""pytest plugin: ``jetjobs_server`` gives each test its own real nats-server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._server import NatsServer


@pytest.fixture
def jetjobs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A nats-server with JetStream on a free 127.0.0.1 port and a temporary store; stopped by PID."""
    server = NatsServer(store_dir=tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
