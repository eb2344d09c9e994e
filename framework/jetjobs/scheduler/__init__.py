"""Periodic schedules and the scheduler service.

``@app.periodic(...)`` and ``app.register_periodic(...)`` declare schedules in
code; ``app.schedules`` manages dynamic ones at runtime; ``jetjobs scheduler
module:app`` (``Scheduler``) fires them, safely with several replicas.
"""

from ._fire import fire_job_id, jitter_offset, next_fire, previous_fires, to_publish
from ._registry import ScheduleInfo, Schedules
from ._service import Scheduler
from ._spec import ScheduleDefinition, build_definition, crontab

__all__ = [
    "ScheduleDefinition",
    "ScheduleInfo",
    "Scheduler",
    "Schedules",
    "build_definition",
    "crontab",
    "fire_job_id",
    "jitter_offset",
    "next_fire",
    "previous_fires",
    "to_publish",
]
