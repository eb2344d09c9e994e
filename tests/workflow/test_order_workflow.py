"""The order-processing workflow end to end on a real nats-server: success, retries, compensation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from jetjobs import App, WorkflowFailed
from tests.helpers import AppFactory, running_worker
from tests.workflow.orders import declare, register_tasks


def service(calls: list[str]) -> Callable[[App], None]:
    def build(app: App) -> None:
        register_tasks(app, calls)
        declare(app)

    return build


async def test_a_run_succeeds_passing_data_between_steps(app_factory: AppFactory) -> None:
    calls: list[str] = []
    worker_app = app_factory(service(calls), name="orders")
    producer = app_factory(service(calls), name="shop")
    async with running_worker(worker_app), producer:
        run = await producer.execute_workflow("order-processing", input={"order_id": "o-1"})
        assert await run.result(timeout_s=20) == "shipped o-1"
        assert calls == ["validate:o-1", "pay:o-1:42.5", "fulfill:o-1:A-1"]
        status = await run.status()
        assert status.state == "succeeded"
        assert {n: s.state for n, s in status.steps.items()} == {
            "validate-order": "succeeded",
            "process-payment": "succeeded",
            "fulfill-order": "succeeded",
        }
        assert status.steps["process-payment"].output == {"payment_id": "pay-o-1", "charged": 42.5}
        kinds = [e.kind async for e in run.logs()]
        assert kinds[0] == "run_started"
        assert kinds[-1] == "run_succeeded"
        assert kinds.count("step_succeeded") == 3


async def test_transient_errors_are_retried_by_the_step_policy(app_factory: AppFactory) -> None:
    calls: list[str] = []
    worker_app = app_factory(service(calls), name="orders")
    producer = app_factory(service(calls), name="shop")
    async with running_worker(worker_app), producer:
        run = await producer.execute_workflow("order-processing", input={"order_id": "flaky-1"})
        assert await run.result(timeout_s=20) == "shipped flaky-1"
        assert calls.count("pay:flaky-1:42.5") == 3
        assert (await run.status()).steps["process-payment"].attempts == 3


async def test_a_later_failure_compensates_the_payment(app_factory: AppFactory) -> None:
    calls: list[str] = []
    worker_app = app_factory(service(calls), name="orders")
    producer = app_factory(service(calls), name="shop")
    async with running_worker(worker_app), producer:
        run = await producer.execute_workflow("order-processing", input={"order_id": "nostock-1"})
        with pytest.raises(WorkflowFailed) as failed:
            await run.result(timeout_s=20)
        assert failed.value.state == "compensated"
        assert failed.value.step == "fulfill-order"
        assert failed.value.error_type.endswith("PaymentDeclined")
        assert "out of stock" in failed.value.message
        assert "Traceback" in failed.value.traceback
        assert calls[-1] == "refund:nostock-1:pay-nostock-1"
        status = await run.status()
        assert status.steps["compensate-process-payment"].state == "succeeded"
        assert status.cause == "failed"
