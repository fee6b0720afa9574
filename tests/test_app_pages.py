"""Every app page under Streamlit's AppTest: it loads, draws its diagrams, steps, switches, links.

Pages are opened one at a time with AppTest.from_file (paths relative to this file). Runs are
cached per process, so after the first page each run takes a fraction of a second.
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = {  # page file -> its lesson key
    "lessons/01_main_mode.py": "l1",
    "lessons/02_vendor_ids.py": "l2",
    "lessons/03_nat_d.py": "l3",
    "lessons/04_float_4500.py": "l4",
    "lessons/05_quick_mode.py": "l5",
}


def open_page(path: str, **query) -> AppTest:
    at = AppTest.from_file(str(ROOT / path), default_timeout=60)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(m.value for m in at.sidebar.markdown)


def html_text(at: AppTest) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def frames_text(at: AppTest) -> str:
    """Every cell of every dataframe on the page."""
    return " ".join(" ".join(map(str, df.value.astype(str).values.ravel())) + " " + " ".join(df.value.columns)
                    for df in at.dataframe)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("path,key", LESSONS.items())
def test_lesson_loads_draws_and_steps(path, key):
    at = open_page(path)
    assert_clean(at)
    topo = next(m.value for m in at.markdown if 'class="natt-topo"' in m.value)   # drawn by dot on the server
    assert "<title>topology</title>" in topo and 'stroke-width="5"' in topo     # topology, path highlighted
    assert "<svg" in markdown_text(at) and 'class="natt-seq"' in markdown_text(at)   # sequence diagram
    assert "natt-rfc" in html_text(at) and "natt-hex" in html_text(at)        # field layout and hex
    assert "Diff lens:" in html_text(at)
    start = at.session_state[f"{key}:step"]
    assert at.subheader[0].value.startswith(f"Step {start} of ")
    at.button(key=f"{key}:next").click().run()
    assert at.session_state[f"{key}:step"] == start + 1
    assert at.query_params["step"] == [str(start + 1)] or at.query_params["step"] == str(start + 1)
    at.button(key=f"{key}:prev").click().run()
    assert at.session_state[f"{key}:step"] == start
    assert_clean(at)
    names = [d.label for d in at.get("download_button")]
    assert any(n.endswith(".pcapng") for n in names) and "esp_sa" in names
    assert {"secrets.json", "report.json", "ikev1_decryption_table"} <= set(names)


def test_deep_link_opens_the_step_and_the_switch():
    at = open_page("lessons/03_nat_d.py", step="4", nat="static")
    assert_clean(at)
    assert at.session_state["l3:step"] == 4 and at.session_state["l3:sw:nat"] == "static"
    assert at.subheader[0].value.startswith("Step 4 of ") and "MM4" in at.subheader[0].value
    assert "only the destination address was changed" in markdown_text(at)


def test_bad_links_warn_instead_of_failing():
    at = open_page("lessons/01_main_mode.py", step="banana", nat="carrier-pigeon")
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "step=` banana `" in warnings and "nat=` carrier-pigeon `" in warnings   # as text: a code span
    at = open_page("lessons/01_main_mode.py", step="999")
    assert not at.exception and at.session_state["l1:step"] == len(at.selectbox(key="l1:step").options)


def test_nat_t_off_changes_the_outcome():
    at = open_page("lessons/04_float_4500.py")
    assert "floated to 4500" in markdown_text(at)
    assert "non-ESP marker 00 00 00 00" in html_text(at)
    at.session_state["l4:sw:nat_t"] = "off"
    at.run()
    assert_clean(at)
    text = markdown_text(at)
    assert "floated to 4500" not in text and "NAT-T not negotiated" in text
    assert at.query_params["nat_t"] in ("off", ["off"])
    assert any("Nothing in this run used UDP 4500" in i.value for i in at.info)


def test_natd_workbench_edit_flips_the_verdict():
    at = open_page("lessons/03_nat_d.py")
    assert any("client is behind a NAT" in w.value for w in at.warning)
    def field(label):
        return next(t for t in at.text_input if t.label == label)
    assert field("source port").value != "500"              # the NAT's port, as it arrived
    field("source address").set_value("192.168.11.20")
    field("source port").set_value("500").run()
    assert_clean(at)
    assert not any("behind a NAT**" in w.value for w in at.warning)
    assert any("client is not behind a NAT" in s.value for s in at.success)
    field("source address").set_value("not-an-address").run()
    assert not at.exception and any("Cannot hash that" in e.value for e in at.error)
    # a what-if switch resets the workbench to the new run's arrival view
    at.session_state["l3:sw:nat"] = "static"
    at.run()
    assert field("source port").value == "500" and field("source address").value == "192.168.1.30"


def test_vendor_id_switch_changes_the_version():
    at = open_page("lessons/02_vendor_ids.py")
    at.session_state["l2:sw:server_nat_t"] = "draft-02"
    at.run()
    assert_clean(at)
    assert "settles on **draft-02**" in markdown_text(at) or "settles on **draft-02n**" in markdown_text(at)
    at.session_state["l2:sw:client_nat_t"] = "none"
    at.run()
    assert any("No common NAT-T version" in w.value for w in at.warning)


def test_quick_mode_tunnel_switch():
    at = open_page("lessons/05_quick_mode.py")
    assert "UDP-Encapsulated-Transport (RFC 3947)" in frames_text(at)
    assert "fixed up" in markdown_text(at)
    at.session_state["l5:sw:mode"] = "tunnel"
    at.run()
    assert_clean(at)
    assert "UDP-Encapsulated-Tunnel (RFC 3947)" in frames_text(at)
    assert "no checksum fix-up needed" in markdown_text(at)


def test_invalid_combination_is_a_readable_error():
    at = open_page("lessons/01_main_mode.py")
    at.session_state["l1:sw:dh"] = "14"
    at.session_state["l1:sw:server_dh"] = "2"
    at.run()
    assert not at.exception
    text = markdown_text(at)
    assert "phase 1 failed" in text or "not-started" in text or at.error


def test_playground_any_preset_and_reference():
    at = open_page("lessons/playground.py", scenario="double-nat", step="2")
    assert_clean(at)
    assert at.session_state["pg:scenario"] == "double-nat"
    assert "<title>cgnat</title>" in markdown_text(at)
    at.selectbox(key="pg:scenario").set_value("legacy-behind-nat").run()
    assert_clean(at)
    assert "L2TP messages sent 6, delivered 0" in markdown_text(at)   # SCCRQ and 5 retransmissions
    ref = open_page("lessons/reference.py")
    assert_clean(ref)
    frames = frames_text(ref)
    assert "4a131c81070358455c5728f20e95452f" in frames and "61443" in frames


def test_entry_point_and_start_page():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert_clean(at)
    assert at.title[0].value == "NAT-T Lab"
    table = markdown_text(at)
    assert "| 3 · NAT-D: who is behind NAT | Recompute both NAT-D hashes" in table   # from the page's docstring
    at.switch_page("lessons/04_float_4500.py").run()
    assert_clean(at)
    assert at.title[0].value == "The float to 4500"


def test_a_step_change_never_reruns_the_engine(monkeypatch):
    import natt_ui.runs as runs
    calls = []
    real = runs.run
    monkeypatch.setattr(runs, "run", lambda s: calls.append(s.name) or real(s))
    runs._run.clear()
    at = open_page("lessons/04_float_4500.py")
    assert calls == ["client-behind-nat"]
    for _ in range(3):
        at.button(key="l4:next").click().run()
    at.button(key="l4:prev").click().run()
    assert_clean(at)
    assert calls == ["client-behind-nat"]           # four step changes, still one engine run


def _row_links(at: AppTest) -> dict[int, str]:
    """step -> href of every row link in the page's sequence diagram."""
    svg = next(m.value for m in at.markdown if 'class="natt-seq"' in m.value)
    found = re.findall(r'<a class="natt-row" data-step="(\d+)" href="([^"]*)"', svg)
    return {int(n): html.unescape(h) for n, h in found}


def test_sequence_rows_are_deep_links_that_keep_the_switches():
    at = open_page("lessons/03_nat_d.py", step="2", nat="static")
    assert_clean(at)
    links = _row_links(at)
    total = len(at.selectbox(key="l3:step").options)
    assert sorted(links) == list(range(1, min(total, 16) + 1))
    assert links[5] == "?step=5&nat=static"
    at.session_state["l3:sw:nat"] = "napt"                     # back to the preset: no switch in the links
    at.run()
    assert _row_links(at)[5] == "?step=5"
    # following a row's link is a plain deep link: it opens that step with the same switches
    again = open_page("lessons/03_nat_d.py", **dict(p.split("=") for p in links[5][1:].split("&")))
    assert_clean(again)
    assert again.session_state["l3:step"] == 5 and again.session_state["l3:sw:nat"] == "static"


def test_lesson_3_offers_the_nat_d_check_as_a_terminal_snippet():
    at = open_page("lessons/03_nat_d.py")
    code = "\n".join(c.value for c in at.code)
    assert "import hashlib" in code and "received = [" in code and not at.exception
