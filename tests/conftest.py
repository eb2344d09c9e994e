"""Fixtures shared by every test level.

The ``jetjobs_server`` fixture (a real nats-server per test) comes from the
jetjobs pytest plugin, registered by the package's entry point.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No JETJOBS_* from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.upper().startswith("JETJOBS_"):
            monkeypatch.delenv(key)
    return


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
