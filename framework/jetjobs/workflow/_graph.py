"""The DAG of a definition: lookups, order, and the checks run when a definition is built."""

from __future__ import annotations

import difflib
import heapq
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Protocol

from ._errors import WorkflowDefinitionError
from ._names import check_step_name, compensation_name
from ._template import iter_refs


class StepDef(Protocol):
    """What the graph reads of a step (``_model.StepDef``; a Protocol, so _model can import this)."""

    @property
    def name(self) -> str: ...
    @property
    def depends_on(self) -> tuple[str, ...]: ...
    @property
    def args(self) -> Any: ...
    @property
    def input(self) -> Any: ...


class WorkflowDef(Protocol):
    """What validation reads of a definition (``_model.WorkflowDef``)."""

    @property
    def steps(self) -> Sequence[StepDef]: ...
    @property
    def compensate(self) -> Mapping[str, StepDef]: ...
    @property
    def on_failure(self) -> str | None: ...


class Graph:
    """Parents, children, ancestors and orders of a list of steps (assumed acyclic once validated)."""

    def __init__(self, steps: Iterable[StepDef]) -> None:
        self.steps: dict[str, StepDef] = {}
        for step in steps:
            self.steps.setdefault(step.name, step)
        self.index = {name: i for i, name in enumerate(self.steps)}
        children: dict[str, list[str]] = {name: [] for name in self.steps}
        for step in self.steps.values():
            for dep in step.depends_on:
                if dep in children:
                    children[dep].append(step.name)
        self.children = {name: tuple(kids) for name, kids in children.items()}
        self.ancestors = cache(self._ancestors)

    def check(self, name: str) -> StepDef:
        step = self.steps.get(name)
        if step is None:
            raise KeyError(f"no step {name!r}")
        return step

    def _ancestors(self, name: str) -> frozenset[str]:
        found: set[str] = set()
        stack = list(self.steps[name].depends_on)
        while stack:
            dep = stack.pop()
            if dep not in found and dep in self.steps:
                found.add(dep)
                stack.extend(self.steps[dep].depends_on)
        return frozenset(found)

    def topo_order(self) -> tuple[str, ...]:
        waiting = {name: len(step.depends_on) for name, step in self.steps.items()}
        ready = [self.index[name] for name, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        names = list(self.steps)
        order: list[str] = []
        while ready:
            name = names[heapq.heappop(ready)]
            order.append(name)
            for child in self.children[name]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    heapq.heappush(ready, self.index[child])
        return tuple(order)

    def layers(self) -> tuple[tuple[str, ...], ...]:
        depth: dict[str, int] = {}
        for name in self.topo_order():
            depth[name] = max((depth[d] + 1 for d in self.steps[name].depends_on), default=0)
        rows: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
        for name in self.steps:
            rows[depth[name]].append(name)
        return tuple(tuple(row) for row in rows)

    def find_cycle(self) -> list[str] | None:
        """One cycle as a path ``[a, b, ..., a]`` (each depends on the next), or None.

        Iterative depth-first search, so a chain of thousands of steps needs no deep recursion.
        """
        done: set[str] = set()
        for start in self.steps:
            if start in done:
                continue
            path: list[str] = [start]
            on_path = {start}
            pending = [iter(self.steps[start].depends_on)]
            while pending:
                dep = next(pending[-1], None)
                if dep is None:
                    finished = path.pop()
                    on_path.discard(finished)
                    done.add(finished)
                    pending.pop()
                    continue
                if dep in on_path:
                    return [*path[path.index(dep) :], dep]
                if dep not in done and dep in self.steps:
                    path.append(dep)
                    on_path.add(dep)
                    pending.append(iter(self.steps[dep].depends_on))
        return None


def _hint(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def validate(defn: WorkflowDef) -> None:
    """Raise WorkflowDefinitionError (with step and field) if ``defn`` is not a usable DAG."""
    if not defn.steps:
        raise WorkflowDefinitionError("a workflow needs at least one step", field="steps")
    seen: set[str] = set()
    for step in defn.steps:
        try:
            check_step_name(step.name)
        except WorkflowDefinitionError as exc:
            raise exc.located(step=step.name) from None
        if step.name in seen:
            raise WorkflowDefinitionError("this step name is used twice", step=step.name, field="name")
        seen.add(step.name)
    graph = Graph(defn.steps)
    for step in defn.steps:
        for dep in step.depends_on:
            if dep not in graph.steps:
                raise WorkflowDefinitionError(
                    f"unknown step {dep!r}{_hint(dep, graph.steps)}", step=step.name, field="depends_on"
                )
    cycle = graph.find_cycle()
    if cycle:
        # find_cycle walks from a step to what it depends on; show it in run order instead.
        cycle.reverse()
        shown = cycle if len(cycle) <= 12 else [*cycle[:5], "...", *cycle[-5:]]
        more = f" ({len(cycle) - 1} steps)" if len(cycle) > 12 else ""
        raise WorkflowDefinitionError(f"cycle {' -> '.join(shown)}{more}", step=cycle[0], field="depends_on")
    for step in defn.steps:
        _check_refs(step, frozenset(step.depends_on), step.name, graph, f"which is not upstream of {step.name!r}")
    _check_compensations(defn, graph)


def _check_refs(step: StepDef, direct: frozenset[str], owner: str, graph: Graph, why: str) -> None:
    """Templates of ``step`` may read ``direct`` steps and every ancestor of ``owner``."""
    for key, value in (("args", step.args), ("input", step.input)):
        for path, ref in iter_refs(value, key):
            # Most templates read a parent: check that first, ancestors only when needed.
            if ref.step is None or ref.step in direct or ref.step in graph.ancestors(owner):
                continue
            allowed = direct | graph.ancestors(owner)
            names = [n for n in graph.topo_order() if n in allowed]
            upstream = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
            raise WorkflowDefinitionError(
                f"{ref.text!r} references step {ref.step!r}, {why} (upstream: {upstream or 'none'})",
                step=step.name,
                field=path,
            )


def _check_compensations(defn: WorkflowDef, graph: Graph) -> None:
    for target, comp in defn.compensate.items():
        field = f"compensate.{target}"
        if target not in graph.steps:
            raise WorkflowDefinitionError(
                f"compensation for unknown step {target!r}{_hint(target, graph.steps)}", field=field
            )
        if comp.name != compensation_name(target):
            raise WorkflowDefinitionError(
                f"the compensating step must be named {compensation_name(target)!r}, not {comp.name!r}", field=field
            )
        if comp.name in graph.steps:
            raise WorkflowDefinitionError(
                f"step name {comp.name!r} is taken by the compensation of step {target!r}", step=comp.name
            )
        if comp.depends_on:
            raise WorkflowDefinitionError("a compensating step cannot have depends_on", step=comp.name)
        _check_refs(comp, frozenset({target}), target, graph, f"which is neither {target!r} nor upstream of it")
    if defn.on_failure == "compensate" and not defn.compensate:
        raise WorkflowDefinitionError(
            "on_failure is 'compensate' but no compensating step is declared", field="on_failure"
        )
