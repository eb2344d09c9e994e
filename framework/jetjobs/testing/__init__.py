"""Testing support: a real embedded nats-server and ``run_task``.

The pytest plugin (``jetjobs.testing.plugin``, registered automatically) adds
the ``jetjobs_server`` fixture: a fresh nats-server with JetStream per test.

Example::

    async def test_send_email(jetjobs_server):
        app = App("test", nats_url=jetjobs_server.url)
        ...

    async def test_retry_policy():
        outcome = await run_task(send_email, "a@example.com", subject="hi")
"""

from ._cluster import NatsCluster
from ._run_task import MemoryDelivery, run_job, run_task
from ._server import NatsServer, find_nats_server, free_port

__all__ = ["MemoryDelivery", "NatsCluster", "NatsServer", "find_nats_server", "free_port", "run_job", "run_task"]
