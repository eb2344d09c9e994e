"""The worker of the workflow CLI tests: the order-processing tasks and workflow in one service.

    jetjobs worker tests.e2e.workflow_app:app

The CLI under test imports none of this: it reads the definition from the server.
"""

from __future__ import annotations

from jetjobs import App
from tests.workflow.orders import declare, register_tasks

app = App("wf-orders")
register_tasks(app, calls=[])
declare(app)
