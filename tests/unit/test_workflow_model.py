"""WorkflowDef / StepDef / StepRetry values: backoff math, JSON round trip, graph queries (pure)."""

from __future__ import annotations

import doctest
import importlib
import inspect
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jetjobs.workflow
from jetjobs.workflow import (
    StepDef,
    StepRetry,
    Workflow,
    WorkflowDef,
    WorkflowDefinitionError,
    version_from_token,
    version_token,
)
from jetjobs.workflow._names import VERSION_RE


def _no_jitter(**kw: Any) -> StepRetry:
    return StepRetry(jitter=False, **kw)


@pytest.mark.parametrize(
    ("policy", "attempt", "expected"),
    [
        (_no_jitter(), 1, 1.0),
        (_no_jitter(), 2, 2.0),
        (_no_jitter(), 3, 4.0),
        (_no_jitter(), 7, 60.0),  # 64 capped at max_s
        (_no_jitter(), 0, 1.0),  # attempts below 1 count as the first
        (_no_jitter(initial_s=0.5, multiplier=3), 3, 4.5),
        (_no_jitter(multiplier=2, max_s=10_000), 2000, 10_000.0),  # no overflow
        (_no_jitter(backoff="linear"), 1, 1.0),
        (_no_jitter(backoff="linear"), 4, 4.0),  # step_s defaults to initial_s
        (_no_jitter(backoff="linear", initial_s=2, step_s=0.5), 3, 3.0),
        (_no_jitter(backoff="linear", initial_s=1, step_s=5, max_s=12), 4, 12.0),
        (_no_jitter(backoff="linear", initial_s=0, step_s=0), 9, 0.0),
        (_no_jitter(backoff="fixed", initial_s=7), 1, 7.0),
        (_no_jitter(backoff="fixed", initial_s=7), 50, 7.0),
        (_no_jitter(backoff="fixed", initial_s=70), 1, 60.0),
    ],
)
def test_delay_for_follows_the_backoff_table(policy: StepRetry, attempt: int, expected: float) -> None:
    assert policy.delay_for(attempt) == pytest.approx(expected)


@pytest.mark.parametrize(("rand", "expected"), [(0.0, 2.0), (0.5, 3.0), (1.0, 4.0)])
def test_jitter_is_equal_jitter_between_half_and_full_delay(rand: float, expected: float) -> None:
    assert StepRetry(initial_s=1, multiplier=2).delay_for(3, rand=lambda: rand) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_attempts": 0}, "retry.max_attempts: max_attempts must be an integer >= 1, not 0"),
        ({"max_attempts": 2.5}, "retry.max_attempts: max_attempts must be an integer >= 1, not 2.5"),
        ({"max_attempts": True}, "retry.max_attempts: max_attempts must be an integer >= 1, not True"),
        ({"backoff": "quadratic"}, "retry.backoff: backoff must be one of exponential, linear, fixed, not 'quadratic'"),
        ({"initial_s": -1}, "retry.initial_s: initial_s must be a finite number >= 0, not -1"),
        ({"step_s": float("inf")}, "retry.step_s: step_s must be a finite number >= 0, not inf"),
        ({"max_s": "10s"}, "retry.max_s: max_s must be a finite number >= 0, not '10s'"),
        ({"multiplier": 0.5}, "retry.multiplier: multiplier must be >= 1, not 0.5"),
        ({"jitter": "yes"}, "retry.jitter: jitter must be true or false, not 'yes'"),
    ],
)
def test_invalid_retry_values_are_definition_errors(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as info:
        StepRetry(**fields)
    assert str(info.value) == message


def test_retry_numbers_are_normalized_to_floats() -> None:
    retry = StepRetry(initial_s=1, step_s=2, max_s=10, multiplier=3)
    assert (retry.initial_s, retry.step_s, retry.max_s, retry.multiplier) == (1.0, 2.0, 10.0, 3.0)
    assert all(isinstance(v, float) for v in (retry.initial_s, retry.step_s, retry.max_s, retry.multiplier))


@pytest.mark.parametrize(
    ("version", "token"),
    [("1.0", "1_2E0"), ("1_0", "1_5F0"), ("1._0", "1_2E_5F0"), ("2024-05-01", "2024-05-01"), ("v2", "v2")],
)
def test_version_token_escapes_dots_and_underscores_reversibly(version: str, token: str) -> None:
    assert version_token(version) == token
    assert version_from_token(token) == version


@given(st.from_regex(VERSION_RE, fullmatch=True), st.from_regex(VERSION_RE, fullmatch=True))
def test_version_token_is_injective_and_token_safe(a: str, b: str) -> None:
    assert (version_token(a) == version_token(b)) == (a == b)
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in version_token(a))
    assert version_from_token(version_token(a)) == a


