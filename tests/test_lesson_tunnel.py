"""Lesson 14, the tunnel over time, under AppTest: the rekey story's generations and what-ifs (a shorter
lifetime rekeys more often, a kilobyte limit rekeys on traffic, no rekey expires), the DPD and NAT
stories, links that ask for what is not on offer, and the playground's liveness fields."""
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


# ------------------------------------------------------------------ the three stories

def _svg(at) -> str:
    return next(md.value for md in at.markdown if "natt-tunnel" in md.value)


def _moments(at) -> list:
    return at.dataframe[0].value.to_dict("records")


def test_the_dpd_story_shows_the_dead_peer_and_its_sas_cleared():
    at = _open(story="dpd")
    m = _metrics(at)
    assert m["dead peers"] == "1" and m["R-U-THERE answered"] == "1" and m["SAs deleted"] == "2"
    assert m["SAs the server still holds"] == "0"
    assert any("declared the client dead at t = 180 s, 120 s after" in i.value for i in at.info)
    svg = _svg(at)
    assert "☠" in svg and "server · events" in svg and "client switched off" in svg
    whats = [r["what"] for r in _moments(at)]
    assert whats.count("peer declared dead") == 1 and whats.count("SA deleted") == 2
    # the step view opens on the first R-U-THERE
    assert at.session_state["l13d:step"] == 36
    assert at.query_params["story"] in ("dpd", ["dpd"])


def test_a_client_without_dpd_is_never_declared_dead():
    at = _open(story="dpd", xp="yes")
    m = _metrics(at)
    assert m["dead peers"] == "0" and m["R-U-THERE answered"] == "0" and m["SAs the server still holds"] == "2"
    assert any("never noticed" in w.value for w in at.warning)
    at.select_slider(key="l13d:delay").set_value(10).run()
    assert not at.exception and _metrics(at)["dead peers"] == "0"     # still never asked
    at.toggle(key="l13d:xp").set_value(False).run()
    at.select_slider(key="l13d:timeout").set_value(30).run()
    assert not at.exception and _metrics(at)["dead peers"] == "1"
    assert any("dead at t = 90 s" in i.value for i in at.info)


def test_the_nat_story_shows_the_flush_and_the_server_following():
    at = _open(story="nat")
    m = _metrics(at)
    assert m["NAT flushes"] == "1" and m["address changes followed"] == "1"
    assert any("authenticated ESP-in-UDP came from the client's new port" in s.value and "62297" in s.value
               for s in at.success)
    assert "nat · events" in _svg(at) and "⌫" in _svg(at) and "⇄" in _svg(at)
    rows = _moments(at)
    assert [r["lane"] for r in rows if r["what"] == "NAT forgets its mappings"] == ["nat · events"]


def test_the_nat_story_what_ifs_from_the_preset():
    at = _open(story="nat", hello="no")
    assert _metrics(at)["address changes followed"] == "0"
    assert any("never learned the new port" in w.value and "NAT" in w.value for w in at.warning)
    at.toggle(key="l13n:dpd").set_value(True).run()
    m = _metrics(at)
    assert not at.exception and m["address changes followed"] == "1"     # the R-U-THERE re-taught the port
    assert any("authenticated Info" in s.value for s in at.success), [s.value for s in at.success]


def test_a_bad_story_in_the_link_falls_back_to_rekeying():
    at = _open(story="<b>dpd</b>", delay="banana")
    assert at.radio(key="l13:story").value == "rekey" and _metrics(at)["phase-2 generations"] == "14"
    assert not any("<b>" in md.value for md in at.markdown)
    bad = _open(story="dpd", delay="7", timeout="x", xp="maybe")
    assert bad.select_slider(key="l13d:delay").value == 30 and bad.select_slider(key="l13d:timeout").value == 120
    assert not bad.toggle(key="l13d:xp").value and _metrics(bad)["dead peers"] == "1"


# ------------------------------------------------------------------ the playground form

def test_the_liveness_fields_round_trip_through_the_form():
    from natt_core.lab.presets import PRESETS, preset
    from natt_view.scenario_form import SECTIONS, check, values_of
    keys = {f.key for f in SECTIONS["Liveness and events"]}
    assert {"client.dpd_delay", "server.dpd_delay", "client.dpd_timeout", "server.dpd_timeout",
            "client.initial_contact", "nat.flush_at", "client.off_at", "server.off_at", "client.reboot_at"} <= keys
    for name in PRESETS:                                     # every preset reads back as itself
        assert check(name, values_of(preset(name))) == ((), {}), name
    values = values_of(preset("dpd-peer-gone"))
    assert values["client.off_at"] == "60" and values["server.dpd_delay"] == "30" and values["nat.flush_at"] == ""
    assert values_of(preset("nat-rebinding"))["nat.flush_at"] == "90"
    values |= {"server.dpd_delay": "10", "nat.flush_at": "90,120", "client.initial_contact": "no"}
    changed, errors = check("dpd-peer-gone", values)
    assert not errors and set(changed) == {"server.dpd_delay=10", "nat.flush_at=90,120", "client.initial_contact=no"}
    changed, errors = check("dpd-peer-gone", values | {"client.reboot_at": "soon", "server.dpd_timeout": "-1"})
    assert changed == () and set(errors) == {"client.reboot_at", "server.dpd_timeout"}


def test_a_playground_link_with_liveness_fields_fills_the_form_and_runs():
    page = str(Path(__file__).resolve().parents[1] / "lessons" / "playground.py")
    at = AppTest.from_file(page, default_timeout=120)
    at.query_params["scenario"] = "dpd-peer-gone"
    at.query_params["set"] = ["server.dpd_delay=10", "server.dpd_timeout=30", "client.initial_contact=no"]
    at.run()
    assert not at.exception
    assert at.text_input(key="pg:f:server.dpd_delay").value == "10"
    assert at.text_input(key="pg:f:client.off_at").value == "60"
    assert at.selectbox(key="pg:f:client.initial_contact").value == "no"
    assert any("nothing heard for 40 s" in m.value for m in at.sidebar.markdown)    # dead at 90 s, not 180 s
    bad = AppTest.from_file(page, default_timeout=120)
    bad.query_params["scenario"] = "dpd-peer-gone"
    bad.query_params["set"] = ["client.reboot_at=soon"]
    bad.run()
    assert not bad.exception and any("client.reboot_at" in e.value for e in bad.error)
