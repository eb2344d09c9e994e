"""YAML definitions: equal to the Python ones, strict schema, file:line in every error (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetjobs.workflow import Step, StepRetry, Workflow, WorkflowDefinitionError, load_workflows_yaml
from jetjobs.workflow._duration import parse_duration

ORDER_YAML = """\
workflows:
  order-processing:
    version: "1.0"
    description: Validate, charge and ship an order
    timeout: 30m
    retention: 7d
    error_handling:
      on_failure: compensate
      compensate:
        process-payment:
          task: refund_payment
          input: {order_id: "{{input.order_id}}"}
    tasks:
      - name: validate-order
        task: validate_order
        queue: orders
        input: {order_id: "{{input.order_id}}"}
        retry: {max_attempts: 3, backoff: linear, initial: 1s, step: 1s, max: 10s, jitter: false}
      - name: process-payment
        task: process_payment
        depends_on: [validate-order]
        input: {order_id: "{{input.order_id}}", amount: "{{tasks.validate-order.output.amount}}"}
        retry: {max_attempts: 5, backoff: exponential, initial: 1s, max: 60s, multiplier: 2}
        retry_on: [TransientError]
        timeout: 30s
        trigger: all_success
      - name: fulfill-order
        task: fulfill_order
        depends_on: [process-payment]
