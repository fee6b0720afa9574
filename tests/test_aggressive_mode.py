"""IKEv1 Aggressive Mode with pre-shared keys and NAT-T between two engine peers (RFC 2409 §5.4,
RFC 3947 §4): the three messages, what travels in the clear, the float at AM3, refusal and
PSK mismatch on either side. HASH_R is checked with hmac/hashlib straight from the RFC formula."""
from __future__ import annotations

import copy
import hashlib
import hmac
from dataclasses import replace

from natt_core.addressing import Datagram, Endpoint
from natt_core.crypto.ike_keys import hash_i, phase1_keys
from natt_core.ike.policy import PeerPolicy
from natt_core.ike.seal import seal
from natt_core.reasons import Reason
from natt_core.wire.isakmp import ID, KE, SA, Hash, Header, Nonce, Notification, decode_header, decode_message, encode_message
from natt_core.wire.numbers import ExchangeType, Flag, IPProto, NotifyType, PayloadType, Port
from natt_core.wire.udp_encap import NON_ESP_MARKER

from .helpers import make_pair

AM = PeerPolicy(phase1_mode="aggressive")
#: an L2TP HELLO (RFC 2661 §3.1, §4.4.1), as test_peer_handshake spells it
L2TP = bytes.fromhex("c8020014" "0001" "0000" "0000" "0000" "8008" "0000" "0000" "0006")


def ike(d) -> bytes:
    return d.payload[4:] if d.dst.port == Port.NAT_T else d.payload


def sent(pair, label: str):
    return [d for _, d in pair.wire if d.label == label]


def test_three_messages_then_quick_mode_without_nat():
    pair = make_pair(AM, AM).connect()
    assert [d.label for _, d in pair.wire] == ["AM1", "AM2", "AM3", "QM1", "QM2", "QM3"]
    assert {(d.src.port, d.dst.port) for _, d in pair.wire} == {(Port.IKE, Port.IKE)}
    assert [r.state for r in pair.client.isakmp_rows() + pair.server.isakmp_rows()] == ["ESTABLISHED"] * 2
    assert len(pair.of("Phase2Established")) == 2 and not pair.of("Floated")
    for _, d in pair.wire[:3]:
        header, _ = decode_header(ike(d))
        assert header.exchange == ExchangeType.AGGRESSIVE and header.message_id == 0
    pair.take(pair.client.send_udp(L2TP, pair.now))
    assert [e.payload for e in pair.of("DataReceived", "server")] == [L2TP]
    assert [d.proto for _, d in pair.wire[-1:]] == [IPProto.ESP]


def test_am1_and_am2_carry_identities_in_the_clear_and_am3_is_encrypted():
    pair = make_pair(AM, AM, client_nat=True).connect()
    h1, c1 = decode_message(ike(sent(pair, "AM1")[0]))
    assert [p.payload_type for p in c1.payloads[:4]] == [PayloadType.SA, PayloadType.KE, PayloadType.NONCE,
                                                         PayloadType.ID]
    assert not h1.flags & Flag.ENCRYPTED and h1.rcookie == bytes(8)
    h2, c2 = decode_message(ike(sent(pair, "AM2")[0]))
    # RFC 3947 §4: HDR, SA, KE, Nr, IDir, VID, NAT-D, NAT-D, HASH_R — all plain
    kinds = [p.payload_type for p in c2.payloads]
    assert kinds[:4] == [PayloadType.SA, PayloadType.KE, PayloadType.NONCE, PayloadType.ID]
    assert kinds[-3:] == [PayloadType.NAT_D, PayloadType.NAT_D, PayloadType.HASH]
    assert PayloadType.VENDOR_ID in kinds and not h2.flags & Flag.ENCRYPTED
    am3 = sent(pair, "AM3")[0]
    assert am3.payload[:4] == NON_ESP_MARKER and am3.dst.port == Port.NAT_T   # floated for AM3 (RFC 3947 §4)
    raw3 = am3.payload[4:]
    assert raw3[18] == ExchangeType.AGGRESSIVE and raw3[19] & Flag.ENCRYPTED


