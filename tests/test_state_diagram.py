"""The state diagram is drawn from the table itself, and the copy in docs/ENGINE.md cannot drift.

Edges are read back two ways: from the DOT text, and by Graphviz itself (`dot -Tplain` lists the
edges it parsed), so a diagram that only looks right cannot pass.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from natt_core.ike.state_diagram import diagrams, dot
from natt_core.ike.states import MAIN_MODE, QUICK_MODE, STARTS_NEXT, TABLES, Msg, Role, State

#: IKEv1's transitions: what `dot()` draws by default
TRANSITIONS = {k: v for t in TABLES["IKEv1"] for k, v in t.transitions.items()}

ROOT = Path(__file__).resolve().parents[1]
EDGE = re.compile(r'^\s*(\w+) -> (\w+) \[(.*)\];$', re.M)


def edges(text: str) -> tuple[set, set]:
    """(solid edges as (tail, head, label), dashed edges as (tail, head)) from DOT text."""
    solid, dashed = set(), set()
    for tail, head, attrs in EDGE.findall(text):
        label = re.search(r'label="([^"]*)"', attrs).group(1)
        if "style=dashed" in attrs:
            dashed.add((tail, head))
        else:
            solid.add((tail, head, label))
    return solid, dashed


def table_edges(transitions) -> set:
    return {(s.name, n.name, m.value) for (s, m), n in transitions.items()}


def test_every_transition_is_one_edge_and_every_edge_a_transition():
    solid, dashed = edges(dot())
    assert solid == table_edges(TRANSITIONS)
    assert len(EDGE.findall(dot())) == len(TRANSITIONS) + len(STARTS_NEXT)   # no edge drawn twice
    # the initiator starts Quick Mode where MM6 leaves it
    assert dashed == {(State.ESTABLISHED.name, QUICK_MODE.begins[Role.INITIATOR].name)}


def test_a_change_to_the_table_changes_the_diagram():
    extra = (State.I_EXPECT_MM4, Msg.MM2)
    grown = replace(MAIN_MODE, transitions={**MAIN_MODE.transitions, extra: State.I_EXPECT_MM6})
    solid, _ = edges(dot((grown, QUICK_MODE)))
    assert ("I_EXPECT_MM4", "I_EXPECT_MM6", "MM2") in solid
    assert solid == table_edges(grown.transitions) | table_edges(QUICK_MODE.transitions)

    shrunk = replace(QUICK_MODE, transitions={k: v for k, v in QUICK_MODE.transitions.items()
                                              if k != (State.QR_EXPECT_QM3, Msg.QM3)})
    solid, _ = edges(dot((MAIN_MODE, shrunk)))
    assert ("QR_EXPECT_QM3", "QM_DONE", "QM3") not in solid
    assert dot((MAIN_MODE, shrunk)) != dot()


def test_nodes_are_coloured_by_the_role_whose_path_reaches_them():
    text = dot()
    colour = dict(re.findall(r'^\s*(\w+) \[fillcolor="([^"]+)"', text, re.M))
    assert set(colour) == {s.name for key, n in TRANSITIONS.items() for s in (key[0], n)}
    assert colour["I_EXPECT_MM4"] == colour["QI_EXPECT_QM2"] != colour["R_EXPECT_MM3"] == colour["QR_EXPECT_QM1"]
    assert colour["ESTABLISHED"] == colour["QM_DONE"] not in (colour["I_START"], colour["R_EXPECT_MM1"])


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz (dot) is not installed")
def test_graphviz_parses_the_same_edges():
    plain = subprocess.run(["dot", "-Tplain"], input=dot(), capture_output=True, text=True, check=True).stdout
    solid, dashed = set(), set()
    for line in plain.splitlines():
        parts = shlex.split(line)
        if parts and parts[0] == "edge":     # edge tail head n x1 y1 .. xn yn [label lx ly] style colour
            tail, head, n = parts[1], parts[2], int(parts[3])
            label, style = parts[4 + 2 * n], parts[-2]
            (dashed if style == "dashed" else solid).add((tail, head, label))
    assert solid == table_edges(TRANSITIONS)
    assert {(t, h) for t, h, _ in dashed} == edges(dot())[1] and len(dashed) == len(STARTS_NEXT)


def test_the_engine_doc_carries_the_generated_diagram():
    doc = (ROOT / "docs" / "ENGINE.md").read_text(encoding="utf-8")
    begin, end = "<!-- BEGIN generated: python -m natt_core.ike.states -->", "<!-- END generated -->"
    found = re.search(re.escape(begin) + r"\n```dot\n(.*?)```\n" + re.escape(end), doc, re.S)
    assert found, "docs/ENGINE.md lost its generated state diagram section"
    assert "digraph IKEv2 {" in found.group(1)
    assert found.group(1) == diagrams(), ("docs/ENGINE.md's state diagram differs from the table: replace the block "
                                     "with the output of `python -m natt_core.ike.states`")


def test_every_protocol_gets_its_own_diagram():
    assert set(TABLES) == {"IKEv1", "IKEv2"}
    for protocol, tables in TABLES.items():
        text = dot(name=protocol)
        assert text.startswith(f"digraph {protocol} {{")
        assert edges(text)[0] == set().union(*(table_edges(t.transitions) for t in tables))
    # IKEv2 sets up its IKE SA and first CHILD_SA in four messages, then either side may begin more
    solid, dashed = edges(dot(name="IKEv2"))
    assert ("R_INIT_DONE", "ESTABLISHED", "IKE_AUTH request") in solid and not dashed
    assert ("ESTABLISHED", "DELETING", "delete") in solid


def test_the_reference_page_draws_the_same_diagram():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "lessons" / "reference.py"), default_timeout=60).run()
    assert not at.exception, at.exception
    assert [c.proto.spec for c in at.get("graphviz_chart")] == [dot(name=p) for p in TABLES] == [dot(), dot(name="IKEv2")]
