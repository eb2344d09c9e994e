"""What every handler shares: the jetjobs App, the config, templates, links and responses."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Router

from .._app import App
from ._config import UIConfig
from ._queues import Throughput

HERE = Path(__file__).parent

# The navigation, in order: (route name, label).
NAV: tuple[tuple[str, str], ...] = (
    ("overview", "Overview"),
    ("queues", "Queues"),
    ("jobs", "Jobs"),
    ("dead", "Dead letters"),
    ("schedules", "Schedules"),
    ("workflows", "Workflows"),
    ("workers", "Workers"),
)


class UIState:
    """One per ASGI app: the App it reads, its options, and the throughput readings."""

    def __init__(self, app: App, config: UIConfig) -> None:
        self.app = app
        self.config = config
        self.throughput = Throughput()
        self.router: Router | None = None  # set once the routes exist
        self.env = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"], default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    async def ready(self) -> App:
        """Connect lazily: a mounted sub-app gets no lifespan events from its host."""
        await self.app.connect()
        return self.app

    def url(self, request: Request, route: str, /, query: dict[str, Any] | None = None, **params: Any) -> str:
        """A path under whatever prefix the app is mounted at (``root_path``), so links work behind
        a proxy and inside a host application."""
        assert self.router is not None
        path = str(self.router.url_path_for(route, **params))
        root = str(request.scope.get("root_path", "")).rstrip("/")
        clean = {k: v for k, v in (query or {}).items() if v not in (None, "", 0)}
        return root + path + (f"?{urlencode(clean)}" if clean else "")

    def respond(
        self, request: Request, template: str, data: dict[str, Any], *, api: bool, status: int = 200
    ) -> Response:
        if api or wants_json(request):
            return JSONResponse(data, status_code=status)
        page = self.env.get_template(template)
        html = page.render(
            data=data,
            request=request,
            url=lambda route, /, query=None, **p: self.url(request, route, query, **p),
            nav=NAV,
            config=self.config,
            message=request.query_params.get("msg", ""),
            here=here(request),
        )
        return HTMLResponse(html, status_code=status)

    def done(self, request: Request, fallback: str, message: str, status: int = 200, **extra: Any) -> Response:
        """An action's answer: JSON for API clients, else back to the page it came from."""
        if wants_json(request):
            return JSONResponse({"ok": status < 400, "message": message, **extra}, status_code=status)
        if status >= 400:
            return HTMLResponse(self.env.get_template("error.html").render(message=message, back=fallback), status)
        target = request.query_params.get("next", "")
        root = str(request.scope.get("root_path", "")).rstrip("/") + "/"
        # Only back into this UI: an open redirect would help phishing.
        if not target.startswith(root) or target.startswith("//"):
            target = fallback
        sep = "&" if "?" in target else "?"
        location = f"{target}{sep}{urlencode({'msg': message})}"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": location})  # htmx: load the page
        return RedirectResponse(location, status_code=303)


def here(request: Request) -> str:
    """The path and query the browser is on, without a flash message."""
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "msg"]
    return request.url.path + (f"?{urlencode(query)}" if query else "")


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def int_param(request: Request, name: str, default: int = 0, low: int = 0, high: int = 1 << 62) -> int:
    try:
        value = int(request.query_params.get(name, default))
    except ValueError:
        return default
    return min(max(value, low), high)