def test_hash_r_is_the_rfc_2409_formula_over_what_am1_and_am2_show():
    """HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b), SKEYID = prf(PSK, Ni_b | Nr_b)
    (RFC 2409 §5, §5.4), recomputed with hmac from the two plain messages and the known key."""
    pair = make_pair(AM, AM).connect()
    h1, c1 = decode_message(sent(pair, "AM1")[0].payload)
    h2, c2 = decode_message(sent(pair, "AM2")[0].payload)
    body = lambda chain, cls: chain.raw[[type(p) for p in chain.payloads].index(cls)][4:]
    skeyid = hmac.new(AM.psk.encode(), body(c1, Nonce) + body(c2, Nonce), hashlib.sha1).digest()
    material = body(c2, KE) + body(c1, KE) + h2.rcookie + h2.icookie + body(c1, SA) + body(c2, ID)
    hash_r = [p for p in c2.payloads if isinstance(p, Hash)][0].data
    assert hash_r == hmac.new(skeyid, material, hashlib.sha1).digest()


def test_behind_nat_the_initiator_floats_at_am3_and_both_see_the_nat():
    pair = make_pair(AM, AM, client_nat=True).connect()
    ports = {d.label: (d.src.port, d.dst.port) for _, d in pair.wire}
    assert ports["AM1"][1] == ports["AM2"][0] == Port.IKE
    assert ports["AM3"][1] == ports["QM1"][1] == Port.NAT_T
    client, server = pair.of("NatDetected", "client"), pair.of("NatDetected", "server")
    assert client[0].self_behind_nat and not client[0].peer_behind_nat          # from AM2's NAT-D
    assert server[0].peer_behind_nat and not server[0].self_behind_nat          # from AM3's NAT-D
    assert server[0].local.endswith(f":{Port.NAT_T}")                          # judged on the port AM3 used
    assert [e.peer for e in pair.of("Floated")] == ["client", "server"]
    assert pair.server.ipsec_rows()[0].mode.startswith("udp-")
    pair.take(pair.client.send_udp(L2TP, pair.now))
    assert [e.payload for e in pair.of("DataReceived", "server")] == [L2TP]


def test_psk_mismatch_is_found_by_the_initiator_at_am2():
    pair = make_pair(replace(AM, psk="client-key"), AM, client_nat=True).connect()
    assert "AM3" not in [d.label for _, d in pair.wire]
    failed = pair.of("AuthenticationFailed", "client")
    assert failed and failed[0].code is Reason.AUTH_FAILED and "HASH_R" in failed[0].reason
    sa = next(iter(pair.client.sas.values()))
    assert (sa.state.value, sa.code) == ("FAILED", Reason.AUTH_FAILED)
    # and it tells the responder, as strongSwan's initiator does
    assert "INFO AUTHENTICATION-FAILED" in [d.label for _, d in pair.wire]


def _am3_with(pair, genuine, psk_for_keys: bytes, psk_for_hash: bytes) -> bytes:
    """The AM3 an initiator would send with other keys: encrypted under the phase-1 keys of
    `psk_for_keys`, carrying HASH_I computed with the SKEYID of `psk_for_hash`."""
    sa = copy.copy(next(iter(pair.client.sas.values())))
    c = sa.choice
    keys = lambda psk: phase1_keys(c.hash, psk, sa.ni_b, sa.nr_b, sa.gxy, sa.icookie, sa.rcookie,
                                   len(sa.keys.enc_key))
    digest = hash_i(c.hash, keys(psk_for_hash).skeyid, sa.gx, sa.gy, sa.icookie, sa.rcookie, sa.sai_b, sa.id_sent)
    sa.keys, sa.sealed_ivs = keys(psk_for_keys), []
    iv = pair.client.sas[(sa.icookie, sa.rcookie)].sealed_ivs[0][2]
    return replace(genuine, payload=seal(sa, ExchangeType.AGGRESSIVE, 0, [Hash(digest)], iv).message)


