"""What real peers do differently, and must still work or still be understood.

Found against strongSwan (tests/test_live_interop.py), reproduced here without root:
- a responder re-encodes the transform it accepted in its own attribute order (RFC 2408 §3.5 gives
  the order no meaning), and may send an integer attribute as TLV (RFC 2408 §3.3);
- a responder whose pre-shared key differs answers MM5 with an *encrypted* Informational that our
  keys cannot open (its keys derive from its PSK, RFC 2409 §5) — the initiator can only report the
  likely cause once its retransmissions give up.
"""
from __future__ import annotations

import os
from dataclasses import replace

from natt_core.ike.policy import PeerPolicy
from natt_core.reasons import Reason
from natt_core.wire.isakmp import SA, Attribute, Header, Proposal, Transform, decode_header, decode_payloads, \
    encode_header, encode_message
from natt_core.wire.numbers import ExchangeType, Flag, PayloadType, Phase1Attr
from natt_core.wire.udp_encap import NON_ESP_MARKER, frame_ike

from .helpers import make_pair
from .test_peer_robustness import impaired


def reencoded(transform: Transform) -> Transform:
    """The same transform as another implementation may write it: attributes reversed, the life
    duration as a 4-byte TLV."""
    attrs = tuple(Attribute(a.type, int(a.value).to_bytes(4, "big"), tlv=True) if a.type == Phase1Attr.LIFE_DURATION
                  else a for a in reversed(transform.attributes))
    return replace(transform, attributes=attrs)


def rewrite_mm2(d):
    if d.label != "MM2":
        return d
    header, body = decode_header(d.payload)
    chain = decode_payloads(header.next_payload, body)
    payloads = [SA(tuple(replace(p, transforms=tuple(map(reencoded, p.transforms))) for p in pl.proposals))
                if isinstance(pl, SA) else pl for pl in chain.payloads]
    return replace(d, payload=encode_message(header, payloads))


def test_an_mm2_with_the_chosen_transform_reencoded_is_accepted():
    pair = impaired(make_pair(client_nat=True), alter=rewrite_mm2).connect()
    assert [r.state for r in pair.client.isakmp_rows()] == ["ESTABLISHED"]
    assert pair.client.ipsec_rows() and pair.server.ipsec_rows()


def test_an_mm2_choosing_another_value_is_still_refused():
    def other_group(d):
        if d.label != "MM2":
            return d
        header, body = decode_header(d.payload)
        chain = decode_payloads(header.next_payload, body)
        sa = next(p for p in chain.payloads if isinstance(p, SA))
        t = sa.proposals[0].transforms[0]
        t = replace(t, attributes=tuple(Attribute(a.type, 5) if a.type == Phase1Attr.GROUP else a
                                        for a in t.attributes))
        sa = SA((replace(sa.proposals[0], transforms=(t,)),))
        return replace(d, payload=encode_message(header, [sa if isinstance(p, SA) else p for p in chain.payloads]))

    pair = impaired(make_pair(client_nat=True), alter=other_group).connect()
    assert any("never offered" in e.reason for e in pair.of("PacketDropped", "client"))
    assert not pair.client.ipsec_rows()


def unreadable_complaint(d):
    """Replace the responder's plain AUTHENTICATION-FAILED by an encrypted Informational under keys
    the initiator does not have (random bytes are what it looks like to the initiator)."""
    if not d.label.startswith("INFO"):
        return d
    header, _ = decode_header(d.payload[len(NON_ESP_MARKER):])
    body = os.urandom(48)
    encrypted = encode_header(replace(header, next_payload=PayloadType.HASH, flags=Flag.ENCRYPTED,
                                      exchange=ExchangeType.INFORMATIONAL, message_id=0x1234ABCD), len(body)) + body
    return replace(d, payload=frame_ike(encrypted))


def test_a_responder_with_another_psk_answering_mm5_encrypted_is_reported_as_an_authentication_failure():
    pair = impaired(make_pair(PeerPolicy(), PeerPolicy(psk="another key"), client_nat=True),
                    alter=unreadable_complaint).connect()
    assert not pair.of("AuthenticationFailed", "client")      # evidence, not proof: keep retransmitting
    pair.advance(60)
    failed = pair.of("AuthenticationFailed", "client")
    assert len(failed) == 1 and "does not decrypt under our keys" in failed[0].reason
    assert [r.state for r in pair.client.isakmp_rows()] == ["FAILED"]
    assert pair.of("GaveUp", "client")[0].label == "MM5"


def test_without_any_answer_to_mm5_giving_up_does_not_claim_an_authentication_failure():
    """No complaint reaches the client; the responder's repeated MM4 is the only evidence, so the
    failure is named as a likely PSK mismatch (its own code), never a proven AUTH_FAILED."""
    pair = impaired(make_pair(PeerPolicy(), PeerPolicy(psk="another key"), client_nat=True),
                    drop=lambda d: d.label.startswith("INFO")).connect()
    pair.advance(60)
    assert [e.code for e in pair.of("AuthenticationFailed", "client")] == [Reason.PSK_MISMATCH_LIKELY]
    assert pair.of("GaveUp", "client")


def test_a_peer_that_refused_answers_nothing_more():
    """After the Windows rule refuses at MM4, the responder's MM4 retransmissions must meet silence,
    not the MM3 that answered MM2 (which would restart an MM3/MM4 ping-pong)."""
    pair = impaired(make_pair(PeerPolicy(assume_udp_rule=0), client_nat=True, server_nat=True)).connect()
    refused_at = pair.of("Refused", "client")[0].time
    pair.advance(60)
    assert [r.state for r in pair.client.isakmp_rows()] == ["FAILED"]
    late = [d.label for t, d in pair.wire if t > refused_at]
    assert late and set(late) == {"MM4"}, late     # only the responder's retransmissions
    assert all("has ended" in e.reason for e in pair.of("PacketDropped", "client") if e.time > refused_at)
    assert len(pair.wire) < 30
