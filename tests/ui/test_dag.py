"""The run page's DAG layout and durations: pure functions, no server."""

from __future__ import annotations

import pytest

from jetjobs.workflow import Step, Workflow

pytest.importorskip("starlette", reason="the web UI needs the 'ui' extra")

from jetjobs.ui._dag import NODE_H, NODE_W, dag_layout
from jetjobs.ui._workflows import took


def fan_out(width: int) -> Workflow:
    wf = Workflow("fan", version="1", compensate={"start": Step("undo_start")})
    wf.step("start", "t")
    for i in range(width):
        wf.step(f"p{i}", "t", depends_on=["start"])
    wf.step("join", "t", depends_on=[f"p{i}" for i in range(width)])
    return wf


def test_layers_are_columns_left_to_right_with_an_edge_per_dependency() -> None:
    layout = dag_layout(fan_out(3).build(), {"start": "succeeded", "p1": "running"})
    nodes = {n["name"]: n for n in layout["nodes"]}
    assert [nodes[n]["x"] for n in ("start", "p0", "join")] == sorted({nodes[n]["x"] for n in ("start", "p0", "join")})
    assert nodes["p0"]["x"] == nodes["p1"]["x"] == nodes["p2"]["x"] > nodes["start"]["x"]
    assert len({nodes[f"p{i}"]["y"] for i in range(3)}) == 3  # stacked, not on top of each other
    assert nodes["start"]["y"] == nodes["p1"]["y"]  # a column is centred on the tallest one
    assert (nodes["start"]["state"], nodes["p1"]["state"], nodes["join"]["state"]) == (
        "succeeded",
        "running",
        "pending",
    )
    assert sum(not e["dashed"] for e in layout["edges"]) == 3 + 3
    comp = nodes["compensate-start"]
    assert (comp["undoes"], comp["task"], comp["x"]) == ("start", "undo_start", nodes["start"]["x"])
    assert comp["y"] >= max(n["y"] for n in layout["nodes"] if n is not comp) + NODE_H
    assert sum(e["dashed"] for e in layout["edges"]) == 1
    assert layout["width"] >= nodes["join"]["x"] + NODE_W
    assert layout["height"] >= comp["y"] + NODE_H


def test_a_wide_layer_is_cut_and_the_rest_counted_by_state() -> None:
    states = {f"p{i}": "succeeded" if i % 2 else "failed" for i in range(1000)}
    layout = dag_layout(fan_out(1000).build(), states, max_per_layer=10)
    middle = [n for n in layout["nodes"] if n["name"].startswith("p") or n["more"]]
    assert len(middle) == 10
    more = next(n for n in layout["nodes"] if n["more"])
    assert more["label"] == "+991 more"
    assert more["summary"] == "496 succeeded, 495 failed"
    assert sum(not e["dashed"] for e in layout["edges"]) == 9 + 9  # edges only between drawn steps
    assert layout["height"] < 20 * NODE_H


def test_long_step_names_are_shortened_in_the_box_only() -> None:
    wf = Workflow("w", version="1")
    wf.step("a-very-long-step-name-that-goes-on-and-on", "t")
    (node,) = dag_layout(wf.build(), {})["nodes"]
    assert node["name"] == "a-very-long-step-name-that-goes-on-and-on"
    assert node["label"] == "a-very-long-step-name-t…"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "\u2013"),
        (0.0001, "<1 ms"),
        (0.0123, "12 ms"),
        (3.4, "3.40 s"),
        (125, "2 min 05 s"),
        (7380, "2 h 03 min"),
    ],
)
def test_took(seconds: float | None, text: str) -> None:
    assert took(seconds) == text
