"""Connecting to NATS: options from Settings, a bounded first connect, the version check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from .._names import Names
from .._settings import Settings
from ..errors import ConnectionFailed, PermissionDenied, ServerTooOld
from ._acks import AckedPublisher
from ._denied import Violations
from ._denied import install as install_denied
from ._protocol import install as install_protocol

log = logging.getLogger("jetjobs.transport")

MIN_SERVER = (2, 12, 0)
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """'2.15.1' or 'v2.12.0-RC.1' -> (2, 15, 1); None when unreadable."""
    match = _VERSION_RE.match(text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def check_server_version(text: str, url: str = "") -> None:
    """Raise ServerTooOld unless ``text`` is at least MIN_SERVER.

    >>> check_server_version("2.15.1")
    """
    version = parse_version(text)
    need = ".".join(map(str, MIN_SERVER))
    where = f" at {url}" if url else ""
    if version is None:
        raise ServerTooOld(f"NATS server{where} reports an unreadable version {text!r}; jetjobs needs {need}+")
    if version < MIN_SERVER:
        raise ServerTooOld(f"NATS server{where} is {text}; jetjobs needs {need} or newer (JetStream message schedules)")


Listener = Callable[[], None]
ClosedListener = Callable[[str], None]
# What a request raises when the server went away under it (queued, then timed out; or closed).
_CLOSED_ERRORS = (nats.errors.ConnectionClosedError, nats.errors.StaleConnectionError, ConnectionError)
_LOST_ERRORS = (nats.errors.TimeoutError, asyncio.TimeoutError, *_CLOSED_ERRORS)


class Connection:
    """One NATS connection with JetStream, plus connection-state listeners.

    The first connect is bounded by ``connect_timeout_s`` and retried with
    jittered backoff; afterwards the client reconnects forever, so a worker
    survives a server restart. What nats-py does not survive is a protocol
    error from the server (``-ERR``, e.g. a maximum payload violation): it
    closes the client for good. ``on_closed`` listeners hear of that, with the
    reason, unless ``close()`` was ours.
    """

    def __init__(self, nc: Client, settings: Settings) -> None:
        self.nc = nc
        self.direct = install_protocol(nc)  # faster headers, inline handling of per-job messages
        self.settings = settings
        self.names = Names(settings.namespace)
        self.js: JetStreamContext = nc.jetstream(timeout=settings.request_timeout_s)
        self._on_disconnect: list[Listener] = []
        self._on_reconnect: list[Listener] = []
        self._on_closed: list[ClosedListener] = []
        self.closing = False
        self.disconnected_at: datetime | None = None  # when the link to the server was lost; None while up
        self.acks = AckedPublisher(nc, self.direct, timeout_s=settings.request_timeout_s)
        self.violations = Violations()
        install_denied(nc, self._denied)

    @property
    def connected(self) -> bool:
        return bool(self.nc.is_connected)

    @property
    def closed(self) -> bool:
        """Closed for good (a connection that is reconnecting is not closed)."""
        return bool(self.nc.is_closed)

    @property
    def max_payload(self) -> int:
        return int(self.nc.max_payload)

    @property
    def server_version(self) -> str:
        info = self.nc._server_info  # the INFO the server sent; ServerVersion has no plain-text accessor
        return str(info.get("version", ""))

    @property
    def url(self) -> str:
        server = self.nc.connected_url
        return f"{server.scheme}://{server.hostname}:{server.port}" if server else ""

    def unreachable(self, exc: BaseException | None = None) -> ConnectionFailed | None:
        """The jetjobs error for a request that failed because the server is gone; None if it is not.

        nats-py queues requests while it reconnects and lets them time out with its
        own ``TimeoutError``; this names the server and how long it has been away.
        """
        if (exc is not None and not isinstance(exc, _LOST_ERRORS)) or self.connected:
            return None
        since = self.disconnected_at
        server = self.settings.nats_url
        if since is None:
            return ConnectionFailed(f"NATS server at {server} is unreachable (connection closed)")
        ago = (datetime.now(UTC) - since).total_seconds()
        return ConnectionFailed(
            f"NATS server at {server} is unreachable since {since:%Y-%m-%d %H:%M:%S} UTC ({ago:.0f}s ago); "
            "the client keeps reconnecting"
        )

    @contextlib.contextmanager
    def reaching(self) -> Iterator[None]:
        """Turn a request's failure into ``unreachable()``'s error when the server is gone,
        or into the PermissionDenied the server sent meanwhile (a refused request is never
        answered: it fails as a timeout).

        Example::

            with conn.reaching():
                await conn.js.stream_info(name)
        """
        start = time.monotonic()
        try:
            yield
        except PermissionDenied:
            raise
        except Exception as exc:
            lost = self.unreachable(exc) or self.violations.find([">"], start)
            if lost is None:
                raise
            raise lost from None

    def on_disconnect(self, listener: Listener) -> None:
        self._on_disconnect.append(listener)

    def on_reconnect(self, listener: Listener) -> None:
        self._on_reconnect.append(listener)

    def on_closed(self, listener: ClosedListener) -> None:
        """``listener(reason)`` when the client closes without ``close()``: it will not reconnect."""
        self._on_closed.append(listener)

    def closed_reason(self) -> str:
        error = self.nc.last_error
        return f"{error}" if error is not None and str(error) else type(error).__name__ if error else "closed"

    def fire_closed(self) -> None:
        if self.closing:
            return
        reason = self.closed_reason()
        for listener in self._on_closed:
            try:
                listener(reason)
            except Exception:
                log.exception("connection listener failed")

    def new_inbox(self) -> str:
        return self.nc.new_inbox()

    async def check_access(self, subjects: list[str]) -> None:
        """Raise PermissionDenied unless this user may publish to every subject and
        no subscription of this connection was refused.

        Each subject gets an empty message without a reply subject, which the
        JetStream API ignores (a pull request without a reply pulls nothing); the
        server answers a refused one with ``-ERR``. That can come after the PONG of
        the same flush (nats-server 2.15: 8 times in 40), never after a second
        round trip (0 in 100): hence two flushes.
        """
        for subject in subjects:
            await self.nc.publish(subject, b"")
        for _ in range(2):
            await self.nc.flush(timeout=max(1, int(self.settings.request_timeout_s)))
        # Any refusal on this connection counts: the pull loops may have been refused first.
        denied = self.violations.find(subjects) or self.violations.refused_subscription()
        if denied is not None:
            raise denied

    async def flush(self, timeout_s: int = 2) -> None:
        await self.nc.flush(timeout=timeout_s)

    async def close(self) -> None:
        """Flush what is buffered and close; never raises."""
        self.closing = True
        if self.nc.is_closed:
            return
        await self.acks.stop()
        try:
            if self.nc.is_connected:
                await self.nc.flush(timeout=2)
        except Exception as exc:  # a dead connection cannot be flushed; closing is what matters
            log.debug("flush before close failed: %s", exc)
        try:
            await self.nc.close()
        except Exception as exc:
            log.debug("close failed: %s", exc)

    def _denied(self, error: PermissionDenied) -> None:
        self.violations.record(error)
        log.warning("%s", error, extra={"permission_denied": error})

    def _fire(self, listeners: list[Listener]) -> None:
        for listener in listeners:
            try:
                listener()
            except Exception:
                log.exception("connection listener failed")


async def connect(settings: Settings, *, name: str) -> Connection:
    """Connect, check the server version and that JetStream is on.

    Raises ConnectionFailed when no server answers within ``connect_timeout_s``
    and ServerTooOld when the server cannot run jetjobs.
    """
    holder: list[Connection] = []
    errors: list[BaseException] = []

    async def on_disconnect() -> None:
        if holder:
            if holder[0].disconnected_at is None:
                holder[0].disconnected_at = datetime.now(UTC)
            holder[0]._fire(holder[0]._on_disconnect)

    async def on_reconnect() -> None:
        if holder:
            holder[0].disconnected_at = None
            log.info("reconnected to NATS at %s", holder[0].url)
            holder[0]._fire(holder[0]._on_reconnect)

    async def on_closed() -> None:
        if holder:
            holder[0].fire_closed()

    async def on_error(exc: Exception) -> None:
        if not holder:
            errors.append(exc)  # the real reason of a failed first connect (refused, auth...)
        log.debug("nats client: %s", exc)

    options = _client_options(settings, name)
    options.update(disconnected_cb=on_disconnect, reconnected_cb=on_reconnect, error_cb=on_error, closed_cb=on_closed)
    nc = await _first_connect(settings, options, errors)
    conn = Connection(nc, settings)
    holder.append(conn)
    try:
        check_server_version(conn.server_version, conn.url)
        await _check_jetstream(conn)
    except BaseException:
        await conn.close()
        raise
    return conn


async def _first_connect(settings: Settings, options: dict[str, Any], errors: list[BaseException]) -> Client:
    """Retry the first connect with jittered backoff until connect_timeout_s has passed.

    Each attempt is bounded too: after a failed TLS handshake nats-py waits for the
    socket to close (``StreamWriter.wait_closed``), which never happens.
    """
    last: BaseException | None = None
    deadline = time.monotonic() + settings.connect_timeout_s
    retrying = AsyncRetrying(
        stop=stop_after_delay(settings.connect_timeout_s),
        wait=wait_random_exponential(multiplier=0.1, max=1.0),
        # Wrong credentials or an untrusted certificate do not get better by retrying: fail at once.
        retry=retry_if_exception_type((OSError, asyncio.TimeoutError, nats.errors.Error))
        & retry_if_exception(lambda _: not _refused(errors) and _tls_failure(errors) is None),
        reraise=True,
    )
    try:
        async for attempt in retrying:
            with attempt:
                try:
                    nc = await asyncio.wait_for(nats.connect(**options), max(0.1, deadline - time.monotonic()))
                except nats.errors.AuthorizationError:
                    raise
                except Exception as exc:
                    last = exc
                    raise
    except nats.errors.AuthorizationError:
        raise ConnectionFailed(f"NATS at {settings.nats_url} refused the credentials") from None
    except Exception:
        cause = errors[-1] if errors else last
        if _refused(errors):
            raise ConnectionFailed(
                f"NATS at {settings.nats_url} refused the credentials (authorization violation)"
            ) from None
        tls = _tls_failure(errors)
        if tls is not None:
            raise ConnectionFailed(f"TLS handshake with NATS at {settings.nats_url} failed: {tls}") from None
        reason = _reason(cause)
        raise ConnectionFailed(
            f"cannot reach NATS at {settings.nats_url} within {settings.connect_timeout_s:g}s ({reason})"
        ) from None
    # Connected: from now on the client reconnects by itself, forever.
    nc.options["max_reconnect_attempts"] = -1
    nc.options["reconnect_time_wait"] = 0.5
    return nc


def _refused(errors: list[BaseException]) -> bool:
    return any("authorization" in str(exc).lower() for exc in errors)


def _tls_failure(errors: list[BaseException]) -> str | None:
    """Why the TLS handshake failed (e.g. the server's certificate is not trusted), if it did."""
    for exc in reversed(errors):
        if isinstance(exc, ssl.SSLCertVerificationError):
            return f"certificate verify failed: {exc.verify_message} (is nats_tls_ca_file the server's CA?)"
        if isinstance(exc, ssl.SSLError):
            return str(exc.reason or exc)
    return None


def _reason(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _client_options(settings: Settings, name: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "servers": settings.servers,
        "name": name,
        "connect_timeout": min(settings.connect_timeout_s, 2.0),
        # The first connect is retried by _first_connect; endless reconnects are
        # turned on once connected. (nats-py loops forever inside connect() when
        # max_reconnect_attempts is -1 and no server answers.)
        "allow_reconnect": True,
        "reconnect_time_wait": 0.2,
        "max_reconnect_attempts": 1,
        "ping_interval": 10,
        "max_outstanding_pings": 3,
        "drain_timeout": 5,
        "pending_size": 8 * 1024 * 1024,
        "inbox_prefix": settings.nats_inbox_prefix,
    }
    if settings.nats_user is not None and settings.nats_password is not None:
        options["user"] = settings.nats_user
        options["password"] = settings.nats_password.get_secret_value()
    if settings.nats_token is not None:
        options["token"] = settings.nats_token.get_secret_value()
    if settings.nats_creds_file is not None:
        options["user_credentials"] = str(settings.nats_creds_file)
    if settings.nats_nkey_seed_file is not None:
        options["nkeys_seed"] = str(settings.nats_nkey_seed_file)
    tls = _tls_context(settings)
    if tls is not None:
        options["tls"] = tls
    return options


def _tls_context(settings: Settings) -> ssl.SSLContext | None:
    wants_tls = any(u.startswith(("tls://", "wss://")) for u in settings.servers)
    if not (wants_tls or settings.nats_tls_ca_file or settings.nats_tls_cert_file):
        return None
    context = ssl.create_default_context(cafile=str(settings.nats_tls_ca_file) if settings.nats_tls_ca_file else None)
    if settings.nats_tls_cert_file and settings.nats_tls_key_file:
        context.load_cert_chain(str(settings.nats_tls_cert_file), str(settings.nats_tls_key_file))
    return context


async def _check_jetstream(conn: Connection) -> None:
    """JetStream answers; a cluster member that is still recovering (just restarted) may
    time out at first, so timeouts are retried for ``connect_timeout_s``."""
    deadline = time.monotonic() + conn.settings.connect_timeout_s
    while True:
        try:
            await conn.violations.call("$JS.API.INFO", conn.js.account_info())
            return
        except (nats.errors.NoRespondersError, nats.js.errors.ServiceUnavailableError):
            raise ServerTooOld(
                f"JetStream is not enabled on the NATS server at {conn.url}; start nats-server with -js"
            ) from None
        except nats.errors.TimeoutError:
            if time.monotonic() >= deadline:
                raise ConnectionFailed(f"JetStream at {conn.url} did not answer") from None
            await asyncio.sleep(0.25)
