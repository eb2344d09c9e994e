"""Errors of workflow definitions and templates.

Both name the exact place of the problem, so a user can go straight to it::

    WorkflowDefinitionError   (a ConfigError) a definition that cannot be registered
    TemplateError             (a JetjobsError) a {{ ... }} template that is malformed or
                              cannot be resolved against a run's data

A definition error reads ``[file:line: ]workflow 'name' v1.0, step 'x', input.amount: why``;
each part is present when it is known.
"""

from __future__ import annotations

from ..errors import ConfigError, JetjobsError

__all__ = ["TemplateError", "WorkflowDefinitionError"]


class WorkflowDefinitionError(ConfigError):
    """A workflow definition is invalid; the message names the workflow, step and field.

    Attributes hold the parts separately (``reason``, ``workflow``, ``version``, ``step``,
    ``field`` and ``source`` as ``file:line``) so loaders can add what they know.
    """

    def __init__(
        self,
        reason: str,
        *,
        workflow: str | None = None,
        version: str | None = None,
        step: str | None = None,
        field: str | None = None,
        source: str | None = None,
    ) -> None:
        self.reason = reason
        self.workflow = workflow
        self.version = version
        self.step = step
        self.field = field
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        parts: list[str] = []
        if self.workflow is not None:
            parts.append(f"workflow {self.workflow!r}" + (f" v{self.version}" if self.version else ""))
        if self.step is not None:
            parts.append(f"step {self.step!r}")
        where = ", ".join(parts)
        if self.field:
            where = f"{where}, {self.field}" if where else self.field
        text = f"{where}: {self.reason}" if where else self.reason
        return f"{self.source}: {text}" if self.source else text

    def located(self, **parts: str | None) -> WorkflowDefinitionError:
        """A copy with the given location parts filled in where they were unknown."""
        known = {k: getattr(self, k) for k in ("workflow", "version", "step", "field", "source")}
        for key, value in parts.items():
            if known[key] is None:
                known[key] = value
        return WorkflowDefinitionError(self.reason, **known)


class TemplateError(JetjobsError, ValueError):
    """A template is malformed, or names data a run does not have.

    ``template`` is the template text, ``reason`` why it failed; ``step`` and ``path``
    (e.g. ``input.items[0]``) say where it was written, when known.
    """

    def __init__(self, reason: str, *, template: str, step: str | None = None, path: str | None = None) -> None:
        self.reason = reason
        self.template = template
        self.step = step
        self.path = path
        where = ", ".join(p for p in (f"step {step!r}" if step else "", path or "") if p)
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{template!r}: {reason}")
