"""The ``jetjobs`` command. Errors are one line on stderr, not a traceback."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from .. import __version__
from .._logging import configure_logging
from ..errors import JetjobsError
from . import _inspect, _jobs, _ops, _permissions, _schedules, _services, _ui, _workflows
from ._common import cli_spelling

log = logging.getLogger("jetjobs.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jetjobs",
        description="Background jobs, schedules and workflows on NATS JetStream.",
        epilog="Settings come from JETJOBS_* environment variables (e.g. JETJOBS_NATS_URL) or JETJOBS_CONFIG_FILE.",
    )
    parser.add_argument("--version", action="version", version=f"jetjobs {__version__}")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING... (default: JETJOBS_LOG_LEVEL or INFO)")
    parser.add_argument("--log-format", choices=["text", "json"], help="default: JETJOBS_LOG_FORMAT or text")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _services.add_parsers(sub)
    _schedules.add_parsers(sub)
    _jobs.add_parsers(sub)
    _ops.add_parsers(sub)
    _workflows.add_parsers(sub)
    _inspect.add_parsers(sub)
    _ui.add_parsers(sub)
    _permissions.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(
        args.log_format or os.environ.get("JETJOBS_LOG_FORMAT", "text"),
        args.log_level or os.environ.get("JETJOBS_LOG_LEVEL", "INFO"),
    )
    try:
        code: int = args.func(args)
        return code
    except JetjobsError as exc:
        print(f"jetjobs: error: {cli_spelling(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `jetjobs ... | head`: the reader left; say nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # one line for people; the traceback with --log-level DEBUG
        log.debug("unexpected error", exc_info=True)
        print(f"jetjobs: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


def run() -> None:
    sys.exit(main())