def test_psk_mismatch_is_found_by_the_responder_at_am3():
    psk = AM.psk.encode()
    for keys_psk, hash_psk, drop in ((b"other", b"other", Reason.DECRYPT_FAILED), (psk, b"other", Reason.AUTH_FAILED)):
        pair, held = make_pair(AM, AM), []
        pair.drop = lambda d: d.label in ("AM3", "QM1") and not held.append(d)
        pair.connect()
        pair.drop = None
        pair.feed([_am3_with(pair, held[0], keys_psk, hash_psk)])
        drops = [e.code for e in pair.of("PacketDropped", "server")]
        assert drop in drops
        failed = pair.of("AuthenticationFailed", "server")
        assert failed and failed[-1].code is Reason.AUTH_FAILED
        sa = next(iter(pair.server.sas.values()))
        assert sa.code is Reason.AUTH_FAILED and not sa.authenticated
        assert "INFO AUTHENTICATION-FAILED" in [d.label for _, d in pair.wire]


def test_a_responder_not_configured_for_aggressive_mode_refuses():
    pair = make_pair(AM, PeerPolicy(), client_nat=True).connect()
    assert [d.label for _, d in pair.wire] == ["AM1", "INFO INVALID-EXCHANGE-TYPE"]
    refused = pair.of("Refused", "server")
    assert refused and refused[0].code is Reason.AGGRESSIVE_MODE_REFUSED
    failed = pair.of("NegotiationFailed", "client")
    assert failed and failed[0].code is Reason.AGGRESSIVE_MODE_REFUSED and "Aggressive Mode" in failed[0].what
    assert next(iter(pair.client.sas.values())).code is Reason.AGGRESSIVE_MODE_REFUSED


def test_strongswans_authentication_failed_answering_am1_is_a_refusal_of_aggressive_mode():
    """charon without i_dont_care_about_security_and_use_aggressive_mode_psk answers AM1 with an
    unencrypted AUTHENTICATION-FAILED (aggressive_mode.c, process_r)."""
    pair = make_pair(AM, AM)
    pair.drop = lambda d: d.label == "AM1"
    pair.connect()
    pair.drop = None
    icookie = next(iter(pair.client.sas.values())).icookie
    note = encode_message(Header(icookie, b"\x77" * 8, 0, ExchangeType.INFORMATIONAL),
                          [Notification(NotifyType.AUTHENTICATION_FAILED, protocol_id=1, spi=icookie + b"\x77" * 8)])
    am1 = pair.client._initiated[icookie]
    pair.feed([Datagram(Endpoint(pair.server.address, Port.IKE), Endpoint(pair.client.address, Port.IKE),
                        IPProto.UDP, note, label="INFO")])
    failed = pair.of("NegotiationFailed", "client")
    assert failed and failed[0].code is Reason.AGGRESSIVE_MODE_REFUSED
    assert am1.state.value == "FAILED"


def test_a_lost_am2_is_recovered_by_the_am1_retransmission_and_am2_is_sent_once():
    pair = make_pair(AM, AM, client_nat=True)
    lost = []
    pair.drop = lambda d: d.label == "AM2" and not lost and not lost.append(d)
    pair.connect()
    pair.advance(1.5)
    assert [d.label for _, d in pair.wire].count("AM1") == 2
    assert [r.state for r in pair.server.isakmp_rows()] == ["ESTABLISHED"]
    # a forged AM1 gets exactly one AM2, however long we wait (states.SENT_ONCE, as pluto's AGGR_R1)
    forged = make_pair(AM, AM)
    forged.drop = lambda d: d.label == "AM3" or d.label == "AM1" and d.dst.ip == forged.client.address
    forged.take(forged.client.connect(forged.server.address, 0.0))
    forged.drop = lambda d: d.dst.ip == forged.client.address     # the forger never answers
    forged.advance(60)
    assert [d.label for _, d in forged.wire if d.src.ip == forged.server.address] == ["AM2"]


def test_the_responder_chooses_only_a_transform_of_am1s_ke_group():
    """AM1 carries KE before anything is chosen, so it offers one group (RFC 2409 §5.4); a responder
    preferring another group still picks the offered one, and refuses when it cannot."""
    pair = make_pair(replace(AM, dh_groups=(2,)), replace(AM, dh_groups=(14, 2))).connect()
    assert [e.dh_group for e in pair.of("Phase1Established")] == [2, 2]
    pair = make_pair(replace(AM, dh_groups=(14,)), replace(AM, dh_groups=(2,))).connect()
    assert [d.label for _, d in pair.wire] == ["AM1", "INFO NO-PROPOSAL-CHOSEN"]
    assert pair.of("NegotiationFailed", "client")[0].code is Reason.NO_PROPOSAL
