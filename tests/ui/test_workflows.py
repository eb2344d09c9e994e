"""The workflows pages in a real headless Chromium and over plain HTTP, against a real nats-server,
an in-process worker and real workflow runs: a fan-out that succeeds, the same workflow failing
and compensating, and a run cancelled from its page. Saves docs/ui/workflows.png and
docs/ui/workflow-run.png."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from jetjobs import App
from jetjobs.workflow import Step, StepRetry
from tests.helpers import eventually
from tests.ui.conftest import QUEUE, Gates, Stack, screenshot

pytestmark = pytest.mark.timeout(120)

STEPS = ("reserve", "charge", "pack-a", "pack-b", "pack-c", "ship")


def workflows(app: App, gates: Gates) -> None:
    """``order-fulfilment``: reserve → charge → three packs in parallel → ship (fails for
    ``nostock`` orders), charge and reserve undone on failure; ``slow``: one step that waits."""

    @app.task(queue=QUEUE)
    async def reserve(order: str) -> dict[str, str]:
        return {"order": order}

    @app.task(queue=QUEUE)
    async def charge(order: str) -> dict[str, str]:
        return {"payment": f"pay-{order}"}

    @app.task(queue=QUEUE)
    async def pack(order: str, box: str) -> str:
        return f"{order}/{box}"

    @app.task(queue=QUEUE, max_retries=0)
    async def ship(order: str, boxes: list[str]) -> str:
        if order.startswith("nostock"):
            raise RuntimeError(f"no stock left for {order}")
        return f"shipped {len(boxes)} boxes"

    @app.task(queue=QUEUE)
    async def refund(payment: str) -> str:
        gates.runs.append(f"refund:{payment}")
        return f"refunded {payment}"

    @app.task(queue=QUEUE)
    async def release(order: str) -> str:
        gates.runs.append(f"release:{order}")
        return f"released {order}"

    @app.task(queue=QUEUE)
    async def hold(tag: str) -> str:
        await gates.release.wait()
        return tag

    order = {"order": "{{input.order}}"}
    wf = app.workflow(
        "order-fulfilment",
        version="1",
        description="reserve, charge, pack three boxes in parallel, ship",
        compensate={
            "reserve": Step("release", input=order),
            "charge": Step("refund", input={"payment": "{{tasks.charge.output.payment}}"}),
        },
    )
    wf.step("reserve", "reserve", input=order)
    wf.step("charge", "charge", depends_on=["reserve"], input=order)
    for box in "abc":
        wf.step(f"pack-{box}", "pack", depends_on=["charge"], input={**order, "box": box})
    boxes = ["{{tasks.pack-a.output}}", "{{tasks.pack-b.output}}", "{{tasks.pack-c.output}}"]
    wf.step(
        "ship",
        "ship",
        depends_on=["pack-a", "pack-b", "pack-c"],
        input={**order, "boxes": boxes},
        retry=StepRetry(max_attempts=1),
    )
    app.workflow("slow", version="1").step("wait", "hold", input={"tag": "{{input.tag}}"})


async def two_runs(s: Stack) -> None:
    ok = await s.app.execute_workflow("order-fulfilment", {"order": "o-1"}, run_id="order-1")
    assert await ok.result(timeout_s=30) == "shipped 3 boxes"
    failed = await s.app.execute_workflow("order-fulfilment", {"order": "nostock-2"}, run_id="order-2")
    assert (await failed.wait(timeout_s=30)).state == "compensated"
    assert sorted(s.gates.runs) == ["refund:pay-nostock-2", "release:nostock-2"]


async def test_runs_and_a_run_page_show_every_state(stack: Any, browser: Any) -> None:
    s: Stack = await stack(setup=workflows)
    await two_runs(s)
    page = browser

    await page.goto(s.url + "/workflows")
    assert await page.get_attribute("tr[data-run=order-1]", "data-state") == "succeeded"
    assert await page.get_attribute("tr[data-run=order-2]", "data-state") == "compensated"
    assert await page.text_content("tr[data-run=order-1] .steps") == "6/6 succeeded"
    assert await page.locator("#runs tbody tr[data-run]").nth(0).get_attribute("data-run") == "order-2"  # newest first
    assert "the newest 50 runs at most" in (await page.text_content("#runs-limit") or "")
    await screenshot(page, "workflows")
    await page.click("p.tabs a:text('compensated')")
    await page.wait_for_url("**/workflows?state=compensated")
    assert await page.locator("#runs tbody tr[data-run]").count() == 1
    await page.goto(s.url + "/workflows?name=slow")
    assert await page.locator("#runs tbody tr[data-run]").count() == 0

    await page.goto(s.url + "/workflows")
    await page.click("a:text('order-2')")
    assert await page.text_content("#run-id") == "order-2"
    assert await page.get_attribute("#run-state", "data-state") == "compensated"
    assert await page.text_content("#failed-step") == "ship"
    assert await page.text_content("#run-cause") == "failed"
    assert "RuntimeError: no stock left for nostock-2" in " ".join(
        (await page.text_content("#run-error") or "").split()
    )
    assert "Traceback" in (await page.text_content("#run-traceback") or "")
    expected = {name: "succeeded" for name in STEPS} | {"ship": "failed"}
    expected |= {"compensate-charge": "succeeded", "compensate-reserve": "succeeded"}
    for name, state in expected.items():
        assert await page.get_attribute(f"tr[data-step='{name}']", "data-state") == state, name
        assert await page.get_attribute(f"#dag g[data-step='{name}']", "data-state") == state, name
    assert await page.locator("#dag path.edge:not(.dashed)").count() == 1 + 3 + 3
    log = await page.text_content("#run-log") or ""
    for kind in ("run_started", "step_failed", "run_compensated"):
        assert await page.locator(f"#run-log li[data-kind={kind}]").count() >= 1, (kind, log)
    assert await page.locator("button[data-action=cancel-run]").count() == 0  # it has ended
    await screenshot(page, "workflow-run", full_page=True)

    await page.goto(s.url + "/workflows/order-1")
    for name in STEPS:
        assert await page.get_attribute(f"tr[data-step='{name}']", "data-state") == "succeeded", name
    assert await page.get_attribute("tr[data-step='compensate-charge']", "data-state") == "not run"
    assert '"o-1/b"' in (await page.text_content("tr[data-step=pack-b] .output") or "")


async def test_cancel_button_cancels_a_running_run_without_a_reload(stack: Any, browser: Any) -> None:
    s: Stack = await stack(setup=workflows)
    run = await s.app.execute_workflow("slow", {"tag": "t"}, run_id="slow-1")

    async def running() -> bool:
        return (await run.status()).steps["wait"].state == "running"

    await eventually(running, timeout_s=15)
    page = browser
    page.on("dialog", lambda dialog: asyncio.ensure_future(dialog.accept()))
    await page.goto(s.url + "/workflows/slow-1")
    await page.wait_for_selector("#live-dot.on")
    assert await page.get_attribute("#run-state", "data-state") == "running"
    await page.evaluate("window.__sameDocument = true")
    clicked = time.monotonic()
    await page.click("button[data-action=cancel-run]")
    await page.wait_for_selector("#run-state[data-state=cancelled]", timeout=2000)
    shown_after = time.monotonic() - clicked
    print(f"\nworkflow cancel: 'cancelled' shown {shown_after * 1000:.0f} ms after the click (limit 2000 ms)")
    assert await page.evaluate("window.__sameDocument") is True  # no reload
    assert await page.text_content("#flash") == "cancelled run slow-1"
    assert (await run.record()).state == "cancelled"
    # The running step is stopped by the worker; the live stream brings its new state.
    await page.wait_for_selector("tr[data-step=wait][data-state=cancelled]", timeout=10_000)
    await page.wait_for_selector("#run-log li[data-kind=run_cancelled]", timeout=10_000)
    assert await page.locator("button[data-action=cancel-run]").count() == 0
    assert not s.gates.release.is_set()  # the step never finished on its own


async def test_workflow_json_api_read_only_and_errors(stack: Any) -> None:
    s: Stack = await stack(setup=workflows, read_only=True)
    await two_runs(s)
    slow = await s.app.execute_workflow("slow", {"tag": "t"}, run_id="slow-2")
    async with httpx.AsyncClient(base_url=s.url) as http:
        listing = (await http.get("/api/workflows", params={"name": "order-fulfilment"})).json()
        assert [r["run_id"] for r in listing["runs"]] == ["order-2", "order-1"]
        assert listing["limit"] == 50
        same = await http.get("/workflows", params={"state": "succeeded"}, headers={"Accept": "application/json"})
        assert [r["run_id"] for r in same.json()["runs"]] == ["order-1"]
        detail = (await http.get("/api/workflows/order-2")).json()
        assert detail["run"]["state"] == "compensated"
        assert detail["run"]["error"]["type"] == "RuntimeError"
        assert [st["name"] for st in detail["steps"]] == list(STEPS)
        assert {c["name"]: c["state"] for c in detail["compensation_steps"]} == {
            "compensate-charge": "succeeded",
            "compensate-reserve": "succeeded",
        }
        assert detail["log"][0]["kind"] == "run_started"
        assert (await http.get("/api/workflows/no-such-run")).status_code == 404
        assert (await http.get("/api/workflows/bad.run")).status_code == 404
        page = await http.get("/workflows/slow-2")
        assert 'data-action="cancel-run"' not in page.text  # read-only: no button
        refused = await http.post("/workflows/slow-2/cancel")
        assert refused.status_code == 403
        assert (await slow.record()).state == "running"
    s.gates.release.set()
    assert await slow.result(timeout_s=15) == "t"


async def test_cancel_over_http(stack: Any) -> None:
    s: Stack = await stack(setup=workflows)
    run = await s.app.execute_workflow("slow", {"tag": "t"}, run_id="slow-3")
    async with httpx.AsyncClient(base_url=s.url, headers={"Accept": "application/json"}) as http:
        answer = await http.post("/workflows/slow-3/cancel")
        assert answer.json() == {"ok": True, "message": "cancelled run slow-3", "cancelled": True}
        again = await http.post("/workflows/slow-3/cancel")
        assert again.json()["message"] == "run slow-3 is cancelled: not cancelled"
        missing = await http.post("/workflows/nope/cancel")
        assert missing.status_code == 409
        assert "no workflow run 'nope'" in missing.json()["message"]
    assert (await run.record()).state == "cancelled"


async def test_runs_page_shows_a_new_run_and_its_end_without_a_reload(stack: Any, browser: Any) -> None:
    s: Stack = await stack(setup=workflows)
    page = browser
    await page.goto(s.url + "/workflows")
    await page.wait_for_selector("#live-dot.on")
    await page.evaluate("window.__sameDocument = true")
    run = await s.app.execute_workflow("slow", {"tag": "t"}, run_id="slow-4")
    await page.wait_for_selector("tr[data-run=slow-4][data-state=running]", timeout=2000)
    s.gates.release.set()
    assert await run.result(timeout_s=15) == "t"
    await page.wait_for_selector("tr[data-run=slow-4][data-state=succeeded]", timeout=2000)
    assert await page.evaluate("window.__sameDocument") is True


async def test_a_script_in_a_step_error_is_shown_not_run(stack: Any, browser: Any) -> None:
    s: Stack = await stack(setup=workflows)
    script = "<script>window.__pwned = 1</script>"
    run = await s.app.execute_workflow("order-fulfilment", {"order": f"nostock-{script}"}, run_id="xss-1")
    assert (await run.wait(timeout_s=30)).state == "compensated"
    page = browser
    for path in ("/workflows", "/workflows/xss-1"):
        await page.goto(s.url + path)
        assert await page.evaluate("window.__pwned") is None, path
    assert script in (await page.text_content("#run-error") or "")
    assert script in (await page.text_content("tr[data-step=ship] .step-error") or "")
