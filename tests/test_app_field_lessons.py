"""The field lessons under AppTest: each opens on its failure, and its fix switch turns it into success.

Every assertion reads what the page drew from the engine's run (verdict, matrices, tables), so a
change in the engine's behaviour shows up here rather than being masked by fixed text.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from .conftest import run_preset
from .test_app_pages import open_page

ROOT = Path(__file__).resolve().parents[1]
PAGES = {
    "lessons/06_ipsec_meets_nat.py": "l6",
    "lessons/07_l2tp_end_to_end.py": "l7",
    "lessons/08_server_behind_nat.py": "l8",
    "lessons/09_several_clients.py": "l9",
    "lessons/10_nat_timeouts.py": "l10",
}


def errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def successes(at: AppTest) -> str:
    return " ".join(s.value for s in at.success)


def text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [h.proto.body for h in at.get("html")]
                     + [c.value for c in at.code])


def fails(at: AppTest) -> bool:
    return "It fails" in errors(at) and "It works" not in successes(at)


def works(at: AppTest) -> bool:
    assert not at.exception, at.exception
    return "It works" in successes(at) and not at.error


@pytest.mark.parametrize("path,key", [(p, k) for p, k in PAGES.items() if (ROOT / p).exists()])
def test_page_loads_and_opens_on_its_failure(path, key):
    at = open_page(path)
    assert not at.exception, at.exception
    assert fails(at), errors(at)
    assert "natt-topo" in text(at) and "natt-seq" in text(at)


def test_ipsec_meets_nat_names_the_check_and_nat_t_fixes_it():
    at = open_page("lessons/06_ipsec_meets_nat.py")
    assert "inner UDP checksum" in errors(at)
    assert at.subheader[0].value.startswith("Step ") and "ESP" in at.subheader[0].value   # opens on the ESP step
    grid = text(at)
    assert "server drops AH: AH ICV mismatch" in grid and "nat drops ESP: no mapping" in grid
    at.session_state["l6:sw:protocol"] = "ah"
    at.run()
    assert fails(at) and "AH ICV mismatch" in errors(at)
    at.session_state["l6:sw:protocol"] = "esp"
    at.session_state["l6:sw:nat_t"] = "rfc3947"
    at.run()
    assert works(at)
    assert at.query_params["nat_t"] in ("rfc3947", ["rfc3947"])


def test_server_behind_nat_matrix_and_rule_fix():
    at = open_page("lessons/08_server_behind_nat.py")
    assert "error 809" in errors(at)
    body = text(at)
    assert "▶ ✗ client refuses (error 809)" in body                 # this run, marked in the matrix
    assert body.count("✗ client refuses (error 809)") == 3            # rule 0: server, both; rule 1: both
    assert "REG ADD HKLM\\SYSTEM\\CurrentControlSet\\Services\\PolicyAgent /v " \
           "AssumeUDPEncapsulationContextOnSendRule /t REG_DWORD /d 2 /f" in body
    assert any("Restart Windows" in w.value for w in at.warning)
    assert "no answer to MM4" in body                                  # what the server knows
    at.session_state["l8:sw:winrule"] = "1"
    at.run()
    assert works(at)
    at.session_state["l8:sw:topology"] = "both-nat"
    at.run()
    assert fails(at) and "error 809" in errors(at)
    at.session_state["l8:sw:winrule"] = "2"
    at.run()
    assert works(at)


def test_several_clients_helper_breaks_the_second_and_none_fixes_it():
    at = open_page("lessons/09_several_clients.py")
    assert "static-port-500 helper" in errors(at)
    body = text(at)
    assert "✗ server has no such SA" in body and "Port 500 was kept" in body
    at.session_state["l9:sw:helper"] = "none"
    at.run()
    assert works(at)
    body = text(at)
    pairs = next(h.proto.body for h in at.get("html") if "client sees server at" in h.proto.body)
    assert body.count("✓ same cookies") == 2 and "✗" not in pairs
    ports = [df for df in at.dataframe if "outside (public)" in df.value.columns][0].value
    outside_4500 = set(ports[ports["inside (client)"].str.endswith(":4500")]["outside (public)"])
    assert len(outside_4500) == 2                                     # a distinct public port per client


def test_timeouts_timeline_slider_and_fast_forward():
    at = open_page("lessons/10_nat_timeouts.py")
    assert "no mapping for UDP" in errors(at)
    body = text(at)
    assert 'class="natt-timeline"' in body and "expired" in body
    assert "**client** ×10" in body and "One-way traffic" in body
    start = at.session_state["l10:step"]
    at.button(key="l10:ff300").click().run()                          # fast-forward is clamped at the end
    assert at.session_state["l10:step"] >= start
    at.select_slider(key="l10:keepalive").set_value(20).run()
    assert works(at)
    assert at.query_params["keepalive"] in ("20", ["20"])
    at.select_slider(key="l10:timeout").set_value(10).run()
    assert fails(at)


def test_timeouts_deep_link_and_bad_values():
    at = open_page("lessons/10_nat_timeouts.py", keepalive="10", timeout="300", step="3")
    assert works(at) and at.session_state["l10:step"] == 3
    at = open_page("lessons/10_nat_timeouts.py", keepalive="7")
    assert not at.exception and any("keepalive=` 7 `" in w.value for w in at.warning)


def test_l2tp_end_to_end_forward_4500_fixes_it_and_rules_come_from_the_run():
    at = open_page("lessons/07_l2tp_end_to_end.py")
    assert "(MM5)" in errors(at) and "server-nat" in errors(at)
    body = text(at)
    assert "UDP 500 + ESP (IP protocol 50)" in body                   # no NAT: ESP, no 4500
    assert body.count("UDP 500 + UDP 4500") == 3                      # every NAT topology: 4500, no ESP
    assert "✗ NO-PROPOSAL-CHOSEN" in body and "✓ group 14 (2048-bit MODP)" in body
    at.session_state["l7:sw:forwards"] = "500,4500"
    at.run()
    assert works(at)
    assert at.query_params["forwards"] in ("500,4500", ["500,4500"])
    at.session_state["l7:sw:dh"] = "14"
    at.session_state["l7:sw:server_dh"] = "2"
    at.run()
    assert fails(at) and "NO-PROPOSAL-CHOSEN" in errors(at)


def test_several_clients_opens_on_the_second_clients_dropped_mm1():
    """`Lesson.start` as a function of the run: the page opens on the failure, not on step 1."""
    at = open_page("lessons/09_several_clients.py")
    assert not at.exception, at.exception
    step = at.session_state["l9:step"]
    assert step > 1
    heading = at.subheader[0].value
    assert heading.startswith(f"Step {step} of ") and "MM1: client2 → dropped at nat" in heading
    assert at.query_params["step"] in (str(step), [str(step)])
    assert "static-port-500 helper" in " ".join(h.proto.body for h in at.get("html") if "natt-lens" in h.proto.body)
    # a deep link still wins over the computed start
    assert open_page("lessons/09_several_clients.py", step="1").session_state["l9:step"] == 1
    # without the helper nothing is dropped: the page opens on client2's own (translated) MM1
    fixed = open_page("lessons/09_several_clients.py", helper="none")
    assert works(fixed)
    assert "MM1: client2 → server" in fixed.subheader[0].value


def test_lesson_start_accepts_a_label_or_a_function():
    from natt_core.lab.presets import preset
    from natt_core.lab.scenario import run
    from natt_ui.lesson import _start_index
    from natt_view.steps import journeys
    trace = run_preset("client-behind-nat")
    steps = journeys(trace)
    mm5 = next(j.index for j in steps if j.label == "MM5")
    assert _start_index(trace, steps, "MM5") == mm5 > 1
    assert _start_index(trace, steps, None) == _start_index(trace, steps, "no such label") == 1
    assert _start_index(trace, steps, lambda t, s: s[-1].index) == len(steps)
    assert _start_index(trace, steps, lambda t, s: 10_000) == len(steps)      # clamped to the run
    assert _start_index(trace, steps, lambda t, s: -3) == 1


def test_lesson_7_shows_what_the_client_side_update_changed():
    at = open_page("lessons/07_l2tp_end_to_end.py")
    assert not at.exception
    body = " ".join(h.proto.body for h in at.get("html"))
    i = body.index("Windows 2000, no update")
    no_update = body[i:body.index("Windows 2000 + 818043", i)]
    assert "✗" in no_update and "✓" not in no_update          # the inner checksum fails behind the NAT
    updated = body[body.index("Windows 2000 + 818043", i):]
    assert "✓ connects · group 14" in updated                   # NAT-T server: DH 2048 and UDP encapsulation
    assert updated.count("✗") >= 1                              # the client-only NAT-T server still cannot serve it



@pytest.mark.parametrize("path", ["lessons/07_l2tp_end_to_end.py", "lessons/08_server_behind_nat.py"])
def test_lessons_7_and_8_say_when_the_box_in_the_middle_is_a_plain_router(path):
    at = open_page(path)
    assert not at.exception
    assert any("plain router" in c.value and "nat.kind=none" in c.value for c in at.caption)


def test_a_step_view_says_when_the_nat_is_a_plain_router():
    at = open_page("lessons/03_nat_d.py", nat="none")
    assert not at.exception
    assert any("plain router, not a NAT" in i.value for i in at.info)
    assert "plain router, no NAT" in " ".join(m.value for m in at.markdown)     # the topology says so too
    assert not any("plain router" in i.value for i in open_page("lessons/03_nat_d.py").info)
