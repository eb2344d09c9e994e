"""Handing a job over to another worker: for a task version this worker does not have.

During a rollout, v1 and v2 workers share a queue. A nak would give a v2 job back
to the stream, but it also counts a delivery: after a few unlucky fetches by v1
workers the job would be dead-lettered (or its attempts used up) without ever
running. Instead the job is published again — same job id, body and headers, a
fresh delivery count — and the original is acked. ``Jetjobs-Prior-Deliveries``
carries the deliveries that were real attempts; ``Jetjobs-Handovers`` counts the
hand-overs and makes the message id of each new message unique.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from .. import transport
from .._names import PRIORITIES, Priority
from .._wire import H_HANDOVERS, H_JOB_ID, H_MSG_ID, H_PRIOR_DELIVERIES
from ..transport import Connection, Delivery


def handover_msg_id(job_id: str, handovers: int) -> str:
    return f"{job_id}.handover{handovers}"


class HandOverPublisher:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def publish(self, delivery: Delivery, queue: str, delay_s: float) -> None:
        """Publish the job again on its subject (after ``delay_s``, through the delayed-jobs stream)."""
        headers = {k: v for k, v in delivery.headers.items() if isinstance(k, str) and not k.startswith("Nats-")}
        job_id = headers.get(H_JOB_ID, "")
        prior = int(headers.get(H_PRIOR_DELIVERIES, "0") or 0)
        handovers = int(headers.get(H_HANDOVERS, "0") or 0) + 1
        # This delivery did not run the job; the ones before it on this message did (or were lost).
        headers[H_PRIOR_DELIVERIES] = str(prior + delivery.num_delivered - 1)
        headers[H_HANDOVERS] = str(handovers)
        msg_id = handover_msg_id(job_id, handovers)
        headers[H_MSG_ID] = msg_id
        out = transport.Outbound(queue, delivery.subject, delivery.data, headers)
        if delay_s > 0:
            level = delivery.subject.rsplit(".", 1)[-1]
            priority: Priority = level if level in PRIORITIES else "normal"
            names = self._conn.names
            scheduled = transport.schedule_headers(
                out,
                job_id=job_id,
                at=datetime.now(UTC) + timedelta(seconds=delay_s),
                due_subject=names.delayed_due(queue, priority),
            )
            scheduled[H_MSG_ID] = msg_id
            out = transport.Outbound(queue, names.delayed_at(queue, job_id), delivery.data, scheduled)
        await transport.publish(self._conn, out)
