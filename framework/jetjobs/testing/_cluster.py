"""A JetStream cluster of nats-servers on loopback, for failover tests and the chaos suite."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from ..errors import ConfigError
from ._server import NatsServer, free_port


class NatsCluster:
    """``size`` nats-servers with JetStream, routed to each other on 127.0.0.1.

    Each server has its own client, cluster and monitoring port and its own store
    directory; servers are stopped by PID. ``start`` returns once JetStream has a
    meta leader, so streams with ``replicas=size`` can be created right away.

    Example::

        with NatsCluster(3) as cluster:
            app = App("test", nats_url=cluster.urls, replicas=3)
            leader = cluster.server_named(cluster.meta_leader())
            leader.stop(kill=True)
    """

    def __init__(self, size: int = 3, *, name: str = "jetjobs", store_dir: str | Path | None = None) -> None:
        if size < 1:
            raise ConfigError(f"a cluster needs at least one server, not {size}")
        self._own_dir = store_dir is None
        self.store_dir = Path(store_dir) if store_dir is not None else Path(tempfile.mkdtemp(prefix="jetjobs-cluster-"))
        self.name = name
        cluster_ports = [free_port() for _ in range(size)]
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in cluster_ports)
        self.servers: list[NatsServer] = []
        for i, cluster_port in enumerate(cluster_ports):
            server_name = f"n{i + 1}"
            self.servers.append(
                NatsServer(
                    store_dir=self.store_dir / server_name,
                    monitor_port=free_port(),
                    extra_args=(
                        "--server_name",
                        server_name,
                        "--cluster_name",
                        name,
                        "--cluster",
                        f"nats://127.0.0.1:{cluster_port}",
                        "--routes",
                        routes,
                    ),
                )
            )

    @property
    def urls(self) -> str:
        """Every server's client URL, comma-separated (the form ``nats_url`` takes)."""
        return ",".join(s.url for s in self.servers)

    def server_named(self, server_name: str) -> NatsServer:
        for i, server in enumerate(self.servers):
            if f"n{i + 1}" == server_name:
                return server
        raise ConfigError(f"no server named {server_name!r} in cluster {self.name}")

    def name_of(self, server: NatsServer) -> str:
        return f"n{self.servers.index(server) + 1}"

    def start(self, timeout_s: float = 30.0) -> NatsCluster:
        for server in self.servers:
            server.start()
        self.wait_for_meta_leader(timeout_s)
        return self

    def jsz(self, server: NatsServer) -> dict[str, Any]:
        """The server's /jsz monitoring document ({} when it does not answer)."""
        url = f"http://127.0.0.1:{server.monitor_port}/jsz"
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                data: dict[str, Any] = json.loads(reply.read())
                return data
        except (OSError, urllib.error.URLError, ValueError):
            return {}

    def meta_leader(self) -> str | None:
        """Name of the JetStream meta leader as the running servers see it (None: none yet)."""
        for server in self.servers:
            if server.running:
                leader = (self.jsz(server).get("meta_cluster") or {}).get("leader")
                if leader:
                    return str(leader)
        return None

    def wait_for_meta_leader(self, timeout_s: float = 30.0) -> str:
        """Wait until every running server sees the same running JetStream meta leader."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            seen = {(self.jsz(s).get("meta_cluster") or {}).get("leader") for s in self.servers if s.running}
            leader = seen.pop() if len(seen) == 1 else None
            if leader and self.server_named(leader).running:
                return str(leader)
            time.sleep(0.1)
        raise ConfigError(f"cluster {self.name} elected no JetStream meta leader within {timeout_s}s")

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> NatsCluster:
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()
