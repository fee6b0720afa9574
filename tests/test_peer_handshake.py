"""Two engine peers complete Main Mode + Quick Mode and carry L2TP both ways (RFC 2409, 3947, 3948)."""
from __future__ import annotations

import pytest

from natt_core.ike.policy import PeerPolicy
from natt_core.ike.states import State
from natt_core.wire.numbers import EncapsulationMode, IPProto, PayloadType, Port
from natt_core.wire.isakmp import decode_header, decode_payloads
from natt_core.wire.udp_encap import NON_ESP_MARKER

from .helpers import CLIENT_IP, NAT_IP, make_pair



def l2tp_hello(tunnel: int = 1, ns: int = 0) -> bytes:
    """An L2TP HELLO spelled out from RFC 2661: the control header (§3.1: flags T, L, S and version 2
    = c802, length 20, tunnel ID, session 0, Ns, Nr 0), then the Message Type AVP (§4.4.1: M bit and
    length 8 = 8008, vendor 0, attribute 0, value 6 = HELLO, §3.2)."""
    return (bytes.fromhex("c8020014") + tunnel.to_bytes(2, "big") + bytes(2) + ns.to_bytes(2, "big") + bytes(2)
            + bytes.fromhex("8008" "0000" "0000" "0006"))


L2TP_HELLO = l2tp_hello()
L2TP_REPLY = l2tp_hello(tunnel=2)   #: the server's HELLO on its own tunnel ID


def established(pair):
    return (pair.client.isakmp_rows()[0].state, pair.server.isakmp_rows()[0].state)


def exchange_l2tp(pair):
    pair.take(pair.client.send_udp(L2TP_HELLO, pair.now))
    pair.take(pair.server.send_udp(L2TP_REPLY, pair.now))
    got = {e.peer: e.payload for e in pair.of("DataReceived")}
    assert got == {"server": L2TP_HELLO, "client": L2TP_REPLY}


def test_no_nat_stays_on_500_and_esp_is_protocol_50():
    pair = make_pair().connect()
    assert established(pair) == ("ESTABLISHED", "ESTABLISHED")
    verdicts = pair.of("NatDetected")
    assert len(verdicts) == 2 and not any(v.self_behind_nat or v.peer_behind_nat for v in verdicts)
    assert not pair.of("Floated")
    ike = [d for _, d in pair.wire if d.proto == IPProto.UDP]
    assert {d.dst.port for d in ike} == {Port.IKE} and {d.src.port for d in ike} == {Port.IKE}
    exchange_l2tp(pair)
    esp = [d for _, d in pair.wire if d.proto == IPProto.ESP]
    assert len(esp) == 2
    assert pair.server.ipsec_rows()[0].encapsulation == EncapsulationMode.TRANSPORT


def test_behind_nat_floats_encapsulates_and_fixes_the_checksum():
    pair = make_pair(client_nat=True).connect()
    assert established(pair) == ("ESTABLISHED", "ESTABLISHED")
    client_verdict = pair.of("NatDetected", "client")[0]
    server_verdict = pair.of("NatDetected", "server")[0]
    assert client_verdict.self_behind_nat and not client_verdict.peer_behind_nat
    assert server_verdict.peer_behind_nat and not server_verdict.self_behind_nat
    labels = [(d.label, d.dst.port) for _, d in pair.wire]
    mm5 = next(d for _, d in pair.wire if d.label == "MM5")
    assert mm5.payload.startswith(NON_ESP_MARKER) and mm5.dst.port == Port.NAT_T
    assert all(port == Port.NAT_T for label, port in labels if label in ("MM6", "QM1", "QM2", "QM3"))
    assert pair.server.isakmp_rows()[0].remote == f"{NAT_IP}:{Port.NAT_T + 61000}"
    # QM1 carries UDP-Encapsulated-Transport and NAT-OA (RFC 3947 §5)
    row = pair.server.ipsec_rows()[0]
    assert row.encapsulation == EncapsulationMode.UDP_TRANSPORT and row.mode == "udp-transport"
    assert row.nat_oa == (f"OAi {CLIENT_IP}", f"OAr {pair.server.address}")
    exchange_l2tp(pair)
    esp = [d for _, d in pair.wire if d.label == "ESP-in-UDP"]
    assert len(esp) == 2 and all(d.proto == IPProto.UDP and d.zero_udp_checksum for d in esp)
    fixed = [e for e in pair.of("DataReceived") if e.checksum_fixup]
    assert len(fixed) == 2


def test_only_the_natted_side_sends_keepalives_after_20_s_idle():
    pair = make_pair(client_nat=True).connect()
    start = pair.now
    pair.advance(65)
    sent = pair.of("KeepaliveSent")
    assert {e.peer for e in sent} == {"client"}
    assert len(sent) == 3
    assert sent[0].time == pytest.approx(start + 20, abs=0.1)
    keepalives = [d for _, d in pair.wire if d.label == "keepalive"]
    assert all(d.payload == b"\xff" and d.dst.port == Port.NAT_T + 61000 or d.dst.port == Port.NAT_T for d in keepalives)


@pytest.mark.parametrize("nat", [False, True])
def test_tunnel_mode(nat):
    pair = make_pair(PeerPolicy(mode="tunnel"), PeerPolicy(mode="tunnel"), client_nat=nat).connect()
    row = pair.client.ipsec_rows()[0]
    assert row.mode == ("udp-tunnel" if nat else "tunnel")
    assert row.nat_oa == ()  # tunnel mode SHOULD NOT send NAT-OA
    exchange_l2tp(pair)


