"""An AsyncAPI 3.0.0 document of the catalog: queues as channels, tasks as messages.

Another team can generate a client from it (AsyncAPI generator, Modelina): each task is a
message on its queue's subjects, with the body schema (``{"args": [...], "kwargs": {...}}``,
``kwargs`` described by the task's argument schema) and the jetjobs headers; each task's status
record (with its result schema) is a message on the status bucket's key subject.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .._catalog import CatalogEntry
from .._names import PRIORITIES, Names
from .._status import JobState
from .._wire import CONTENT_TYPE, H_ENQUEUED_AT, H_JOB_ID, H_MAX_RETRIES, H_MSG_ID, H_TASK, H_TASK_VERSION, H_TIMEOUT

ASYNCAPI_VERSION = "3.0.0"
_ID_RE = re.compile(r"[^A-Za-z0-9_.-]")


def _id(text: str) -> str:
    """A component or channel id (AsyncAPI allows ``[A-Za-z0-9_.-]``)."""
    return _ID_RE.sub("_", text)


def document(
    entries: Sequence[CatalogEntry],
    names: Names,
    *,
    title: str = "jetjobs tasks",
    version: str = "1",
    server: str | None = None,
    priorities: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of ``entries`` (``priorities``: queue -> priorities offered).

    Example::

        doc = document(await app.catalog.entries(), app.connection.names, server="nats://nats:4222")
        json.dump(doc, open("jobs.asyncapi.json", "w"), indent=2)
    """
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for entry in entries:
        key = _id(entry.name)
        messages[key] = _job_message(entry, _hoist(entry.arguments, key, schemas))
        messages[f"{key}.status"] = _status_message(entry, _hoist(entry.result, f"{key}.result", schemas))
    by_queue: dict[str, list[CatalogEntry]] = {}
    for entry in entries:
        by_queue.setdefault(entry.queue, []).append(entry)
    for queue, tasks in sorted(by_queue.items()):
        offered = (priorities or {}).get(queue, PRIORITIES)
        for priority in offered:
            channel = _id(f"{queue}.{priority}")
            channels[channel] = {
                "address": names.subject(queue, priority),  # type: ignore[arg-type]
                "title": f"queue {queue} ({priority})",
                "description": f"Jobs of queue {queue!r} at priority {priority}; stream {names.stream(queue)}.",
                "messages": {_id(t.name): {"$ref": f"#/components/messages/{_id(t.name)}"} for t in tasks},
            }
            for task in tasks:
                operations[_id(f"enqueue.{task.name}.{priority}")] = {
                    "action": "send",
                    "title": f"enqueue {task.name} ({priority})",
                    "channel": {"$ref": f"#/channels/{channel}"},
                    "messages": [{"$ref": f"#/channels/{channel}/messages/{_id(task.name)}"}],
                }
    channels["status"] = {
        "address": f"$KV.{names.status_bucket}.{{jobId}}",
        "title": "job status records",
        "description": "The status bucket's key of each job: watch it for the job's state and result.",
        "parameters": {"jobId": {"description": "the job id (the Jetjobs-Job-Id header)"}},
        "messages": {f"{_id(e.name)}.status": {"$ref": f"#/components/messages/{_id(e.name)}.status"} for e in entries},
    }
    operations["watch.status"] = {
        "action": "receive",
        "title": "watch a job's status",
        "channel": {"$ref": "#/channels/status"},
        "messages": [{"$ref": f"#/channels/status/messages/{_id(e.name)}.status"} for e in entries],
    }
    doc: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "Job messages of the tasks in the jetjobs catalog (docs/wire-protocol.md).",
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": channels,
        "operations": operations,
        "components": {"schemas": {**schemas, "JobHeaders": _HEADERS}, "messages": messages},
    }
    if server:
        host = server.split("://", 1)[-1]
        doc["servers"] = {"nats": {"host": host, "protocol": "nats", "description": "NATS with JetStream"}}
    return doc


def _job_message(entry: CatalogEntry, arguments: dict[str, Any]) -> dict[str, Any]:
    headers = {
        "allOf": [
            {"$ref": "#/components/schemas/JobHeaders"},
            {"type": "object", "properties": {H_TASK: {"type": "string", "const": entry.name}}},
        ]
    }
    options = {k: v for k, v in entry.options.items() if isinstance(v, str | int | float | bool) or v is None}
    return {
        "name": entry.name,
        "title": entry.name,
        "summary": entry.description or f"task {entry.name}",
        "contentType": CONTENT_TYPE,
        "headers": headers,
        "payload": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "args": {"type": "array", "description": "positional-only arguments and *args; usually empty"},
                "kwargs": arguments or {"type": "object"},
            },
        },
        "x-jetjobs": {"queue": entry.queue, "priority": entry.priority, "version": entry.version, **options},
    }


def _status_message(entry: CatalogEntry, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": f"{entry.name}.status",
        "title": f"status of a {entry.name} job",
        "contentType": CONTENT_TYPE,
        "payload": {
            "type": "object",
            "required": ["id", "state", "task", "queue"],
            "properties": {
                "id": {"type": "string"},
                "state": {"type": "string", "enum": [s.value for s in JobState]},
                "task": {"type": "string", "const": entry.name},
                "queue": {"type": "string"},
                "attempts": {"type": "integer"},
                "result": result or {},
                "error": {"type": ["object", "null"]},
            },
        },
    }


_HEADERS: dict[str, Any] = {
    "type": "object",
    "required": [H_MSG_ID, H_JOB_ID, H_TASK],
    "properties": {
        H_MSG_ID: {"type": "string", "description": "the job id: JetStream de-duplicates on it"},
        H_JOB_ID: {"type": "string", "description": "the job id again (the server strips Nats-Msg-Id on schedules)"},
        H_TASK: {"type": "string", "description": "the task name"},
        H_TASK_VERSION: {"type": "string"},
        H_ENQUEUED_AT: {"type": "string", "format": "date-time"},
        H_TIMEOUT: {"type": "string", "description": "seconds, a decimal number"},
        H_MAX_RETRIES: {"type": "string", "description": "an integer"},
        "Content-Type": {"type": "string", "const": CONTENT_TYPE},
        "traceparent": {"type": "string", "description": "W3C trace context"},
        "tracestate": {"type": "string"},
    },
    "additionalProperties": {"type": "string", "description": "Jetjobs-Meta-<key>: user metadata"},
}


def _hoist(schema: Mapping[str, Any], prefix: str, into: dict[str, Any]) -> dict[str, Any]:
    """Move pydantic's ``$defs`` into ``components.schemas`` (refs resolve from the document root)
    and write ``prefixItems`` as draft-07 tuple ``items``, the schema dialect AsyncAPI 3.0 reads."""
    defs = schema.get("$defs", {})
    targets = {f"#/$defs/{name}": f"#/components/schemas/{_id(f'{prefix}.{name}')}" for name in defs}
    for name, sub in defs.items():
        into[_id(f"{prefix}.{name}")] = _rewrite(sub, targets)
    return _rewrite({k: v for k, v in schema.items() if k != "$defs"}, targets)  # type: ignore[no-any-return]


def _rewrite(node: Any, targets: Mapping[str, str]) -> Any:
    if isinstance(node, list):
        return [_rewrite(item, targets) for item in node]
    if not isinstance(node, Mapping):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = targets.get(value, value)
        elif key == "prefixItems":
            out["items"] = _rewrite(value, targets)
            if "items" not in node:
                out["additionalItems"] = False
        elif key == "items" and "prefixItems" in node:
            out["additionalItems"] = _rewrite(value, targets)
        else:
            out[key] = _rewrite(value, targets)
    return out
