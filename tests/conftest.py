"""Fixtures shared by every test level.

The ``jetjobs_server`` fixture (a real nats-server per test) comes from the
jetjobs pytest plugin, registered by the package's entry point.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No JETJOBS_* from the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.upper().startswith("JETJOBS_"):
            monkeypatch.delenv(key)
    return
