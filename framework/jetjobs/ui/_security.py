"""Authentication, read-only mode and CSRF checks, as one ASGI middleware in front of every route.

CSRF: a browser sends ``Sec-Fetch-Site`` on every request (``same-origin`` from our own
pages); older ones send ``Origin`` on POSTs. A state-changing request is refused unless
one of them says it came from this origin — what Go's ``CrossOriginProtection`` and
Sidekiq 8.1 do. Requests with neither header come from non-browser clients (curl,
scripts) and cannot be forged by a web page, so they pass.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ._config import UIConfig

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Probes answer without credentials (a kubelet has none) and show nothing but "ok".
OPEN_PATHS = frozenset({"/healthz", "/readyz"})


def same_origin(request: Request, trusted: tuple[str, ...] = ()) -> bool:
    """True unless the browser says the request comes from another site."""
    site = request.headers.get("sec-fetch-site")
    origin = request.headers.get("origin")
    if origin is not None and origin in trusted:
        return True
    if site is not None:
        return site in ("same-origin", "none")
    if origin is None:
        return True  # not a browser
    host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def basic_auth_ok(request: Request, credentials: tuple[str, str]) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = secrets.compare_digest(user.encode(), credentials[0].encode())
    password_ok = secrets.compare_digest(password.encode(), credentials[1].encode())
    return user_ok and password_ok


class Guard:
    """Refuses what the config does not allow, before any route runs."""

    def __init__(self, app: ASGIApp, config: UIConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        root = str(scope.get("root_path", ""))
        path = str(scope["path"])
        if (path[len(root) :] if path.startswith(root) else path) in OPEN_PATHS and request.method in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        refusal = await self.refusal(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def refusal(self, request: Request) -> PlainTextResponse | None:
        cfg = self.config
        if cfg.basic_auth is not None and not basic_auth_ok(request, cfg.basic_auth):
            return PlainTextResponse(
                "authentication required", 401, headers={"WWW-Authenticate": 'Basic realm="jetjobs"'}
            )
        if cfg.auth is not None:
            allowed = cfg.auth(request)
            if inspect.isawaitable(allowed):
                allowed = await allowed
            if not allowed:
                return PlainTextResponse("forbidden", 403)
        if request.method in SAFE_METHODS:
            return None
        if cfg.read_only:
            return PlainTextResponse("read-only mode: actions are disabled", 403)
        if not same_origin(request, cfg.trusted_origins):
            return PlainTextResponse("cross-origin request refused", 403)
        return None
