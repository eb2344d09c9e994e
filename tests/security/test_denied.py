"""A refused request fails with a PermissionDenied naming the subject, not with a timeout."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetjobs import PermissionDenied
from tests.security import scenario
from tests.security.test_permissions import blocks, server


async def test_a_refused_status_read_names_its_subject(tmp_path: Path) -> None:
    roles = blocks()
    refused = "$JS.API.DIRECT.GET.KV_JOBS_STATUS.$KV.JOBS_STATUS.>"
    roles["producer"] = roles["producer"].without(refused)
    with server(tmp_path, roles) as nats_server:
        await scenario.provision(nats_server.url)
        async with scenario.build("producer", nats_server.url, scenario.Calls()) as app:
            with pytest.raises(PermissionDenied) as denied:
                await app.status("job-1")
    assert denied.value.operation == "publish"
    assert denied.value.subject == "$JS.API.DIRECT.GET.KV_JOBS_STATUS.$KV.JOBS_STATUS.job-1"
    assert "(permissions violation)" in str(denied.value)


async def test_a_refused_enqueue_names_its_subject(tmp_path: Path) -> None:
    roles = blocks()
    roles["producer"] = roles["producer"].without("jobs.work.*")
    with server(tmp_path, roles) as nats_server:
        await scenario.provision(nats_server.url)
        async with scenario.build("producer", nats_server.url, scenario.Calls()) as app:
            with pytest.raises(PermissionDenied, match=r"NATS denied publish to 'jobs\.work\.normal'"):
                await app.enqueue("double", [1], queue=scenario.QUEUE)


async def test_a_refused_look_up_fails_at_once(tmp_path: Path) -> None:
    roles = blocks()
    roles["producer"] = roles["producer"].without("$JS.API.STREAM.INFO.KV_JOBS_STATUS")
    with server(tmp_path, roles) as nats_server:
        await scenario.provision(nats_server.url)
        app = scenario.build("producer", nats_server.url, scenario.Calls(), request_timeout_s=30.0)
        with pytest.raises(PermissionDenied, match=r"STREAM\.INFO\.KV_JOBS_STATUS"):
            async with app:  # the connect's look-up of the status bucket; not after 30 s
                pass
