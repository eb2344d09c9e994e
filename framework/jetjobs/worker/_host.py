"""What the worker uses of the app it runs (``App`` is one), as Protocols.

The worker is handed an App by its users (``Worker(app)``), but it depends only
on these members, so ``worker/`` never imports the App (see docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .. import transport
    from .._hooks import Hooks
    from .._link import Link
    from .._middleware import Middleware
    from .._settings import QueueConfig, Settings
    from .._task import Task
    from ._steps import StepGuard


class ExecutorApp(Protocol):
    """The executor's view: the tasks and what wraps and observes them."""

    @property
    def name(self) -> str: ...
    @property
    def tasks(self) -> Mapping[str, Task[..., Any]]: ...
    @property
    def middleware(self) -> Sequence[Middleware]: ...
    @property
    def hooks(self) -> Sequence[Hooks]: ...


class WorkerApp(ExecutorApp, Protocol):
    """The worker service's view: settings, queues, lifecycle and the link to NATS."""

    @property
    def settings(self) -> Settings: ...
    @property
    def link(self) -> Link: ...
    @property
    def connection(self) -> transport.Connection: ...
    @property
    def status_store(self) -> transport.StatusStore: ...

    def queue_names(self) -> list[str]: ...
    def queue_config(self, name: str) -> QueueConfig: ...
    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def provision(self, queues: Iterable[str] | None = None, *, strict: bool = True) -> list[str]: ...
    async def workflow_guard(self) -> StepGuard: ...
