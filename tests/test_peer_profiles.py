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


# ------------------------------------------------------------------ PSK mismatch, NO-PROPOSAL, late Informationals
import pytest  # noqa: E402

from natt_core.ike.policy import PeerPolicy  # noqa: E402
from natt_core.reasons import Reason  # noqa: E402

from .helpers import make_pair  # noqa: E402


@pytest.mark.parametrize("client_nat", [False, True])
def test_repeated_mm4_is_evidence_of_a_psk_mismatch(client_nat):
    """A responder that cannot decrypt MM5 and says nothing (its complaint lost here) re-sends MM4;
    when the initiator gives up on MM5, that repeat is what it names (on 500 after a float, too)."""
    pair = make_pair(PeerPolicy(psk="one"), PeerPolicy(psk="two"), client_nat=client_nat)
    pair.drop = lambda d: d.label.startswith("INFO")
    pair.connect()
    pair.advance(120)
    failed = pair.of("AuthenticationFailed", "client")
    assert [e.code for e in failed] == [Reason.PSK_MISMATCH_LIKELY], pair.of("GaveUp", "client")
    assert "re-sent MM4" in failed[0].reason and "pre-shared keys probably differ" in failed[0].reason
    assert pair.client.sas[next(iter(pair.client.sas))].code is Reason.PSK_MISMATCH_LIKELY


def test_a_lost_mm6_alone_is_plain_giving_up():
    """Without a repeated MM4 (every answer from the server lost), giving up stays GAVE_UP."""
    pair = make_pair(PeerPolicy(psk="one"), PeerPolicy(psk="two"))
    pair.drop = lambda d: (d.label == "MM4" and pair.client.isakmp_rows()[0].state == "I_EXPECT_MM6"
                           or d.label.startswith("INFO"))
    pair.connect()
    pair.advance(120)
    assert not pair.of("AuthenticationFailed", "client")
    assert [e.code for e in pair.of("GaveUp", "client")] == [Reason.GAVE_UP]


def test_quick_mode_no_proposal_chosen_ends_with_a_final_failure_event():
    pair = make_pair(PeerPolicy(esp_ciphers=("3des-cbc",)), PeerPolicy(esp_ciphers=("aes-cbc-256",))).connect()
    final = pair.of("NegotiationFailed", "client")
    assert [(e.what, e.code) for e in final] == [("phase 2 (Quick Mode)", Reason.NO_PROPOSAL)]


def test_phase1_no_proposal_chosen_ends_with_a_final_failure_event():
    pair = make_pair(PeerPolicy(dh_groups=(2,)), PeerPolicy(dh_groups=(14,))).connect()
    final = pair.of("NegotiationFailed", "client")
    assert [(e.what, e.code) for e in final] == [("phase 1 (Main Mode)", Reason.NO_PROPOSAL)]


def test_informational_after_our_own_delete_is_not_blamed_on_missing_keys():
    pair = make_pair().connect()
    server_delete = pair.server.delete(pair.now)          # the server's Deletes are in flight ...
    pair.take(pair.client.delete(pair.now))               # ... when the client deletes too
    pair.take(server_delete)
    drops = [e for e in pair.of("PacketDropped", "client") if "Informational" in e.reason]
    assert drops and all("before keys exist" not in e.reason and "already ended" in e.reason for e in drops)
