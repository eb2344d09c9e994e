"""The worker/consumer processes of the bench: started in the repo root, stopped by PID."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child_env(url: str, **bench: str) -> dict[str, str]:
    """Environment of a worker/consumer: ours without JETJOBS_* (defaults only), plus the server URL."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    env["JETJOBS_NATS_URL"] = url
    env.update({f"BENCH_{k.upper()}": v for k, v in bench.items()})
    return env


@contextlib.contextmanager
def child_process(args: Sequence[str], env: Mapping[str, str], log_path: Path) -> Iterator[Child]:
    """Start a process in the repo root; stop exactly that PID on the way out, whatever happens."""
    with log_path.open("wb") as log:
        # A new session keeps the terminal's Ctrl-C away from it: we stop it ourselves, in order.
        proc = subprocess.Popen(
            list(args),
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield Child(proc, log_path)
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Child:
    proc: subprocess.Popen[bytes]
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def died(self) -> RuntimeError:
        return RuntimeError(f"{self.proc.args!r} exited with {self.proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except FileNotFoundError:
            return ""


def jetjobs_worker_command(app: str) -> list[str]:
    """``jetjobs worker <app>`` with this venv's console script (or ``-m jetjobs`` without one)."""
    script = Path(sys.executable).with_name("jetjobs")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "jetjobs"]
    return [*base, "worker", app]
