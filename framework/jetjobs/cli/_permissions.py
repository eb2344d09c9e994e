"""``jetjobs permissions``: the NATS permission block of a role, for the server config."""

from __future__ import annotations

import argparse

from .._permissions import ROLES, permissions
from ..errors import ConfigError
from ._common import load_app, print_json


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "permissions",
        help="print the NATS permissions a role needs",
        description=(
            "Print the publish/subscribe allow lists of a role (least privilege, see docs/security.md). "
            "Paste the block into the user's entry of the nats-server config, or use the JSON for JWTs."
        ),
    )
    parser.add_argument("--role", required=True, choices=ROLES)
    parser.add_argument("--queues", help="comma-separated queues the role works with (default: those of --app)")
    parser.add_argument("--app", help="module:attribute of the App whose queues to use")
    parser.add_argument("--namespace", default="", help="the JETJOBS_NAMESPACE of the services (default: none)")
    parser.add_argument(
        "--inbox-prefix", default="_INBOX", help="the user's JETJOBS_NATS_INBOX_PREFIX (default: %(default)s)"
    )
    parser.add_argument("--format", choices=["conf", "json"], default="conf", help="default: %(default)s")
    parser.set_defaults(func=cmd_permissions)


def cmd_permissions(args: argparse.Namespace) -> int:
    if args.queues:
        queues = [q.strip() for q in args.queues.split(",") if q.strip()]
    elif args.app:
        queues = load_app(args.app).queue_names()
    else:
        raise ConfigError("give --queues q1,q2 (or --app module:app to take its queues)")
    block = permissions(args.role, queues, namespace=args.namespace, inbox_prefix=args.inbox_prefix)
    if args.format == "json":
        print_json(block.to_json())
    else:
        print(block.to_conf())
    return 0
