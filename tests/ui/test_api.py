"""The UI's JSON API and its safety rules, over real HTTP against a real nats-server (no browser)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from jetjobs.ui import create_ui_app
from tests.helpers import eventually
from tests.ui.conftest import QUEUE, Stack

pytestmark = pytest.mark.timeout(60)


async def dead_letters(stack: Stack, count: int) -> list[Any]:
    async def enough() -> bool:
        return len(await stack.app.dead_letters.list(QUEUE)) >= count

    await eventually(enough)
    return await stack.app.dead_letters.list(QUEUE)


async def test_every_page_answers_json(stack: Any) -> None:
    s: Stack = await stack()
    job = await s.app.enqueue("double", args=[21])
    assert await job.result(timeout_s=10) == 42
    await s.app.enqueue("boom", args=["x"])
    (dead,) = await dead_letters(s, 1)
    async with httpx.AsyncClient(base_url=s.url) as http:
        overview = (await http.get("/api/")).json()
        assert overview["totals"]["dead"] == 1
        assert [q["queue"] for q in overview["queues"]] == [QUEUE]
        queues = (await http.get("/queues", headers={"Accept": "application/json"})).json()["queues"]
        assert queues[0]["processed"] >= 2
        assert queues[0]["paused"] is False
        jobs = (await http.get("/api/jobs", params={"queue": QUEUE, "state": "succeeded"})).json()
        assert [j["id"] for j in jobs["jobs"]] == [job.id]
        detail = (await http.get(f"/api/jobs/{job.id}")).json()
        assert detail["job"]["result"] == 42
        assert detail["job"]["state"] == "succeeded"
        assert (await http.get("/api/jobs/nope")).status_code == 404
        dead_page = (await http.get("/api/dead")).json()["dead_letters"]
        assert dead_page[0]["job_id"] == dead.job_id
        assert "boom: x" in dead_page[0]["error_message"]
        one = (await http.get(f"/api/dead/{dead.seq}")).json()
        assert one["payload"] == {"args": [], "kwargs": {"text": "x"}}
        assert "ValueError" in one["traceback"]
        workers = (await http.get("/api/workers")).json()["workers"]
        assert len(workers) == 1
        assert workers[0]["queues"] == {QUEUE: 64}
        assert workers[0]["stale"] is False
        assert (await http.get("/api/schedules")).json() == {"schedules": []}


async def test_search_by_id_and_prefix_with_paging(stack: Any) -> None:
    s: Stack = await stack()
    jobs = [await s.app.enqueue("double", args=[i], job_id=f"order-{i:02d}") for i in range(5)]
    for job in jobs:
        await job.result(timeout_s=10)
    async with httpx.AsyncClient(base_url=s.url) as http:
        exact = (await http.get("/api/jobs", params={"q": "order-03"})).json()
        assert exact["exact"]["id"] == "order-03"
        first = (await http.get("/api/jobs", params={"q": "order-", "limit": 2})).json()
        assert [j["id"] for j in first["jobs"]] == ["order-04", "order-03"]
        older = {"q": "order-", "limit": 2, "before": first["next_before"]}
        second = (await http.get("/api/jobs", params=older)).json()
        assert [j["id"] for j in second["jobs"]] == ["order-02", "order-01"]


async def test_safety_rules(stack: Any) -> None:
    s: Stack = await stack(worker=False)
    async with httpx.AsyncClient(base_url=s.url) as http:
        # state never changes on GET
        assert (await http.get(f"/queues/{QUEUE}/pause")).status_code == 405
        evil = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Accept": "application/json"}
        assert (await http.post(f"/queues/{QUEUE}/pause", headers=evil)).status_code == 403
        legacy = {"Origin": "http://evil.example", "Accept": "application/json"}  # no Sec-Fetch-Site
        assert (await http.post(f"/queues/{QUEUE}/pause", headers=legacy)).status_code == 403
        assert not (await http.get("/api/queues")).json()["queues"][0]["paused"]
        same = {"Origin": s.url, "Accept": "application/json"}
        assert (await http.post(f"/queues/{QUEUE}/pause", headers=same)).json()["ok"] is True
        assert (await http.get("/api/queues")).json()["queues"][0]["paused"] is True
        refused = await http.post("/dead/replay-all", data={"queue": QUEUE}, headers={"Accept": "application/json"})
        assert refused.status_code == 400  # bulk actions need confirm=yes


async def test_read_only_auth_and_basic_auth(stack: Any) -> None:
    ro: Stack = await stack(worker=False, read_only=True)
    async with httpx.AsyncClient(base_url=ro.url) as http:
        assert (await http.get("/queues")).status_code == 200
        assert (await http.post(f"/queues/{QUEUE}/pause")).status_code == 403
    locked: Stack = await stack(worker=False, auth=lambda request: request.headers.get("x-team") == "ops")
    async with httpx.AsyncClient(base_url=locked.url) as http:
        assert (await http.get("/api/queues")).status_code == 403
        assert (await http.get("/api/queues", headers={"x-team": "ops"})).status_code == 200
    basic: Stack = await stack(worker=False, basic_auth=("admin", "s3cret"))
    async with httpx.AsyncClient(base_url=basic.url) as http:
        denied = await http.get("/api/queues")
        assert denied.status_code == 401
        assert denied.headers["www-authenticate"].startswith("Basic")
        token = base64.b64encode(b"admin:s3cret").decode()
        assert (await http.get("/api/queues", headers={"Authorization": f"Basic {token}"})).status_code == 200
        # probes need no credentials and show nothing
        assert (await http.get("/healthz")).text == "ok"
        assert (await http.get("/readyz")).text == "ok"
        assert (await http.post("/healthz")).status_code == 401


async def test_redaction_hook_and_hidden_arguments(stack: Any) -> None:
    def redact(task: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"args": payload["args"], "kwargs": {k: "***" for k in payload["kwargs"]}}

    s: Stack = await stack(redact=redact)
    await s.app.enqueue("boom", args=["card 4111"])
    (dead,) = await dead_letters(s, 1)
    async with httpx.AsyncClient(base_url=s.url) as http:
        assert (await http.get(f"/api/dead/{dead.seq}")).json()["payload"] == {"args": [], "kwargs": {"text": "***"}}
        html = (await http.get(f"/dead/{dead.seq}")).text
        # the payload block shows the redacted value (the error message is the task's own text)
        assert "&#34;card 4111&#34;" not in html
        assert "&#34;text&#34;: &#34;***&#34;" in html
    hidden: Stack = await stack(worker=False, hide_args=True)
    async with httpx.AsyncClient(base_url=hidden.url) as http:
        assert (await http.get(f"/api/dead/{dead.seq}")).json()["payload"] is None


async def test_links_follow_the_mount_prefix(stack: Any) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    s: Stack = await stack(worker=False)
    host = Starlette(routes=[Mount("/ops/jobs-ui", create_ui_app(s.app))])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=host), base_url="http://test") as http:
        html = (await http.get("/ops/jobs-ui/queues")).text
        assert 'href="/ops/jobs-ui/jobs?queue=work"' in html
        assert 'src="/ops/jobs-ui/static/htmx.min.js"' in html
        assert 'action="/ops/jobs-ui/queues/work/pause?next=/ops/jobs-ui/queues"' in html
        assert (await http.get("/ops/jobs-ui/static/htmx.min.js")).status_code == 200
        moved = await http.post("/ops/jobs-ui/queues/work/pause?next=/ops/jobs-ui/queues")
        assert moved.status_code == 303
        assert moved.headers["location"].startswith("/ops/jobs-ui/queues?msg=")
        away = await http.post("/ops/jobs-ui/queues/work/resume?next=https://evil.example/")
        assert away.headers["location"].startswith("/ops/jobs-ui/queues?msg=")  # no open redirect
    # Behind a proxy that strips /jobs (uvicorn --root-path): links keep the prefix.
    stripped: Stack = await stack(worker=False, root_path="/jobs")
    async with httpx.AsyncClient(base_url=stripped.url) as http:
        assert 'href="/jobs/dead"' in (await http.get("/queues")).text
        back = await http.post("/queues/work/pause?next=/jobs/queues")
        assert back.headers["location"] == "/jobs/queues?msg=paused+queue+work"
    prefixed = create_ui_app(s.app, prefix="/jobs-ui")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=prefixed), base_url="http://test") as http:
        assert 'href="/jobs-ui/dead"' in (await http.get("/jobs-ui/")).text


async def test_replay_and_purge_all_matching_a_filter(stack: Any) -> None:
    s: Stack = await stack()
    for key in ("a", "b"):
        await s.app.enqueue("flaky", args=[key], job_id=f"flaky-{key}")
    await s.app.enqueue("boom", args=["keep me out"], job_id="boom-1")
    await dead_letters(s, 3)
    s.gates.healed.update({"a", "b"})
    headers = {"Accept": "application/json", "Origin": s.url}
    async with httpx.AsyncClient(base_url=s.url) as http:
        replayed = await http.post("/dead/replay-all", data={"task": "flaky", "confirm": "yes"}, headers=headers)
        assert replayed.json() == {"ok": True, "message": "replayed 2 dead letters", "count": 2}
        for key in ("a", "b"):
            assert await s.app.job(f"flaky-{key}").result(timeout_s=10) == f"healed {key}"
        purged = await http.post("/dead/purge-all", data={"error": "KEEP ME", "confirm": "yes"}, headers=headers)
        assert purged.json()["count"] == 1
    assert await s.app.dead_letters.list(QUEUE) == []
