"""Actions (POST only; the Guard middleware has already checked auth, read-only and origin).

Each answers JSON to API clients and redirects browsers back to the page they came from.
Bulk dead-letter actions need ``confirm=yes`` in the form, so a stray request cannot
replay or purge a whole queue.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from .. import transport
from .._names import check_queue_name
from ..errors import ConfigError, JetjobsError
from ._base import UIState, wants_json
from ._dead import BULK_LIMIT, DeadFilter, iter_dead
from ._workflows import RUN_ID_RE


async def form_fields(request: Request) -> dict[str, str]:
    """The posted ``application/x-www-form-urlencoded`` fields (what forms and htmx send);
    parsed here so the UI needs no multipart library."""
    body = (await request.body()).decode(errors="replace")
    return {k: v[-1] for k, v in parse_qs(body, max_num_fields=50).items()}


Action = Callable[[UIState, Request], Awaitable[Response]]
_FOREVER = timedelta(days=3650)


async def pause_queue(ui: UIState, request: Request) -> Response:
    app = await ui.ready()
    queue = check_queue_name(request.path_params["queue"])
    form = await form_fields(request)
    minutes = form.get("minutes", "")
    until = datetime.now(UTC) + (timedelta(minutes=float(minutes)) if minutes else _FOREVER)
    await transport.pause_queue(app.connection, queue, until)
    return ui.done(request, ui.url(request, "queues"), f"paused queue {queue}")


async def resume_queue(ui: UIState, request: Request) -> Response:
    app = await ui.ready()
    queue = check_queue_name(request.path_params["queue"])
    await transport.resume_queue(app.connection, queue)
    return ui.done(request, ui.url(request, "queues"), f"resumed queue {queue}")


async def replay(ui: UIState, request: Request) -> Response:
    app = await ui.ready()
    seq = int(request.path_params["seq"])
    job = await app.dead_letters.replay(seq)
    return ui.done(request, ui.url(request, "job", job_id=job.id), f"replayed {job.id}", job_id=job.id)


async def delete(ui: UIState, request: Request) -> Response:
    app = await ui.ready()
    seq = int(request.path_params["seq"])
    deleted = await app.dead_letters.delete(seq)
    return ui.done(request, ui.url(request, "dead"), f"deleted dead letter {seq}" if deleted else f"{seq} was gone")


async def _bulk(ui: UIState, request: Request, *, purge: bool) -> Response:
    app = await ui.ready()
    form = await form_fields(request)
    if form.get("confirm") != "yes":
        return ui.done(request, ui.url(request, "dead"), "bulk actions need confirm=yes", status=400)
    flt = DeadFilter(form.get("queue", ""), form.get("task", ""), form.get("error", ""))
    seqs = [dead.seq async for dead, _ in iter_dead(app, flt, BULK_LIMIT)]
    done = 0
    for seq in seqs:
        if purge:
            done += await app.dead_letters.delete(seq)
        else:
            await app.dead_letters.replay(seq)
            done += 1
    verb = "deleted" if purge else "replayed"
    return ui.done(request, ui.url(request, "dead"), f"{verb} {done} dead letters", count=done)


async def replay_all(ui: UIState, request: Request) -> Response:
    return await _bulk(ui, request, purge=False)


async def purge_all(ui: UIState, request: Request) -> Response:
    return await _bulk(ui, request, purge=True)


async def schedule_action(ui: UIState, request: Request) -> Response:
    app = await ui.ready()
    name, action = request.path_params["name"], request.path_params["action"]
    back = ui.url(request, "schedules")
    if action == "pause":
        await app.schedules.pause(name)
    elif action == "resume":
        await app.schedules.resume(name)
    elif action == "run":
        job = await app.schedules.run_now(name)
        return ui.done(request, back, f"enqueued {job.id}", job_id=job.id)
    elif action == "remove":
        await app.schedules.remove(name)
    else:
        return ui.done(request, back, f"unknown schedule action {action!r}", status=404)
    past = {"pause": "paused", "resume": "resumed", "remove": "removed"}[action]
    return ui.done(request, back, f"{past} schedule {name}")


async def cancel_job(ui: UIState, request: Request) -> Response:
    app = await ui.ready()
    job_id = request.path_params["job_id"]
    cancelled = await app.cancel(job_id)
    text = f"cancelled {job_id}" if cancelled else f"{job_id} is not waiting for its time any more"
    return ui.done(request, ui.url(request, "job", job_id=job_id), text)


async def cancel_workflow_run(ui: UIState, request: Request) -> Response:
    app = await ui.ready()
    run_id = request.path_params["run_id"]
    if not RUN_ID_RE.fullmatch(run_id):
        return ui.done(request, ui.url(request, "workflows"), f"{run_id!r} is not a workflow run id", status=404)
    run = await app.workflow_run(run_id)
    cancelled = await run.cancel()  # WorkflowNotFound: 409 with its message, like any JetjobsError
    text = f"cancelled run {run_id}" if cancelled else f"run {run_id} is {(await run.record()).state}: not cancelled"
    if request.headers.get("hx-request") and not wants_json(request):
        # Stay on the page: it refreshes in place (ui.js) and shows the message; no reload.
        return Response(status_code=204, headers={"HX-Trigger": json.dumps({"jetjobs-flash": text})})
    return ui.done(request, ui.url(request, "workflow_run", run_id=run_id), text, cancelled=cancelled)


def action_handler(ui: UIState, action: Action) -> Callable[[Request], Awaitable[Response]]:
    async def handle(request: Request) -> Response:
        try:
            return await action(ui, request)
        except ConfigError as exc:
            return ui.done(request, ui.url(request, "overview"), str(exc), status=400)
        except (JetjobsError, ValueError) as exc:
            return ui.done(request, ui.url(request, "overview"), str(exc), status=409)

    return handle


# (route name, path, action)
ACTIONS: tuple[tuple[str, str, Action], ...] = (
    ("queue_pause", "/queues/{queue}/pause", pause_queue),
    ("queue_resume", "/queues/{queue}/resume", resume_queue),
    ("dead_replay_all", "/dead/replay-all", replay_all),
    ("dead_purge_all", "/dead/purge-all", purge_all),
    ("dead_replay", "/dead/{seq:int}/replay", replay),
    ("dead_delete", "/dead/{seq:int}/delete", delete),
    ("schedule_action", "/schedules/{name}/{action}", schedule_action),
    ("job_cancel", "/jobs/{job_id}/cancel", cancel_job),
    ("workflow_cancel", "/workflows/{run_id}/cancel", cancel_workflow_run),
)