def _diamond() -> WorkflowDef:
    wf = Workflow("diamond", version="3")
    wf.step("a", "t").step("b", "t", depends_on=["a"]).step("c", "t", depends_on=["a"])
    wf.step("d", "t", depends_on=["c", "b"], trigger="all_done").step("e", "t")
    return wf.build()


def test_graph_queries() -> None:
    d = _diamond()
    assert d.parents("d") == ("c", "b")
    assert d.children("a") == ("b", "c")
    assert d.children("d") == ()
    assert d.roots() == ("a", "e")
    assert d.sinks() == ("d", "e")
    assert d.ancestors("d") == frozenset({"a", "b", "c"})
    assert d.ancestors("a") == frozenset()
    assert d.topo_order() == ("a", "b", "c", "d", "e")
    assert d.layers() == (("a", "e"), ("b", "c"), ("d",))
    assert d.step("d").trigger == "all_done"
    with pytest.raises(KeyError, match="no step 'zz'"):
        d.parents("zz")
    with pytest.raises(KeyError, match="workflow 'diamond' v3 has no step 'zz'"):
        d.step("zz")


def test_topo_order_keeps_declaration_order_among_ready_steps() -> None:
    wf = Workflow("w", version="1")
    wf.step("z", "t").step("y", "t", depends_on=["z"]).step("x", "t").step("w", "t", depends_on=["x", "y"])
    assert wf.build().topo_order() == ("z", "y", "x", "w")


def test_definitions_are_hashable_values() -> None:
    a, b = _diamond(), _diamond()
    assert a == b
    assert hash(a) == hash(b)
    assert a.def_hash == b.def_hash
    assert len({a, b}) == 1
    with pytest.raises(AttributeError):
        a.name = "other"  # type: ignore[misc]


def test_input_is_immutable_and_order_insensitive() -> None:
    one = StepDef("s", "t", input={"a": 1, "b": [1, {"c": 2}]})
    two = StepDef("s", "t", input={"b": [1, {"c": 2}], "a": 1})
    assert one == two
    assert hash(one) == hash(two)
    assert list(one.input) == ["a", "b"]
    with pytest.raises(TypeError):
        one.input["a"] = 2  # type: ignore[index]


def test_to_json_is_json_safe_normalized_and_hash_stable() -> None:
    d = _diamond()
    data = d.to_json()
    assert json.loads(json.dumps(data)) == data
    assert list(data) == sorted(data)
    assert list(data["steps"][0]) == sorted(data["steps"][0])
    assert data["format"] == 1
    assert d.canonical_json() == json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    assert WorkflowDef.from_json(json.loads(d.canonical_json())).def_hash == d.def_hash


def test_a_changed_step_changes_the_hash() -> None:
    wf = Workflow("diamond", version="3")
    wf.step("a", "t").step("b", "t", depends_on=["a"]).step("c", "t", depends_on=["a"])
    wf.step("d", "t", depends_on=["c", "b"]).step("e", "t")  # trigger differs
    assert wf.build().def_hash != _diamond().def_hash


def test_from_json_rejects_unknown_keys_and_formats() -> None:
    data = _diamond().to_json()
    with pytest.raises(WorkflowDefinitionError, match="workflow 'diamond': unknown key 'owner'"):
        WorkflowDef.from_json({**data, "owner": "x"})
    with pytest.raises(WorkflowDefinitionError, match="unsupported definition format 2"):
        WorkflowDef.from_json({**data, "format": 2})
    bad_step = {**data["steps"][0], "retries": 3}
    with pytest.raises(WorkflowDefinitionError, match="step 'a': unknown key 'retries'"):
        WorkflowDef.from_json({**data, "steps": [bad_step, *data["steps"][1:]]})


def test_from_json_accepts_a_minimal_hand_written_definition() -> None:
    d = WorkflowDef.from_json({"name": "w", "version": "1", "steps": [{"name": "a", "task": "t"}]})
    assert d == WorkflowDef("w", "1", steps=(StepDef("a", "t"),))
    assert d.on_failure == "fail"


# -- round trip of random valid definitions -------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
text = st.text().filter(lambda s: "{{" not in s)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=10
)
seconds = st.none() | st.floats(min_value=0.001, max_value=1e6) | st.integers(min_value=1, max_value=10**6)
retries = st.none() | st.builds(
    StepRetry,
    max_attempts=st.integers(1, 20),
    backoff=st.sampled_from(["exponential", "linear", "fixed"]),
    initial_s=st.floats(0, 100),
    step_s=st.none() | st.floats(0, 100),
    max_s=st.floats(0, 1000),
    multiplier=st.floats(1, 10),
    jitter=st.booleans(),
)


