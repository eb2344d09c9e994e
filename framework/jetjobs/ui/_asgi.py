"""``create_ui_app``: the operator UI as an ASGI app, standalone or mounted under a prefix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from .._app import App
from ..errors import ConfigError, JetjobsError
from ._actions import ACTIONS, action_handler
from ._base import HERE, UIState
from ._config import AuthHook, RedactHook, UIConfig
from ._live import events
from ._pages import PAGES, page_handler
from ._security import Guard


def create_ui_app(
    app: App,
    *,
    read_only: bool = False,
    auth: AuthHook | None = None,
    basic_auth: tuple[str, str] | None = None,
    prefix: str = "",
    redact: RedactHook | None = None,
    hide_args: bool = False,
    trace_url: str | None = None,
    trusted_origins: tuple[str, ...] = (),
    page_size: int = 50,
) -> ASGIApp:
    """The operator UI for ``app``'s namespace, as an ASGI app.

    - ``read_only``: action buttons are not shown and every POST is answered 403.
    - ``auth(request) -> bool`` (may be async): False answers 403; ``basic_auth=(user, password)``
      asks the browser for credentials.
    - ``prefix``: serve under this path (for a proxy that does not strip it). When mounted in a
      host application, leave it empty: links follow the mount point (ASGI ``root_path``).
    - ``redact(task, {"args": [...], "kwargs": {...}})`` returns what to show (None hides);
      ``hide_args=True`` hides arguments everywhere.
    - ``trace_url``: a link per job, e.g. ``"http://localhost:16686/trace/{trace_id}"`` (Jaeger);
      ``{job_id}`` is also replaced.
    - ``trusted_origins``: extra origins (``"https://ops.example.com"``) allowed to POST.

    The App is connected on the first request (a mounted app gets no lifespan events) and
    is left to its owner to close.

    Example (mounted in FastAPI or Starlette)::

        from jetjobs.ui import create_ui_app

        api.mount("/jobs-ui", create_ui_app(app, read_only=True, auth=lambda r: r.user.is_staff))
    """
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ConfigError(f"prefix {prefix!r} must start with '/' and not end with one, e.g. '/jobs-ui'")
    config = UIConfig(
        read_only=read_only,
        auth=auth,
        basic_auth=basic_auth,
        redact=redact,
        hide_args=hide_args,
        trace_url=trace_url,
        trusted_origins=trusted_origins,
        page_size=page_size,
    )
    ui = UIState(app, config)
    routes: list[BaseRoute] = []
    for name, path, read, template in PAGES:
        routes.append(Route(path, page_handler(ui, read, template, api=False), name=name, methods=["GET"]))
        routes.append(Route("/api" + path, page_handler(ui, read, template, api=True), name=f"api_{name}"))
    for name, path, action in ACTIONS:
        routes.append(Route(path, action_handler(ui, action), name=name, methods=["POST"]))
    routes.append(Route("/events", _bind(ui, events), name="events", methods=["GET"]))
    routes.append(Route("/healthz", _bind(ui, healthz), name="healthz", methods=["GET"]))
    routes.append(Route("/readyz", _bind(ui, readyz), name="readyz", methods=["GET"]))
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    inner = Starlette(routes=routes, middleware=[Middleware(Guard, config=config)])
    ui.router = inner.router
    inner.state.jetjobs_ui = ui
    if prefix:
        return Starlette(routes=[Mount(prefix, inner)])
    return inner


def _bind(
    ui: UIState, fn: Callable[[UIState, Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        return await fn(ui, request)

    return handle


async def healthz(ui: UIState, request: Request) -> Response:
    """Liveness: the process answers."""
    return PlainTextResponse("ok")


async def readyz(ui: UIState, request: Request) -> Response:
    """Readiness: connected to NATS (connecting on the first call)."""
    try:
        app = await ui.ready()
    except JetjobsError as exc:
        return PlainTextResponse(f"not connected: {exc}", 503)
    connected = app.connection.connected
    return PlainTextResponse("ok" if connected else "not connected", 200 if connected else 503)
