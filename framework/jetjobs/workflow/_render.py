"""A plain-text drawing of a workflow's DAG for terminals (``jetjobs workflow status``).

Steps are drawn in layers (a step's layer is its longest distance from a root); each
line is one step with the steps it waits for. Very wide layers are cut after
``max_per_layer`` steps and the rest summed up by state::

    order-processing v1.0
    1  [validate-order: succeeded]
    2  [process-payment: failed]  <- validate-order
    3  [fulfill-order: pending]   <- process-payment
    compensation (on failure)
       [compensate-process-payment: running]  undoes process-payment
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from ._model import WorkflowDef

__all__ = ["render_dag"]

_MAX_PARENTS = 4
_MAX_BOX = 60


def render_dag(defn: WorkflowDef, states: Mapping[str, str] | None = None, *, max_per_layer: int = 12) -> str:
    """The DAG of ``defn`` as text; ``states`` maps step names to states (missing: pending).

    Example::

        print(render_dag(definition, {"validate-order": "succeeded"}))
    """
    layers = defn.layers()
    lines = [f"{defn.name} v{defn.version}"]
    rows: list[tuple[str, str, str]] = []  # (layer label, box, note)
    for number, layer in enumerate(layers, start=1):
        shown = layer if len(layer) <= max_per_layer else layer[: max(max_per_layer - 1, 1)]
        for i, name in enumerate(shown):
            step = defn.step(name)
            trigger = f" ({step.trigger})" if step.trigger != "all_success" else ""
            note = _parents(step.depends_on, layers[number - 2] if number > 1 else (), number - 1)
            rows.append((str(number) if i == 0 else "", _box(name, states) + trigger, note))
        hidden = layer[len(shown) :]
        if hidden:
            rows.append(("", f"... {len(hidden)} more{_summary(hidden, states)}", ""))
    comps = list(defn.compensate.items())
    width = len(str(len(layers)))
    box_width = min(max((len(box) for _, box, note in rows if note), default=0), _MAX_BOX)
    for label, box, note in rows:
        lines.append(f"{label:<{width}}  {box:<{box_width}}  {note}".rstrip() if note else f"{label:<{width}}  {box}")
    if comps:
        lines.append(f"compensation (on failure: {defn.on_failure})")
        for target, comp in comps:
            lines.append(f"{'':<{width}}  {_box(comp.name, states)}  undoes {target}")
    return "\n".join(lines)


def _box(name: str, states: Mapping[str, str] | None) -> str:
    if states is None:
        return f"[{name}]"
    return f"[{name}: {states.get(name, 'pending')}]"


def _parents(parents: Sequence[str], previous: Sequence[str], number: int) -> str:
    if not parents:
        return ""
    if len(parents) > _MAX_PARENTS and set(parents) == set(previous):
        return f"<- all {len(parents)} steps of layer {number}"
    if len(parents) > _MAX_PARENTS:
        return f"<- {', '.join(parents[:_MAX_PARENTS])} and {len(parents) - _MAX_PARENTS} more"
    return f"<- {', '.join(parents)}"


def _summary(names: Sequence[str], states: Mapping[str, str] | None) -> str:
    if states is None:
        return ""
    counts = Counter(states.get(name, "pending") for name in names)
    return ": " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
