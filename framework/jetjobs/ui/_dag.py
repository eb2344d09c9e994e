"""A workflow's DAG laid out for SVG: a pure function of the definition and the step states.

One column per layer (``WorkflowDef.layers()``: a step's longest distance from a root), left
to right, each column centred; edges from each step's parents (``WorkflowDef.parents()``);
the compensations in a row beneath, each under the step it undoes, with a dashed line to it.
A layer wider than ``max_per_layer`` shows its first steps and one box that counts the rest
by state, so a run of 1,000 parallel steps still draws as a page, not a poster.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..workflow import WorkflowDef

MAX_PER_LAYER = 16
NODE_W, NODE_H, GAP_X, GAP_Y, PAD = 190, 46, 56, 14, 10  # SVG user units
_LABEL_CHARS = 24


def dag_layout(defn: WorkflowDef, states: Mapping[str, str], max_per_layer: int = MAX_PER_LAYER) -> dict[str, Any]:
    """Boxes (``nodes``: name, label, state, x, y, ...) and ``edges`` (SVG path data) of ``defn``.

    Example::

        layout = dag_layout(definition, {"validate-order": "succeeded"})
        assert layout["nodes"][0]["name"] == "validate-order"
    """
    return _Layout(defn, states, max(max_per_layer, 2)).draw()


class _Layout:
    def __init__(self, defn: WorkflowDef, states: Mapping[str, str], max_per_layer: int) -> None:
        self.defn = defn
        self.states = states
        self.max_per_layer = max_per_layer
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.where: dict[str, tuple[float, float]] = {}

    def draw(self) -> dict[str, Any]:
        layers = self.defn.layers()
        tallest = max((min(len(layer), self.max_per_layer) for layer in layers), default=0)
        height = tallest * (NODE_H + GAP_Y) - GAP_Y
        for col, layer in enumerate(layers):
            self.column(col, layer, height)
        self.connect()
        self.compensations(PAD + height + 2 * GAP_Y)
        width = max((n["x"] for n in self.nodes), default=0) + NODE_W + PAD
        full = max((n["y"] for n in self.nodes), default=0) + NODE_H + PAD
        return {
            "nodes": self.nodes,
            "edges": self.edges,
            "width": width,
            "height": full,
            "node_w": NODE_W,
            "node_h": NODE_H,
        }

    def state(self, name: str) -> str:
        return self.states.get(name, "pending")

    def box(self, name: str, label: str, state: str, x: float, y: float, **extra: Any) -> None:
        short = label if len(label) <= _LABEL_CHARS else label[: _LABEL_CHARS - 1] + "…"
        css = state.replace(" ", "-")
        self.nodes.append({"name": name, "label": short, "state": state, "css": css, "x": x, "y": y, **extra})
        self.where[name] = (x, y)

    def column(self, col: int, layer: tuple[str, ...], height: float) -> None:
        shown = layer if len(layer) <= self.max_per_layer else layer[: self.max_per_layer - 1]
        hidden = layer[len(shown) :]
        count = len(shown) + (1 if hidden else 0)
        top = PAD + (height - (count * (NODE_H + GAP_Y) - GAP_Y)) / 2
        x = PAD + col * (NODE_W + GAP_X)
        for row, name in enumerate(shown):
            task = self.defn.step(name).task
            self.box(name, name, self.state(name), x, top + row * (NODE_H + GAP_Y), more=False, task=task)
        if hidden:
            tally = Counter(self.state(name) for name in hidden)
            summary = ", ".join(f"{n} {s}" for s, n in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0])))
            y = top + len(shown) * (NODE_H + GAP_Y)
            # "+<layer>" can name no step (step names are [A-Za-z0-9_-]).
            self.box(f"+{col + 1}", f"+{len(hidden)} more", "more", x, y, more=True, summary=summary)

    def connect(self) -> None:
        for node in self.nodes:
            if node["more"]:
                continue
            for parent in self.defn.parents(node["name"]):
                if parent in self.where:
                    px, py = self.where[parent]
                    self.edges.append(_edge(px + NODE_W, py + NODE_H / 2, node["x"], node["y"] + NODE_H / 2))

    def compensations(self, top: float) -> None:
        stacked: Counter[float] = Counter()
        for target, comp in self.defn.compensate.items():
            tx, ty = self.where.get(target, (PAD, PAD))
            y = top + stacked[tx] * (NODE_H + GAP_Y)
            stacked[tx] += 1
            name = f"compensate-{target}"
            self.box(name, name, self.state(name), tx, y, more=False, undoes=target, task=comp.task)
            if target in self.where:
                self.edges.append(_edge(tx + NODE_W / 2, ty + NODE_H, tx + NODE_W / 2, y, dashed=True))


def _edge(x1: float, y1: float, x2: float, y2: float, *, dashed: bool = False) -> dict[str, Any]:
    """A cubic curve from (x1, y1) to (x2, y2), bending along its main direction."""
    if dashed:
        mid = (y1 + y2) / 2
        path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}"
    else:
        mid = (x1 + x2) / 2
        path = f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    return {"d": path, "dashed": dashed}
