"""Peers as they really were: a responder that sends no NAT-OA, PSK-mismatch evidence, profiles."""
from __future__ import annotations

from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings


def _events(trace, kind, peer):
    return [e for e in trace.events if e.event == kind and e.peer == peer]


def test_client_accepts_transport_sa_without_nat_oa_and_says_why():
    """A Linux-like server not behind NAT leaves NAT-OA out of QM2; our client skips the inner
    checksum check after ESP authenticated the packet (RFC 3948 §3.1.2), so L2TP/PPP comes up."""
    t = run(apply_settings(preset("client-behind-nat"), ["server.send_nat_oa=no"]))
    vpn = t.report["peers"]["client"]["vpn"]
    assert (vpn["l2tp_tunnel"], vpn["ppp_auth"], vpn["ping"]) == ("established", "succeeded", True), vpn
    notes = [e.fields["checksum_fixup"] for e in _events(t, "DataReceived", "client") if e.fields.get("checksum_fixup")]
    assert notes and all("no NAT-OA" in n and "skipped" in n for n in notes), notes
    assert not [e for e in _events(t, "PacketDropped", "client") if e.fields.get("code") == "CHECKSUM_AFTER_NAT"]


def test_with_nat_oa_the_client_fixes_nothing_it_need_not():
    t = run(preset("client-behind-nat"))
    assert not [e for e in _events(t, "DataReceived", "client") if e.fields.get("checksum_fixup") and "skipped" in e.fields.get("checksum_fixup")]
