"""Workflow definitions: a DAG of steps, written in Python or YAML, validated when built.

Definitions are pure (no NATS): they are defined, validated, serialized and drawn here;
the engine (``_engine``, ``_guard``) runs them on JetStream. See docs/workflows.md.

Example::

    from jetjobs.workflow import Step, StepRetry, Workflow

    wf = Workflow("order-processing", version="1.0", timeout_s=1800,
                  compensate={"process-payment": Step("refund_payment", input={"order_id": "{{input.order_id}}"})})
    wf.step("validate-order", "validate_order", input={"order_id": "{{input.order_id}}"},
            retry=StepRetry(max_attempts=3, backoff="linear"))
    wf.step("process-payment", "process_payment", depends_on=["validate-order"],
            input={"order_id": "{{input.order_id}}", "amount": "{{tasks.validate-order.output.amount}}"},
            retry_on=["TransientError"])
    wf.step("fulfill-order", "fulfill_order", depends_on=["process-payment"])
    definition = wf.build()
"""

from __future__ import annotations

from .._canvas import Canvas, Chain, Group, Signature, chain, chord, group, signature
from ._builder import Step, Workflow
from ._canvas import Compiled, compile_canvas
from ._errors import TemplateError, WorkflowDefinitionError
from ._log import RunEvent
from ._model import OnFailure, StepDef, StepRetry, TriggerRule, WorkflowDef
from ._names import compensation_name, version_from_token, version_token
from ._patterns import BatchTask, MemberFailed, Pipeline, TaskGraph, TaskGroup
from ._render import render_dag
from ._runs import RunStatus, StepStatus, WorkflowRun
from ._subrun import SubRun, execute_subtask
from ._template import render, template_refs
from ._yaml import load_workflows_yaml

__all__ = [
    "BatchTask",
    "Canvas",
    "Chain",
    "Compiled",
    "Group",
    "MemberFailed",
    "OnFailure",
    "Pipeline",
    "RunEvent",
    "RunStatus",
    "Signature",
    "Step",
    "StepDef",
    "StepRetry",
    "StepStatus",
    "SubRun",
    "TaskGraph",
    "TaskGroup",
    "TemplateError",
    "TriggerRule",
    "Workflow",
    "WorkflowDef",
    "WorkflowDefinitionError",
    "WorkflowRun",
    "chain",
    "chord",
    "compensation_name",
    "compile_canvas",
    "execute_subtask",
    "group",
    "load_workflows_yaml",
    "render",
    "render_dag",
    "signature",
    "template_refs",
    "version_from_token",
    "version_token",
]
