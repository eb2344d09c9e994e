"""`make demo` keeps working: it runs every service as a process and exits by itself."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_demo_runs_and_reports_retries_and_the_dead_letter() -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("JETJOBS_")}
    result = subprocess.run(
        [sys.executable, "-m", "services.demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "charge-order-3: charged 5.75 EUR after 3 attempts" in out
    assert out.count("[orders] charge-order-") == 14
    assert "the delayed survey email went out" in out
    assert "reconcile_payments" in out.split("jetjobs schedules list")[1]
    assert "receipt-order-x" in out.split("jetjobs dlq list")[1]  # the poison job is in the DLQ
    assert "[orders] workflow run checkout-order-101: succeeded" in out
    assert "[compensate-process-payment: succeeded]" in out.split("jetjobs workflow status checkout-order-102")[1]
    assert "canvas run images-product-7: succeeded" in out
    assert "[resize-3: succeeded]" in out.split("jetjobs workflow status images-product-7")[1]
    assert out.rstrip().endswith("==== demo finished ====")
