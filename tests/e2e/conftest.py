"""End-to-end fixtures: worker processes that are always stopped."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jetjobs.testing import NatsServer
from tests.e2e.processes import WorkerProcess

StartWorker = Callable[..., WorkerProcess]


@pytest.fixture
def record_dir(tmp_path: Path) -> Path:
    path = tmp_path / "records"
    path.mkdir()
    return path


@pytest.fixture
def start_worker(jetjobs_server: NatsServer, record_dir: Path) -> Iterator[StartWorker]:
    started: list[WorkerProcess] = []

    def start(
        *args: str,
        ready: bool = True,
        app: str = "tests.apps.e2e:app",
        role: str = "worker",
        env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        worker = WorkerProcess(jetjobs_server.url, record_dir, *args, app=app, role=role, env=env)
        started.append(worker)
        return worker.wait_ready() if ready else worker

    yield start
    for worker in started:
        worker.stop()
