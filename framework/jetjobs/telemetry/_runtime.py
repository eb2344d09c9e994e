"""What every long-running service process gets: the loop watchdog and, with a port, the HTTP endpoints."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import CodeType
from typing import TYPE_CHECKING, Any, Protocol

from . import _metrics
from ._http import HealthServer
from ._watchdog import LoopWatchdog

if TYPE_CHECKING:
    from .._settings import Settings
    from .._task import Task

log = logging.getLogger("jetjobs.telemetry")


class RuntimeApp(Protocol):
    """What a service runtime reads of its app: the tasks (to name a blocking one) and the settings."""

    @property
    def tasks(self) -> Mapping[str, Task[..., Any]]: ...
    @property
    def settings(self) -> Settings: ...


class ServiceRuntime:
    """Start with the service, stop with it.

    Example::

        runtime = ServiceRuntime(app, port=9464, ready=lambda: worker.ready)
        await runtime.start()
    """

    def __init__(self, app: RuntimeApp, *, port: int | None, ready: Callable[[], bool]) -> None:
        self._app = app
        self.watchdog = LoopWatchdog(self._task_codes)
        self.http = (
            HealthServer(port, host=app.settings.metrics_host, ready=ready, alive=self.watchdog.healthy)
            if port is not None
            else None
        )

    def _task_codes(self) -> dict[CodeType, str]:
        codes = {}
        for name, task in self._app.tasks.items():
            code = getattr(task.fn, "__code__", None)
            if code is not None:
                codes[code] = name
        return codes

    async def start(self) -> None:
        settings = self._app.settings
        _metrics.configure(settings.metrics_namespace, settings.metrics_labels)
        self.watchdog.start()
        if self.http is not None:
            await self.http.start()

    async def stop(self) -> None:
        self.watchdog.stop()
        if self.http is not None:
            await self.http.stop()
