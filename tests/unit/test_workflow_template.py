"""The step-input template language: rendering, types kept, paths, and every error (pure)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jetjobs.errors import JetjobsError
from jetjobs.workflow import TemplateError, render, template_refs

SCOPE: dict[str, Any] = {
    "input": {"order_id": "A-1", "n": 3, "flag": True, "none": None, "tags": ["x", "y"]},
    "context": {"tenant": "acme", "limits": {"max": 10}},
    "tasks": {
        "validate-order": {
            "output": {"amount": 12.5, "items": [{"sku": "S1", "qty": 2}, {"sku": "S2", "qty": 1}], "ok": True}
        },
        "load_rows": {"output": [[1, 2], [3, 4]]},
        "scalar": {"output": 7},
    },
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{input.order_id}}", "A-1"),
        ("{{input.n}}", 3),
        ("{{ input.n }}", 3),
        ("{{\tinput.flag\n}}", True),
        ("{{input.none}}", None),
        ("{{input.tags}}", ["x", "y"]),
        ("{{input}}", SCOPE["input"]),
        ("{{context.tenant}}", "acme"),
        ("{{context.limits}}", {"max": 10}),
        ("{{context.limits.max}}", 10),
        ("{{tasks.validate-order.output.amount}}", 12.5),
        ("{{tasks.validate-order.output.items[0].sku}}", "S1"),
        ("{{tasks.validate-order.output.items[1]}}", {"sku": "S2", "qty": 1}),
        ("{{tasks.validate-order.output.items}}", SCOPE["tasks"]["validate-order"]["output"]["items"]),
        ("{{tasks.load_rows.output[1][0]}}", 3),
        ("{{tasks.scalar.output}}", 7),
        ("plain text", "plain text"),
        ("", ""),
        ("a } b }} c", "a } b }} c"),
    ],
)
def test_a_whole_template_keeps_the_type_of_the_value(template: str, expected: Any) -> None:
    assert render(template, SCOPE) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("order {{input.order_id}}", "order A-1"),
        ("{{input.n}} items", "3 items"),
        (" {{input.n}}", " 3"),
        ("{{input.n}}{{input.n}}", "33"),
        ("flag={{input.flag}} none={{input.none}}", "flag=true none=null"),
        ("amount {{tasks.validate-order.output.amount}} EUR", "amount 12.5 EUR"),
        ("limits: {{context.limits}}", 'limits: {"max":10}'),
        ("tags: {{input.tags}}", 'tags: ["x","y"]'),
        ("{{input.order_id}}/{{tasks.validate-order.output.items[1].sku}}", "A-1/S2"),
    ],
)
def test_text_around_templates_makes_a_string(template: str, expected: str) -> None:
    assert render(template, SCOPE) == expected


def test_render_walks_dicts_and_lists_and_leaves_other_values_alone() -> None:
    value = {
        "id": "{{input.order_id}}",
        "nested": {"qty": "{{tasks.validate-order.output.items[0].qty}}", "list": ["{{input.n}}", 4, None, 1.5]},
        "keep": False,
    }
    assert render(value, SCOPE) == {"id": "A-1", "nested": {"qty": 2, "list": [3, 4, None, 1.5]}, "keep": False}


def test_rendered_values_are_copies_that_do_not_alias_the_scope() -> None:
    out = render({"x": "{{context.limits}}"}, SCOPE)
    out["x"]["max"] = 99
    assert SCOPE["context"]["limits"] == {"max": 10}


def test_templates_inside_resolved_data_are_not_expanded_again() -> None:
    scope = {"input": {"evil": "{{context.secret}}"}, "context": {"secret": "s3cr3t"}}
    assert render("{{input.evil}}", scope) == "{{context.secret}}"
    assert render("x {{input.evil}}", scope) == "x {{context.secret}}"


def test_rendering_never_evaluates_expressions() -> None:
    for text in ("{{ 1 + 1 }}", "{{__import__('os')}}", "{{input.n * 2}}", "{{ input['n'] }}"):
        with pytest.raises(TemplateError, match="malformed template"):
            render(text, SCOPE)


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (
            "{{tasks.validate-order.output.total}}",
            "missing key 'total' in the output of step 'validate-order' (it has: amount, items, ok)",
        ),
        (
            "{{tasks.validate-order.output.items[0].price}}",
            "missing key 'price' in the output of step 'validate-order' at items[0] (it has: qty, sku)",
        ),
        (
            "{{tasks.validate-order.output.items[5]}}",
            "index 5 out of range (the list has 2 items) in the output of step 'validate-order' at items",
        ),
        ("{{input.tags[2]}}", "index 2 out of range (the list has 2 items) in the run input at tags"),
        ("{{input.missing}}", "missing key 'missing' in the run input (it has: flag, n, none, order_id, tags)"),
        ("{{context.region}}", "missing key 'region' in the run context (it has: limits, tenant)"),
        ("{{input.n.x}}", "cannot look up key 'x' in an int (3) in the run input at n"),
        ("{{input.none.x}}", "cannot look up key 'x' in null in the run input at none"),
        ("{{input.order_id[0]}}", "cannot index a str (A-1) with [0] in the run input at order_id"),
        ("{{context.limits[0]}}", "cannot index a dict with [0] in the run context at limits"),
        ("{{tasks.load_rows.output.x}}", "cannot look up key 'x' in a list in the output of step 'load_rows'"),
        ("{{tasks.ship.output}}", "no output of step 'ship' is available (it has not succeeded)"),
    ],
)
def test_resolution_errors_name_the_template_and_what_is_missing(template: str, reason: str) -> None:
    with pytest.raises(TemplateError) as info:
        render({"items": [{"x": template}]}, SCOPE, step="process-payment")
    error = info.value
    assert error.reason == reason
    assert error.template == template
    assert error.step == "process-payment"
    assert error.path == "input.items[0].x"
    assert str(error) == f"step 'process-payment', input.items[0].x: {template!r}: {reason}"


FORMS = "use {{input.<key>}}, {{context.<key>}} or {{tasks.<step>.output[.<path>]}}"


@pytest.mark.parametrize(
    ("text", "template", "reason"),
    [
        ("{{input.x", "{{input.x", "'{{' is never closed with '}}'"),
        ("a {{input.x}} b {{", "a {{input.x}} b {{", "'{{' is never closed with '}}'"),
        ("{{ {{input.x}}", "{{ {{input.x}}", "'{{' is never closed with '}}'"),
        ("{{}}", "{{}}", f"empty template: {FORMS}"),
        ("{{  }}", "{{  }}", f"empty template: {FORMS}"),
        ("{{inputs.x}}", "{{inputs.x}}", f"unknown root 'inputs': {FORMS}"),
        ("{{output.x}}", "{{output.x}}", f"unknown root 'output': {FORMS}"),
        ("{{input.}}", "{{input.}}", f"malformed template: {FORMS}"),
        ("{{input..x}}", "{{input..x}}", f"malformed template: {FORMS}"),
        ("{{input.x[-1]}}", "{{input.x[-1]}}", f"malformed template: {FORMS}"),
        ("{{input.x[a]}}", "{{input.x[a]}}", f"malformed template: {FORMS}"),
        ("{{input x}}", "{{input x}}", f"malformed template: {FORMS}"),
        ("{{tasks}}", "{{tasks}}", "a step reference must read {{tasks.<step>.output[.<path>]}} (or .result, .error)"),
        (
            "{{tasks.a}}",
            "{{tasks.a}}",
            "a step reference must read {{tasks.<step>.output[.<path>]}} (or .result, .error)",
        ),
        (
            "{{tasks.a.outcome}}",
            "{{tasks.a.outcome}}",
            "a step reference must read {{tasks.<step>.output[.<path>]}} (or .result, .error)",
        ),
        (
            "{{tasks[0].output}}",
            "{{tasks[0].output}}",
            "a step reference must read {{tasks.<step>.output[.<path>]}} (or .result, .error)",
        ),
    ],
)
def test_malformed_templates_are_errors(text: str, template: str, reason: str) -> None:
    with pytest.raises(TemplateError) as info:
        template_refs({"a": text})
    assert (info.value.template, info.value.reason, info.value.path) == (template, reason, "input.a")
    with pytest.raises(TemplateError):
        render(text, SCOPE)


def test_template_error_is_a_jetjobs_error() -> None:
    assert issubclass(TemplateError, JetjobsError)


def test_template_refs_lists_roots_and_steps() -> None:
    value = {
        "a": "{{input.x}} and {{context.y}}",
        "b": ["{{tasks.validate-order.output.items[0].sku}}", {"c": "{{ tasks.load_rows.output }}"}],
        "d": 5,
        "e": "no templates",
    }
    assert template_refs(value) == {("input",), ("context",), ("tasks", "validate-order"), ("tasks", "load_rows")}
    assert template_refs("{{input}}") == {("input",)}
    assert template_refs([1, "x"]) == set()


json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_a_whole_template_returns_any_json_value_unchanged(value: Any) -> None:
    assert render("{{input.v}}", {"input": {"v": value}}) == value


@given(st.text().filter(lambda s: "{{" not in s))
def test_text_without_templates_renders_to_itself(text: str) -> None:
    assert render(text, SCOPE) == text
    assert template_refs(text) == set()
