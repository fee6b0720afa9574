"""The VPN's phases of a run and PPP inside L2TP inside ESP, checked against tshark's reading of
the same packets decrypted with the run's exported ESP keys (an independent dissector)."""
from __future__ import annotations

import shutil

import pytest

from natt_core.lab.export import export
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_view.decrypt import open_step
from natt_view.phases import OTHER, PHASES, phases, step_phase
from natt_view.steps import journeys

from .test_lab_l2tp import _tshark

tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
TUNNEL, SESSION = {"1", "2", "3", "4", "6"}, {"10", "11", "12", "14"}


def _tshark_phase(protocols: str, message_type: str) -> str | None:
    """The phase as tshark's fields say it; None for a ZLB or a keepalive (nothing to compare)."""
    for tail, name in ((":lcp", "PPP LCP"), (":chap", "authentication"), (":pap", "authentication"),
                       (":ipcp", "IPCP"), (":icmp", "ping"), (":icmp:data", "ping")):
        if protocols.endswith(tail):
            return name
    if protocols.endswith(":isakmp"):
        return "IKE"
    if protocols.endswith(":l2tp") and message_type:
        return "L2TP tunnel" if message_type.split(",")[0] in TUNNEL else "L2TP session"
    return None


@tshark
@pytest.mark.parametrize("name", ["client-behind-nat", "no-nat"])
def test_every_steps_phase_is_what_tshark_reads_in_the_decrypted_packet(name, tmp_path):
    trace = run(preset(name))
    export(trace, tmp_path)
    keys = [a for line in (tmp_path / "esp_sa.txt").read_text().splitlines() for a in ("-o", f"uat:esp_sa:{line}")]
    rows = _tshark(tmp_path / "internet.pcap", keys, "frame.protocols", "l2tp.avp.message_type", "ppp.protocol")
    steps = journeys(trace)
    assert len(rows) == len(steps)            # every packet of these runs crosses the internet once
    compared, previous = 0, None
    for j, (protocols, message_type, ppp) in zip(steps, rows):
        ours = step_phase(trace, j, previous)
        if ours in ("L2TP tunnel", "L2TP session"):
            previous = ours
        theirs = _tshark_phase(protocols, message_type)
        if theirs is None:
            continue
        assert ours == theirs, (j.index, protocols, message_type)
        compared += 1
        if ppp:                                   # the layout names the PPP protocol tshark read
            opened = open_step(trace, j)
            field = next(f for f in opened.fields if f.name == "protocol" and f.layer == "PPP")
            assert field.value.startswith(f"0x{int(ppp, 16):04x}")
    assert compared >= 25


def test_the_phases_come_in_order_with_their_steps():
    trace = run(preset("client-behind-nat"))
    got = phases(trace)
    assert [p.name for p in got] == [*PHASES, OTHER]          # OTHER: the NAT keepalives
    assert {p.name: len(p.steps) for p in got}["IKE"] == 9
    firsts = [p.first for p in got if p.name != OTHER]
    assert firsts == sorted(firsts)
    steps = [i for p in got for i in p.steps]
    assert sorted(steps) == list(range(1, len(journeys(trace)) + 1))


def test_a_failed_run_reaches_only_its_phases():
    trace = run(preset("legacy-behind-nat"))        # the server drops every L2TP packet: no SCCRP
    names = [p.name for p in phases(trace)]
    assert names[:2] == ["IKE", "L2TP tunnel"] and "PPP LCP" not in names


def test_the_layout_of_a_data_message_names_each_layer_at_its_offset():
    trace = run(preset("client-behind-nat"))
    ping = next(p for p in phases(trace) if p.name == "ping")
    opened = open_step(trace, journeys(trace)[ping.first - 1])
    by = {(f.layer, f.name): f for f in opened.fields}
    assert by[("L2TP data", "tunnel ID")].offset == 10 and by[("L2TP data", "session ID")].offset == 12
    assert by[("PPP", "protocol")].value == "0x0021 (IPV4)"
    ip = by[("inner IPv4", "IPv4 header (client → LNS or back)")]
    assert opened.plaintext[ip.offset] == 0x45 and ip.value == "10.99.0.10 → 10.99.0.1"
    assert opened.plaintext[by[("ICMP", "ICMP echo")].offset] == 8        # echo request (RFC 792)
