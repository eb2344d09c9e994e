"""Integration fixtures: apps and in-process workers against a real nats-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

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


@pytest.fixture(scope="session")
def _tracer_provider() -> InMemorySpanExporter:
    """One SDK tracer provider for the session (OpenTelemetry allows setting it once)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


@pytest.fixture
def spans(_tracer_provider: InMemorySpanExporter) -> Iterator[InMemorySpanExporter]:
    """Finished spans of this test only."""
    _tracer_provider.clear()
    yield _tracer_provider
    _tracer_provider.clear()
