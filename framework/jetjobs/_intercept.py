"""Publish interceptors: what the producer shows them of a job it is about to publish.

A value module, so that an interceptor (tracing, in ``telemetry``) and the
producer that calls it need not import each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Outgoing:
    """A job about to be published; interceptors (tracing) may add headers."""

    job_id: str
    task: str
    queue: str
    priority: str
    subject: str
    headers: dict[str, str]


PublishInterceptor = Callable[[Outgoing], contextlib.AbstractContextManager[Any]]
"""Entered around each publish (the headers it leaves in ``Outgoing`` are sent)."""
