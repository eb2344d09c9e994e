"""Workflow definitions from YAML, with a strict schema and ``file:line`` in every error.

The schema (see docs/workflows.md)::

    workflows:
      <name>:
        version: "1.0"            # required; quote it (1.10 unquoted would be the number 1.1)
        description: ...          # optional
        timeout: 30m              # optional; seconds or 500ms / 30s / 5m / 1h / 7d
        retention: 7d             # optional
        error_handling: {on_failure: compensate | fail, compensate: {<step>: <compensation>}}
        tasks:                    # required: a list of steps
          - {name, task, queue, depends_on, args, input, retry, retry_on, timeout, trigger, priority, compensate}

Unknown keys are errors that name the closest valid key.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from ._duration import parse_duration
from ._errors import WorkflowDefinitionError
from ._frozen import json_problem
from ._model import StepDef, StepRetry, WorkflowDef
from ._names import compensation_name

__all__ = ["load_workflows_yaml"]

_WORKFLOW_KEYS = ("version", "description", "timeout", "retention", "error_handling", "tasks")
_ERROR_KEYS = ("on_failure", "compensate")
_STEP_KEYS = ("queue", "args", "input", "retry", "retry_on", "timeout", "priority")
_TASK_KEYS = ("name", "task", "depends_on", *_STEP_KEYS, "trigger", "compensate")
_COMP_KEYS = ("task", *_STEP_KEYS)
_RETRY_KEYS = {"max_attempts": "max_attempts", "backoff": "backoff", "initial": "initial_s", "step": "step_s"}
_RETRY_KEYS |= {"max": "max_s", "multiplier": "multiplier", "jitter": "jitter"}
_FIELD_NAMES = {"timeout": "timeout_s", "retention": "retention_s"}

Location = tuple[str | None, str | None]  # (step, model field path)


def load_workflows_yaml(source: str | os.PathLike[str]) -> list[WorkflowDef]:
    """Every workflow in a YAML file (a path) or YAML text, validated, in file order.

    A ``str`` without a newline that ends in ``.yaml`` or ``.yml`` is read as a path;
    any other ``str`` is YAML text. Raises WorkflowDefinitionError with ``file:line``.

    Example::

        [order_processing] = load_workflows_yaml("workflows.yaml")
    """
    if isinstance(source, os.PathLike) or ("\n" not in source and source.endswith((".yaml", ".yml"))):
        origin = os.fspath(source)
        try:
            text = Path(origin).read_text(encoding="utf-8")
        except OSError as exc:
            raise WorkflowDefinitionError(f"cannot read {origin}: {exc.strerror or exc}") from None
    else:
        origin, text = "<string>", source
    return _Reader(origin, text).workflows()


class _Reader:
    def __init__(self, origin: str, text: str) -> None:
        self.origin = origin
        self.loader = yaml.SafeLoader(text)
        self.marks: dict[Location, yaml.Node] = {}
        self.where: dict[str, str | None] = {}

    def fail(self, node: yaml.Node, reason: str, **where: str | None) -> WorkflowDefinitionError:
        return WorkflowDefinitionError(reason, source=self.at(node), **{**self.where, **where})

    def at(self, node: yaml.Node) -> str:
        return f"{self.origin}:{node.start_mark.line + 1}"

    def workflows(self) -> list[WorkflowDef]:
        try:
            root = self.loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            line = f":{exc.problem_mark.line + 1}" if exc.problem_mark else ""
            context = f"{exc.context} at line {exc.context_mark.line + 1}: " if exc.context and exc.context_mark else ""
            reason = f"invalid YAML: {context}{exc.problem}"
            raise WorkflowDefinitionError(reason, source=f"{self.origin}{line}") from None
        except yaml.YAMLError as exc:
            raise WorkflowDefinitionError(f"invalid YAML: {exc}", source=self.origin) from None
        finally:
            self.loader.dispose()
        if root is None:
            raise WorkflowDefinitionError("the file is empty; expected 'workflows:'", source=self.origin)
        top = self.mapping(root, ("workflows",), required=("workflows",))
        items = self.mapping(top["workflows"][1], None)
        if not items:
            raise self.fail(top["workflows"][1], "no workflow is defined under 'workflows:'")
        return [self.workflow(name, key, value) for name, (key, value) in items.items()]

    # -- generic node readers ------------------------------------------------

    def mapping(
        self, node: yaml.Node, allowed: tuple[str, ...] | None, required: tuple[str, ...] = (), what: str = ""
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"expected a mapping{what}, found {self.describe(node)}")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"keys must be strings, not {key!r}")
            if key in out:
                raise self.fail(key_node, f"key {key!r} appears twice")
            if allowed is not None and key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.fail(key_node, f"unknown key {key!r}{hint} (valid: {', '.join(allowed)})")
            out[key] = (key_node, value_node)
        for key in required:
            if key not in out:
                raise self.fail(node, f"missing required key {key!r}")
        return out

    def scalar(self, node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"expected a single value, found {self.describe(node)}")
        return self.loader.construct_object(node)

    def describe(self, node: yaml.Node) -> str:
        if isinstance(node, yaml.MappingNode):
            return "a mapping"
        if isinstance(node, yaml.SequenceNode):
            return "a list"
        return repr(self.loader.construct_object(node))

    def string(self, node: yaml.Node, key: str) -> str:
        value = self.scalar(node)
        if not isinstance(value, str):
            raise self.fail(node, f"{key} must be a string, not {value!r}")
        return value

    def names(self, node: yaml.Node, key: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{key} must be a list, e.g. [a, b], not {self.describe(node)}")
        return tuple(self.string(item, key) for item in node.value)

    def duration(self, node: yaml.Node) -> float:
        try:
            return parse_duration(self.scalar(node))
        except ValueError as exc:
            raise self.fail(node, str(exc)) from None

    def json(self, node: yaml.Node, step: str, path: str) -> Any:
        self.marks[(step, path)] = node
        if isinstance(node, yaml.MappingNode):
            return {k: self.json(v, step, f"{path}.{k}") for k, (_, v) in self.mapping(node, None).items()}
        if isinstance(node, yaml.SequenceNode):
            return [self.json(v, step, f"{path}[{i}]") for i, v in enumerate(node.value)]
        value = self.scalar(node)
        if json_problem(value):
            kind = type(value).__name__
            reason = f"{node.value} is a {kind}, not a JSON value; quote it to make it a string"
            raise self.fail(node, reason, step=step, field=path)
        return value

    # -- the schema ----------------------------------------------------------

    def workflow(self, name: str, key_node: yaml.Node, node: yaml.Node) -> WorkflowDef:
        self.marks = {(None, None): key_node}
        self.where = {"workflow": name, "version": None, "step": None, "field": None}
        keys = self.mapping(node, _WORKFLOW_KEYS, required=("version", "tasks"))
        version_node = keys["version"][1]
        version = self.scalar(version_node)
        if not isinstance(version, str | int) or isinstance(version, bool):
            raise self.fail(version_node, f'version must be a string: quote it (version: "{version_node.value}")')
        self.where["version"] = version = str(version)
        fields: dict[str, Any] = {"name": name, "version": version, "compensate": {}}
        for key, (knode, vnode) in keys.items():
            self.marks[(None, _FIELD_NAMES.get(key, key))] = knode
            if key in ("timeout", "retention"):
                fields[_FIELD_NAMES[key]] = self.duration(vnode)
            elif key == "description":
                fields["description"] = self.string(vnode, key)
            elif key == "error_handling":
                self.error_handling(vnode, fields)
        tasks_node = keys["tasks"][1]
        self.marks[(None, "steps")] = tasks_node
        if not isinstance(tasks_node, yaml.SequenceNode) or not tasks_node.value:
            raise self.fail(tasks_node, "tasks must be a non-empty list of steps")
        steps: dict[str, StepDef] = {}
        for item in tasks_node.value:
            step = self.task(item, fields["compensate"])
            if step.name in steps:
                raise self.fail(item, "this step name is used twice", step=step.name)
            steps[step.name] = step
        fields["steps"] = tuple(steps.values())
        try:
            return WorkflowDef(**fields)
        except WorkflowDefinitionError as exc:
            raise exc.located(source=self.at(self.node_for(exc.step, exc.field))) from None

    def error_handling(self, node: yaml.Node, fields: dict[str, Any]) -> None:
        for key, (knode, vnode) in self.mapping(node, _ERROR_KEYS).items():
            self.marks[(None, key)] = knode
            if key == "on_failure":
                fields["on_failure"] = self.string(vnode, key)
                continue
            for target, (tnode, cnode) in self.mapping(vnode, None).items():
                self.marks[(None, f"compensate.{target}")] = tnode
                fields["compensate"][target] = self.compensation(target, cnode)

    def task(self, node: yaml.Node, compensate: dict[str, StepDef]) -> StepDef:
        self.where["step"] = self.peek_name(node)
        keys = self.mapping(node, _TASK_KEYS, required=("name", "task"), what=" for a step")
        name = self.string(keys["name"][1], "name")
        extra: dict[str, Any] = {"depends_on": (), "trigger": "all_success"}
        for key, read in (("depends_on", self.names), ("trigger", self.string)):
            if key in keys:
                self.where["field"] = key
                extra[key] = read(keys[key][1], key)
        self.where["field"] = None
        step = self.step(name, node, keys, extra)
        if "compensate" in keys:
            knode, cnode = keys["compensate"]
            if name in compensate:
                raise self.fail(knode, "compensation declared twice (here and in error_handling)", step=name)
            self.marks[(None, f"compensate.{name}")] = knode
            compensate[name] = self.compensation(name, cnode)
        self.where["step"] = None
        return step

    def peek_name(self, node: yaml.Node) -> str | None:
        """The step's name before its mapping is checked, so that errors in it can name the step."""
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == "name" and isinstance(value, yaml.ScalarNode):
                    return str(value.value)
        return None

    def compensation(self, target: str, node: yaml.Node) -> StepDef:
        name = compensation_name(target)
        self.where["step"] = name
        keys = self.mapping(node, _COMP_KEYS, required=("task",), what=f" for the compensation of {target!r}")
        step = self.step(name, node, keys, {})
        self.where["step"] = None
        return step

    def step(
        self, name: str, node: yaml.Node, keys: dict[str, tuple[yaml.Node, yaml.Node]], extra: dict[str, Any]
    ) -> StepDef:
        self.marks[(name, None)] = node
        readers: dict[str, Callable[[yaml.Node], Any]] = {
            "task": lambda n: self.string(n, "task"),
            "queue": lambda n: self.string(n, "queue"),
            "priority": lambda n: self.string(n, "priority"),
            "args": lambda n: tuple(self.json(n, name, "args")) if isinstance(n, yaml.SequenceNode) else self.scalar(n),
            "input": lambda n: self.json(n, name, "input"),
            "retry": lambda n: self.retry(n, name),
            "retry_on": lambda n: self.names(n, "retry_on"),
            "timeout": self.duration,
        }
        fields: dict[str, Any] = {"name": name, **extra}
        for key, (knode, vnode) in keys.items():
            field = _FIELD_NAMES.get(key, key)
            self.marks[(name, field)] = knode
            if key in readers:
                self.where["field"] = key
                fields[field] = readers[key](vnode)
        self.where["field"] = None
        try:
            return StepDef(**fields)
        except WorkflowDefinitionError as exc:
            where = self.node_for(exc.step, exc.field)
            raise exc.located(**self.where, source=self.at(where)) from None

    def retry(self, node: yaml.Node, step: str) -> StepRetry:
        values: dict[str, Any] = {}
        for key, (_, vnode) in self.mapping(node, tuple(_RETRY_KEYS), what=" for retry").items():
            field = _RETRY_KEYS[key]
            self.marks[(step, f"retry.{field}")] = vnode
            self.where["field"] = f"retry.{key}"
            values[field] = self.duration(vnode) if key in ("initial", "step", "max") else self.scalar(vnode)
        self.where["field"] = "retry"
        try:
            return StepRetry(**values)
        except WorkflowDefinitionError as exc:
            raise exc.located(**self.where, source=self.at(self.node_for(step, exc.field))) from None

    def node_for(self, step: str | None, field: str | None) -> yaml.Node:
        """The closest recorded node for an error's (step, field)."""
        for who in dict.fromkeys((step, None)):
            path = field
            while path:
                if (who, path) in self.marks:
                    return self.marks[(who, path)]
                path = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", path) if re.search(r"[.\[]", path) else None
            if (who, None) in self.marks:
                return self.marks[(who, None)]
        return self.marks[(None, None)]
