"""The pages: each a read that returns data, rendered as HTML or as JSON (``/api/...`` or
``Accept: application/json``). Nothing here changes state."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .._wire import to_iso
from ..errors import JetjobsError, JobNotFound
from ._base import UIState, int_param
from ._dead import DeadFilter, dead_detail, list_dead
from ._jobs import STATES, JobFilter, job_detail, list_jobs
from ._queues import queue_rows
from ._workers import worker_rows
from ._workflows import RUN_STATES, list_runs, run_detail

Handler = Callable[[Request], Awaitable[Response]]
Read = Callable[[UIState, Request], Awaitable[tuple[dict[str, Any], int]]]


async def overview(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    queues = await queue_rows(app, ui.throughput)
    recent = await list_jobs(app, JobFilter(state="failed"), 10, window=ui.config.scan_window, budget=1000)
    workers = await worker_rows(app)
    rates = [q["per_minute"] for q in queues if q["per_minute"] is not None]
    totals = {
        "queues": len(queues),
        "backlog": sum(q["backlog"] for q in queues),
        "in_flight": sum(q["in_flight"] for q in queues),
        "dead": sum(q["dead"] for q in queues),
        "processed": sum(q["processed"] for q in queues),
        "per_minute": round(sum(rates), 1) if rates else None,
        "workers": sum(1 for w in workers if not w["stale"]),
        "stale_workers": sum(1 for w in workers if w["stale"]),
    }
    return {"totals": totals, "queues": queues, "recent_failures": recent["jobs"]}, 200


async def queues(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    return {"queues": await queue_rows(app, ui.throughput)}, 200


async def jobs(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    params = request.query_params
    state = params.get("state", "")
    flt = JobFilter(
        queue=params.get("queue", ""),
        state=state if state in STATES else "",
        q=params.get("q", "").strip(),
        before=int_param(request, "before"),
    )
    limit = int_param(request, "limit", ui.config.page_size, 1, 500)
    data = await list_jobs(app, flt, limit, window=ui.config.scan_window, budget=ui.config.scan_budget)
    data["states"] = list(STATES)
    return data, 200


async def job(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    job_id = request.path_params["job_id"]
    detail = await job_detail(app, ui.config, job_id)
    if detail is None:
        return {"error": f"no status stored for job {job_id!r} (never enqueued, or expired)"}, 404
    detail["result_json"] = json.dumps(detail["job"].get("result"), indent=2, default=str)
    detail["payload_json"] = json.dumps(detail["payload"], indent=2, default=str) if detail["payload"] else None
    return detail, 200


async def dead(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    params = request.query_params
    flt = DeadFilter(
        params.get("queue", ""), params.get("task", ""), params.get("error", ""), int_param(request, "after")
    )
    limit = int_param(request, "limit", ui.config.page_size, 1, 500)
    data = await list_dead(app, ui.config, flt, limit)
    data["filter_active"] = flt.active
    return data, 200


async def dead_one(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    seq = int(request.path_params["seq"])
    try:
        info = await app.dead_letters.get(seq)
    except JobNotFound:
        return {"error": f"no dead letter with sequence {seq} (replayed or deleted?)"}, 404
    detail = dead_detail(ui.config, info)
    detail["payload_json"] = json.dumps(detail["payload"], indent=2, default=str) if detail["payload"] else None
    return detail, 200


async def schedules(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    try:
        infos = await app.schedules.list()
    except JetjobsError as exc:
        return {"schedules": [], "error": str(exc)}, 200
    rows = [
        {
            "name": i.definition.name,
            "task": i.definition.task,
            "queue": i.definition.queue,
            "schedule": i.definition.describe(),
            "source": i.definition.source,
            "paused": i.definition.paused,
            "last_fire": to_iso(i.last_fire) if i.last_fire else None,
            "last_job_id": i.last_job_id,
            "next_fire": to_iso(i.next_fire) if i.next_fire else None,
        }
        for i in infos
    ]
    return {"schedules": rows}, 200


async def workers(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    return {"workers": await worker_rows(app)}, 200


async def workflows(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    params = request.query_params
    state = params.get("state", "")
    name = params.get("name", "").strip()
    limit = int_param(request, "limit", ui.config.page_size, 1, 500)
    state = state if state in RUN_STATES else ""
    try:
        return await list_runs(app, name, state, limit), 200
    except JetjobsError as exc:
        empty = {"filter": {"name": name, "state": state}, "runs": [], "limit": limit, "states": list(RUN_STATES)}
        return {**empty, "error": str(exc)}, 200


async def workflow_run(ui: UIState, request: Request) -> tuple[dict[str, Any], int]:
    app = await ui.ready()
    run_id = request.path_params["run_id"]
    detail = await run_detail(app, run_id)
    if detail is None:
        return {"error": f"no workflow run {run_id!r} (never started, or expired after its retention)"}, 404
    return detail, 200


# (route name, path, read, template)
PAGES: tuple[tuple[str, str, Read, str], ...] = (
    ("overview", "/", overview, "overview.html"),
    ("queues", "/queues", queues, "queues.html"),
    ("jobs", "/jobs", jobs, "jobs.html"),
    ("job", "/jobs/{job_id}", job, "job.html"),
    ("dead", "/dead", dead, "dead.html"),
    ("dead_one", "/dead/{seq:int}", dead_one, "dead_one.html"),
    ("schedules", "/schedules", schedules, "schedules.html"),
    ("workers", "/workers", workers, "workers.html"),
    ("workflows", "/workflows", workflows, "workflows.html"),
    ("workflow_run", "/workflows/{run_id}", workflow_run, "workflow_run.html"),
)


def page_handler(ui: UIState, read: Read, template: str, *, api: bool) -> Handler:
    async def handle(request: Request) -> Response:
        data, status = await read(ui, request)
        return ui.respond(request, template, data, api=api, status=status)

    return handle
