"""Structured logs: every record made while a job runs carries its id, task and attempt."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._context import _current

# Extra fields added to each record (telemetry registers trace_id/span_id here).
FieldSource = Callable[[], dict[str, Any]]
_field_sources: list[FieldSource] = []


def add_field_source(source: FieldSource) -> None:
    if source not in _field_sources:
        _field_sources.append(source)


class JobFields(logging.Filter):
    """Adds job_id, task, attempt (and registered fields) to records made inside a job."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = _current.get(None)
        if job is not None:
            record.job_id = job.id
            record.task = job.task
            record.attempt = job.attempt
        for source in _field_sources:
            for key, value in source().items():
                setattr(record, key, value)
        return True


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s%(job)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        job_id = getattr(record, "job_id", None)
        task, attempt = getattr(record, "task", "?"), getattr(record, "attempt", "?")
        record.job = f" [job={job_id} task={task} attempt={attempt}]" if job_id else ""
        return super().format(record)


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Log to stderr as text or JSON lines, with job fields."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(JobFields())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("nats").setLevel(logging.CRITICAL)  # connection noise; jetjobs logs what matters
    logging.Formatter.converter = time.gmtime


Redact = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]
"""``(task, {"args": [...], "kwargs": {...}}) -> what to log``: the hook of ``log_arguments``."""

_SECRET_RE = re.compile(r"pass(word|wd)?|secret|token|api_?key|auth|credential|private|cookie|session", re.I)
MASK = "***"


def redact_secrets(task: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The default redaction: mask every value whose key looks secret, at any depth.

    >>> redact_secrets("login", {"args": [], "kwargs": {"user": "ada", "password": "x", "opts": {"api_key": "k"}}})
    {'args': [], 'kwargs': {'user': 'ada', 'password': '***', 'opts': {'api_key': '***'}}}
    """
    return {key: _mask(value) for key, value in arguments.items()}


def _mask(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: MASK if isinstance(k, str) and _SECRET_RE.search(k) else _mask(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value
