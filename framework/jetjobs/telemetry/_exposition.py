"""Merging the ``/metrics`` text of several worker processes into one exposition.

``jetjobs worker --processes N`` serves one endpoint for N processes, so a pod
looks to Prometheus exactly as it does with one process: same names, same label
sets, no ``process`` label to aggregate away. Per sample (metric name + label set):

* counters and histograms (``_bucket``, ``_sum``, ``_count``) are summed: every
  process counts its own jobs;
* gauges named in ``additive`` (jobs in flight) are summed too;
* every other gauge is the maximum: the queue backlog and the alert flags are what
  each process reads of the *shared* queue, so adding them up would count it N times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ._metrics import sample_value

_SUMMED_TYPES = frozenset({"counter", "histogram", "summary"})


@dataclass
class _Family:
    name: str
    help: str = ""
    type: str = "untyped"
    samples: dict[str, float] = field(default_factory=dict)  # "name{labels}" -> value, in first-seen order


def merge_exposition(texts: Sequence[str], additive: Iterable[str] = ()) -> str:
    """One exposition (Prometheus text format 0.0.4) from several; families keep their first-seen order.

    >>> a = "# TYPE jobs_total counter\\njobs_total{q=\\"a\\"} 2\\n# TYPE backlog gauge\\nbacklog 7\\n"
    >>> b = "# TYPE jobs_total counter\\njobs_total{q=\\"a\\"} 3\\n# TYPE backlog gauge\\nbacklog 6\\n"
    >>> print(merge_exposition([a, b]), end="")
    # TYPE jobs_total counter
    jobs_total{q="a"} 5
    # TYPE backlog gauge
    backlog 7
    """
    summed_gauges = frozenset(additive)
    families: dict[str, _Family] = {}
    for text in texts:
        current: _Family | None = None
        for line in text.splitlines():
            if not line.strip():
                continue
            if line.startswith("#"):
                current = _comment(line, families) or current
                continue
            key, _, raw = line.rpartition(" ")  # label values may hold spaces; the value never does
            if not key:
                continue
            if current is None:
                current = families.setdefault("", _Family(""))
            try:
                value = float(raw)
            except ValueError:
                continue
            previous = current.samples.get(key)
            if previous is None:
                current.samples[key] = value
            elif current.type in _SUMMED_TYPES or current.name in summed_gauges:
                current.samples[key] = previous + value
            else:
                current.samples[key] = max(previous, value)
    return "".join(_render(f) for f in families.values())


def _comment(line: str, families: dict[str, _Family]) -> _Family | None:
    """``# HELP name text`` or ``# TYPE name type``: the family it opens (other comments: None)."""
    parts = line.split(" ", 3)
    if len(parts) < 3 or parts[1] not in ("HELP", "TYPE"):
        return None
    family = families.setdefault(parts[2], _Family(parts[2]))
    rest = parts[3] if len(parts) > 3 else ""
    if parts[1] == "HELP":
        family.help = family.help or rest
    else:
        family.type = rest or "untyped"
    return family


def _render(family: _Family) -> str:
    lines = []
    if family.name:
        if family.help:
            lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.type}")
    lines += [f"{key} {sample_value(value)}" for key, value in family.samples.items()]
    return "".join(line + "\n" for line in lines)
