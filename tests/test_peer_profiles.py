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


# ------------------------------------------------------------------ profiles: real stacks as policy data
import shutil  # noqa: E402
import subprocess  # noqa: E402

from natt_core.errors import ConfigError  # noqa: E402
from natt_core.lab.export import export  # noqa: E402
from natt_core.lab.settings import CHOICES  # noqa: E402

NT5 = "MS NT5 ISAKMPOAKLEY"
FRAG = "Cisco Fragmentation"           # Wireshark's name for MD5("FRAGMENTATION") 4048b7d5...
D02N = "draft-ietf-ipsec-nat-t-ike-02\\n"
RFC = "RFC 3947 Negotiation of NAT-Traversal in the IKE"
#: profile -> (MM1 Vendor IDs as tshark names them, MS NT5 version, the client's VPN comes up behind NAT)
EXPECTED = {
    "windows-2000": ([NT5], "2", False),
    "windows-2000-818043": ([NT5, FRAG, D02N], "2", True),
    "windows-xp-sp2": ([NT5, FRAG, D02N, "Microsoft Vid-Initial-Contact"], "4", True),
    "windows-vista": ([NT5, RFC, D02N, FRAG, "MS-Negotiation Discovery Capable", "Microsoft Vid-Initial-Contact",
                       "IKE CGA Version 1"], "5", True),
    "windows-server-2003-rras": ([NT5, D02N], "4", True),
    "linux-xl2tpd": ([FRAG, "RFC 3706 DPD (Dead Peer Detection)", RFC, "draft-ietf-ipsec-nat-t-ike-03", D02N,
                      "draft-ietf-ipsec-nat-t-ike-02"], "", True),
    "strongswan": (["XAUTH", "RFC 3706 DPD (Dead Peer Detection)", FRAG, RFC, D02N], "", True),
}


def test_every_profile_is_in_the_vocabulary():
    assert set(CHOICES["client.profile"]) == set(CHOICES["server.profile"]) == {"none", *EXPECTED}
    with pytest.raises(ConfigError, match="choose one of"):
        apply_settings(preset("client-behind-nat"), ["client.profile=windows-95"])


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", list(EXPECTED))
def test_profile_behind_nat_tells_its_story_and_tshark_reads_its_vendor_ids(name, tmp_path):
    vids, nt5, works = EXPECTED[name]
    t = run(apply_settings(preset("client-behind-nat"), [f"client.profile={name}"]))
    vpn = t.report["peers"]["client"]["vpn"]
    assert vpn["ping"] is works, vpn
    if not works:   # Windows 2000 has no NAT-T: ESP's inner checksum cannot survive the NAT
        assert t.report["peers"]["server"]["reason_code"] == "CHECKSUM_AFTER_NAT"
        assert vpn["reason_code"] == "L2TP_NO_ACK" and t.report["peers"]["client"]["nat_t"] is None
    export(t, tmp_path)
    r = subprocess.run(["tshark", "-r", str(tmp_path / "client-lan.pcap"), "-c", "1", "-T", "fields",
                        "-E", "occurrence=a", "-e", "isakmp.vid_string", "-e", "isakmp.vid.ms_nt5_isakmpoakley"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    strings, version = r.stdout.rstrip("\n").split("\t")
    assert strings.split(",") == vids and version == nt5


def test_xp_sp2_refuses_a_server_behind_nat_by_its_default_rule_and_2000_818043_does_not():
    both = ["topology=both-nat"]
    xp = run(apply_settings(preset("client-behind-nat"), both + ["client.profile=windows-xp-sp2"]))
    assert xp.report["peers"]["client"]["reason_code"] == "NATD_MISMATCH_REFUSED_BY_RULE"
    w2k = run(apply_settings(preset("client-behind-nat"), both + ["client.profile=windows-2000-818043"]))
    assert w2k.report["peers"]["client"]["vpn"]["ping"] is True
    # a later setting still changes a profile's value: the registry fix (KB 926179)
    fixed = run(apply_settings(preset("client-behind-nat"),
                               both + ["client.profile=windows-xp-sp2", "client.assume_udp_rule=2"]))
    assert fixed.report["peers"]["client"]["vpn"]["ping"] is True


def test_linux_server_sends_no_nat_oa_and_strongswan_does():
    linux = run(apply_settings(preset("client-behind-nat"), ["server.profile=linux-xl2tpd"]))
    qm2 = [e for e in linux.events if e.event == "MessageSent" and e.fields.get("label") == "QM2"]
    assert qm2 and not any("NatOA" in p for p in qm2[0].fields["payloads"])
    assert any("skipped" in (e.fields.get("checksum_fixup") or "") for e in _events(linux, "DataReceived", "client"))
    assert linux.report["peers"]["client"]["vpn"]["ping"] is True
    swan = run(apply_settings(preset("client-behind-nat"), ["server.profile=strongswan"]))
    qm2 = [e for e in swan.events if e.event == "MessageSent" and e.fields.get("label") == "QM2"]
    assert qm2 and sum("NatOA" in p for p in qm2[0].fields["payloads"]) == 2
    assert not any("skipped" in (e.fields.get("checksum_fixup") or "") for e in _events(swan, "DataReceived", "client"))


def test_ms_nt5_vendor_id_is_the_md5_then_the_version():
    """Known answer: MD5("MS NT5 ISAKMPOAKLEY") = 1e2b5169... (ike-scan, Wireshark), then 00000004."""
    from natt_core.ike.nat_t import VENDOR_IDS, vid_name
    assert VENDOR_IDS["ms-nt5-v4"].hex() == "1e2b516905991c7d7c96fcbfb587e461" "00000004"
    assert vid_name(VENDOR_IDS["ms-nt5-v4"]) == "MS NT5 ISAKMPOAKLEY v4"
