"""Fixtures for the web UI: a real nats-server, a worker, the UI served by uvicorn, and Chromium.

Chromium comes from Debian's package (``make test-tools`` installs it) and is driven by
Playwright with ``executable_path``: ``playwright install`` cannot download browsers here.
Without Chromium the browser tests skip on a developer machine and FAIL under ``CI=1``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jetjobs import App, Worker
from jetjobs.testing import NatsServer
from jetjobs.testing._server import free_port
from tests.conftest import ROOT
from tests.helpers import running_worker

pytest.importorskip("starlette", reason="the web UI needs the 'ui' extra")
import uvicorn

from jetjobs.ui import create_ui_app

SCREENSHOTS = Path(ROOT) / "docs" / "ui"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUEUE = "work"


def chromium_path() -> str | None:
    """``$CHROMIUM_BIN`` if set (and only it), else Debian's ``chromium``."""
    candidate = os.environ.get("CHROMIUM_BIN") or shutil.which("chromium") or "/usr/bin/chromium"
    return candidate if Path(candidate).is_file() else None


@dataclass
class Gates:
    """What the test tasks wait on or check, shared with the test."""

    release: asyncio.Event = field(default_factory=asyncio.Event)
    healed: set[str] = field(default_factory=set)
    runs: list[str] = field(default_factory=list)


def register(app: App, gates: Gates) -> None:
    @app.task(queue=QUEUE)
    async def double(x: int) -> int:
        gates.runs.append(f"double:{x}")
        return x * 2

    @app.task(queue=QUEUE, max_retries=0)
    async def boom(text: str) -> None:
        raise ValueError(f"boom: {text}")

    @app.task(queue=QUEUE, max_retries=0)
    async def flaky(key: str) -> str:
        if key not in gates.healed:
            raise RuntimeError(f"not healed yet: {key}")
        gates.runs.append(f"flaky:{key}")
        return f"healed {key}"

    @app.task(queue=QUEUE)
    async def gated(tag: str) -> str:
        await gates.release.wait()
        return tag


@dataclass
class Stack:
    url: str
    app: App  # the UI's app, also used to enqueue and to look
    worker_app: App
    worker: Worker | None
    gates: Gates
    server: NatsServer


ServeUI = Callable[..., Any]


@pytest.fixture
async def stack(jetjobs_server: NatsServer) -> AsyncIterator[Callable[..., Any]]:
    """``await stack(**ui_options)`` starts a worker and the UI; everything stops at the end."""
    started: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
    apps: list[App] = []
    workers: list[Any] = []

    async def start(
        *,
        worker: bool = True,
        host: str = "127.0.0.1",
        root_path: str = "",
        setup: Callable[[App, Gates], None] | None = None,
        **ui_options: Any,
    ) -> Stack:
        """``setup(app, gates)`` declares more tasks and workflows, in the UI's app and the worker's."""
        gates = Gates()
        ui_app = App("ui-test", nats_url=jetjobs_server.url)
        register(ui_app, gates)
        worker_app = App("ui-worker", nats_url=jetjobs_server.url)
        register(worker_app, gates)
        if setup is not None:
            setup(ui_app, gates)
            setup(worker_app, gates)
        apps.append(ui_app)
        await ui_app.connect()
        await ui_app.provision([QUEUE])
        running = None
        if worker:
            cm = running_worker(worker_app, queues=[QUEUE])
            running = await cm.__aenter__()
            workers.append(cm)
        port = free_port()
        config = uvicorn.Config(
            create_ui_app(ui_app, **ui_options),
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            root_path=root_path,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        started.append((server, task))
        while not server.started:
            if task.done():
                await task
            await asyncio.sleep(0.01)
        return Stack(f"http://{host}:{port}", ui_app, worker_app, running, gates, jetjobs_server)

    yield start
    for server, task in started:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
    for cm in workers:
        await cm.__aexit__(None, None, None)
    for app in apps:
        await app.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Debian Chromium page driven by Playwright."""
    path = chromium_path()
    if path is None:
        message = "Chromium not found: run `make test-tools` (installs Debian's chromium) or set CHROMIUM_BIN"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_FLAGS)
        context = await chromium.new_context(viewport={"width": 1280, "height": 800})
        page = await context.new_page()
        page.set_default_timeout(10_000)
        try:
            yield page
        finally:
            await context.close()
            await chromium.close()


async def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    """Take the page's screenshot (always: it must render); save it as docs/ui/<name>.png, which
    the docs show, only with UI_SCREENSHOTS=1 (``make screenshots``), so a test run leaves the
    working tree as it was."""
    image = await page.screenshot(full_page=full_page)
    assert image[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("UI_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / f"{name}.png").write_bytes(image)
