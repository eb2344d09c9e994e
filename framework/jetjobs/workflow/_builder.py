"""The Python API for defining workflows: ``Workflow(...).step(...)...build()``.

Example::

    wf = Workflow("order-processing", version="1.0", timeout_s=1800,
                  compensate={"process-payment": Step("refund_payment", input={"order_id": "{{input.order_id}}"})})
    wf.step("validate-order", "validate_order", input={"order_id": "{{input.order_id}}"})
    wf.step("process-payment", process_payment, depends_on=["validate-order"],
            input={"amount": "{{tasks.validate-order.output.amount}}"}, retry_on=["TransientError"])
    definition = wf.build()
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._names import Priority
from .._task import Task
from ._errors import WorkflowDefinitionError
from ._model import OnFailure, StepDef, TriggerRule, WorkflowDef
from ._names import check_seconds, check_step_name, check_version, check_workflow_name, compensation_name
from ._retry import StepRetry

__all__ = ["Step", "Workflow"]

TaskRef = str | Task[..., Any]


def _task_and_queue(task: object, queue: str | None) -> tuple[str, str | None]:
    if isinstance(task, Task):
        return task.name, queue if queue is not None else task.spec.queue
    if isinstance(task, str):
        return task, queue
    raise WorkflowDefinitionError(f"task must be a task name or a jetjobs Task, not {task!r}", field="task")


def _as_tuple(value: Any) -> Any:
    # Lists become tuples; anything else (a lone string, say) reaches StepDef, which names the mistake.
    return tuple(value) if isinstance(value, list | tuple) else value


@dataclass(frozen=True)
class Step:
    """A step not yet placed in a graph: what a compensation runs, for instance.

    ``task`` is a task name or a ``Task`` (then ``queue`` defaults to the task's queue).

    Example::

        Step("refund_payment", input={"payment": "{{tasks.process-payment.output.id}}"})
    """

    task: TaskRef
    input: Mapping[str, Any] | None = None
    args: Sequence[Any] = ()
    queue: str | None = None
    retry: StepRetry | None = None
    retry_on: Sequence[str] = ()
    timeout_s: float | None = None
    priority: Priority | None = None

    def to_def(self, name: str, depends_on: Sequence[str] = (), trigger: TriggerRule = "all_success") -> StepDef:
        """The StepDef of this step under ``name``."""
        task, queue = _task_and_queue(self.task, self.queue)
        return StepDef(
            name=name,
            task=task,
            queue=queue,
            depends_on=_as_tuple(depends_on),
            args=_as_tuple(self.args),
            input=self.input if self.input is not None else {},
            retry=self.retry,
            retry_on=_as_tuple(self.retry_on),
            timeout_s=self.timeout_s,
            trigger=trigger,
            priority=self.priority,
        )


class Workflow:
    """Collects steps and builds a validated :class:`WorkflowDef`.

    ``step()`` checks each step at once (name, options, templates) and returns the
    workflow, so calls can be chained; ``build()`` checks the graph: dependencies,
    cycles, templates reading only upstream steps, compensations.
    """

    def __init__(
        self,
        name: str,
        *,
        version: str,
        timeout_s: float | None = None,
        compensate: Mapping[str, Step] | None = None,
        on_failure: OnFailure | None = None,
        description: str = "",
        retention_s: float | None = None,
    ) -> None:
        try:
            check_workflow_name(name)
            check_version(version)
            self._timeout_s = check_seconds(timeout_s, "timeout_s")
            self._retention_s = check_seconds(retention_s, "retention_s")
        except WorkflowDefinitionError as exc:
            raise exc.located(workflow=str(name), version=str(version)) from None
        self.name = name
        self.version = version
        self._on_failure = on_failure
        self._description = description
        self._steps: dict[str, StepDef] = {}
        self._compensate: dict[str, StepDef] = {}
        for target, comp in (compensate or {}).items():
            self.compensate(target, comp)

    def _error(self, exc: WorkflowDefinitionError) -> WorkflowDefinitionError:
        return exc.located(workflow=self.name, version=self.version)

    def step(
        self,
        name: str,
        task: TaskRef,
        *,
        depends_on: Sequence[str] = (),
        input: Mapping[str, Any] | None = None,
        args: Sequence[Any] = (),
        queue: str | None = None,
        retry: StepRetry | None = None,
        retry_on: Sequence[str] = (),
        timeout_s: float | None = None,
        trigger: TriggerRule = "all_success",
        priority: Priority | None = None,
        compensate: Step | None = None,
    ) -> Workflow:
        """Add step ``name`` running ``task``; returns the workflow for chaining.

        ``compensate`` is a shorthand for ``Workflow(compensate={name: ...})``.
        """
        try:
            check_step_name(name)
            if name in self._steps:
                raise WorkflowDefinitionError("a step with this name is already declared", step=name)
            spec = Step(task, input, args, queue, retry, retry_on, timeout_s, priority)
            self._steps[name] = spec.to_def(name, depends_on, trigger)
        except WorkflowDefinitionError as exc:
            raise self._error(exc.located(step=name)) from None
        if compensate is not None:
            self.compensate(name, compensate)
        return self

    def compensate(self, step: str, comp: Step) -> Workflow:
        """Declare ``comp`` as the step that undoes ``step`` (named ``compensate-<step>``)."""
        field = f"compensate.{step}"
        try:
            check_step_name(step)
            if step in self._compensate:
                raise WorkflowDefinitionError("a compensation for this step is already declared")
            if not isinstance(comp, Step):
                raise WorkflowDefinitionError(f"expected a Step(...), not {comp!r}")
            self._compensate[step] = comp.to_def(compensation_name(step))
        except WorkflowDefinitionError as exc:
            raise self._error(exc.located(field=field)) from None
        return self

    def build(self) -> WorkflowDef:
        """The validated definition; raises WorkflowDefinitionError naming the exact place."""
        return WorkflowDef(
            name=self.name,
            version=self.version,
            steps=tuple(self._steps.values()),
            timeout_s=self._timeout_s,
            compensate=self._compensate,
            on_failure=self._on_failure,
            description=self._description,
            retention_s=self._retention_s,
        )
