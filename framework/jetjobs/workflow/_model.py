"""Workflow definitions as frozen values: steps, the DAG they form, and their JSON form.

A :class:`WorkflowDef` is what the Python builder and the YAML loader both produce and
what the engine stores per (name, version). It validates itself when built, so any
instance is a correct DAG; ``from_json(w.to_json()) == w`` and ``def_hash`` is the
sha256 of the canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal, get_args

from .._canvas import TriggerRule
from .._names import Priority, check_priority, check_queue_name
from ..errors import ConfigError
from ._errors import TemplateError, WorkflowDefinitionError
from ._frozen import FrozenMap, freeze, json_problem, thaw
from ._graph import Graph, validate
from ._names import (
    COMPENSATE_PREFIX,
    RETRY_ON_RE,
    check_seconds,
    check_step_name,
    check_task_name,
    check_version,
    check_workflow_name,
)
from ._retry import StepRetry, error_type_names, matches_retry_on
from ._template import iter_refs

__all__ = ["OnFailure", "StepDef", "StepRetry", "TriggerRule", "WorkflowDef"]

TRIGGER_RULES: tuple[str, ...] = get_args(TriggerRule)
OnFailure = Literal["compensate", "fail"]
ON_FAILURE: tuple[str, ...] = get_args(OnFailure)
FORMAT = 1  # version of the JSON layout, stored with every definition


def _names_tuple(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise WorkflowDefinitionError(f"{key} must be a list of names, not {value!r}", field=key)
    return tuple(value)


@dataclass(frozen=True)
class StepDef:
    """One step: which task runs, after which steps, with what input and retry policy.

    ``input`` holds JSON values and templates (``"{{tasks.a.output.id}}"``) and is passed
    to the task as keyword arguments; ``args`` are positional. ``retry=None`` keeps the
    task's own policy; ``retry_on`` lists error type names worth a retry (empty: any).
    """

    name: str
    task: str
    queue: str | None = None
    depends_on: tuple[str, ...] = ()
    args: tuple[Any, ...] = ()
    input: Mapping[str, Any] = field(default_factory=FrozenMap)
    retry: StepRetry | None = None
    retry_on: tuple[str, ...] = ()
    timeout_s: float | None = None
    trigger: TriggerRule = "all_success"
    priority: Priority | None = None

    def __post_init__(self) -> None:
        try:
            self._check()
        except WorkflowDefinitionError as exc:
            raise exc.located(step=self.name if isinstance(self.name, str) else repr(self.name)) from None

    def _check(self) -> None:
        name = self.name[len(COMPENSATE_PREFIX) :] if str(self.name).startswith(COMPENSATE_PREFIX) else self.name
        check_step_name(name)
        check_task_name(self.task)
        for key, check in (("queue", check_queue_name), ("priority", check_priority)):
            value = getattr(self, key)
            try:
                if value is not None:
                    check(value)
            except ConfigError as exc:
                raise WorkflowDefinitionError(str(exc), field=key) from None
        if self.retry is not None and not isinstance(self.retry, StepRetry):
            raise WorkflowDefinitionError(f"retry must be a StepRetry, not {self.retry!r}", field="retry")
        if self.trigger not in TRIGGER_RULES:
            raise WorkflowDefinitionError(
                f"unknown trigger rule {self.trigger!r}: use {', '.join(TRIGGER_RULES)}", field="trigger"
            )
        object.__setattr__(self, "depends_on", self._checked_deps())
        object.__setattr__(self, "retry_on", self._checked_retry_on())
        object.__setattr__(self, "timeout_s", check_seconds(self.timeout_s, "timeout_s"))
        self._check_values()

    def _checked_deps(self) -> tuple[str, ...]:
        deps = _names_tuple(self.depends_on, "depends_on")
        for dep in deps:
            check_step_name(dep, field="depends_on")
        if len(set(deps)) != len(deps):
            raise WorkflowDefinitionError(f"lists a step twice: {', '.join(deps)}", field="depends_on")
        if self.name in deps:
            raise WorkflowDefinitionError("a step cannot depend on itself", field="depends_on")
        return deps

    def _checked_retry_on(self) -> tuple[str, ...]:
        retry_on = _names_tuple(self.retry_on, "retry_on")
        for kind in retry_on:
            if not isinstance(kind, str) or not RETRY_ON_RE.fullmatch(kind):
                raise WorkflowDefinitionError(f"{kind!r} is not an error type name", field="retry_on")
        return retry_on

    def _check_values(self) -> None:
        if not isinstance(self.input, Mapping):
            raise WorkflowDefinitionError(f"must be a mapping of keyword arguments, not {self.input!r}", field="input")
        if isinstance(self.args, str) or not isinstance(self.args, list | tuple):
            raise WorkflowDefinitionError(f"args must be a list, not {self.args!r}", field="args")
        for key, value in (("input", self.input), ("args", self.args)):
            problem = json_problem(value)
            if problem:
                raise WorkflowDefinitionError(problem, field=key)
            try:
                for _ in iter_refs(value, key):
                    pass
            except TemplateError as exc:
                raise WorkflowDefinitionError(f"{exc.template!r}: {exc.reason}", field=exc.path) from None
        object.__setattr__(self, "args", freeze(self.args))
        object.__setattr__(self, "input", freeze(self.input))

    def retries(self, error: BaseException | tuple[str, ...]) -> bool:
        """Whether ``retry_on`` lets ``error`` be retried (an exception, or its type names, most specific first).

        Entries match the error's class or any base class, by qualified or by plain name.
        """
        names = error if isinstance(error, tuple) else error_type_names(error)
        return matches_retry_on(self.retry_on, names)

    def to_json(self) -> dict[str, Any]:
        return {
            "args": thaw(self.args),
            "depends_on": list(self.depends_on),
            "input": thaw(self.input),
            "name": self.name,
            "priority": self.priority,
            "queue": self.queue,
            "retry": None if self.retry is None else self.retry.to_json(),
            "retry_on": list(self.retry_on),
            "task": self.task,
            "timeout_s": self.timeout_s,
            "trigger": self.trigger,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepDef:
        fields = dict(data)
        unknown = sorted(set(fields) - set(cls.__dataclass_fields__))
        if unknown:
            raise WorkflowDefinitionError(f"unknown key {unknown[0]!r}", step=str(fields.get("name")))
        if isinstance(fields.get("retry"), Mapping):
            fields["retry"] = StepRetry.from_json(fields["retry"])
        for key in ("args", "depends_on", "retry_on"):
            if isinstance(fields.get(key), list):
                fields[key] = tuple(fields[key])
        return cls(**fields)


@dataclass(frozen=True)
class WorkflowDef:
    """A validated, immutable workflow definition (a DAG of steps).

    ``compensate`` maps a step to the step that undoes it (named ``compensate-<step>``,
    run when the workflow fails after that step succeeded). ``on_failure`` defaults to
    ``"compensate"`` when compensations are declared, else ``"fail"``.

    Example::

        wf = WorkflowDef("w", "1", steps=(StepDef("a", "task_a"), StepDef("b", "task_b", depends_on=("a",))))
        assert WorkflowDef.from_json(wf.to_json()) == wf
    """

    name: str
    version: str
    steps: tuple[StepDef, ...]
    timeout_s: float | None = None
    compensate: Mapping[str, StepDef] = field(default_factory=FrozenMap)
    on_failure: OnFailure | None = None
    description: str = ""
    retention_s: float | None = None
    result: Any = None  # what run.result() returns: a template value (None: the sink outputs)

    def __post_init__(self) -> None:
        try:
            self._check()
        except WorkflowDefinitionError as exc:
            raise exc.located(workflow=str(self.name), version=str(self.version)) from None

    def _check(self) -> None:
        check_workflow_name(self.name)
        check_version(self.version)
        if not isinstance(self.description, str):
            raise WorkflowDefinitionError("description must be a string", field="description")
        if not isinstance(self.steps, list | tuple) or not all(isinstance(s, StepDef) for s in self.steps):
            raise WorkflowDefinitionError("steps must be a sequence of StepDef", field="steps")
        if not isinstance(self.compensate, Mapping):
            raise WorkflowDefinitionError("compensate must map step names to steps", field="compensate")
        object.__setattr__(self, "steps", tuple(self.steps))
        object.__setattr__(self, "compensate", FrozenMap(dict(self.compensate)))
        object.__setattr__(self, "timeout_s", check_seconds(self.timeout_s, "timeout_s"))
        object.__setattr__(self, "retention_s", check_seconds(self.retention_s, "retention_s"))
        if self.on_failure is None:
            object.__setattr__(self, "on_failure", "compensate" if self.compensate else "fail")
        elif self.on_failure not in ON_FAILURE:
            raise WorkflowDefinitionError(
                f"on_failure must be compensate or fail, not {self.on_failure!r}", field="on_failure"
            )
        validate(self)
        if self.result is not None:
            problem = json_problem(self.result)
            if problem:
                raise WorkflowDefinitionError(problem, field="result")
            object.__setattr__(self, "result", freeze(self.result))
            for _, ref in iter_refs(thaw(self.result), "result"):
                if ref.step is not None and ref.step not in self._graph.steps:
                    raise WorkflowDefinitionError(f"{ref.text!r} names no step of this workflow", field="result")

    @cached_property
    def _graph(self) -> Graph:
        return Graph(self.steps)

    def to_json(self) -> dict[str, Any]:
        """The definition as plain JSON (every field explicit, keys sorted)."""
        return {
            "compensate": {key: step.to_json() for key, step in self.compensate.items()},
            "description": self.description,
            "format": FORMAT,
            "name": self.name,
            "on_failure": self.on_failure,
            "result": thaw(self.result),
            "retention_s": self.retention_s,
            "steps": [step.to_json() for step in self.steps],
            "timeout_s": self.timeout_s,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkflowDef:
        """The definition stored by :meth:`to_json`; validates it again."""
        fields = dict(data)
        if fields.pop("format", FORMAT) != FORMAT:
            raise WorkflowDefinitionError(f"unsupported definition format {data.get('format')!r} (expected {FORMAT})")
        unknown = sorted(set(fields) - set(cls.__dataclass_fields__))
        if unknown:
            raise WorkflowDefinitionError(f"unknown key {unknown[0]!r}", workflow=str(fields.get("name")))
        fields["steps"] = tuple(StepDef.from_json(s) for s in fields.get("steps", ()))
        fields["compensate"] = {k: StepDef.from_json(s) for k, s in (fields.get("compensate") or {}).items()}
        return cls(**fields)

    def canonical_json(self) -> bytes:
        """The bytes ``def_hash`` is computed from: compact, key-sorted UTF-8 JSON."""
        text = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode()

    @cached_property
    def def_hash(self) -> str:
        """sha256 (hex) of :meth:`canonical_json`: equal definitions have equal hashes."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    def step(self, name: str) -> StepDef:
        """The step called ``name``, a compensation step (``compensate-<step>``) included."""
        found = self._steps_by_name.get(name)
        if found is None:
            found = next((s for s in self.compensate.values() if s.name == name), None)
        if found is None:
            raise KeyError(f"workflow {self.name!r} v{self.version} has no step {name!r}")
        return found

    @cached_property
    def _steps_by_name(self) -> dict[str, StepDef]:
        return {s.name: s for s in self.steps}

    def compensation_for(self, name: str) -> StepDef | None:
        """The step that undoes step ``name``, if one is declared."""
        self._graph.check(name)
        return self.compensate.get(name)

    def parents(self, name: str) -> tuple[str, ...]:
        """The steps ``name`` depends on, in declared order."""
        return self._graph.check(name).depends_on

    def children(self, name: str) -> tuple[str, ...]:
        """The steps that depend on ``name``, in declaration order."""
        self._graph.check(name)
        return self._graph.children[name]

    def roots(self) -> tuple[str, ...]:
        """Steps without dependencies: the ones a run starts with."""
        return tuple(s.name for s in self.steps if not s.depends_on)

    def sinks(self) -> tuple[str, ...]:
        """Steps nothing depends on."""
        return tuple(s.name for s in self.steps if not self._graph.children[s.name])

    def ancestors(self, name: str) -> frozenset[str]:
        """Every step ``name`` depends on, directly or not."""
        self._graph.check(name)
        return self._graph.ancestors(name)

    def topo_order(self) -> tuple[str, ...]:
        """All steps, each after its parents; ties keep declaration order."""
        return self._graph.topo_order()

    def layers(self) -> tuple[tuple[str, ...], ...]:
        """Steps grouped by depth: layer n holds the steps whose longest path from a root has n edges."""
        return self._graph.layers()
