"""Every definition error, with its exact message: names, options, graph, templates, compensation (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from jetjobs import App
from jetjobs.errors import ConfigError
from jetjobs.workflow import Step, StepDef, StepRetry, Workflow, WorkflowDef, WorkflowDefinitionError


def _wf(**kw: Any) -> Workflow:
    return Workflow("order-processing", version="1.0", **kw)


def _chain() -> Workflow:
    wf = _wf()
    wf.step("validate-order", "validate_order", input={"order_id": "{{input.order_id}}"})
    wf.step("process-payment", "process_payment", depends_on=["validate-order"])
    return wf


def _message(fn: Any) -> str:
    with pytest.raises(WorkflowDefinitionError) as info:
        fn()
    return str(info.value)


def test_definition_errors_are_config_errors() -> None:
    assert issubclass(WorkflowDefinitionError, ConfigError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": "order processing"},
            "invalid workflow name 'order processing': use 1-100 letters, digits, '_' or '-'",
        ),
        ({"name": "a.b"}, "invalid workflow name 'a.b': use 1-100 letters, digits, '_' or '-'"),
        ({"name": "x" * 101}, f"invalid workflow name '{'x' * 101}': use 1-100 letters, digits, '_' or '-'"),
        (
            {"version": ".1"},
            "workflow 'w' v.1, version: invalid version '.1': use 1-32 letters, digits, '_', '-' or '.', "
            "not starting with '.'",
        ),
        (
            {"version": "1 0"},
            "workflow 'w' v1 0, version: invalid version '1 0': use 1-32 letters, digits, '_', '-' or '.', "
            "not starting with '.'",
        ),
        ({"timeout_s": 0}, "workflow 'w' v1, timeout_s: timeout_s must be a number of seconds > 0, not 0"),
        ({"timeout_s": "30m"}, "workflow 'w' v1, timeout_s: timeout_s must be a number of seconds > 0, not '30m'"),
        ({"retention_s": -1}, "workflow 'w' v1, retention_s: retention_s must be a number of seconds > 0, not -1"),
    ],
)
def test_workflow_options_are_checked_at_once(kwargs: dict[str, Any], message: str) -> None:
    args = {"name": "w", "version": "1", **kwargs}
    assert _message(lambda: Workflow(args.pop("name"), **args)).endswith(message)


P = "workflow 'order-processing' v1.0"


@pytest.mark.parametrize(
    ("name", "task", "options", "message"),
    [
        ("validate order", "t", {}, "step 'validate order', name: invalid step name 'validate order': use 1-64"),
        ("a.b", "t", {}, "step 'a.b', name: invalid step name 'a.b': use 1-64 letters, digits, '_' or '-'"),
        ("s" * 65, "t", {}, "name: invalid step name"),
        ("s", "", {}, "step 's', task: invalid task name '': use 1-200 characters without spaces"),
        ("s", "send email", {}, "step 's', task: invalid task name 'send email'"),
        ("s", 42, {}, "step 's', task: task must be a task name or a jetjobs Task, not 42"),
        ("s", "t", {"queue": "Orders"}, "step 's', queue: invalid queue name 'Orders'"),
        ("s", "t", {"priority": "urgent"}, "step 's', priority: invalid priority 'urgent': use one of high, normal"),
        ("s", "t", {"depends_on": "a"}, "step 's', depends_on: depends_on must be a list of names, not 'a'"),
        ("s", "t", {"depends_on": ["a", "a"]}, "step 's', depends_on: lists a step twice: a, a"),
        ("s", "t", {"depends_on": ["s"]}, "step 's', depends_on: a step cannot depend on itself"),
        ("s", "t", {"depends_on": ["b c"]}, "step 's', depends_on: invalid step name 'b c'"),
        ("s", "t", {"retry_on": "TransientError"}, "step 's', retry_on: retry_on must be a list of names"),
        ("s", "t", {"retry_on": ["not a type"]}, "step 's', retry_on: 'not a type' is not an error type name"),
        (
            "s",
            "t",
            {"retry": {"max_attempts": 3}},
            "step 's', retry: retry must be a StepRetry, not {'max_attempts': 3}",
        ),
        ("s", "t", {"timeout_s": 0}, "step 's', timeout_s: timeout_s must be a number of seconds > 0, not 0"),
        ("s", "t", {"trigger": "any"}, "step 's', trigger: unknown trigger rule 'any': use all_success, all_done"),
        ("s", "t", {"args": "x"}, "step 's', args: args must be a list, not 'x'"),
        ("s", "t", {"input": {"d": {1, 2}}}, "step 's', input: d is a set, not a JSON value"),
        ("s", "t", {"input": {"f": float("nan")}}, "step 's', input: f is nan, which JSON cannot hold"),
        ("s", "t", {"args": [{"k": object}]}, "step 's', args: [0].k is a type, not a JSON value"),
        (
            "s",
            "t",
            {"input": {"a": {"b": ["{{input.x"]}}},
            "step 's', input.a.b[0]: '{{input.x': '{{' is never closed with '}}'",
        ),
        ("s", "t", {"input": {"a": "{{inputs.x}}"}}, "step 's', input.a: '{{inputs.x}}': unknown root 'inputs'"),
        ("s", "t", {"args": ["{{tasks.a}}"]}, "step 's', args[0]: '{{tasks.a}}': a step reference must read"),
    ],
)
def test_step_options_are_checked_when_the_step_is_added(
    name: str, task: Any, options: dict[str, Any], message: str
) -> None:
    text = _message(lambda: _wf().step(name, task, **options))
    assert text.startswith(P + ", ")
    assert message in text


def test_a_duplicate_step_name_is_refused_at_once() -> None:
    wf = _chain()
    assert _message(lambda: wf.step("process-payment", "x")) == (
        f"{P}, step 'process-payment': a step with this name is already declared"
    )


def test_a_task_object_gives_its_name_and_queue() -> None:
    app = App("shop")

    @app.task(queue="payments", name="charge")
    def charge(order_id: str) -> None: ...

    wf = _wf().step("pay", charge).step("pay-elsewhere", charge, queue="other", depends_on=["pay"])
    d = wf.build()
    assert (d.step("pay").task, d.step("pay").queue) == ("charge", "payments")
    assert d.step("pay-elsewhere").queue == "other"
    assert Step(charge).to_def("x").queue == "payments"


def test_step_returns_the_workflow_for_chaining() -> None:
    wf = _wf()
    assert wf.step("a", "t") is wf


# -- graph errors at build() -------------------------------------------------------------


def test_no_steps() -> None:
    assert _message(_wf().build) == f"{P}, steps: a workflow needs at least one step"


def test_unknown_dependency_names_the_closest_step() -> None:
    wf = _chain().step("fulfill-order", "f", depends_on=["process-paymnt"])
    assert _message(wf.build) == (
        f"{P}, step 'fulfill-order', depends_on: unknown step 'process-paymnt'; did you mean 'process-payment'?"
    )
    wf = _chain().step("fulfill-order", "f", depends_on=["zzz"])
    assert _message(wf.build) == f"{P}, step 'fulfill-order', depends_on: unknown step 'zzz'"


def test_cycle_names_the_cycle_path_in_run_order() -> None:
    wf = _wf().step("a", "t", depends_on=["c"]).step("b", "t", depends_on=["a"]).step("c", "t", depends_on=["b"])
    assert _message(wf.build) == f"{P}, step 'a', depends_on: cycle a -> b -> c -> a"
    wf = _wf().step("root", "t").step("x", "t", depends_on=["root", "y"]).step("y", "t", depends_on=["x"])
    assert _message(wf.build) == f"{P}, step 'x', depends_on: cycle x -> y -> x"


def test_template_referencing_a_step_that_is_not_upstream() -> None:
    wf = _chain().step("fulfill-order", "f", depends_on=["process-payment"], input={"amount": "{{tasks.foo.output.x}}"})
    assert _message(wf.build) == (
        f"{P}, step 'fulfill-order', input.amount: '{{{{tasks.foo.output.x}}}}' references step 'foo', "
        "which is not upstream of 'fulfill-order' (upstream: validate-order, process-payment)"
    )


def test_template_referencing_a_sibling_or_a_later_step_or_itself() -> None:
    wf = _wf().step("a", "t").step("b", "t", depends_on=["a"]).step("c", "t", depends_on=["a"])
    wf.step("late", "t", input={"v": ["x {{tasks.b.output}}"]})
    assert _message(wf.build) == (
        f"{P}, step 'late', input.v[0]: '{{{{tasks.b.output}}}}' references step 'b', "
        "which is not upstream of 'late' (upstream: none)"
    )
    wf = _wf().step("a", "t").step("b", "t", depends_on=["a"], args=["{{tasks.b.output}}"])
    assert _message(wf.build) == (
        f"{P}, step 'b', args[0]: '{{{{tasks.b.output}}}}' references step 'b', which is not upstream of 'b' "
        "(upstream: a)"
    )


def test_templates_may_read_any_ancestor_input_and_context() -> None:
    wf = _wf().step("a", "t").step("b", "t", depends_on=["a"])
    wf.step("c", "t", depends_on=["b"], input={"x": "{{tasks.a.output.k[0]}}", "i": "{{input}}", "c": "{{context.z}}"})
    assert wf.build().step("c").input["x"] == "{{tasks.a.output.k[0]}}"


# -- compensation ------------------------------------------------------------------------


def test_compensation_is_a_generated_step_without_dependencies() -> None:
    wf = _wf(compensate={"process-payment": Step("refund", input={"p": "{{tasks.process-payment.output.id}}"})})
    wf.step("validate-order", "v").step("process-payment", "p", depends_on=["validate-order"])
    d = wf.build()
    comp = d.compensate["process-payment"]
    assert comp == StepDef("compensate-process-payment", "refund", input={"p": "{{tasks.process-payment.output.id}}"})
    assert d.on_failure == "compensate"
    assert d.step("compensate-process-payment") is comp
    assert d.compensation_for("process-payment") is comp
    assert d.compensation_for("validate-order") is None


def test_compensation_shorthand_on_step_equals_the_constructor_form() -> None:
    one = _wf(compensate={"a": Step("undo_a")}).step("a", "t").build()
    two = _wf().step("a", "t", compensate=Step("undo_a")).build()
    assert one == two


def test_compensation_for_an_unknown_step() -> None:
    wf = _chain().compensate("process-paymnt", Step("refund"))
    assert _message(wf.build) == (
        f"{P}, compensate.process-paymnt: compensation for unknown step 'process-paymnt'; "
        "did you mean 'process-payment'?"
    )


def test_compensation_declared_twice() -> None:
    wf = _chain().compensate("process-payment", Step("refund"))
    assert _message(lambda: wf.step("x", "t", compensate=Step("u")).compensate("x", Step("u"))) == (
        f"{P}, compensate.x: a compensation for this step is already declared"
    )


def test_compensation_template_may_read_its_step_and_upstream_only() -> None:
    wf = _chain().step("fulfill-order", "f", depends_on=["process-payment"])
    wf.compensate("process-payment", Step("refund", input={"o": "{{tasks.validate-order.output.id}}"}))
    wf.build()
    wf.compensate("validate-order", Step("undo", input={"o": "{{tasks.fulfill-order.output}}"}))
    assert _message(wf.build) == (
        f"{P}, step 'compensate-validate-order', input.o: '{{{{tasks.fulfill-order.output}}}}' references step "
        "'fulfill-order', which is neither 'validate-order' nor upstream of it (upstream: validate-order)"
    )


def test_compensation_options_are_checked_at_once() -> None:
    assert _message(lambda: _wf(compensate={"a": Step("refund", queue="Bad")})).startswith(
        f"{P}, step 'compensate-a', queue: invalid queue name 'Bad'"
    )
    assert _message(lambda: _wf(compensate={"a": "refund"})) == (  # type: ignore[dict-item]
        f"{P}, compensate.a: expected a Step(...), not 'refund'"
    )


def test_compensation_name_clash_with_a_step() -> None:
    wf = _wf().step("a", "t").step("compensate-a", "t", compensate=Step("x")).compensate("a", Step("u"))
    assert _message(wf.build) == (
        f"{P}, step 'compensate-a': step name 'compensate-a' is taken by the compensation of step 'a'"
    )


def test_on_failure_compensate_needs_a_compensation() -> None:
    wf = _wf(on_failure="compensate").step("a", "t")
    assert _message(wf.build) == (f"{P}, on_failure: on_failure is 'compensate' but no compensating step is declared")
    wf = _wf(on_failure="explode").step("a", "t")  # type: ignore[arg-type]
    assert _message(wf.build) == f"{P}, on_failure: on_failure must be compensate or fail, not 'explode'"


def test_on_failure_can_be_fail_with_compensations_declared() -> None:
    d = _wf(on_failure="fail", compensate={"a": Step("u")}).step("a", "t").build()
    assert d.on_failure == "fail"


def test_direct_construction_validates_too() -> None:
    msg = _message(lambda: WorkflowDef("w", "1", steps=(StepDef("a", "t", depends_on=("b",)),)))
    assert msg == "workflow 'w' v1, step 'a', depends_on: unknown step 'b'"
    msg = _message(lambda: WorkflowDef("w", "1", steps=(StepDef("a", "t"), StepDef("a", "u"))))
    assert msg == "workflow 'w' v1, step 'a', name: this step name is used twice"
    comp = {"a": StepDef("undo-a", "u")}
    msg = _message(lambda: WorkflowDef("w", "1", steps=(StepDef("a", "t"),), compensate=comp))
    assert msg == "workflow 'w' v1, compensate.a: the compensating step must be named 'compensate-a', not 'undo-a'"
    comp = {"a": StepDef("compensate-a", "u", depends_on=("a",))}
    msg = _message(lambda: WorkflowDef("w", "1", steps=(StepDef("a", "t"),), compensate=comp))
    assert msg == "workflow 'w' v1, step 'compensate-a': a compensating step cannot have depends_on"


def test_step_retry_is_kept_on_the_step() -> None:
    retry = StepRetry(max_attempts=5, backoff="linear", initial_s=1, step_s=2)
    d = _wf().step("a", "t", retry=retry, retry_on=["TransientError", "httpx.ReadTimeout"], timeout_s=30).build()
    assert d.step("a").retry == retry
    assert d.step("a").retry_on == ("TransientError", "httpx.ReadTimeout")
    assert d.step("a").timeout_s == 30.0
