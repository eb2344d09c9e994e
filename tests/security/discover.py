"""Which subjects does each role really use? ``python -m tests.security.discover``

Runs the scenario against a nats-server whose users may do everything, with the
server's protocol trace on, and compares every PUB/SUB of each user with the
blocks ``jetjobs permissions`` prints: ``MISSING`` lines are subjects a role used
that its block does not allow (add them to framework/jetjobs/_permissions.py),
``UNUSED`` lines are entries the scenario never needed (remove them, or make the
scenario exercise them). Run it after a change that touches new subjects; the
tests in test_permissions.py then say whether the blocks are right.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from jetjobs.testing import NatsServer
from jetjobs.transport._denied import _pattern
from tests.security import scenario
from tests.security.test_permissions import blocks

_TRACE = re.compile(r'"\$G/user:(\w+)" - <<- \[(H?PUB|SUB) (\S+)')


def used_subjects(log: str) -> dict[str, dict[str, set[str]]]:
    """user -> "publish"/"subscribe" -> subjects, from a nats-server trace."""
    used: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for user, op, subject in _TRACE.findall(log):
        used[user]["subscribe" if op == "SUB" else "publish"].add(subject)
    return used


def compare(used: dict[str, dict[str, set[str]]]) -> list[str]:
    lines = []
    for role, block in blocks().items():
        allowed = {"publish": block.publish_subjects, "subscribe": block.subscribe_subjects}
        hit: set[str] = set()
        for operation, subjects in used.get(role, {}).items():
            for subject in sorted(subjects):
                matching = [a for a in allowed[operation] if _pattern(a).fullmatch(subject)]
                if not matching:
                    lines.append(f"{role}: MISSING {operation} {subject}")
                hit.update(matching)
        lines += [f"{role}: UNUSED {a}" for a in [*block.publish_subjects, *block.subscribe_subjects] if a not in hit]
    return lines


def main() -> int:
    store = Path(tempfile.mkdtemp(prefix="jetjobs-discover-"))
    conf = store / "server.conf"
    users = ", ".join(f'{{user: "{u}", password: "{scenario.PASSWORD}"}}' for u in (*scenario.ROLES, "admin"))
    conf.write_text(f"max_payload: 8MB\ntrace: true\nmax_traced_msg_len: 64\nauthorization {{ users = [ {users} ] }}\n")
    with NatsServer(store_dir=store / "data", extra_args=("-c", str(conf))) as server:
        asyncio.run(scenario.everything(server.url))
        log = server.log_tail(limit=1 << 30)
    lines = compare(used_subjects(log))
    print("\n".join(lines) if lines else "every role uses exactly its block")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
