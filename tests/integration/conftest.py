"""Integration fixtures: apps and in-process workers against a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from jetjobs import App
from jetjobs.testing import NatsServer
from tests.helpers import AppFactory


@pytest.fixture
async def raw_nc(jetjobs_server: NatsServer) -> AsyncIterator[Client]:
    """A plain nats-py client, to look at the server from the outside."""
    nc = await nats.connect(jetjobs_server.url)
    yield nc
    await nc.close()


@pytest.fixture
def app_factory(jetjobs_server: NatsServer) -> AppFactory:
    """``app_factory(register)`` builds an App on the test server and lets ``register(app)`` add tasks.

    Build one App per role (producer, worker): a worker closes its App's connection when it stops.
    """

    def build(register: Callable[[App], None] | None = None, name: str = "test", **settings: Any) -> App:
        app = App(name, nats_url=jetjobs_server.url, **settings)
        if register is not None:
            register(app)
        return app

    return build
