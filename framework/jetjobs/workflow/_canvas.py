"""Compile a canvas (``jetjobs.chain``, ``group``, ``chord``, ``task.s()``; the values and their
meaning are in ``jetjobs._canvas``) to one workflow definition plus the run input that carries the
arguments: steps are named after their tasks, a group's value is the list of its members' outputs,
an all_done group passes each member's ``result`` (output or error).

Example::

    compiled = compile_canvas(chain(fetch.s(url), group([a.s(), b.s()]), merge.s()))
    run = await app.execute_definition(compiled.definition, input=compiled.input)
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from dataclasses import dataclass
from typing import Any

from .._canvas import Canvas, Chain, Group, Signature
from ..errors import InvalidPayload
from ._errors import WorkflowDefinitionError
from ._model import StepDef, TriggerRule, WorkflowDef
from ._retry import StepRetry

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Compiled:
    """A compiled canvas: the definition depends only on the canvas's shape (tasks, options,
    argument counts and keyword names), so every run of the same shape reuses it; the
    argument values travel in the run's input."""

    definition: WorkflowDef
    input: dict[str, Any]


class _Compiler:
    def __init__(self) -> None:
        self.steps: list[StepDef] = []
        self._used: dict[str, int] = {}
        self.args: dict[str, list[Any]] = {}
        self.kwargs: dict[str, dict[str, Any]] = {}

    def name_for(self, task: str) -> str:
        base = _UNSAFE.sub("-", task.rsplit(".", 1)[-1]).strip("-")[:56] or "step"
        count = self._used.get(base, 0)
        self._used[base] = count + 1
        return base if count == 0 else f"{base}-{count + 1}"

    def compile(
        self, node: Canvas, deps: tuple[str, ...], prev: Any, rule: TriggerRule
    ) -> tuple[tuple[str, ...], Any, TriggerRule]:
        """Add ``node``'s steps after ``deps``; return its exits, its value (a template) and its join rule."""
        if isinstance(node, Signature):
            return self._signature(node, deps, prev, rule)
        if isinstance(node, Chain):
            for item in node.items:
                deps, prev, rule = self.compile(item, deps, prev, rule)
            return deps, prev, rule
        if isinstance(node, Group):
            exits: list[str] = []
            values: list[Any] = []
            for item in node.items:
                item_exits, value, _ = self.compile(item, deps, prev, rule)
                exits.extend(item_exits)
                values.append(_as_result(value) if node.trigger == "all_done" else value)
            return tuple(exits), values, node.trigger
        raise WorkflowDefinitionError(f"not a canvas: {node!r}")

    def _signature(
        self, sig: Signature, deps: tuple[str, ...], prev: Any, rule: TriggerRule
    ) -> tuple[tuple[str, ...], Any, TriggerRule]:
        name = self.name_for(sig.task)
        args: list[Any] = [f"{{{{input.a.{name}[{i}]}}}}" for i in range(len(sig.args))]
        prepend = not sig.immutable and prev is not _NOTHING
        if prepend:
            args.insert(0, prev)
        _check_arguments(sig, name, 1 if prepend else 0)
        for key in sig.kwargs:
            if not _KEY.fullmatch(key):
                raise WorkflowDefinitionError(f"step {name!r}: keyword {key!r} cannot travel in a canvas")
        if sig.args:
            self.args[name] = list(sig.args)
        if sig.kwargs:
            self.kwargs[name] = dict(sig.kwargs)
        options = dict(sig.options)
        queue = options.get("queue") or (sig.task_object.spec.queue if sig.task_object is not None else None)
        retry = options.get("retry")
        self.steps.append(
            StepDef(
                name,
                sig.task,
                queue=queue,
                depends_on=deps,
                args=tuple(args),
                input={k: f"{{{{input.k.{name}.{k}}}}}" for k in sig.kwargs},
                retry=retry if isinstance(retry, StepRetry) else None,
                retry_on=tuple(options.get("retry_on") or ()),
                timeout_s=options.get("timeout_s"),
                trigger=rule if len(deps) > 1 else "all_success",
                priority=options.get("priority"),
            )
        )
        return (name,), f"{{{{tasks.{name}.output}}}}", "all_success"


_NOTHING = object()


def _as_result(value: Any) -> Any:
    """Members of an all_done group pass their output or their error."""
    if isinstance(value, str) and value.endswith(".output}}"):
        return value[: -len(".output}}")] + ".result}}"
    if isinstance(value, list):
        return [_as_result(v) for v in value]
    return value


def _check_arguments(sig: Signature, step: str, prepended: int) -> None:
    """Validate arguments against the task's signature where the task is importable."""
    if sig.task_object is None:
        return  # checked by the worker that runs it
    try:
        inspect.signature(sig.task_object.fn).bind_partial(*([None] * prepended), *sig.args, **dict(sig.kwargs))
    except TypeError as exc:
        raise InvalidPayload(f"step {step!r}: {sig.task}(): {exc}") from None


def compile_canvas(canvas: Canvas, *, name: str | None = None) -> Compiled:
    """Compile a canvas into a definition named ``name`` (default: after its first task) and its input."""
    compiler = _Compiler()
    _, value, _ = compiler.compile(canvas, (), _NOTHING, "all_success")
    steps = tuple(compiler.steps)
    wf_name = name or _UNSAFE.sub("-", f"canvas-{steps[0].task.rsplit('.', 1)[-1]}").strip("-")[:100]
    shape = json.dumps([[s.to_json() for s in steps], value], sort_keys=True, separators=(",", ":"))
    definition = WorkflowDef(wf_name, f"c{hashlib.sha256(shape.encode()).hexdigest()[:16]}", steps, result=value)
    return Compiled(definition, {"a": compiler.args, "k": compiler.kwargs})
