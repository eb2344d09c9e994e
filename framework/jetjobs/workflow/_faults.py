"""Named fault-injection points of the workflow engine, for crash tests.

Set ``JJ_FAULT_POINT`` to one of ``POINTS`` and the process kills itself
with SIGKILL the first time it reaches that point: no cleanup, no ack, exactly
what a crashed worker leaves behind. Unset, a point costs one comparison.
"""

from __future__ import annotations

import os
import signal

POINTS = (
    "start.after_meta",  # execute_workflow: run record stored, no step enqueued yet
    "step.after_fence",  # a step marked running, its task not run yet
    "advance.after_output",  # step output and state stored, children not triggered
    "advance.after_count",  # a fan-in counter incremented, child not triggered
    "advance.after_trigger",  # a child's trigger marker created, child job not published
    "advance.before_ack",  # children published, the step's message not acknowledged
    "fail.after_step",  # a failed step's state stored, the run not failed yet
    "compensate.after_state",  # the run is compensating, no compensation enqueued yet
)

_ARMED = os.environ.get("JJ_FAULT_POINT", "")


def fault(point: str) -> None:
    """Crash here if this point is armed (see module docstring)."""
    if _ARMED and point == _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
