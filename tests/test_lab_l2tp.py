"""The lab's L2TP call end to end: the control connection survives a reordering link, the SCCRP's
header says what RFC 2661 wants (read by tshark, not by our decoder), and report.json says how far
each client's VPN got."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from natt_core.lab.export import export
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_core.ppp.endpoint import PppPolicy

tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def vpn_of(trace, name="client"):
    return trace.report["peers"][name]["vpn"]


@pytest.mark.parametrize("seed", range(1, 41))
def test_reordering_link_still_brings_the_call_up(seed):
    """An ESP packet that overtakes QM3 is dropped for want of an SA; the SCCRQ's retransmission
    (RFC 2661 §5.8) brings the tunnel and call up anyway (before: 15 of 40 seeds delivered nothing)."""
    s = apply_settings(preset("client-behind-nat"), [f"seed={seed}", "link.reorder=0.3"])
    t = run(s)
    vpn = vpn_of(t)
    assert (vpn["l2tp_tunnel"], vpn["l2tp_session"]) == ("established", "established"), vpn
    assert t.report["traffic"]["delivered"] > 0


def test_report_has_the_call_and_the_ppp_address():
    vpn = vpn_of(run(preset("client-behind-nat")))
    assert vpn == {"l2tp_tunnel": "established", "l2tp_session": "established", "ppp_auth": "succeeded",
                   "address": "10.99.0.10", "ping": True, "reason": None, "reason_code": None}


def test_legacy_client_clears_its_tunnel_for_want_of_an_ack():
    """The server drops every L2TP packet (inner checksum after NAT): the client's SCCRQ is never
    acknowledged, and after five retransmissions the tunnel is cleared with L2TP_NO_ACK."""
    vpn = vpn_of(run(preset("legacy-behind-nat")))
    assert vpn["l2tp_tunnel"] == "closed" and vpn["l2tp_session"] == "not-started"
    assert vpn["reason_code"] == "L2TP_NO_ACK" and "SCCRQ" in vpn["reason"]


def _tshark(pcap, keys, *fields):
    r = subprocess.run(["tshark", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE", *keys,
                        "-T", "fields", "-E", "separator=|", *[a for f in fields for a in ("-e", f)]],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [line.split("|") for line in r.stdout.splitlines()]


@tshark
@pytest.mark.parametrize("name", ["client-behind-nat", "no-nat"])
def test_tshark_reads_the_whole_ladder_with_the_rfc_header_fields(name, tmp_path):
    export(run(preset(name)), tmp_path)
    keys = [a for line in (tmp_path / "esp_sa.txt").read_text().splitlines() for a in ("-o", f"uat:esp_sa:{line}")]
    ladders = 0
    for pcap in sorted(tmp_path.glob("*.pcap")):
        rows = _tshark(pcap, keys, "esp.spi", "l2tp.avp.message_type", "l2tp.tunnel", "l2tp.session", "l2tp.Ns",
                       "l2tp.Nr", "l2tp.avp.assigned_tunnel_id", "l2tp.avp.assigned_session_id", "_ws.malformed",
                       "_ws.expert")
        assert not any(r[8] or "malformed" in r[9].lower() for r in rows), pcap.name
        l2tp = [r for r in rows if r[4]]                                    # every packet with Ns: all control
        if not l2tp:
            continue
        ladders += 1
        kinds = [r[1] or "ZLB" for r in l2tp]
        assert kinds == ["1", "2", "3", "10", "ZLB", "11", "12", "ZLB"], (pcap.name, kinds)
        sccrq, sccrp, scccn = l2tp[0], l2tp[1], l2tp[2]
        assert sccrq[2:6] == ["0", "0", "0", "0"]
        # SCCRP: the header's tunnel ID is the one the SCCRQ assigned, Nr 1 (RFC 2661 §3.1, §5.8)
        assert sccrp[2] == sccrq[6] != "0" and (sccrp[4], sccrp[5]) == ("0", "1")
        assert scccn[2] == sccrp[6] != "0" and (scccn[4], scccn[5]) == ("1", "1")
        icrp, iccn = l2tp[5], l2tp[6]
        assert icrp[3] == l2tp[3][7] and iccn[3] == icrp[7] != "0"          # session IDs: the peer's
    assert ladders >= 2                                                      # both sides of the NAT


def test_wrong_ppp_password_is_ppp_auth_failed_in_the_report():
    """IKE and L2TP come up; the server's MS-CHAPv2 refuses the password (E=691, RFC 2759 §6)."""
    t = run(preset("client-behind-nat").with_(ppp=PppPolicy(password="not-the-password")))
    vpn = vpn_of(t)
    assert t.report["peers"]["client"]["phase2"] == "established"
    assert (vpn["l2tp_tunnel"], vpn["l2tp_session"]) == ("established", "established")
    assert vpn["ppp_auth"] == "failed" and vpn["address"] is None
    assert vpn["reason_code"] == "PPP_AUTH_FAILED"


@tshark
def test_tshark_dissects_the_whole_stack_from_the_decrypted_capture(tmp_path):
    """IP / UDP 4500 / ESP (decrypted with esp_sa.txt) / UDP 1701 / L2TP / PPP / LCP, MS-CHAPv2,
    IPCP and the ICMP echo pair with good checksums: no malformed packet, no expert warning."""
    export(run(preset("client-behind-nat")), tmp_path)
    keys = [a for line in (tmp_path / "esp_sa.txt").read_text().splitlines() for a in ("-o", f"uat:esp_sa:{line}")]
    rows = _tshark(tmp_path / "internet.pcap", keys, "frame.protocols", "_ws.malformed", "_ws.expert.message",
                   "chap.code", "icmp.type", "icmp.checksum.status")
    protocols = {r[0] for r in rows}
    for tail in ("esp:udp:l2tp", "l2tp:ppp:lcp", "l2tp:ppp:chap", "l2tp:ppp:ipcp", "l2tp:ppp:ip:icmp:data"):
        assert any(p.endswith(tail) for p in protocols), (tail, protocols)
    assert not any(r[1] or r[2] for r in rows), [r for r in rows if r[1] or r[2]]
    assert sorted(r[3] for r in rows if r[3]) == ["1", "2", "3"]             # Challenge, Response, Success
    assert [(r[4], r[5]) for r in rows if r[4]] == [("8", "1"), ("0", "1")]    # request, reply; checksums good
