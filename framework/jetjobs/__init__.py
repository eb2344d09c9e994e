"""jetjobs: background jobs, schedules and workflows on NATS JetStream.

Example::

    from jetjobs import App, Retry

    app = App("billing")

    @app.task(queue="emails", max_retries=5)
    async def send_email(to: str, subject: str) -> dict:
        ...

    async with app:
        job = await send_email.enqueue("a@example.com", subject="hi")
        print(await job.result(timeout_s=10))
"""

from ._app import App
from ._catalog import CatalogEntry
from ._context import JobContext, current_job
from ._dead_letters import DeadLetterInfo, DeadLetters
from ._hooks import Hooks
from ._job import Job
from ._middleware import CallNext, Middleware
from ._names import Priority
from ._outcome import Cancelled, DeadLetter, ErrorInfo, Outcome, Requeue, RetryLater, Succeeded
from ._retry import RetryPolicy, retry_delay
from ._settings import QueueConfig, Settings, load_settings
from ._status import JobError, JobInfo, JobState, Progress
from ._task import BoundTask, EnqueueOptions, JobRequest, Task, TaskSpec
from .errors import (
    Cancel,
    ConfigError,
    ConnectionFailed,
    DuplicateJob,
    InvalidPayload,
    JetjobsError,
    JobCancelled,
    JobFailed,
    JobNotFound,
    JobTimeout,
    OutputTooLarge,
    PayloadTooLarge,
    PermissionDenied,
    QueueFull,
    ResourceLimitExceeded,
    ResultTimeout,
    Retry,
    ServerTooOld,
    UnknownTask,
    WorkflowFailed,
    WorkflowNotFound,
)
from .worker import Worker
from .worker._pull import Consumer, HeldJob
from .workflow import (
    BatchTask,
    MemberFailed,
    Pipeline,
    RunStatus,
    Step,
    StepRetry,
    TaskGraph,
    TaskGroup,
    Workflow,
    WorkflowDef,
    WorkflowDefinitionError,
    WorkflowRun,
    chain,
    chord,
    execute_subtask,
    group,
)

__version__ = "0.1.0"

__all__ = [
    "App",
    "BatchTask",
    "BoundTask",
    "CallNext",
    "Cancel",
    "Cancelled",
    "CatalogEntry",
    "ConfigError",
    "ConnectionFailed",
    "Consumer",
    "DeadLetter",
    "DeadLetterInfo",
    "DeadLetters",
    "DuplicateJob",
    "EnqueueOptions",
    "ErrorInfo",
    "HeldJob",
    "Hooks",
    "InvalidPayload",
    "JetjobsError",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobError",
    "JobFailed",
    "JobInfo",
    "JobNotFound",
    "JobRequest",
    "JobState",
    "JobTimeout",
    "MemberFailed",
    "Middleware",
    "Outcome",
    "OutputTooLarge",
    "PayloadTooLarge",
    "PermissionDenied",
    "Pipeline",
    "Priority",
    "Progress",
    "QueueConfig",
    "QueueFull",
    "Requeue",
    "ResourceLimitExceeded",
    "ResultTimeout",
    "Retry",
    "RetryLater",
    "RetryPolicy",
    "RunStatus",
    "ServerTooOld",
    "Settings",
    "Step",
    "StepRetry",
    "Succeeded",
    "Task",
    "TaskGraph",
    "TaskGroup",
    "TaskSpec",
    "UnknownTask",
    "Worker",
    "Workflow",
    "WorkflowDef",
    "WorkflowDefinitionError",
    "WorkflowFailed",
    "WorkflowNotFound",
    "WorkflowRun",
    "__version__",
    "chain",
    "chord",
    "current_job",
    "execute_subtask",
    "group",
    "load_settings",
    "retry_delay",
]
