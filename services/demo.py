"""``make demo``: an embedded nats-server, three worker services, the scheduler and the orders service.

Every service is its own OS process, as in production. The demo prints what
flows between them (retries, a dead letter, a delayed job, periodic fires),
then runs the order-processing workflow across the orders and payments workers
twice (one order ships, one is refunded), prints both runs' DAG, steps and log,
runs the image-processing canvas (a chain with a group of three resizes) across
the orders and notifications workers, then prints the queues, schedules and dead
letters, and exits by itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from jetjobs.testing import NatsServer

ROOT = Path(__file__).resolve().parent.parent
ORDERS = 14
WORKFLOW_RUNS = ("checkout-order-101", "checkout-order-102")  # see services/orders/main.py


class Service:
    """A child process whose output is echoed with a ``[name]`` prefix."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        threading.Thread(target=self._echo, daemon=True).start()

    def _echo(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            text = line.rstrip()
            print(text if text.startswith(f"[{self.name}]") else f"[{self.name}] {text}", flush=True)

    def wait_for(self, text: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not any(text in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"demo: {self.name} did not print {text!r}")
            time.sleep(0.05)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


def jetjobs(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "jetjobs", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout


def wait_until_idle(env: dict[str, str], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        queues = json.loads(jetjobs(env, "queues", "--json"))
        if queues and all(q["backlog"] == 0 for q in queues):
            return
        time.sleep(0.2)


def banner(text: str) -> None:
    print(f"\n==== {text} ====", flush=True)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="jetjobs-demo-") as data, NatsServer(store_dir=data) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("JETJOBS_")}
        env.update(JETJOBS_NATS_URL=server.url, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        banner(f"nats-server {server.url} (pid {server.pid}, JetStream in {data})")
        # The orders worker runs the order steps of the workflow; "orders" is the producer below.
        worker_modules = {"payments": "payments", "notifications": "notifications", "orders-worker": "orders"}
        workers = [
            Service(label, [sys.executable, "-m", "jetjobs", "worker", f"services.{name}.tasks:app"], env)
            for label, name in worker_modules.items()
        ]
        scheduler = Service(
            "scheduler", [sys.executable, "-m", "jetjobs", "scheduler", "services.scheduler.schedules:app"], env
        )
        for service in [*workers, scheduler]:
            service.wait_for(" ready: ")
        banner(f"orders: {ORDERS} orders (order-3 and order-13 hit gateway timeouts), a survey email in 3 s")
        orders = Service("orders", [sys.executable, "-m", "services.orders.main", "--count", str(ORDERS)], env)
        orders_code = orders.proc.wait(timeout=120)
        workers[0].wait_for("reconciled the ledger")  # a periodic fire from the scheduler service
        banner("orders: the order-processing workflow (services/workflows.yaml), across orders-worker and payments")
        checkout = Service("orders", [sys.executable, "-m", "services.orders.main", "--workflows"], env)
        checkout_code = checkout.proc.wait(timeout=120)
        for run_id in WORKFLOW_RUNS:
            banner(f"jetjobs workflow status {run_id}")
            print(jetjobs(env, "workflow", "status", run_id), end="", flush=True)
            banner(f"jetjobs workflow logs {run_id}")
            print(jetjobs(env, "workflow", "logs", run_id), end="", flush=True)
        banner("orders: the image-processing canvas, chain(process_image, group(3 x resize), update_metadata)")
        canvas = Service("orders", [sys.executable, "-m", "services.orders.main", "--canvas"], env)
        canvas_code = canvas.proc.wait(timeout=120)
        banner("jetjobs workflow status images-product-7")
        print(jetjobs(env, "workflow", "status", "images-product-7"), end="", flush=True)
        banner("jetjobs workflow list")
        print(jetjobs(env, "workflow", "list"), end="", flush=True)
        wait_until_idle(env)
        banner("jetjobs queues")
        print(jetjobs(env, "queues"), end="", flush=True)
        banner("jetjobs schedules list")
        print(jetjobs(env, "schedules", "list"), end="", flush=True)
        banner(
            "jetjobs dlq list  (the receipt with a bad template is a dead letter, not a crash loop;"
            " so is the workflow step that failed for good)"
        )
        print(jetjobs(env, "dlq", "list"), end="", flush=True)
        banner("stopping the services (SIGTERM: running jobs finish first)")
        codes = [service.stop() for service in [scheduler, *workers]]
        ok = orders_code == 0 and checkout_code == 0 and canvas_code == 0 and codes == [0] * len(codes)
        failed = f"orders {orders_code}, workflows {checkout_code}, canvas {canvas_code}, services {codes}"
        banner("demo finished" if ok else f"demo failed ({failed})")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
