"""Workflow definitions: a DAG of steps, written in Python or YAML, validated when built.

This package is pure (no NATS): it defines, validates, serializes and draws workflows;
the engine runs them. See docs/workflows.md.

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

from ._builder import Step, Workflow
from ._errors import TemplateError, WorkflowDefinitionError
from ._model import OnFailure, StepDef, StepRetry, TriggerRule, WorkflowDef
from ._names import compensation_name, version_from_token, version_token
from ._render import render_dag
from ._template import render, template_refs
from ._yaml import load_workflows_yaml

__all__ = [
    "OnFailure",
    "Step",
    "StepDef",
    "StepRetry",
    "TemplateError",
    "TriggerRule",
    "Workflow",
    "WorkflowDef",
    "WorkflowDefinitionError",
    "compensation_name",
    "load_workflows_yaml",
    "render",
    "render_dag",
    "template_refs",
    "version_from_token",
    "version_token",
]
