"""Run and step records, and their transitions as pure tables.

The engine that talks to NATS only carries out what these functions decide:
``gate`` says what a worker does with a step delivery, ``run_transition`` what a
run becomes on an event. Both are tested from tables, with no server.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal


class RunState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    COMPENSATION_FAILED = "compensation_failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def terminal(self) -> bool:
        return self not in (RunState.RUNNING, RunState.COMPENSATING)


class StepState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (StepState.SUCCEEDED, StepState.FAILED, StepState.CANCELLED)


RunEvent = Literal["sinks_done", "step_failed", "timeout", "cancel", "compensation_done", "compensation_failed"]
Gate = Literal["run", "skip", "advance", "cancel"]


def run_transition(state: RunState, event: RunEvent, *, compensable: bool = False) -> RunState | None:
    """What a run becomes on ``event``; None when the event changes nothing (e.g. a late one).

    ``compensable``: the run has completed steps that declare a compensation.
    A timeout that lands while compensation runs does not stop it.
    """
    if state == RunState.RUNNING:
        if event == "sinks_done":
            return RunState.SUCCEEDED
        if event == "step_failed":
            return RunState.COMPENSATING if compensable else RunState.FAILED
        if event == "timeout":
            return RunState.COMPENSATING if compensable else RunState.TIMED_OUT
        if event == "cancel":
            return RunState.CANCELLED
        return None
    if state == RunState.COMPENSATING:
        if event == "compensation_done":
            return RunState.COMPENSATED
        if event == "compensation_failed":
            return RunState.COMPENSATION_FAILED
    return None


def gate(run: RunState, step: StepState | None, *, same_delivery: bool, compensation: bool) -> Gate:
    """The start fence: what a worker does with a delivery of a step.

    ``run`` runs the task; ``skip`` acks without running (a duplicate, or a step
    that already ended); ``advance`` replays the completion of a step that succeeded
    but whose worker died before it acknowledged; ``cancel`` marks a step of a run
    that ended as cancelled. A redelivery of the same message (same stream sequence)
    may take a running step over; another message of the same step may not.
    """
    active = RunState.COMPENSATING if compensation else RunState.RUNNING
    if step == StepState.SUCCEEDED:
        return "advance" if run == active else "skip"
    if step is not None and step.terminal:
        return "skip"
    if run != active:
        return "cancel"
    if step in (None, StepState.QUEUED):
        return "run"
    return "run" if same_delivery else "skip"


@dataclass(frozen=True, slots=True)
class StepError:
    type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True, slots=True)
class RunRecord:
    """``<run>.meta``: the run's identity and state (the one linearization point).

    ``input`` and ``context`` are stored apart, under ``<run>.input``; a decoded record has None there.
    """

    run_id: str
    name: str
    version: str
    def_hash: str
    state: RunState
    input: Any
    context: Any
    started_at: str
    updated_at: str
    finished_at: str | None = None
    deadline: str | None = None
    cause: str | None = None  # why it failed / is compensating: "failed" or "timed_out"
    failed_step: str | None = None
    error: StepError | None = None
    compensation: tuple[str, ...] = ()  # steps to compensate, in order
    timeout_job: tuple[str, str] | None = None  # (queue, job id) of the timeout
    parent: tuple[str, str] | None = None  # (run id, step) of a parent run
    trace: dict[str, str] = field(default_factory=dict)  # traceparent/tracestate of the run's start span

    def encode(self) -> bytes:
        """The record without input and context: those live in ``<run>.input`` (written once), so
        the record every step reads stays small however large the input is."""
        data = asdict(self)
        data["state"] = self.state.value
        del data["input"], data["context"]
        return json.dumps(data, separators=(",", ":")).encode()

    def encode_input(self) -> bytes:
        return json.dumps({"input": self.input, "context": self.context}, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> RunRecord:
        raw = json.loads(data)
        raw.setdefault("input", None)
        raw.setdefault("context", None)
        raw["state"] = RunState(raw["state"])
        raw["error"] = StepError(**raw["error"]) if raw.get("error") else None
        raw["compensation"] = tuple(raw.get("compensation") or ())
        raw["timeout_job"] = tuple(raw["timeout_job"]) if raw.get("timeout_job") else None
        raw["parent"] = tuple(raw["parent"]) if raw.get("parent") else None
        return cls(**raw)

    def evolve(self, **changes: Any) -> RunRecord:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class StepRecord:
    """``<run>.st.<step>``: one step's state, attempts, timings and output or error."""

    state: StepState
    task: str
    job_id: str
    attempt: int = 0
    seq: int = 0  # stream sequence of the message that runs it (the start fence)
    queue: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    output: Any = None
    output_ref: dict[str, Any] | None = None  # {"object": name, "size": n, "sha256": hex}
    error: StepError | None = None
    history: tuple[dict[str, Any], ...] = field(default=())  # earlier attempts' errors
    child_run: str | None = None  # a sub-run this step waits for (execute_subtask)

    def encode(self) -> bytes:
        data = asdict(self)
        data["state"] = self.state.value
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, data: bytes) -> StepRecord:
        raw = json.loads(data)
        raw["state"] = StepState(raw["state"])
        raw["error"] = StepError(**raw["error"]) if raw.get("error") else None
        raw["history"] = tuple(raw.get("history") or ())
        return cls(**raw)

    def evolve(self, **changes: Any) -> StepRecord:
        return replace(self, **changes)
