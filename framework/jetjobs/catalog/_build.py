"""A task's catalog entry, built from its declaration and signature."""

from __future__ import annotations

from typing import Any

from .._catalog import CatalogEntry, Parameter
from .._task import Task
from .._wire import now_iso

# describe() keys that are entry fields of their own, or local to the process.
_NOT_OPTIONS = frozenset({"name", "queue", "priority", "version", "description", "function"})


def entry_for(task: Task[..., Any], service: str) -> CatalogEntry:
    """What the workers of ``service`` publish about ``task``.

    Example::

        entry = entry_for(app.tasks["send_email"], app.name)
        entry.arguments["properties"]["to"]      # {'title': 'To', 'type': 'string'}
    """
    spec = task.spec
    described = spec.describe()
    return CatalogEntry(
        name=spec.name,
        queue=spec.queue,
        priority=spec.priority,
        version=spec.version,
        description=spec.description,
        service=service,
        options={k: v for k, v in described.items() if k not in _NOT_OPTIONS},
        parameters=tuple(Parameter(name=n, kind=k) for n, k in task.signature.parameters()),
        arguments=task.signature.arguments_schema(),
        result=task.signature.result_schema(),
        published_at=now_iso(),
    )
