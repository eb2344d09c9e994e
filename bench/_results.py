"""Targets, results table, machine description and the JSON file."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jetjobs
from jetjobs.testing import find_nats_server


@dataclass(frozen=True)
class Target:
    """A row of the table: which number, and the bound on jetjobs ÷ plain."""

    key: str
    label: str
    unit: str
    bound: float
    higher_is_better: bool  # throughput: ratio >= bound; latency: ratio <= bound

    def describe(self) -> str:
        return f"{'≥' if self.higher_is_better else '≤'} {self.bound:g}x"

    def passes(self, ratio: float) -> bool:
        return ratio >= self.bound if self.higher_is_better else ratio <= self.bound


# Issue 14's targets: jetjobs ÷ plain nats-py from the same run (tracing: on ÷ off).
TARGETS = [
    Target("enqueue_one", "enqueue one-by-one", "jobs/s", 1.0, True),
    Target("enqueue_bulk", "enqueue bulk", "jobs/s", 0.9, True),
    Target("drain", "drain, 1 worker process", "jobs/s", 0.75, True),
    Target("drain_nostore", "drain, store_result=False", "jobs/s", 0.95, True),
    Target("server_cpu", "server CPU per job, drain", "µs", 2.0, False),
    Target("tracing", "drain, tracing on (plain column: off)", "jobs/s", 0.75, True),
    Target("latency_p50", "latency p50", "ms", 1.25, False),
    Target("latency_p99", "latency p99", "ms", 1.5, False),
]


@dataclass
class Row:
    """One number of each side over the repetitions.

    The best run counts (highest rate, lowest latency), as with ``timeit``: on a shared
    machine other work only ever makes a run slower, so the best run is the one closest
    to what the code itself costs. Both sides get the same treatment.
    """

    target: Target
    jetjobs: list[float] = field(default_factory=list)  # one value per repetition
    plain: list[float] = field(default_factory=list)

    def _best(self, values: list[float]) -> float:
        return max(values) if self.target.higher_is_better else min(values)

    @property
    def ours(self) -> float:
        return self._best(self.jetjobs)

    @property
    def theirs(self) -> float:
        return self._best(self.plain)

    @property
    def ratio(self) -> float:
        return self.ours / self.theirs

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.target.label,
            "unit": self.target.unit,
            "jetjobs": self.ours,
            "plain": self.theirs,
            "ratio": self.ratio,
            "target": self.target.describe(),
            "pass": self.target.passes(self.ratio),
            "runs": {"jetjobs": self.jetjobs, "plain": self.plain},
        }


def machine() -> dict[str, Any]:
    version = subprocess.run(
        [find_nats_server(), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "nats_py": importlib.metadata.version("nats-py"),
        "nats_server": version.rpartition(" ")[2].lstrip("v"),
        "jetjobs": jetjobs.__version__,
        "commit": _commit(),
    }


def _commit() -> str:
    """The commit measured, marked when framework/ has local changes (others edit the tree meanwhile)."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "?"
    return commit + (" + local changes" if git("status", "--porcelain", "--", "framework") else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _number(value: float, unit: str) -> str:
    if unit == "jobs/s":
        return f"{value:,.0f}"
    return f"{value:.1f}" if unit == "µs" else f"{value:.3f}"


def _spread(values: list[float], higher_is_better: bool) -> str:
    """How far the worst run was from the best, e.g. " (-12%)": large means a noisy or unsteady number."""
    if len(values) < 2:
        return ""
    best, worst = (max(values), min(values)) if higher_is_better else (min(values), max(values))
    return f" ({100 * (worst - best) / best:+.0f}%)"


def _grid(lines: list[tuple[str, ...]]) -> list[str]:
    """Columns: the first left-aligned, the rest right-aligned; a rule under the header line."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = []
    for n, line in enumerate(lines):
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)]
        out.append("  ".join(cells))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def table(rows: list[Row], notes: dict[str, str]) -> str:
    lines: list[tuple[str, ...]] = [("what", "jetjobs", "plain nats-py", "jetjobs ÷ plain", "target", "result")]
    for row in rows:
        t = row.target
        lines.append(
            (
                f"{t.label} ({t.unit})",
                _number(row.ours, t.unit) + _spread(row.jetjobs, t.higher_is_better),
                _number(row.theirs, t.unit) + _spread(row.plain, t.higher_is_better),
                f"{row.ratio:.2f}x",
                t.describe(),
                "PASS" if t.passes(row.ratio) else "FAIL",
            )
        )
    return "\n".join([*_grid(lines), "", *(f"  {key}: {text}" for key, text in notes.items())])


def cpu_table(details: dict[str, Any]) -> str:
    """CPU per job of the client process and of nats-server (lowest of the runs): where the cost is."""
    lines: list[tuple[str, ...]] = [
        ("CPU per job, µs", "jetjobs client", "plain client", "jetjobs server", "plain server")
    ]
    for key, sides in details.items():
        if key == "latency":
            continue
        med = {
            (side, what): min(run[f"{what}_cpu_us"] for run in runs)
            for side, runs in sides.items()
            for what in ("client", "server")
        }
        lines.append(
            (
                key,
                f"{med['jetjobs', 'client']:.1f}",
                f"{med['plain', 'client']:.1f}",
                f"{med['jetjobs', 'server']:.1f}",
                f"{med['plain', 'server']:.1f}",
            )
        )
    return "\n".join(_grid(lines)) if len(lines) > 1 else ""


def tracing_table(runs: dict[str, list[dict[str, Any]]]) -> str:
    """Throughput with tracing on next to off (best run of each), and the CPU per job."""
    lines: list[tuple[str, ...]] = [
        ("tracing (jobs/s)", "off", "on", "on ÷ off", "client µs/job off", "client µs/job on")
    ]
    for key, label in (("enqueue_bulk", "enqueue bulk"), ("drain", "drain, 1 worker process")):
        best = {side: max(runs[side], key=lambda r: float(r[key]["rate"]))[key] for side in ("off", "on")}
        cpu = {side: min(float(r[key]["client_cpu_us"]) for r in runs[side]) for side in ("off", "on")}
        lines.append(
            (
                label,
                _number(best["off"]["rate"], "jobs/s") + _spread([r[key]["rate"] for r in runs["off"]], True),
                _number(best["on"]["rate"], "jobs/s") + _spread([r[key]["rate"] for r in runs["on"]], True),
                f"{best['on']['rate'] / best['off']['rate']:.2f}x",
                f"{cpu['off']:.1f}",
                f"{cpu['on']:.1f}",
            )
        )
    return "\n".join(_grid(lines))


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)
