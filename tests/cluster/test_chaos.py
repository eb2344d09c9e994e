"""Short chaos scenarios (issue 9): one small one of each kind; ``make chaos`` runs the long ones.

Targets: no job lost, no result missing, every job acknowledged, no stall over 10 s.
(The fuzz corpus's short run is tests/integration/test_fuzz.py.)
"""

from __future__ import annotations

import pytest
from bench._chaos import Tally, kill_leader, restart_server, run_scenario, step_down, stream_names
from bench._chaos_procs import worker_kill_loop

from jetjobs.testing import NatsCluster, NatsServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _check(tally: Tally) -> None:
    assert tally.enqueued > 0, tally
    assert tally.faults > 0, tally
    assert tally.lost == 0, tally
    assert tally.results_missing == 0, tally
    assert tally.acknowledged == tally.enqueued, tally
    assert tally.longest_stall_s <= 10.0, tally


async def test_status_bucket_failover_loses_no_result(cluster_urls: str, cluster: NatsCluster) -> None:
    stream = stream_names("cstatus")["status"]
    faults = [step_down(cluster_urls, stream, after_s=0.5), kill_leader(cluster, stream, after_s=0.5, down_s=1.0)]
    _check(await run_scenario("status", cluster_urls, jobs=300, namespace="cstatus", replicas=3, faults=faults))


@pytest.mark.parametrize("target", ["queue", "dlq", "advisory"])
async def test_leader_step_down(cluster_urls: str, target: str) -> None:
    namespace = f"c{target}"
    stream = stream_names(namespace)[target]
    faults = [step_down(cluster_urls, stream, after_s=0.5)]
    _check(await run_scenario(target, cluster_urls, jobs=200, namespace=namespace, replicas=3, faults=faults))


async def test_server_kill_and_restart(jetjobs_server: NatsServer) -> None:
    faults = [restart_server(jetjobs_server, after_s=0.5, down_s=1.0)]
    _check(await run_scenario("restart", jetjobs_server.url, jobs=300, namespace="srv", faults=faults))


async def test_worker_sigkill_loop(jetjobs_server: NatsServer) -> None:
    _check(await worker_kill_loop(jetjobs_server.url, jobs=150, kills=2, every_s=1.0))
