"""A 3-node JetStream cluster on loopback, one per test module (it takes ~2 s to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jetjobs.testing import NatsCluster


@pytest.fixture(scope="module")
def cluster() -> Iterator[NatsCluster]:
    """Three nats-servers routed to each other, with a JetStream meta leader; stopped by PID."""
    with NatsCluster(3) as nodes:
        yield nodes


@pytest.fixture
def cluster_urls(cluster: NatsCluster) -> str:
    """The client URLs of every server of the cluster, comma-separated; restarts any stopped server."""
    for server in cluster.servers:
        if not server.running:
            server.start()
    cluster.wait_for_meta_leader()
    return cluster.urls
