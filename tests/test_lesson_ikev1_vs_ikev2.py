"""The IKEv1 vs IKEv2 lesson: the correspondence comes from the two runs (natt_view.versions), the
NAT-D workbench reads IKEv2's notifies (checked with hashlib, RFC 7296 §2.23), and the page runs
under AppTest with the two columns following each other."""
from __future__ import annotations

import hashlib
import ipaddress
from pathlib import Path

import pytest

from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_view.steps import journeys
from natt_view.versions import TOPICS, count_lines, ike_messages, side_by_side, synced_step
from natt_view.workbench import natd_cases, natd_check

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def runs():
    return run(preset("client-behind-nat")), run(preset("ikev2-client-behind-nat"))


def test_nine_messages_against_four(runs):
    v1, v2 = runs
    assert [j.label for j in ike_messages(v1)] == ["MM1", "MM2", "MM3", "MM4", "MM5", "MM6", "QM1", "QM2", "QM3"]
    assert [j.label for j in ike_messages(v2)] == ["IKE_SA_INIT", "IKE_SA_INIT response", "IKE_AUTH",
                                                   "IKE_AUTH response"]
    assert count_lines(v1, v2)[0]["IKEv1 (RFC 2409 + 3947)"] == 9 and count_lines(v1, v2)[0]["IKEv2 (RFC 7296)"] == 4


def test_steps_are_synchronised_by_job(runs):
    v1, v2 = runs
    rows = side_by_side(v1, v2)
    assert [r.topic for r in rows] == list(TOPICS) and all(r.v1_steps and r.v2_steps for r in rows)
    label = lambda trace, n: journeys(trace)[n - 1].label
    pairs = {label(v1, n): label(v2, synced_step(rows, n)) for n in range(1, 10)}
    assert pairs["MM3"] == "IKE_SA_INIT" and pairs["MM4"] == "IKE_SA_INIT response"    # NAT-D ↔ notifies
    assert pairs["MM5"] == "IKE_AUTH" and pairs["QM1"] == "IKE_AUTH"                    # float, NAT-OA ↔ TS
    esp = [n for n in range(1, len(journeys(v1)) + 1) if label(v1, n) == "ESP-in-UDP"]
    assert [label(v2, synced_step(rows, n)) for n in esp] == ["ESP-in-UDP"] * len(esp)


def _sha1_natd(spi_i: bytes, spi_r: bytes, ip: str, port: int) -> bytes:
    return hashlib.sha1(spi_i + spi_r + ipaddress.IPv4Address(ip).packed + port.to_bytes(2, "big")).digest()


def test_the_natd_workbench_reads_ikev2_notifies(runs):
    _, v2 = runs
    cases = natd_cases(v2)
    assert [c.label for c in cases] == ["IKE_SA_INIT", "IKE_SA_INIT response"]
    init = cases[0]
    assert init.hash_name == "sha1" and init.rcookie == bytes(8)       # SPIr is still zero in the request
    # what the client hashed: its own address as it sent it (the source), independently with hashlib
    assert _sha1_natd(init.icookie, init.rcookie, *init.sent_src) in init.received[1:]
    assert init.received[0] == _sha1_natd(init.icookie, init.rcookie, *init.sent_dst)
    v = natd_check(init, init.seen_src, init.seen_dst)
    assert v.peer_behind_nat and not v.self_behind_nat
    # a student who undoes the NAT's rewrite on the workbench sees the verdict flip
    assert not natd_check(init, init.sent_src, init.seen_dst).peer_behind_nat
    resp = natd_check(cases[1], cases[1].seen_src, cases[1].seen_dst)
    assert resp.self_behind_nat and not resp.peer_behind_nat


def test_the_lesson_page_runs_and_follows_the_ikev1_step():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(ROOT / "lessons" / "11_ikev1_vs_ikev2.py"), default_timeout=120).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert [m.value for m in at.metric] == ["9", "4"]
    subs = [s.value for s in at.subheader]
    assert any(s.startswith("IKEv1 · step 1 of") and "MM1" in s for s in subs)
    assert any(s.startswith("IKEv2 · step 1 of") and "IKE_SA_INIT" in s for s in subs)
    at.selectbox(key="l11:step").set_value(5).run()
    subs = [s.value for s in at.subheader]
    assert not at.exception
    assert any("MM5" in s for s in subs) and any(s.startswith("IKEv2 · step 3 of") and "IKE_AUTH" in s for s in subs)
    assert any("Float to 4500" in i.value for i in at.info)
