"""``jetjobs ui`` as an operator runs it: its own process, a real server, stopped by PID."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from jetjobs.testing import NatsServer
from jetjobs.testing._server import free_port
from tests.conftest import ROOT

pytest.importorskip("uvicorn", reason="the web UI needs the 'ui' extra")


def test_jetjobs_ui_serves_with_basic_auth_on_loopback(jetjobs_server: NatsServer) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    env.update(PYTHONPATH=ROOT, JETJOBS_NATS_URL=jetjobs_server.url, JETJOBS_UI_BASIC_AUTH="ops:pw")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jetjobs", "ui", "tests.apps.e2e:app", "--port", str(port), "--read-only"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(url + "/api/queues", auth=("ops", "pw"))
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "jetjobs ui did not start within 20 s"
                time.sleep(0.05)
        assert answer.status_code == 200
        assert answer.json() == {"queues": []}
        assert httpx.get(url + "/api/queues").status_code == 401
        assert httpx.post(url + "/queues/work/pause", auth=("ops", "pw")).status_code == 403  # --read-only
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert f"jetjobs ui on http://127.0.0.1:{port}/" in out
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM (exit 143, as Kubernetes expects)
    assert proc.returncode in (0, -15), err
    assert "Traceback" not in err


def test_jetjobs_ui_refuses_malformed_basic_auth() -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    env.update(PYTHONPATH=ROOT, JETJOBS_UI_BASIC_AUTH="no-colon")
    result = subprocess.run(
        [sys.executable, "-m", "jetjobs", "ui", "--port", "1"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "jetjobs: error: basic auth must look like USER:PASSWORD (both non-empty)"