def test_draft_02_uses_130_131_and_61444():
    policy = PeerPolicy(nat_t="draft-02")
    pair = make_pair(policy, policy, client_nat=True).connect()
    assert pair.client.isakmp_rows()[0].nat_t == "draft-02"
    mm3 = next(d for _, d in pair.wire if d.label == "MM3")
    header, body = decode_header(mm3.payload)
    types = [p.payload_type for p in decode_payloads(header.next_payload, body).payloads]
    assert types.count(PayloadType.NAT_D_DRAFT) == 2 and PayloadType.NAT_D not in types
    assert pair.server.ipsec_rows()[0].encapsulation == EncapsulationMode.UDP_TRANSPORT_DRAFT
    exchange_l2tp(pair)


def test_no_nat_t_behind_nat_breaks_at_the_inner_checksum():
    legacy = PeerPolicy(nat_t="none")
    pair = make_pair(legacy, legacy, client_nat=True).connect()
    assert established(pair) == ("ESTABLISHED", "ESTABLISHED")
    assert not pair.of("NatDetected") and not pair.of("Floated")
    pair.take(pair.client.send_udp(L2TP_HELLO, pair.now))
    dropped = pair.of("PacketDropped", "server")
    assert len(dropped) == 1 and "checksum" in dropped[0].reason and "NAT-OA" in dropped[0].reason


def test_ah_through_nat_fails_its_icv():
    ah = PeerPolicy(protocol="ah", nat_t="none")
    pair = make_pair(ah, ah, client_nat=True).connect()
    pair.take(pair.client.send_udp(L2TP_HELLO, pair.now))
    dropped = pair.of("PacketDropped", "server")
    assert dropped and dropped[0].layer == "AH" and "ICV" in dropped[0].reason
    clean = make_pair(ah, ah).connect()
    clean.take(clean.client.send_udp(L2TP_HELLO, clean.now))
    assert [e.payload for e in clean.of("DataReceived")] == [L2TP_HELLO]


def test_wrong_psk_is_an_authentication_failure_and_no_sa():
    pair = make_pair(PeerPolicy(psk="right"), PeerPolicy(psk="wrong")).connect()
    pair.advance(60)
    assert pair.of("AuthenticationFailed", "server") and pair.of("AuthenticationFailed", "client")
    assert not pair.of("Phase1Established")
    assert pair.client.isakmp_rows()[0].state == "FAILED"
    assert pair.client.ipsec_rows() == () and pair.server.ipsec_rows() == ()


def test_dh_group_14_only_when_both_support_it():
    pair = make_pair(PeerPolicy(dh_groups=(14, 2)), PeerPolicy(dh_groups=(2,))).connect()
    assert pair.client.isakmp_rows()[0].dh_group == 2
    both = make_pair(PeerPolicy(dh_groups=(14, 2)), PeerPolicy(dh_groups=(14, 2))).connect()
    assert both.client.isakmp_rows()[0].dh_group == 14
    none = make_pair(PeerPolicy(dh_groups=(14,)), PeerPolicy(dh_groups=(2,))).connect()
    assert none.of("Refused", "server") and "NO-PROPOSAL-CHOSEN" in none.of("Refused", "server")[0].reason
    assert none.client.isakmp_rows()[0].state == "FAILED"


@pytest.mark.parametrize("rule, client_nat, ok", [
    (0, False, False), (1, False, True), (2, False, True),
    (0, True, False), (1, True, False), (2, True, True),
])
def test_windows_assume_udp_rule_with_a_server_behind_nat(rule, client_nat, ok):
    pair = make_pair(PeerPolicy(assume_udp_rule=rule), client_nat=client_nat, server_nat=True).connect()
    assert (pair.client.isakmp_rows()[0].state == "ESTABLISHED") is ok
    if not ok:
        refusal = pair.of("Refused", "client")[0].reason
        assert "809" in refusal and f"is {rule}" in refusal


def test_same_seed_same_bytes():
    a, b = make_pair(client_nat=True, seed=5).connect(), make_pair(client_nat=True, seed=5).connect()
    assert [d.payload for _, d in a.wire] == [d.payload for _, d in b.wire]
    c = make_pair(client_nat=True, seed=6).connect()
    assert [d.payload for _, d in a.wire] != [d.payload for _, d in c.wire]


def test_lost_messages_are_retransmitted_and_duplicates_answered_again():
    lost = {"MM3": 1, "MM6": 1, "QM2": 1}

    def drop(d):
        if lost.get(d.label):
            lost[d.label] -= 1
            return True
        return False

    pair = make_pair(client_nat=True)
    pair.drop = drop
    pair.connect()
    pair.advance(30)
    assert established(pair) == ("ESTABLISHED", "ESTABLISHED")
    assert pair.client.ipsec_rows() and pair.server.ipsec_rows()
    assert {e.label for e in pair.of("Retransmitted")} >= {"MM3", "MM5", "QM1"} or pair.of("Retransmitted")
    exchange_l2tp(pair)


def test_delete_removes_sas_on_both_sides():
    pair = make_pair(client_nat=True).connect()
    pair.take(pair.client.delete(pair.now))
    assert pair.server.ipsec_rows() == () and pair.client.ipsec_rows() == ()
    assert pair.server.isakmp_rows()[0].state == "DELETED"
    assert any(e.by_peer for e in pair.of("SaDeleted", "server"))
