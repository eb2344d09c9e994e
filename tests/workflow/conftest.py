"""Workflow tests share the integration fixtures (real nats-server, apps)."""

from tests.integration.conftest import app_factory, raw_nc

__all__ = ["app_factory", "raw_nc"]