@st.composite
def definitions(draw: st.DrawFn) -> WorkflowDef:
    step_names = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    steps: list[StepDef] = []
    for i, name in enumerate(step_names):
        deps = draw(st.lists(st.sampled_from(step_names[:i]), unique=True, max_size=3)) if i else []
        ref = draw(st.sampled_from(deps)) if deps and draw(st.booleans()) else None
        payload = draw(st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), json_values, max_size=3))
        if ref:
            payload["ref"] = f"{{{{tasks.{ref}.output.x[0]}}}}"
        steps.append(
            StepDef(
                name=name,
                task=draw(names),
                queue=draw(st.none() | names),
                depends_on=tuple(deps),
                args=tuple(draw(st.lists(json_values, max_size=2))),
                input=payload,
                retry=draw(retries),
                retry_on=tuple(draw(st.lists(st.sampled_from(["TransientError", "mod.Timeout"]), unique=True))),
                timeout_s=draw(seconds),
                trigger=draw(st.sampled_from(["all_success", "all_done", "one_success"])),
                priority=draw(st.none() | st.sampled_from(["high", "normal", "low"])),
            )
        )
    targets = draw(st.lists(st.sampled_from(step_names), unique=True, max_size=2))
    compensate = {t: StepDef(f"compensate-{t}", "undo", input={"o": f"{{{{tasks.{t}.output}}}}"}) for t in targets}
    return WorkflowDef(
        name=draw(names),
        version=draw(st.from_regex(VERSION_RE, fullmatch=True)),
        steps=tuple(steps),
        timeout_s=draw(seconds),
        compensate=compensate,
        on_failure=draw(st.sampled_from(["compensate", "fail"])) if compensate else None,
        description=draw(st.text(max_size=20)),
        retention_s=draw(seconds),
    )


@settings(max_examples=150)
@given(definitions())
def test_json_round_trip_is_exact(defn: WorkflowDef) -> None:
    data = json.loads(json.dumps(defn.to_json()))
    again = WorkflowDef.from_json(data)
    assert again == defn
    assert again.def_hash == defn.def_hash
    assert again.to_json() == defn.to_json()
    assert set(again.topo_order()) == {s.name for s in defn.steps}


def test_public_names_match_all() -> None:
    public = {n for n, v in vars(jetjobs.workflow).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert public - {"annotations"} == set(jetjobs.workflow.__all__)


def test_long_chains_need_no_deep_recursion() -> None:
    wf = Workflow("chain", version="1").step("s0", "t")
    for i in range(1, 3000):
        wf.step(f"s{i}", "t", depends_on=[f"s{i - 1}"], input={"x": f"{{{{tasks.s{i - 1}.output}}}}"})
    d = wf.build()
    assert d.topo_order()[-1] == "s2999"
    assert len(d.layers()) == 3000
    assert len(d.ancestors("s2999")) == 2999


def test_a_long_cycle_is_shown_shortened() -> None:
    wf = Workflow("cyc", version="1")
    for i in range(100):
        wf.step(f"s{i}", "t", depends_on=[f"s{(i - 1) % 100}"])
    with pytest.raises(WorkflowDefinitionError) as info:
        wf.build()
    assert str(info.value) == (
        "workflow 'cyc' v1, step 's0', depends_on: cycle s0 -> s1 -> s2 -> s3 -> s4 -> ... -> s96 -> s97 -> s98 "
        "-> s99 -> s0 (100 steps)"
    )


@pytest.mark.parametrize(
    "module",
    ["workflow._template", "workflow._names", "_duration", "workflow._frozen", "workflow._retry"],
)
def test_docstring_examples_hold(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"jetjobs.{module}"))
    assert result.attempted > 0
    assert result.failed == 0


class TransientError(Exception):
    pass


class GatewayTimeout(TransientError):
    pass


@pytest.mark.parametrize(
    ("retry_on", "error", "expected"),
    [
        ((), ValueError("x"), True),
        (("TransientError",), TransientError(), True),
        (("TransientError",), GatewayTimeout(), True),  # a subclass matches through its base
        (("GatewayTimeout",), TransientError(), False),
        (("TransientError",), ValueError(), False),
        ((f"{__name__}.TransientError",), GatewayTimeout(), True),
        (("other.module.TransientError",), GatewayTimeout(), False),
        (("ValueError", "KeyError"), KeyError("k"), True),
        (("LookupError",), KeyError("k"), True),
        (("Exception",), GatewayTimeout(), True),
    ],
)
def test_retry_on_matches_the_error_class_or_a_base_by_name(
    retry_on: tuple[str, ...], error: BaseException, expected: bool
) -> None:
    step = StepDef("s", "t", retry_on=retry_on)
    assert step.retries(error) is expected


def test_retry_on_accepts_type_names_from_another_process() -> None:
    step = StepDef("s", "t", retry_on=("TransientError",))
    assert step.retries(("shop.payments.TransientError",))
    assert not step.retries(("shop.payments.Declined", "builtins.Exception"))
