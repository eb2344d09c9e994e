"""``/metrics``, ``/healthz`` and ``/readyz`` for Prometheus and Kubernetes probes.

A few lines of asyncio instead of a web framework: three GET routes, no body
parsing, one request per connection.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable

from ..errors import ConfigError
from . import _metrics

log = logging.getLogger("jetjobs.telemetry")

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
_READ_TIMEOUT_S = 5.0


class HealthServer:
    """Serves the three endpoints until ``stop()``.

    ``/healthz``: the process and its event loop answer (liveness).
    ``/readyz``: ``ready()`` is true, e.g. connected to NATS with consumers bound.
    """

    def __init__(
        self, port: int, *, host: str = "0.0.0.0", ready: Callable[[], bool], alive: Callable[[], bool]
    ) -> None:
        self.port = port
        self.host = host
        self._ready = ready
        self._alive = alive
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port)
        except OSError as exc:
            reason = "already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise ConfigError(
                f"cannot serve metrics and health on {self.host}:{self.port}: {reason} "
                "(choose another --metrics-port / JETJOBS_METRICS_PORT)"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]  # the real port when 0 was asked for
        log.info("metrics and health on http://%s:%d (/metrics /healthz /readyz)", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(_READ_TIMEOUT_S):
                request = await reader.readline()
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
            status, content_type, body = self._route(request.decode("latin-1"))
            head = (
                f"HTTP/1.1 {status} {_REASONS[status]}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def _route(self, request_line: str) -> tuple[int, str, bytes]:
        parts = request_line.split()
        if len(parts) < 2:
            return 405, "text/plain", b"bad request\n"
        method, path = parts[0], parts[1].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"only GET\n"
        if path == "/metrics":
            return 200, "text/plain; version=0.0.4; charset=utf-8", _metrics.render().encode()
        if path == "/healthz":
            return (200, "text/plain", b"ok\n") if self._alive() else (503, "text/plain", b"event loop stalled\n")
        if path == "/readyz":
            return (200, "text/plain", b"ready\n") if self._ready() else (503, "text/plain", b"not ready\n")
        return 404, "text/plain", b"not found\n"
