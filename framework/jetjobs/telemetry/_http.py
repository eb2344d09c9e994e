"""``/metrics``, ``/healthz`` and ``/readyz`` for Prometheus and Kubernetes probes.

A few lines of asyncio instead of a web framework: three GET routes, no body
parsing, one request per connection. ``loopback_get`` is the matching client the
supervisor of ``jetjobs worker --processes N`` uses to ask its children.
"""

from __future__ import annotations

import asyncio
import errno
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ..errors import ConfigError
from . import _metrics

log = logging.getLogger("jetjobs.telemetry")

_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
_READ_TIMEOUT_S = 5.0

T = TypeVar("T")
# A probe or the metrics text: plain callables, or coroutines when the answer comes from elsewhere.
Source = Callable[[], T | Awaitable[T]]


async def _call(source: Source[T]) -> T:
    value = source()
    if inspect.isawaitable(value):
        return await value
    return value


class HealthServer:
    """Serves the three endpoints until ``stop()``.

    ``/healthz``: the process and its event loop answer (liveness).
    ``/readyz``: ``ready()`` is true, e.g. connected to NATS with consumers bound.
    ``/metrics``: ``render()``, by default this process's metrics.
    Each of the three may also be a coroutine function.
    """

    def __init__(
        self,
        port: int,
        *,
        host: str = "0.0.0.0",
        ready: Source[bool],
        alive: Source[bool],
        render: Source[str] = _metrics.render,
    ) -> None:
        self.port = port
        self.host = host
        self._ready = ready
        self._alive = alive
        self._render = render
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
            status, content_type, body = await self._route(request.decode("latin-1"))
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

    async def _route(self, request_line: str) -> tuple[int, str, bytes]:
        parts = request_line.split()
        if len(parts) < 2:
            return 405, "text/plain", b"bad request\n"
        method, path = parts[0], parts[1].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            return 405, "text/plain", b"only GET\n"
        if path == "/metrics":
            return 200, "text/plain; version=0.0.4; charset=utf-8", (await _call(self._render)).encode()
        if path == "/healthz":
            alive = await _call(self._alive)
            return (200, "text/plain", b"ok\n") if alive else (503, "text/plain", b"event loop stalled\n")
        if path == "/readyz":
            ready = await _call(self._ready)
            return (200, "text/plain", b"ready\n") if ready else (503, "text/plain", b"not ready\n")
        return 404, "text/plain", b"not found\n"


async def loopback_get(port: int, path: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
    """``GET path`` from a ``HealthServer`` on 127.0.0.1: (status, body); (0, b"") when it does not answer.

    Example::

        status, body = await loopback_get(child_port, "/readyz")
    """
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
                await writer.drain()
                response = await reader.read()
            finally:
                writer.close()
    except (TimeoutError, OSError):
        return 0, b""
    head, _, body = response.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    if len(status_line) < 2 or not status_line[1].isdigit():
        return 0, b""
    return int(status_line[1]), body
