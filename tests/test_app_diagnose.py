"""The "Diagnose a capture" page under AppTest: a lab capture gives the diagnosis the analysis
computes, and the page never shows a traceback. (Uploads go through the same `diagnose` call;
the browser test uploads real and broken files.)"""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "lessons" / "diagnose.py")


def test_without_a_file_the_page_explains_what_to_do():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No capture yet" in i.value for i in at.info)


def test_a_lab_capture_of_a_server_behind_nat_names_error_809():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="dx:source").set_value("A capture from the lab").run()
    assert not at.exception
    (headline,) = at.error
    assert "The initiator stopped after MM4" in headline.value and "809" in headline.value
    ladder = "".join(h.proto.body for h in at.get("html"))
    assert "MM4" in ladder and "MM5" not in ladder


def test_switching_the_scenario_and_capture_point_changes_the_diagnosis():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="dx:source").set_value("A capture from the lab").run()
    at.selectbox(key="dx:preset").set_value("client-behind-nat").run()
    at.selectbox(key="dx:segment").set_value("internet").run()
    assert not at.exception and not at.error
    assert any("No problem found" in s.value for s in at.success)
    text = "\n".join(m.value for m in at.markdown)
    assert "Floated to UDP 4500 at MM5" in text and "outside the initiator's NAT" in "\n".join(c.value for c in at.caption)


def test_the_recorded_strongswan_captures_tell_their_stories():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="dx:source").set_value("A real strongSwan capture").run()
    assert not at.exception and any("fake its own NAT-D" in c.value for c in at.caption)
    assert any("No problem found" in s.value for s in at.success)
    at.selectbox(key="dx:recording").set_value("strongswan-wrong-psk").run()
    assert any("The pre-shared keys differ" in e.value for e in at.error)


def test_any_packet_of_the_capture_is_laid_out_field_by_field():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="dx:source").set_value("A capture from the lab").run()
    at.selectbox(key="dx:preset").set_value("client-behind-nat").run()
    at.selectbox(key="dx:segment").set_value("internet").run()
    packet_box(at).set_value(2).run()        # packet #3: MM3 with its NAT-D payloads
    assert not at.exception
    body = "".join(h.proto.body for h in at.get("html"))
    assert "NAT-D" in body and "initiator cookie" in body
    packet_box(at).set_value(9).run()        # packet #10: ESP-in-UDP
    body = "".join(h.proto.body for h in at.get("html"))
    assert "SPI" in body and not at.exception


def test_comparing_both_sides_of_a_helper_nat_shows_the_kept_port_and_the_dropped_client():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="dx:source").set_value("A capture from the lab").run()
    at.selectbox(key="dx:preset").set_value("multi-client-helper").run()
    at.selectbox(key="dx:segment").set_value("client-lan").run()
    assert at.selectbox(key="dx:compare").value == "internet" and not at.exception
    lost = [e.value for e in at.error if "seen on side A only" in e.value]
    assert lost and "192.168.11.21:500" in lost[0] and "MM1" in lost[0]
    table = at.dataframe[0].value
    kept = table[table["port 500 kept"] == "yes"]
    assert list(kept["side A"]) == ["192.168.11.20:500"] and list(kept["side B"]) == ["192.168.1.30:500"]
    diff = "".join(h.proto.body for h in at.get("html"))
    assert "192.168.11.20" in diff and "192.168.1.30" in diff


def packet_box(at: AppTest):
    """The packet selector (its key carries the capture's identity)."""
    return next(s for s in at.selectbox if s.key and s.key.startswith("dx:packet:"))


def test_a_recording_comes_with_what_charon_logged():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="dx:source").set_value("A real strongSwan capture").run()
    log = "\n".join(c.value for c in at.code)
    assert "remote host is behind NAT" in log and "[ENC]" in log and not at.exception


def _report(path: str) -> None:
    from natt_core.analysis import diagnose
    from natt_ui.capture_report import render_findings, render_headline, render_summary
    d = diagnose(open(path, "rb").read())
    render_headline(d)
    render_summary(d)
    render_findings(d)


def test_a_capture_with_many_exchanges_shows_a_summary_and_pages_them(tmp_path):
    """25 unanswered MM1s (built with scapy): a summary line first, then ten exchanges per page."""
    from .test_diagnose_corpus import isakmp_v1, pcap, sa, udp
    frames = [udp("10.0.0.1", "10.0.0.2", isakmp_v1(2, bytes([n + 1]) * 8, payloads=sa())) for n in range(25)]
    path = tmp_path / "many.pcap"
    path.write_bytes(pcap(frames, tmp_path))
    at = AppTest.from_function(_report, args=(str(path),), default_timeout=60).run()
    assert not at.exception
    assert any("25 problem(s)" in c.value and "IKEv1" in c.value for c in at.caption)
    assert len(at.subheader) == 10
    (pager,) = at.number_input
    pager.set_value(3).run()
    assert len(at.subheader) == 5 and not at.exception


def test_strongswans_own_ike_fragments_are_joined_on_the_page():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="dx:source").set_value("A real strongSwan capture").run()
    at.selectbox(key="dx:recording").set_value("strongswan-ikev1-fragments").run()
    assert not at.exception and any("fragments are strongSwan's own" in c.value for c in at.caption)
    assert any("No problem found" in s.value for s in at.success)
    assert any("**IKE fragments (IKEv1): 6 message(s)" in m.value for m in at.markdown)
    assert any("MM1 (3 IKE fragments: #1–3)" in h.proto.body for h in at.get("html"))     # the ladder
    at.selectbox(key="dx:recording").set_value("strongswan-ikev2-fragments").run()
    assert not at.exception and any("No problem found" in s.value for s in at.success)
