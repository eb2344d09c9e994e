"""Sub-runs: a step whose task hands its work to a workflow of its own (``execute_subtask``).

The task returns the value of ``execute_subtask(...)``; the worker then starts the
sub-run, linked to the step, and acknowledges the step's job: the step waits
without holding a worker slot (so a composite task on a queue with concurrency 1
cannot deadlock on its own subtasks), and completes with the sub-run's result.
"""

from __future__ import annotations

from typing import Any

from .._canvas import Canvas
from .._context import current_job
from .._wire import H_WORKFLOW_RUN
from ..errors import JetjobsError
from ._canvas import compile_canvas
from ._model import WorkflowDef

SUBRUN_KEY = "$jetjobs_subrun"
SUBRUN_MARKER = b'{"' + SUBRUN_KEY.encode() + b'"'


class SubRun(dict[str, Any]):
    """What a task returns to run a sub-workflow; see ``execute_subtask``."""


def execute_subtask(work: Canvas | WorkflowDef, input: Any = None) -> SubRun:
    """Run ``work`` (a canvas, or a workflow definition) as a sub-run of the current step.

    Return its value from the task (annotate the task ``-> Any`` or leave it unannotated);
    the step completes when the sub-run ends, with its result, or fails with its error.
    Only a workflow step can do this (start it with ``app.enqueue(task.s(...))``).

    Example::

        @app.task(queue="orders")
        async def ship_order(order_id: str):
            return execute_subtask(chain(pick.s(order_id), pack.s(), label.s()))
    """
    job = current_job()
    if H_WORKFLOW_RUN not in job.headers:
        raise JetjobsError(
            f"execute_subtask in job {job.id} ({job.task}): only a workflow step can start a sub-run; "
            "enqueue the task as one, e.g. app.enqueue(task.s(...))"
        )
    if isinstance(work, WorkflowDef):
        definition, run_input = work, input
    else:
        compiled = compile_canvas(work)
        definition, run_input = compiled.definition, {**compiled.input, **(input or {})}
    return SubRun({SUBRUN_KEY: {"definition": definition.to_json(), "input": run_input}})
