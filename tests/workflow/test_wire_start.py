"""Another language starts a run with a plain JetStream publish and reads its status from the KV bucket."""

from __future__ import annotations

import json

from nats.aio.client import Client

from jetjobs import App
from tests.helpers import AppFactory, eventually, running_worker


def service(app: App) -> None:
    @app.task(queue="polyglot")
    async def double(n: int) -> int:
        return n * 2

    @app.task(queue="polyglot")
    async def inc(n: int) -> int:
        return n + 1

    wf = app.workflow("math", version="2.0")
    wf.step("double", "double", input={"n": "{{input.n}}"})
    wf.step("inc", "inc", depends_on=["double"], input={"n": "{{tasks.double.output}}"})


async def test_a_raw_publisher_starts_a_run_and_reads_its_result(app_factory: AppFactory, raw_nc: Client) -> None:
    async with running_worker(app_factory(service, name="w")):  # registers "math" 2.0 on the server
        js = raw_nc.jetstream()
        body = {"args": [], "kwargs": {"workflow": "math", "run_id": "polyglot-1", "input": {"n": 20}}}
        headers = {
            "Nats-Msg-Id": "start-polyglot-1",
            "Jetjobs-Job-Id": "start-polyglot-1",
            "Jetjobs-Task": "jetjobs.workflow.start",
            "Content-Type": "application/json",
        }
        await js.publish("jobs.polyglot.normal", json.dumps(body).encode(), headers=headers)
        kv = await js.key_value("JOBS_WF_RUNS")

        async def finished() -> bool:
            try:
                entry = await kv.get("polyglot-1.meta")
            except Exception:
                return False
            return bool(json.loads(entry.value or b"{}").get("state") == "succeeded")

        await eventually(finished, timeout_s=15)
        meta = json.loads((await kv.get("polyglot-1.meta")).value or b"{}")
        assert meta["name"] == "math"
        assert meta["version"] == "2.0"
        step = json.loads((await kv.get("polyglot-1.st.inc")).value or b"{}")
        assert step["state"] == "succeeded"
        assert step["output"] == 41
