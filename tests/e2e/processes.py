"""Worker processes for end-to-end tests: started with the real CLI, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT


@dataclass
class Event:
    kind: str
    job_id: str
    pid: int
    attempt: int
    at: float


class WorkerProcess:
    """``jetjobs <role> <app>`` (a worker by default) in its own process, with its log in ``log_path``."""

    def __init__(
        self,
        nats_url: str,
        record_dir: Path,
        *args: str,
        app: str = "tests.apps.e2e:app",
        role: str = "worker",
        env: dict[str, str] | None = None,
    ) -> None:
        self.log_path = record_dir / f"worker-{time.monotonic_ns()}.stderr"
        extra = env or {}
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
        env.update(JETJOBS_NATS_URL=nats_url, E2E_RECORD_DIR=str(record_dir), PYTHONPATH=ROOT, **extra)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jetjobs", role, app, *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 20.0) -> WorkerProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if " ready: " in self.log():
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.05)
        raise AssertionError(f"worker not ready within {timeout_s}s:\n{self.log()}")

    def signal(self, sig: signal.Signals) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout_s: float = 60.0) -> int:
        return self.proc.wait(timeout=timeout_s)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def events(record_dir: Path) -> list[Event]:
    found = []
    for path in record_dir.glob("*.log"):
        for line in path.read_text().splitlines():
            kind, job_id, pid, attempt, at = line.split()
            found.append(Event(kind, job_id, int(pid), int(attempt), float(at)))
    return sorted(found, key=lambda e: e.at)


def done_counts(record_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for event in events(record_dir):
        if event.kind == "done":
            counts[event.job_id] += 1
    return counts
