"""Helpers shared by the CLI commands: loading the app, settings overrides, tables."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import importlib
import json
import os
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from .. import telemetry
from .._app import App
from .._logging import configure_logging
from ..errors import ConfigError


def load_app(target: str, discover: Sequence[str] | None = None) -> App:
    """Import ``module:attribute`` (``module`` alone means ``module:app``) and return the App,
    after importing the task modules ``discover`` names (``App.discover_tasks`` patterns)."""
    module_name, _, attribute = target.partition(":")
    attribute = attribute or "app"
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}") from None
    if not hasattr(module, attribute):
        found = sorted(name for name, value in vars(module).items() if isinstance(value, App))
        hint = f"; it has {', '.join(f'{module_name}:{n}' for n in found)}" if found else ""
        raise ConfigError(f"module {module_name!r} has no attribute {attribute!r}{hint}")
    app = getattr(module, attribute)
    if not isinstance(app, App):
        raise ConfigError(f"{module_name}:{attribute} is not a jetjobs App (found {type(app).__name__})")
    if discover:
        app.discover_tasks(discover)
    return app


def add_discover_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--discover",
        action="append",
        metavar="PATTERN",
        help="import task modules first: pkg.mod, pkg.* (submodules) or pkg.** (all below); repeatable",
    )


# Hints in errors are written for Python callers; the command line spells them as options.
_CLI_SPELLING = (("pass queue=...", "pass --queue QUEUE"), ("give queue=...", "give --queue QUEUE"))


def cli_spelling(message: str) -> str:
    """An error message with its Python hints spelled as command-line options.

    >>> cli_spelling("pass queue=... to enqueue a task of another service by name")
    'pass --queue QUEUE to enqueue a task of another service by name'
    """
    for python, option in _CLI_SPELLING:
        message = message.replace(python, option)
    return message


def service_app(args: argparse.Namespace) -> App:
    """Load the app of a long-running service and set up its logs and OpenTelemetry export.

    Logging follows the app's settings (environment or config file) unless the
    command line chose; ``--otel`` or ``JETJOBS_OTEL=true`` exports traces and
    metrics over OTLP as the ``OTEL_*`` variables say.
    """
    apply_nats_url(args)
    app = load_app(args.app, getattr(args, "discover", None))
    setup_service(app, args)
    return app


def setup_service(app: App, args: argparse.Namespace) -> None:
    """The logs and OpenTelemetry export of a long-running service (see ``service_app``)."""
    configure_logging(args.log_format or app.settings.log_format, args.log_level or app.settings.log_level)
    if getattr(args, "otel", False) or app.settings.otel:
        telemetry.configure(app.name)
        atexit.register(telemetry.shutdown)


def cli_app(args: argparse.Namespace) -> App:
    """The user's app (``--app``) or a bare one for commands that only need a connection."""
    if getattr(args, "app", None):
        return load_app(args.app)
    return App("jetjobs-cli")


def apply_nats_url(args: argparse.Namespace) -> None:
    """``--nats-url`` wins over JETJOBS_NATS_URL (set before the app module is imported)."""
    url = getattr(args, "nats_url", None)
    if url:
        os.environ["JETJOBS_NATS_URL"] = url


def add_client_options(parser: argparse.ArgumentParser) -> None:
    """``--app``, ``--nats-url`` and ``--json``: the options of every client command."""
    parser.add_argument("--app", help="module:attribute of an App (its namespace, settings and task signatures)")
    parser.add_argument("--nats-url", help="overrides JETJOBS_NATS_URL")
    parser.add_argument("--json", action="store_true", help="print JSON")


AppCommand = Callable[[App], Awaitable[int]]


def run_with_app(args: argparse.Namespace, body: AppCommand) -> int:
    """Connect the command's app, run ``body`` with it, close it; return the exit code."""
    apply_nats_url(args)
    app = cli_app(args)

    async def run() -> int:
        async with app:
            return await body(app)

    return asyncio.run(run())


def parse_json_arg(text: str | None, name: str, kind: type) -> Any:
    if text is None:
        return kind()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} is not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        raise ConfigError(f"{name} must be a JSON {'array' if kind is list else 'object'}")
    return value


def console() -> Console:
    """Rich output for people: styles only on a terminal (rich also honours NO_COLOR); in a pipe,
    plain text without wrapping, so ``grep`` and ``awk`` see whole rows."""
    terminal = sys.stdout.isatty()
    return Console(highlight=False, width=None if terminal else 10_000, soft_wrap=not terminal)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Columns aligned by rich; the first column starts at the left margin, empty values are ``-``."""
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold", padding=(0, 2, 0, 0))
    for header in headers:
        table.add_column(str(header), no_wrap=True)
    for row in rows:
        table.add_row(*(escape("-" if v is None else str(v)) for v in row))
    out = console()
    with out.capture() as captured:
        out.print(table)
    for line in captured.get().splitlines():
        print(line.rstrip())


@contextlib.contextmanager
def progress(total: int, label: str) -> Iterator[Callable[[str], None]]:
    """``step(line)`` per item: a rich progress bar above the lines on a terminal; in a pipe
    (or for a single item) just the lines."""
    if total < 2 or not sys.stdout.isatty():
        yield print
        return
    with Progress(console=console()) as bar:
        task = bar.add_task(label, total=total)

        def step(line: str) -> None:
            bar.console.print(line, markup=False, highlight=False)
            bar.advance(task)

        yield step


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))
