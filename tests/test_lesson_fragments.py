"""The fragments lesson: its story comes from the run (natt_view.fragments), and the page runs under
AppTest with its what-if switches (NAT fragments, IKE fragmentation)."""
from __future__ import annotations

from pathlib import Path

from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_view.fragments import big_messages

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "lessons" / "13_fragments.py"


def _lesson_run(*extra: str):
    ns: dict = {}
    source = LESSON.read_text()
    exec(source[source.index("PRESET ="):source.index("SWITCHES =")], ns)   # the scenario, in one place
    return run(apply_settings(preset(ns["PRESET"]), [*ns["SETTINGS"], *extra]))


def test_the_story_of_the_dropping_nat_names_the_message_its_fragments_and_the_drop():
    big = big_messages(_lesson_run())
    first = big[0]
    assert (first.label, first.sender, first.how, first.pieces) == ("MM5", "client", "ip", 2)
    assert 2000 < first.size < 3000 and first.dropped == 2 and first.dropped_by == "nat"   # the certificate chain
    assert first.drop_code == "FRAGMENT_DROPPED" and "IP fragments" in first.sentence()


def test_with_ike_fragmentation_the_story_is_ike_fragments_and_nothing_dropped():
    big = big_messages(_lesson_run("client.ike_fragmentation=yes", "server.ike_fragmentation=yes"))
    assert [(b.label, b.sender, b.how, b.pieces, b.dropped) for b in big] == [
        ("MM5", "client", "ike", 2, 0), ("MM6", "server", "ike", 2, 0)]


def test_with_pre_shared_keys_only_a_small_link_splits_a_message_and_then_it_is_mm3():
    assert not big_messages(_lesson_run("client.auth=psk", "server.auth=psk"))
    big = big_messages(_lesson_run("client.auth=psk", "server.auth=psk", "link.mtu=296"))
    assert (big[0].label, big[0].how, big[0].size, big[0].drop_code) == ("MM3", "ip", 400, "FRAGMENT_DROPPED")


def test_the_lesson_page_runs_and_its_switches_change_the_verdict():
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(LESSON), default_timeout=120).run()
    assert not at.exception, at.exception
    assert any("It fails" in e.value for e in at.error), [e.value for e in at.error]
    assert any("IP fragments" in m.value and "FRAGMENT_DROPPED" in m.value for m in at.markdown)
    assert any("IP fragment 1 of 2" in s.value for s in at.subheader)     # it opens on the first fragment
    at.session_state["l12:sw:ike_frag"] = "yes"
    at.run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert any("It works" in s.value for s in at.success)
    assert any("IKE fragments" in m.value for m in at.markdown)
    assert any("IKE fragment 1/2" in s.value for s in at.subheader)       # it opens on the first IKE fragment
    at.session_state["l12:sw:ike_frag"] = "no"
    at.session_state["l12:sw:fragments"] = "first-only"
    at.run()
    assert not at.exception and any("It fails" in e.value for e in at.error)
