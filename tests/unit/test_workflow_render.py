"""render_dag: the terminal drawing of a workflow, small and very wide (pure)."""

from __future__ import annotations

from jetjobs.workflow import Step, Workflow, WorkflowDef, render_dag


def _order() -> WorkflowDef:
    wf = Workflow("order-processing", version="1.0", compensate={"process-payment": Step("refund_payment")})
    wf.step("validate-order", "validate_order")
    wf.step("process-payment", "process_payment", depends_on=["validate-order"])
    wf.step("fulfill-order", "fulfill_order", depends_on=["process-payment"])
    return wf.build()


def test_a_chain_without_states() -> None:
    assert render_dag(_order()) == (
        "order-processing v1.0\n"
        "1  [validate-order]\n"
        "2  [process-payment]  <- validate-order\n"
        "3  [fulfill-order]    <- process-payment\n"
        "compensation (on failure: compensate)\n"
        "   [compensate-process-payment]  undoes process-payment"
    )


def test_a_chain_with_states_defaults_missing_ones_to_pending() -> None:
    states = {"validate-order": "succeeded", "process-payment": "failed", "compensate-process-payment": "running"}
    assert render_dag(_order(), states) == (
        "order-processing v1.0\n"
        "1  [validate-order: succeeded]\n"
        "2  [process-payment: failed]  <- validate-order\n"
        "3  [fulfill-order: pending]   <- process-payment\n"
        "compensation (on failure: compensate)\n"
        "   [compensate-process-payment: running]  undoes process-payment"
    )


def _fan(width: int) -> WorkflowDef:
    wf = Workflow("fan", version="2").step("split", "s")
    for i in range(width):
        wf.step(f"part-{i:02d}", "p", depends_on=["split"])
    wf.step("join", "j", depends_on=[f"part-{i:02d}" for i in range(width)], trigger="all_done")
    wf.step("audit", "a", depends_on=["split", "part-00", "part-01", "part-02", "part-03", "join"])
    return wf.build()


def test_a_wide_fan_out_is_cut_and_summed_up_by_state() -> None:
    states = {f"part-{i:02d}": ("running" if i % 3 == 0 else "succeeded") for i in range(50)}
    states["split"] = "succeeded"
    text = render_dag(_fan(50), states, max_per_layer=4)
    assert text == (
        "fan v2\n"
        "1  [split: succeeded]\n"
        "2  [part-00: running]          <- split\n"
        "   [part-01: succeeded]        <- split\n"
        "   [part-02: succeeded]        <- split\n"
        "   ... 47 more: 31 succeeded, 16 running\n"
        "3  [join: pending] (all_done)  <- all 50 steps of layer 2\n"
        "4  [audit: pending]            <- split, part-00, part-01, part-02 and 2 more"
    )
    assert len(render_dag(_fan(50), states).splitlines()) == 1 + 1 + 12 + 2


def test_a_wide_layer_without_states_just_counts() -> None:
    lines = render_dag(_fan(50), max_per_layer=3).splitlines()
    assert lines[4] == "   ... 48 more"


def test_layers_follow_the_longest_path_and_parallel_roots_share_a_layer() -> None:
    wf = Workflow("w", version="1").step("a", "t").step("b", "t").step("c", "t", depends_on=["a"])
    wf.step("d", "t", depends_on=["b", "c"])
    assert render_dag(wf.build()) == "w v1\n1  [a]\n   [b]\n2  [c]  <- a\n3  [d]  <- b, c"
