"""``jetjobs ui``: the operator web UI as a standalone server (needs ``pip install 'jetjobs[ui]'``)."""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from .._app import App
from ..errors import ConfigError
from ._common import apply_nats_url, load_app

BASIC_AUTH_ENV = "JETJOBS_UI_BASIC_AUTH"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    ui = sub.add_parser(
        "ui",
        help="serve the operator web UI",
        description="Serve the web UI: queues, jobs, dead letters, schedules and workers of a namespace.",
        epilog=f"Basic auth: --basic-auth USER:PASSWORD or {BASIC_AUTH_ENV}=USER:PASSWORD (e.g. from a Secret).",
    )
    ui.add_argument("app", nargs="?", help="module:attribute of an App (default: a bare app from the settings)")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s; 0.0.0.0 for all)")
    ui.add_argument("--port", type=int, default=8080, help="port (default: %(default)s)")
    ui.add_argument("--read-only", action="store_true", help="hide the actions and refuse every POST")
    ui.add_argument("--basic-auth", metavar="USER:PASSWORD", help=f"ask for credentials (or set {BASIC_AUTH_ENV})")
    ui.add_argument("--prefix", default="", help="serve under this path, e.g. /jobs-ui (proxy that keeps it)")
    ui.add_argument("--root-path", default="", help="path a proxy strips before forwarding (ASGI root_path)")
    ui.add_argument("--trace-url", help="trace link template, e.g. http://localhost:16686/trace/{trace_id}")
    ui.add_argument("--hide-args", action="store_true", help="never show job arguments")
    ui.add_argument("--nats-url", help="overrides JETJOBS_NATS_URL")
    ui.set_defaults(func=cmd_ui)


def parse_basic_auth(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    user, sep, password = text.partition(":")
    if not sep or not user or not password:
        raise ConfigError("basic auth must look like USER:PASSWORD (both non-empty)")
    return user, password


def cmd_ui(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..ui import create_ui_app
    except ImportError as exc:
        raise ConfigError(f"the web UI needs its extra: pip install 'jetjobs[ui]' ({exc.name} is missing)") from None
    apply_nats_url(args)
    app = load_app(args.app) if args.app else App("jetjobs-ui")
    options: dict[str, Any] = {
        "read_only": args.read_only,
        "basic_auth": parse_basic_auth(args.basic_auth or os.environ.get(BASIC_AUTH_ENV)),
        "prefix": args.prefix,
        "trace_url": args.trace_url,
        "hide_args": args.hide_args,
    }
    asgi = create_ui_app(app, **options)
    config = uvicorn.Config(
        asgi, host=args.host, port=args.port, root_path=args.root_path, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        await app.connect()  # fail fast with a clear error when NATS is unreachable
        try:
            print(f"jetjobs ui on http://{args.host}:{args.port}{args.root_path}{args.prefix}/", flush=True)
            await server.serve()
        finally:
            await app.close()

    asyncio.run(serve())
    return 0
