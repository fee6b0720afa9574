"""Lesson 13, the tunnel over time, under AppTest: the rekey preset's generations and the what-if
switches (a shorter lifetime rekeys more often, a kilobyte limit rekeys on traffic, no rekey expires)."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[1] / "lessons" / "14_tunnel_over_time.py")


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _open(**params) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception and not at.error, (at.exception, at.error)
    return at


def test_the_page_shows_the_generations_and_no_loss():
    at = _open()
    m = _metrics(at)
    assert m["phase-1 generations"] == "4" and m["phase-2 generations"] == "14" and m["ESP packets lost"] == "0"
    assert any("broke nothing" in s.value for s in at.success)
    assert any("natt-tunnel" in md.value for md in at.markdown)
    at.select_slider(key="l13:p2").set_value(30).run()
    assert not at.exception and int(_metrics(at)["phase-2 generations"]) > 14
    assert at.query_params["p2"] == ["30"] or at.query_params["p2"] == "30"


def test_switching_rekey_off_shows_the_expiry_and_the_loss():
    at = _open()
    at.toggle(key="l13:rekey").set_value(False).run()
    m = _metrics(at)
    assert not at.exception and m["rekeys"] == "0" and int(m["expiries"]) >= 1 and m["ESP packets lost"] != "0"
    assert any("found no SA" in w.value for w in at.warning)


def test_a_link_restores_the_what_if_and_a_bad_one_is_ignored():
    at = _open(kb="1", rekey="yes")
    assert at.select_slider(key="l13:kb").value == 1
    assert int(_metrics(at)["rekeys"]) > 7          # the kilobyte limit rekeys on traffic too
    bad = _open(p2="banana", kb="-3")
    assert bad.select_slider(key="l13:p2").value == 60 and _metrics(bad)["phase-2 generations"] == "14"
