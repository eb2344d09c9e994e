"""Long-running roles: ``worker``, ``dev``, and the one-shot ``provision``."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

from .._app import App
from .._logging import configure_logging
from .._settings import Settings
from ..scheduler import Scheduler
from ..telemetry import metrics
from ..testing import NatsServer
from ..worker import Worker
from ._common import add_discover_option, apply_nats_url, load_app, service_app, setup_service
from ._supervisor import Supervisor, run_supervised


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser(
        "worker",
        help="run a worker service",
        description="Run the tasks of an app.",
        epilog=_PROCESSES_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    worker.add_argument("app", help="module:attribute of the App, e.g. mysvc.tasks:app")
    _worker_options(worker)
    worker.add_argument(
        "--processes",
        type=_process_count,
        metavar="N",
        help="worker processes to run side by side, e.g. one per core (default: JETJOBS_WORKER_PROCESSES or 1)",
    )
    # Internal: the socket to the supervisor of a `--processes N` child (see _supervisor.py).
    worker.add_argument("--supervised-by", type=int, metavar="FD", help=argparse.SUPPRESS)
    worker.set_defaults(func=cmd_worker)

    dev = sub.add_parser(
        "dev",
        help="embedded nats-server + worker + scheduler, for a laptop",
        description="Start nats-server (data kept in --data-dir), a worker and the scheduler in one process.",
    )
    dev.add_argument("app", help="module:attribute of the App")
    dev.add_argument("--data-dir", default=".jetjobs/nats", help="JetStream store (default: %(default)s)")
    dev.add_argument("--port", type=int, default=4222, help="client port (default: %(default)s)")
    _worker_options(dev, with_url=False)
    dev.set_defaults(func=cmd_dev)

    provision = sub.add_parser(
        "provision", help="create or update streams, consumers and buckets", description="Provision and exit."
    )
    provision.add_argument("app", help="module:attribute of the App")
    provision.add_argument("--queues", help="comma-separated queues (default: all the app knows)")
    provision.add_argument("--nats-url", help="overrides JETJOBS_NATS_URL")
    add_discover_option(provision)
    provision.set_defaults(func=cmd_provision)


def _worker_options(parser: argparse.ArgumentParser, *, with_url: bool = True) -> None:
    add_discover_option(parser)
    parser.add_argument("--queues", help="comma-separated queues to serve (default: every queue of the app)")
    parser.add_argument("--concurrency", type=int, help="jobs run at once per queue (default: each queue's setting)")
    parser.add_argument("--shutdown-grace-s", type=float, help="time running jobs get on SIGTERM (default 25)")
    parser.add_argument("--metrics-port", type=int, help="port of /metrics, /healthz and /readyz")
    parser.add_argument("--otel", action="store_true", help="export traces and metrics over OTLP (OTEL_* settings)")
    if with_url:
        parser.add_argument("--nats-url", help="overrides JETJOBS_NATS_URL")


_PROCESSES_EPILOG = """\
--processes N: N complete worker processes (one event loop, one core each) pull from
the same durable consumers, under this one as their supervisor. Kubernetes sees one
container: one /metrics (the processes' metrics merged: counts summed, the queue
backlog as one process reads it), /readyz ready when every process is. SIGTERM or
SIGINT stops them all gracefully (exit 0); if one process exits on its own, the
others are stopped and the command exits non-zero, so the pod restarts. Processes
whose supervisor is killed stop by themselves. --processes 1 runs the worker in
this process, as without the option."""


def _process_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, not {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {count}")
    return count


def _queues(text: str | None) -> list[str] | None:
    return [q.strip() for q in text.split(",") if q.strip()] if text else None


async def run_worker(app: App, args: argparse.Namespace) -> int:
    worker = Worker(
        app,
        queues=_queues(args.queues),
        concurrency=args.concurrency,
        shutdown_grace_s=args.shutdown_grace_s,
        metrics_port=args.metrics_port,
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.request_stop)
    fd = getattr(args, "supervised_by", None)
    if fd is None:
        await worker.run()
    else:
        await run_supervised(worker, fd, serve_http=args.metrics_port == 0)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    if args.supervised_by is not None or args.processes == 1:
        return asyncio.run(run_worker(service_app(args), args))
    apply_nats_url(args)
    app = load_app(args.app, args.discover)
    processes = args.processes or app.settings.worker_processes
    if processes == 1:
        setup_service(app, args)
        return asyncio.run(run_worker(app, args))
    configure_logging(args.log_format or app.settings.log_format, args.log_level or app.settings.log_level)
    return asyncio.run(supervise(app.settings, args, processes))


async def supervise(settings: Settings, args: argparse.Namespace, processes: int) -> int:
    """Run ``processes`` children of this command under a Supervisor until SIGTERM/SIGINT."""
    metrics_port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
    metrics.configure(settings.metrics_namespace, settings.metrics_labels)
    base = child_command(args, serve_http=metrics_port is not None)
    supervisor = Supervisor(
        lambda fd: [*base, "--supervised-by", str(fd)],
        processes,
        http_port=metrics_port,
        http_host=settings.metrics_host,
        shutdown_grace_s=settings.shutdown_grace_s if args.shutdown_grace_s is None else args.shutdown_grace_s,
        additive_gauges=[metrics.exposed(metrics.in_flight.name)],
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, supervisor.request_stop)
    return await supervisor.run()


def child_command(args: argparse.Namespace, *, serve_http: bool) -> list[str]:
    """This ``jetjobs worker`` command line for one child: the same options, ``--processes 1``."""
    command = [sys.executable, "-m", "jetjobs"]
    if args.log_level:
        command += ["--log-level", args.log_level]
    if args.log_format:
        command += ["--log-format", args.log_format]
    command += ["worker", args.app, "--processes", "1"]
    for pattern in args.discover or ():
        command += ["--discover", pattern]
    options = {
        "--queues": args.queues,
        "--concurrency": args.concurrency,
        "--shutdown-grace-s": args.shutdown_grace_s,
        "--nats-url": args.nats_url,
        "--metrics-port": 0 if serve_http else None,
    }
    for option, value in options.items():
        if value is not None:
            command += [option, str(value)]
    if args.otel:
        command.append("--otel")
    return command


async def run_dev(app: App, args: argparse.Namespace) -> int:
    queues = _queues(args.queues)
    worker = Worker(
        app,
        queues=queues,
        concurrency=args.concurrency,
        shutdown_grace_s=args.shutdown_grace_s,
        metrics_port=args.metrics_port,
        close_app=False,
    )
    scheduler = Scheduler(app, serve_http=False, close_app=False)  # the worker serves /metrics and the probes

    def stop() -> None:
        scheduler.request_stop()
        worker.request_stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    services = [asyncio.create_task(worker.run()), asyncio.create_task(scheduler.run())]
    try:
        # If one of them fails (e.g. the metrics port is taken) the other stops too.
        await asyncio.wait(services, return_when=asyncio.FIRST_EXCEPTION)
        stop()
        for outcome in await asyncio.gather(*services, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome
    finally:
        await app.close()
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    server = NatsServer(store_dir=data_dir, port=args.port)
    server.start()
    print(
        f"jetjobs dev: nats-server {server.url} (pid {server.pid}, data in {data_dir}); Ctrl-C stops",
        flush=True,
    )
    os.environ["JETJOBS_NATS_URL"] = server.url
    try:
        return asyncio.run(run_dev(service_app(args), args))
    finally:
        server.stop()


def cmd_provision(args: argparse.Namespace) -> int:
    apply_nats_url(args)
    app = load_app(args.app, args.discover)

    async def provision() -> list[str]:
        async with app:
            return await app.provision(_queues(args.queues))

    queues = asyncio.run(provision())
    print(f"provisioned {len(queues)} queues: {', '.join(queues)}")
    return 0
