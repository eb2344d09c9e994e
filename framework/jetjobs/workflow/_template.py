"""A small template language for step inputs; it looks data up and never executes anything.

Forms (whitespace inside the braces is allowed)::

    {{input}}  {{input.order_id}}               the run's input
    {{context.tenant}}                          the run's context
    {{tasks.validate-order.output}}             a step's whole output
    {{tasks.validate-order.output.items[0].sku}}  a path into it: keys and [n] list indexes
    {{tasks.part-3.result}}                     its output, or {"error": {"type", "message"}} when it
                                                failed (for steps after an all_done join)
    {{tasks.part-3.error}}                      its error ({"type", "message"}), null when it succeeded

A string that is exactly one template becomes the referenced JSON value, keeping its
type (number, dict, list...). Text around templates makes a string: strings are
inserted as they are, other values as compact JSON (``true``, ``null``, ``{"a":1}``).

Example::

    >>> render({"n": "{{input.n}}", "msg": "got {{input.n}}"}, {"input": {"n": 3}})
    {'n': 3, 'msg': 'got 3'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ._errors import TemplateError
from ._frozen import thaw

__all__ = ["Ref", "iter_refs", "render", "template_refs"]

ROOTS = ("input", "context", "tasks")
STEP_ATTRS = ("output", "result", "error")
_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_EXPR = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)((?:\.[A-Za-z0-9_-]+|\[\d+\])*)")
_SEGMENT = re.compile(r"\.([A-Za-z0-9_-]+)|\[(\d+)\]")
_FORMS = "use {{input.<key>}}, {{context.<key>}} or {{tasks.<step>.output[.<path>]}}"

Segment = str | int


@dataclass(frozen=True, slots=True)
class Ref:
    """One parsed template: its root, the step (for ``tasks``) and the path after it."""

    text: str
    root: str
    step: str | None
    path: tuple[Segment, ...]
    attr: str = "output"  # for steps: output, result or error

    @property
    def key(self) -> tuple[str, ...]:
        """``("input",)``, ``("context",)`` or ``("tasks", step)``."""
        return (self.root,) if self.step is None else (self.root, self.step)


@dataclass(frozen=True, slots=True)
class _Parsed:
    parts: tuple[str | Ref, ...]
    whole: Ref | None  # set when the string is exactly one template


def _parse_ref(text: str) -> Ref:
    expr = text[2:-2].strip()
    if "{{" in expr:
        raise TemplateError("'{{' is never closed with '}}'", template=text)
    if not expr:
        raise TemplateError(f"empty template: {_FORMS}", template=text)
    match = _EXPR.fullmatch(expr)
    if match is None:
        raise TemplateError(f"malformed template: {_FORMS}", template=text)
    root, rest = match.group(1), match.group(2)
    if root not in ROOTS:
        raise TemplateError(f"unknown root {root!r}: {_FORMS}", template=text)
    path: tuple[Segment, ...] = tuple(key if key else int(index) for key, index in _SEGMENT.findall(rest))
    if root != "tasks":
        return Ref(text, root, None, path)
    if len(path) < 2 or not isinstance(path[0], str) or path[1] not in STEP_ATTRS:
        raise TemplateError(
            "a step reference must read {{tasks.<step>.output[.<path>]}} (or .result, .error)", template=text
        )
    return Ref(text, root, path[0], path[2:], str(path[1]))


@lru_cache(maxsize=4096)
def _parse(text: str) -> _Parsed:
    parts: list[str | Ref] = []
    pos = 0
    for match in _TEMPLATE.finditer(text):
        if "{{" in text[pos : match.start()]:
            raise TemplateError("'{{' is never closed with '}}'", template=text)
        if match.start() > pos:
            parts.append(text[pos : match.start()])
        parts.append(_parse_ref(match.group(0)))
        pos = match.end()
    tail = text[pos:]
    if "{{" in tail:
        raise TemplateError("'{{' is never closed with '}}'", template=text)
    if tail:
        parts.append(tail)
    whole = parts[0] if len(parts) == 1 and isinstance(parts[0], Ref) else None
    return _Parsed(tuple(parts), whole)


def parse(text: str, *, step: str | None = None, path: str | None = None) -> _Parsed:
    try:
        return _parse(text)
    except TemplateError as exc:
        raise TemplateError(exc.reason, template=exc.template, step=step, path=path) from None


def iter_refs(value: Any, path: str = "input", step: str | None = None) -> Iterator[tuple[str, Ref]]:
    """Every template in ``value`` (dicts, lists, strings) with the path it was found at."""
    if isinstance(value, str):
        for part in parse(value, step=step, path=path).parts:
            if isinstance(part, Ref):
                yield path, part
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_refs(item, f"{path}.{key}", step)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from iter_refs(item, f"{path}[{i}]", step)


def template_refs(value: Any) -> set[tuple[str, ...]]:
    """What the templates in ``value`` read: ``("input",)``, ``("context",)``, ``("tasks", step)``.

    >>> sorted(template_refs({"a": "{{tasks.load.output.rows[0]}}", "b": ["{{input.x}}"]}))
    [('input',), ('tasks', 'load')]
    """
    return {ref.key for _, ref in iter_refs(value)}


def render(value: Any, scope: Mapping[str, Any], *, step: str | None = None, path: str = "input") -> Any:
    """``value`` with every template replaced by data from ``scope``; a plain JSON value.

    ``scope`` is ``{"input": ..., "context": ..., "tasks": {step: {"output": ...}}}``.
    ``step`` and ``path`` only label errors. Raises TemplateError naming the template,
    where it was written and what is missing.
    """
    if isinstance(value, str):
        parsed = parse(value, step=step, path=path)
        if parsed.whole is not None:
            return thaw(_resolve(parsed.whole, scope, step, path))
        if len(parsed.parts) == 1 and isinstance(parsed.parts[0], str):
            return value
        return "".join(p if isinstance(p, str) else _text(_resolve(p, scope, step, path)) for p in parsed.parts)
    if isinstance(value, Mapping):
        return {k: render(v, scope, step=step, path=f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render(v, scope, step=step, path=f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(thaw(value), separators=(",", ":"), ensure_ascii=False)


def _resolve(ref: Ref, scope: Mapping[str, Any], step: str | None, path: str) -> Any:
    def fail(reason: str) -> TemplateError:
        return TemplateError(reason, template=ref.text, step=step, path=path)

    if ref.step is not None:
        entry = (scope.get("tasks") or {}).get(ref.step)
        if not isinstance(entry, Mapping) or ref.attr not in entry:
            raise fail(f"no {ref.attr} of step {ref.step!r} is available (it has not succeeded)")
        value, what = entry[ref.attr], f"the {ref.attr} of step {ref.step!r}"
    else:
        if ref.root not in scope:
            raise fail(f"the run has no {ref.root}")
        value, what = scope[ref.root], f"the run {ref.root}"
    walked = ""
    for seg in ref.path:
        at = f" at {walked}" if walked else ""
        if isinstance(seg, int):
            if not isinstance(value, list | tuple):
                raise fail(f"cannot index {_kind(value)} with [{seg}] in {what}{at}")
            if seg >= len(value):
                size = f"{len(value)} item" + ("" if len(value) == 1 else "s")
                raise fail(f"index {seg} out of range (the list has {size}) in {what}{at}")
            value = value[seg]
            walked += f"[{seg}]"
        else:
            if not isinstance(value, Mapping):
                raise fail(f"cannot look up key {seg!r} in {_kind(value)} in {what}{at}")
            if seg not in value:
                raise fail(f"missing key {seg!r} in {what}{at}{_keys_hint(value)}")
            value = value[seg]
            walked += f".{seg}" if walked else seg
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a dict"
    if isinstance(value, list | tuple):
        return "a list"
    name = type(value).__name__
    article = "an" if name[0] in "aeiou" else "a"
    return f"{article} {name} ({_text(value)[:40]})"


def _keys_hint(value: Mapping[str, Any]) -> str:
    keys = sorted(value)
    if not keys:
        return " (it is empty)"
    shown = ", ".join(keys[:10]) + (f", ... ({len(keys)} keys)" if len(keys) > 10 else "")
    return f" (it has: {shown})"
