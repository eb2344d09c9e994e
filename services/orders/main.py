"""Orders service: takes orders and enqueues their payment by task name.

It imports no task code: it only knows task names and queues (the wire contract), and
the ``order-processing`` workflow from ``services/workflows.yaml``.

    python -m services.orders.main --count 20          # 20 orders, wait for results, exit
    python -m services.orders.main --interval-s 2      # one order every 2 s, forever
    python -m services.orders.main --workflows         # two order-processing workflow runs, exit
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import random
import sys
from pathlib import Path

from jetjobs import App, EnqueueOptions, JetjobsError, Job, JobFailed, JobRequest, WorkflowFailed, chain, group
from jetjobs.workflow import signature

log = logging.getLogger("orders")

CUSTOMERS = ["ada@example.com", "grace@example.com", "linus@example.com", "barbara@example.com"]
WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows.yaml"
# order-101 ships (after a gateway timeout, retried); order-102's lamp is sold out: refunded.
WORKFLOW_ORDERS = {"order-101": "succeeded", "order-102": "compensated"}


def order_request(number: int) -> JobRequest:
    order_id = f"order-{number}"
    return JobRequest(
        "charge_card",
        kwargs={"order_id": order_id, "amount_cents": 500 + number * 25, "customer": CUSTOMERS[number % 4]},
        options=EnqueueOptions(queue="payments", job_id=f"charge-{order_id}", metadata={"source": "web"}),
    )


async def report(job: Job, timeout_s: float) -> bool:
    try:
        result = await job.result(timeout_s=timeout_s)
    except JobFailed as exc:
        print(f"[orders] {job.id}: FAILED {exc.error_type}: {exc.message}", flush=True)
        return False
    except JetjobsError as exc:
        print(f"[orders] {job.id}: {exc}", flush=True)
        return False
    attempts = result["attempts"]
    note = f" after {attempts} attempts" if attempts > 1 else ""
    print(f"[orders] {job.id}: charged {result['charged_cents'] / 100:.2f} EUR{note}", flush=True)
    return True


async def run_batch(app: App, count: int, timeout_s: float) -> int:
    jobs = await app.enqueue_many(order_request(n) for n in range(1, count + 1))
    print(f"[orders] enqueued {len(jobs)} payments on queue 'payments'", flush=True)
    # A bad receipt request: its template does not exist, so notifications dead-letters it.
    await app.enqueue(
        "send_receipt",
        kwargs={"order_id": "order-x", "customer": "nobody@example.com", "amount_cents": 1, "template": "typo"},
        queue="notifications",
        job_id="receipt-order-x",
    )
    print("[orders] enqueued a receipt with a template that does not exist", flush=True)
    survey = await app.enqueue(
        "send_email",
        kwargs={"to": CUSTOMERS[0], "subject": "How was your order?"},
        queue="notifications",
        delay_s=3,
    )
    print(f"[orders] scheduled a survey email {survey.id} in 3 s (status: {(await survey.status()).state})", flush=True)
    outcomes = await asyncio.gather(*(report(job, timeout_s) for job in jobs))
    sent = await survey.result(timeout_s=timeout_s)
    print(f"[orders] the delayed survey email went out: {sent}", flush=True)
    return 0 if all(outcomes) else 1


async def run_workflows(app: App, timeout_s: float) -> int:
    """Run ``order-processing`` once per order of WORKFLOW_ORDERS; 0 if each ended as expected."""
    app.load_workflows(WORKFLOWS)
    ok = True
    for number, (order_id, expected) in enumerate(WORKFLOW_ORDERS.items()):
        run = await app.execute_workflow(
            "order-processing", {"order_id": order_id, "customer": CUSTOMERS[number]}, run_id=f"checkout-{order_id}"
        )
        print(f"[orders] started workflow run {run.id} (order-processing for {order_id})", flush=True)
        try:
            result = await run.result(timeout_s=timeout_s)
            state = "succeeded"
            print(f"[orders] workflow run {run.id}: succeeded: {result}", flush=True)
        except WorkflowFailed as exc:
            state = exc.state
            print(f"[orders] {exc}", flush=True)
        ok = ok and state == expected
    return 0 if ok else 1


async def run_canvas(app: App, timeout_s: float) -> int:
    """The image-processing canvas: process → three resizes side by side → metadata.

    The tasks live in two other services (orders worker and notifications), named by
    string with their queues, as a producer without their code would do.
    """
    canvas = chain(
        signature("process_image", "img/product-7.png").set(queue="orders"),
        group([signature("resize", size=size).set(queue="notifications") for size in ("thumb", "small", "large")]),
        signature("update_metadata").set(queue="orders"),
    )
    run = await app.enqueue(canvas, run_id="images-product-7")
    print(f"[orders] started canvas run {run.id} (process_image → 3 x resize → update_metadata)", flush=True)
    result = await run.result(timeout_s=timeout_s)
    print(f"[orders] canvas run {run.id}: succeeded: {result}", flush=True)
    return 0 if result.get("count") == 3 else 1


async def run_forever(app: App, interval_s: float) -> int:
    for number in itertools.count(1):
        job = await app.enqueue_request(order_request(random.randint(1, 10_000) * 10 + number % 10))
        log.info("enqueued %s", job.id)
        await asyncio.sleep(interval_s)
    return 0


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="orders", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, help="enqueue this many orders, wait for them, exit")
    parser.add_argument("--interval-s", type=float, default=2.0, help="without --count: seconds between orders")
    parser.add_argument("--workflows", action="store_true", help="run the order-processing workflow twice, exit")
    parser.add_argument("--canvas", action="store_true", help="run the image-processing canvas once, exit")
    parser.add_argument("--timeout-s", type=float, default=60.0)
    args = parser.parse_args(argv)
    async with App("orders") as app:
        if args.workflows:
            return await run_workflows(app, args.timeout_s)
        if args.canvas:
            return await run_canvas(app, args.timeout_s)
        if args.count:
            return await run_batch(app, args.count, args.timeout_s)
        return await run_forever(app, args.interval_s)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        sys.exit(asyncio.run(main(sys.argv[1:])))
    except JetjobsError as exc:
        print(f"orders: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