"""


def _python_order_processing() -> Workflow:
    wf = Workflow(
        "order-processing",
        version="1.0",
        description="Validate, charge and ship an order",
        timeout_s=1800,
        retention_s=7 * 86400,
        on_failure="compensate",
        compensate={"process-payment": Step("refund_payment", input={"order_id": "{{input.order_id}}"})},
    )
    wf.step(
        "validate-order",
        "validate_order",
        queue="orders",
        input={"order_id": "{{input.order_id}}"},
        retry=StepRetry(max_attempts=3, backoff="linear", initial_s=1, step_s=1, max_s=10, jitter=False),
    )
    wf.step(
        "process-payment",
        "process_payment",
        depends_on=["validate-order"],
        input={"order_id": "{{input.order_id}}", "amount": "{{tasks.validate-order.output.amount}}"},
        retry=StepRetry(max_attempts=5, backoff="exponential", initial_s=1, max_s=60, multiplier=2),
        retry_on=["TransientError"],
        timeout_s=30,
    )
    wf.step("fulfill-order", "fulfill_order", depends_on=["process-payment"])
    return wf


def test_yaml_and_python_definitions_are_equal() -> None:
    [from_yaml] = load_workflows_yaml(ORDER_YAML)
    from_python = _python_order_processing().build()
    assert from_yaml == from_python
    assert from_yaml.def_hash == from_python.def_hash
    assert from_yaml.canonical_json() == from_python.canonical_json()


def test_a_path_is_read_as_a_file(tmp_path: Path) -> None:
    path = tmp_path / "workflows.yaml"
    path.write_text(ORDER_YAML)
    assert load_workflows_yaml(path) == load_workflows_yaml(str(path)) == load_workflows_yaml(ORDER_YAML)


def test_errors_in_a_file_carry_its_name_and_line(tmp_path: Path) -> None:
    path = tmp_path / "workflows.yaml"
    path.write_text(ORDER_YAML.replace("depends_on: [process-payment]", "depend_on: [process-payment]"))
    with pytest.raises(WorkflowDefinitionError) as info:
        load_workflows_yaml(path)
    assert str(info.value) == (
        f"{path}:29: workflow 'order-processing' v1.0, step 'fulfill-order': unknown key 'depend_on'; "
        "did you mean 'depends_on'? (valid: name, task, depends_on, queue, args, input, retry, retry_on, timeout, "
        "priority, trigger, compensate)"
    )
    assert info.value.source == f"{path}:29"


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"cannot read .*nope\.yaml: No such file"):
        load_workflows_yaml(str(tmp_path / "nope.yaml"))


def _error(old: str, new: str) -> str:
    assert old in ORDER_YAML, old
    with pytest.raises(WorkflowDefinitionError) as info:
        load_workflows_yaml(ORDER_YAML.replace(old, new, 1))
    return str(info.value)


W = "workflow 'order-processing' v1.0"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("workflows:", "workflow:", "<string>:1: unknown key 'workflow'; did you mean 'workflows'? (valid: workflows)"),
        (
            "    timeout: 30m",
            "    timout: 30m",
            "<string>:5: workflow 'order-processing': unknown key 'timout'; did you mean 'timeout'? "
            "(valid: version, description, timeout, retention, error_handling, tasks)",
        ),
        (
            "      on_failure: compensate",
            "      on_fail: compensate",
            f"<string>:8: {W}: unknown key 'on_fail'; did you mean 'on_failure'? (valid: on_failure, compensate)",
        ),
        (
            "          task: refund_payment",
            "          tsk: refund_payment",
            f"<string>:11: {W}, step 'compensate-process-payment': unknown key 'tsk'; did you mean 'task'? "
            "(valid: task, queue, args, input, retry, retry_on, timeout, priority)",
        ),
        (
            "max_attempts: 3",
            "max_attempt: 3",
            f"<string>:18: {W}, step 'validate-order', retry: unknown key 'max_attempt'; did you mean "
            "'max_attempts'? (valid: max_attempts, backoff, initial, step, max, multiplier, jitter)",
        ),
        (
            "        retry_on: [TransientError]",
            "        retry_for: [TransientError]",
            f"<string>:24: {W}, step 'process-payment': unknown key 'retry_for'; did you mean 'retry_on'? (valid:",
        ),
        (
            "        trigger: all_success",
            "        colour: blue",
            f"<string>:26: {W}, step 'process-payment': unknown key 'colour' (valid: name, task,",
        ),
    ],
)
def test_unknown_keys_name_the_key_the_closest_valid_one_and_the_line(old: str, new: str, message: str) -> None:
    assert _error(old, new).startswith(message)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('    version: "1.0"\n', "", "<string>:3: workflow 'order-processing': missing required key 'version'"),
        (
            "        task: fulfill_order\n",
            "",
            f"<string>:27: {W}, step 'fulfill-order': missing required key 'task'",
        ),
        (
            'version: "1.0"',
            "version: yes",
            "<string>:3: workflow 'order-processing': version must be a string: quote it (version: \"yes\")",
        ),
        (
            'version: "1.0"',
            "version: 1.10",
            "<string>:3: workflow 'order-processing': version must be a string: quote it (version: \"1.10\")",
        ),
        (
            "      - name: fulfill-order",
            "      - name: validate-order",
            f"<string>:27: {W}, step 'validate-order': this step name is used twice",
        ),
        (
            "    timeout: 30m",
            "    timeout: 30m\n    timeout: 1h",
            "<string>:6: workflow 'order-processing': key 'timeout' appears twice",
        ),
        (
            "    timeout: 30m",
            "    timeout: soon",
            f"<string>:5: {W}: invalid duration 'soon': use a number of seconds or e.g.",
        ),
        (
            "        timeout: 30s",
            "        timeout: -3",
            f"<string>:25: {W}, step 'process-payment', timeout: invalid duration -3: must be a finite number",
        ),
        (
            "initial: 1s, step: 1s",
            "initial: 1s, step: 1 s",
            f"<string>:18: {W}, step 'validate-order', retry.step: invalid duration '1 s'",
        ),
        (
            "backoff: linear",
            "backoff: quadratic",
            f"<string>:18: {W}, step 'validate-order', retry.backoff: backoff must be one of exponential, linear,",
        ),
        (
            "depends_on: [validate-order]",
            "depends_on: validate-order",
            f"<string>:21: {W}, step 'process-payment', depends_on: depends_on must be a list, e.g. [a, b], "
            "not 'validate-order'",
        ),
        (
            "        queue: orders",
            "        queue: Orders",
            f"<string>:16: {W}, step 'validate-order', queue: invalid queue name 'Orders'",
        ),
        (
            "        trigger: all_success",
            "        trigger: any",
            f"<string>:26: {W}, step 'process-payment', trigger: unknown trigger rule 'any'",
        ),
        (
            'input: {order_id: "{{input.order_id}}", amount',
            "input: {order_id: 2024-01-01, amount",
            f"<string>:22: {W}, step 'process-payment', input.order_id: 2024-01-01 is a date, not a JSON value; "
            "quote it to make it a string",
        ),
        (
            '"{{tasks.validate-order.output.amount}}"',
            '"{{tasks.validate-order.output.amount"',
            f"<string>:22: {W}, step 'process-payment', input.amount: '{{{{tasks.validate-order.output.amount': "
            "'{{' is never closed with '}}'",
        ),
        (
            "    tasks:\n",
            "    tasks: []\n    steps:\n",
            "<string>:14: workflow 'order-processing': unknown key 'steps'",
        ),
        ("workflows:\n", "workflows: {}\nx:\n", "<string>:2: unknown key 'x'"),
        (
            "      - name: validate-order\n",
            "      - validate-order\n      - name: x\n",
            f"<string>:14: {W}: expected a mapping for a step, found 'validate-order'",
        ),
    ],
)
def test_schema_errors_point_at_the_line(old: str, new: str, message: str) -> None:
    assert _error(old, new).startswith(message)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "depends_on: [process-payment]",
            "depends_on: [process-paymnt]",
            f"<string>:29: {W}, step 'fulfill-order', depends_on: unknown step 'process-paymnt'; "
            "did you mean 'process-payment'?",
        ),
        (
            "        task: validate_order\n",
            "        task: validate_order\n        depends_on: [fulfill-order]\n",
            f"<string>:16: {W}, step 'validate-order', depends_on: cycle validate-order -> process-payment -> "
            "fulfill-order -> validate-order",
        ),
        (
            "{{tasks.validate-order.output.amount}}",
            "{{tasks.fulfill-order.output.amount}}",
            f"<string>:22: {W}, step 'process-payment', input.amount: '{{{{tasks.fulfill-order.output.amount}}}}' "
            "references step 'fulfill-order', which is not upstream of 'process-payment' (upstream: validate-order)",
        ),
        (
            "        process-payment:\n          task",
            "        process-paymnt:\n          task",
            f"<string>:10: {W}, compensate.process-paymnt: compensation for unknown step 'process-paymnt'; "
            "did you mean 'process-payment'?",
        ),
        (
            '          input: {order_id: "{{input.order_id}}"}',
            '          input: {order_id: "{{tasks.fulfill-order.output}}"}',
            f"<string>:12: {W}, step 'compensate-process-payment', input.order_id: '{{{{tasks.fulfill-order.output}}}}'"
            " references step 'fulfill-order', which is neither 'process-payment' nor upstream of it",
        ),
        (
            "      on_failure: compensate",
            "      on_failure: retry",
            f"<string>:8: {W}, on_failure: on_failure must be compensate or fail, not 'retry'",
        ),
    ],
)
def test_graph_errors_point_at_the_offending_line(old: str, new: str, message: str) -> None:
    assert _error(old, new).startswith(message)


def test_invalid_yaml_names_the_line() -> None:
    with pytest.raises(WorkflowDefinitionError) as info:
        load_workflows_yaml("workflows:\n  w:\n    version: [1\n")
    assert str(info.value) == (
        "<string>:4: invalid YAML: while parsing a flow sequence at line 3: expected ',' or ']', but got '<stream end>'"
    )


def test_an_empty_document_is_an_error() -> None:
    with pytest.raises(WorkflowDefinitionError, match="the file is empty; expected 'workflows:'"):
        load_workflows_yaml("# nothing\n")
    with pytest.raises(WorkflowDefinitionError, match="<string>:1: no workflow is defined under 'workflows:'"):
        load_workflows_yaml("workflows: {}\n")


def test_compensate_shorthand_on_a_task_equals_error_handling() -> None:
    shorthand = ORDER_YAML.replace(
        "      compensate:\n        process-payment:\n          task: refund_payment\n"
        '          input: {order_id: "{{input.order_id}}"}\n',
        "",
    ).replace(
        "        trigger: all_success\n",
        "        trigger: all_success\n"
        '        compensate: {task: refund_payment, input: {order_id: "{{input.order_id}}"}}\n',
    )
    assert "error_handling:\n      on_failure: compensate\n    tasks" in shorthand
    assert load_workflows_yaml(shorthand) == load_workflows_yaml(ORDER_YAML)
    twice = ORDER_YAML.replace(
        "        trigger: all_success\n", "        trigger: all_success\n        compensate: {task: refund_payment}\n"
    )
    with pytest.raises(WorkflowDefinitionError) as info:
        load_workflows_yaml(twice)
    assert str(info.value) == (
        f"<string>:27: {W}, step 'process-payment': compensation declared twice (here and in error_handling)"
    )


def test_several_workflows_in_file_order_with_defaults() -> None:
    text = """\
workflows:
  b:
    version: 2
    tasks: [{name: only, task: t, args: [1, "{{input.x}}"], priority: high}]
  a:
    version: "2024.1"
    tasks:
      - {name: one, task: t}
      - {name: two, task: t, depends_on: [one], trigger: one_success}
"""
    b, a = load_workflows_yaml(text)
    assert (b.name, b.version, a.name, a.version) == ("b", "2", "a", "2024.1")
    assert b.step("only").args == (1, "{{input.x}}")
    assert b.step("only").priority == "high"
    assert (b.timeout_s, b.on_failure, b.description, b.step("only").retry) == (None, "fail", "", None)
    assert a.step("two").trigger == "one_success"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("0.25", 0.25),
        ("500ms", 0.5),
        ("1s", 1.0),
        ("1.5s", 1.5),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("7d", 604800.0),
        ("1h30m", 5400.0),
        ("1m500ms", 60.5),
        (" 30s ", 30.0),
        (0, 0.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "s", "5x", "1s1h", "5ms5s", "-1", "1 h", True, None, [1], float("inf"), -2])
def test_invalid_durations(value: object) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(value)
