"""Every decoder round-trips: whatever bytes it accepts, its encoder gives back exactly.

Properties over generated structures (encode → decode → encode) and over mutated real messages
(decode → encode, or DecodeError and nothing else), for ISAKMP, IPv4/UDP, ESP, AH and L2TP. The
dissector's field names come from the codec's layouts, and tshark places the fields the layouts
added (SA, proposal, transform) where it places its own.
"""
from __future__ import annotations

import dataclasses
import shutil
from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import ConfigError, DecodeError
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.wire import esp, ip, isakmp, l2tp
from natt_core.wire import dissect as dissect_mod
from natt_core.wire.dissect import dissect, dissect_inner
from natt_core.wire.layout import Layout
from natt_core.wire.numbers import ExchangeType, IPProto, PayloadType
from natt_core.wire.udp_encap import carried

from tests.test_dissect import _tshark_positions

u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
ICOOKIE, RCOOKIE = bytes.fromhex("0123456789abcdef"), bytes.fromhex("fedcba9876543210")
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- ISAKMP --------------------------------------------------------------------------------------

attributes = st.one_of(
    st.builds(isakmp.Attribute, st.integers(0, 0x7FFF), u32, st.booleans()),
    st.builds(isakmp.Attribute, st.integers(0, 0x7FFF), st.binary(max_size=12)))
transforms = st.builds(isakmp.Transform, u8, u8, st.lists(attributes, max_size=5).map(tuple))
proposals = st.builds(isakmp.Proposal, u8, u8, st.binary(max_size=8),
                      st.lists(transforms, min_size=1, max_size=3).map(tuple))
payloads = st.one_of(
    st.builds(isakmp.SA, st.lists(proposals, min_size=1, max_size=2).map(tuple), u32, u32),
    st.builds(isakmp.KE, st.binary(max_size=64)), st.builds(isakmp.Hash, st.binary(max_size=32)),
    st.builds(isakmp.Nonce, st.binary(max_size=32)), st.builds(isakmp.VendorID, st.binary(max_size=20)),
    st.builds(isakmp.ID, st.sampled_from([2, 3, 9, 11]), u8, u16, st.binary(max_size=16)),
    st.builds(isakmp.ID, st.just(1), u8, u16, st.binary(min_size=4, max_size=4)),
    st.builds(isakmp.Notification, u16, u8, st.binary(max_size=16), st.binary(max_size=16), u32),
    st.integers(0, 8).flatmap(lambda n: st.builds(
        isakmp.Delete, u8, st.lists(st.binary(min_size=n, max_size=n), max_size=3).map(tuple), st.just(n), u32)),
    st.builds(isakmp.NatD, st.binary(max_size=32), st.booleans()),
    st.builds(isakmp.NatOA, st.just(1), st.binary(min_size=4, max_size=4), st.booleans()),
    st.builds(isakmp.NatOA, st.just(5), st.binary(min_size=16, max_size=16), st.booleans()),
    st.builds(isakmp.Cert, st.binary(max_size=32), u8), st.builds(isakmp.CertRequest, st.binary(max_size=16), u8),
    st.builds(isakmp.Sig, st.binary(max_size=32)),
    st.builds(isakmp.Unknown, st.sampled_from([14, 15, 16, 200]), st.binary(max_size=16)))
headers = st.builds(isakmp.Header, st.binary(min_size=8, max_size=8).filter(any), st.binary(min_size=8, max_size=8),
                    st.just(0), u8, u8.filter(lambda f: not f & 1), u32)


def _fresh(p):
    """The same payload rebuilt through __init__, so nothing cached from decoding is reused."""
    if isinstance(p, isakmp.SA):
        return dataclasses.replace(p, proposals=tuple(
            dataclasses.replace(q, transforms=tuple(dataclasses.replace(t) for t in q.transforms))
            for q in p.proposals))
    return dataclasses.replace(p)


@FUZZ
@given(headers, st.lists(payloads, max_size=5))
def test_messages_round_trip(header, ps):
    msg = isakmp.encode_message(header, ps)
    got_header, chain = isakmp.decode_message(msg)
    assert chain.payloads == tuple(ps)
    assert isakmp.encode_message(got_header, chain.payloads) == msg          # decode → encode
    assert isakmp.encode_message(got_header, [_fresh(p) for p in chain.payloads]) == msg


@FUZZ
@given(headers, st.lists(payloads, max_size=5))
def test_dissect_tiles_every_generated_message(header, ps):
    """Whatever the codec encodes, the view walks with the same layouts, byte for byte."""
    msg = isakmp.encode_message(header, ps)
    packet = ip.encode_datagram(Datagram(Endpoint("192.0.2.1", 500), Endpoint("198.51.100.2", 500),
                                         IPProto.UDP, msg))
    pos = 0
    for f in dissect(packet):
        assert f.offset == pos and f.length > 0, f
        pos = f.end
    assert pos == len(packet)


@lru_cache(maxsize=None)
def _trace_packets() -> tuple[bytes, ...]:
    seen: dict[bytes, None] = {}
    for name in ("client-behind-nat", "legacy-behind-nat", "ah-behind-nat", "client-behind-nat-draft02"):
        for hop in run(preset(name).with_(duration=25.0)).hops:
            seen.setdefault(hop.packet)
    return tuple(seen)


def _ike_messages() -> tuple[bytes, ...]:
    found = (carried(packet) for packet in _trace_packets())
    return tuple(c.data for c in found if c is not None and c.kind == "ike")


def _mutate(data: st.DataObject, raw: bytes) -> bytes:
    b = bytearray(raw)
    for _ in range(data.draw(st.integers(1, 3))):
        if b:
            b[data.draw(st.integers(0, len(b) - 1))] = data.draw(u8)
    if data.draw(st.booleans()):
        b = b[:data.draw(st.integers(0, len(b)))]
    return bytes(b)


@FUZZ
@given(st.data())
def test_mutated_ike_messages_round_trip_or_decode_error(data):
    msg = _mutate(data, data.draw(st.sampled_from(_ike_messages())))
    if len(msg) >= 28 and data.draw(st.booleans()):   # keep the length field honest half the time
        msg = msg[:24] + len(msg).to_bytes(4, "big") + msg[28:]
    try:
        header, body = isakmp.decode_header(msg)
    except DecodeError:
        return
    assert isakmp.encode_header(header, len(body)) + body == msg
    if header.encrypted:
        return
    try:
        chain = isakmp.decode_payloads(header.next_payload, body)
    except DecodeError:
        return
    assert isakmp.encode_message(header, chain.payloads) == msg
    assert isakmp.encode_message(header, [_fresh(p) for p in chain.payloads]) == msg


def test_reserved_bytes_must_be_zero():
    """Round trips need every byte to mean something: RFC 2408 §3.2, §3.6 and RFC 3947 §5.2
    send reserved fields as zero, and a strict decoder refuses anything else."""
    body = isakmp.encode_payloads([isakmp.Nonce(b"n" * 8)])
    with pytest.raises(DecodeError, match="offset 29: NONCE payload reserved byte is 0x01"):
        isakmp.decode_payloads(PayloadType.NONCE, body[:1] + b"\x01" + body[2:])
    oa = isakmp.encode_payloads([isakmp.NatOA.from_ip("10.0.0.1")])
    with pytest.raises(DecodeError, match="offset 33: reserved is 000100, must be zero"):
        isakmp.decode_payloads(PayloadType.NAT_OA, oa[:5] + b"\x00\x01\x00" + oa[8:])


# --- IPv4 / UDP -------------------------------------------------------------------------------------

ipv4 = st.builds(lambda b: ".".join(map(str, b)), st.binary(min_size=4, max_size=4))


@FUZZ
@given(u8, u16, st.sampled_from([0, 0x4000, 0x8000, 0xC000]), u8, u8, ipv4, ipv4, st.binary(max_size=40))
def test_ipv4_header_round_trips(tos, ident, flags, ttl, proto, src, dst, body):
    packet = ip.encode_ipv4_header(src, dst, proto, len(body), ident, ttl, tos, flags) + body
    header, rest = ip.decode_ipv4_header(packet)
    assert (header.src, header.dst, header.proto, header.ttl, header.tos, header.flags_frag) == (
        src, dst, proto, ttl, tos, flags)
    assert header.encode() + rest == packet


@FUZZ
@given(st.data())
def test_mutated_packets_ip_udp_round_trip_or_decode_error(data):
    packet = _mutate(data, data.draw(st.sampled_from(_trace_packets())))
    try:
        header, body = ip.decode_ipv4_header(packet)
    except DecodeError:
        return
    assert header.encode() + body == packet
    if header.proto == IPProto.UDP:
        try:
            udp, payload = ip.decode_udp(body, 20)
        except DecodeError:
            return
        assert udp.encode() + payload == body


# --- ESP / AH ---------------------------------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=40))
def test_esp_split_join(data):
    try:
        header, rest = esp.split_esp(data)
    except DecodeError:
        assert len(data) < 8 or data[:4] == bytes(4)
        return
    assert esp.join_esp(header, rest) == data


@FUZZ
@given(u8, st.integers(1, 0xFFFFFFFF), u32, st.integers(0, 8).map(lambda n: n * 4), st.binary(max_size=24),
       st.data())
def test_ah_round_trips(next_header, spi, seq, icv_len, payload, data):
    icv = data.draw(st.binary(min_size=icv_len, max_size=icv_len))
    packet = esp.encode_ah(next_header, spi, seq, icv, payload)
    header, rest = esp.decode_ah(packet)
    assert (header.next_header, header.spi, header.seq, header.icv, rest) == (next_header, spi, seq, icv, payload)
    assert header.encode() + rest == packet
    # RFC 4302 §2.3: a receiver ignores Reserved, but keeps it (the ICV covers it)
    odd = packet[:2] + b"\x12\x34" + packet[4:]
    header, rest = esp.decode_ah(odd)
    assert header.reserved == 0x1234 and header.encode() + rest == odd


@FUZZ
@given(st.binary(max_size=48))
def test_ah_random_bytes_round_trip_or_decode_error(data):
    try:
        header, rest = esp.decode_ah(data)
    except DecodeError:
        return
    assert header.encode() + rest == data


# --- L2TP ---------------------------------------------------------------------------------------

avps = st.builds(l2tp.Avp, u16, st.binary(max_size=20), st.sampled_from([0, 0x8000, 0x4000, 0xC000]), u16)
controls = st.builds(l2tp.L2tpControl, u16, u16, u16, u16, st.lists(avps, max_size=5).map(tuple),
                     st.sampled_from([0xC802, 0xC803 & ~1, 0xC832]))


@FUZZ
@given(controls)
def test_l2tp_round_trips(message):
    data = message.encode()
    assert l2tp.decode_l2tp(data) == message
    assert l2tp.decode_l2tp(data).encode() == data


@pytest.mark.parametrize("kind", list(l2tp.MessageType))
def test_l2tp_control_messages_decode_and_re_encode(kind):
    data = l2tp.control_message(kind, tunnel_id=7, ns=2, nr=1, host_name="lns")
    assert l2tp.decode_l2tp(data).encode() == data
    assert l2tp.decode_control(data) == l2tp.ControlMessage(kind, 7, 2, 1)


@FUZZ
@given(st.data())
def test_mutated_l2tp_round_trip_or_decode_error(data):
    kind = data.draw(st.sampled_from(list(l2tp.MessageType)))
    raw = _mutate(data, l2tp.control_message(kind, 3, 4, 5))
    try:
        message = l2tp.decode_l2tp(raw)
    except DecodeError:
        return
    assert message.encode() == raw


def test_l2tp_rejects_what_is_not_a_control_message():
    good = l2tp.control_message(l2tp.MessageType.HELLO)
    for bad, why in [(b"\x48\x02" + good[2:], "flags 0x4802"),          # T clear: a data message
                     (b"\xca\x02" + good[2:], "flags 0xca02"),          # O set
                     (good[:12] + b"\xbc" + good[13:], "AVP reserved bits"),
                     (good[:12] + b"\x80\x04" + good[14:], "AVP length 4 is less than 6")]:
        with pytest.raises(DecodeError, match=why):
            l2tp.decode_l2tp(bad)
    with pytest.raises(ConfigError):
        l2tp.Avp(1, b"", bits=0x0100)


# --- the dissector reads the codec's layouts ------------------------------------------------------

def _layout_labels() -> set[str]:
    from natt_core.wire import isakmp_frame, isakmp_payloads, isakmp_proposals, udp_encap
    labels = set()
    for module in (ip, esp, l2tp, isakmp_frame, isakmp_payloads, isakmp_proposals, udp_encap, dissect_mod):
        for value in vars(module).values():
            if isinstance(value, Layout):
                labels |= {p.label for p in value.parts}
    return labels


def test_every_field_name_comes_from_a_layout():
    """Apart from SA attributes (one field each, named by their RFC 2409/2407 class), every name a
    view shows is a label of a Layout the codecs pack and unpack with."""
    labels = _layout_labels()
    labels |= {label.format(which=w) for label in labels for w in ("source", "destination")}
    names = set()
    for packet in _trace_packets():
        for f in dissect(packet):
            name = f.name.removeprefix("inner ")
            if name not in labels:
                assert f.layer.startswith("Transform #") and name.islower(), f   # e.g. "life duration"
            names.add(name)
    assert {"proposal #", "transform ID", "SPI", "ICV", "next header", "flags / version"} <= names
    segment = ip.encode_udp(Endpoint("10.0.0.1", 1701), Endpoint("10.0.0.2", 1701),
                            l2tp.control_message(l2tp.MessageType.HELLO))
    inner = dissect_inner(IPProto.UDP, segment)
    assert [f.name for f in inner][:4] == ["inner source port", "inner destination port", "inner length",
                                           "inner checksum (over the original addresses)"]


def test_layouts_give_the_codecs_their_offsets():
    assert (ip.OFF_IP_TOTAL_LEN, ip.OFF_IP_IDENT, ip.OFF_IP_TTL, ip.OFF_IP_PROTO, ip.OFF_IP_CHECKSUM,
            ip.OFF_IP_SRC, ip.OFF_IP_DST) == (2, 4, 8, 9, 10, 12, 16)          # RFC 791 §3.1
    assert (ip.OFF_SPORT, ip.OFF_DPORT, ip.OFF_UDP_LEN, ip.OFF_UDP_CHECKSUM) == (0, 2, 4, 6)  # RFC 768
    assert (ip.IPV4_HEADER_LEN, ip.UDP_HEADER_LEN, esp.ESP_HEADER_LEN, esp.AH_FIXED_LEN, isakmp.HEADER_LEN) == (
        20, 8, 8, 12, 28)
    header = isakmp.Header(ICOOKIE, RCOOKIE, 0, ExchangeType.MAIN_MODE, message_id=0x01020304)
    fields = {f.name: f for f in isakmp_frame_fields(isakmp.encode_header(header, 0))}
    assert (fields["message ID"].offset, fields["message ID"].length, fields["message ID"].value) == (
        20, 4, "0x01020304")


def isakmp_frame_fields(data: bytes):
    from natt_core.wire.isakmp_frame import HEADER
    return HEADER.fields(data, 0)[0]


# --- tshark places the fields the layouts added where it places its own ---------------------------

ORACLE = {("SA payload", "DOI"): "isakmp.sa.doi", ("SA payload", "situation"): "isakmp.sa.situation",
          ("Proposal", "proposal #"): "isakmp.prop.number", ("Proposal", "protocol ID"): "isakmp.prop.protoid",
          ("Proposal", "number of transforms"): "isakmp.prop.transforms",
          ("Transform", "transform #"): "isakmp.trans.number", ("Transform", "transform ID"): "isakmp.trans.id"}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_sa_fields_match_tshark(tmp_path):
    packets = [p for p in _trace_packets() if any(f.layer.startswith("Proposal") for f in dissect(p))]
    frames = _tshark_positions(tuple(packets), tmp_path)
    checked = 0
    for packet, tshark in zip(packets, frames):
        for f in dissect(packet):
            for (layer, name), theirs in ORACLE.items():
                if f.layer.startswith(layer) and f.name == name:
                    assert (f.offset, f.length) in tshark[theirs], (f, theirs, tshark[theirs])
                    checked += 1
    assert checked >= 7 * 2


# --- IKEv2: the same checks over wire.ikev2_layouts ---------------------------------------------

from natt_core.wire import ikev2, ikev2_layouts  # noqa: E402
from tests.test_wire_ikev2 import bodies as v2_bodies, headers as v2_headers  # noqa: E402

v2_sk = st.builds(ikev2.Encrypted, st.sampled_from([0, 35, 39, 44]), st.binary(min_size=1, max_size=48))


def _v2_packet(msg: bytes) -> bytes:
    return ip.encode_datagram(Datagram(Endpoint("192.0.2.1", 500), Endpoint("198.51.100.2", 500), IPProto.UDP, msg))


@FUZZ
@given(v2_headers, st.lists(v2_bodies, max_size=5), st.lists(v2_sk, max_size=1))
def test_ikev2_messages_round_trip_and_tile(header, ps, sk):
    """decode → encode gives the same bytes, and the view walks them with the codec's layouts."""
    msg = ikev2.encode_message(header, ps + sk)
    decoded = ikev2.decode_message(msg)
    assert decoded.payloads == tuple(ps + sk)
    assert ikev2.encode_message(decoded.header, decoded.payloads) == msg
    pos = 0
    for f in dissect(_v2_packet(msg)):
        assert f.offset == pos and f.length > 0, f
        pos = f.end
    assert pos == IPV4_UDP + len(msg)


IPV4_UDP = ip.IPV4_HEADER_LEN + ip.UDP_HEADER_LEN


@lru_cache(maxsize=1)
def _v2_packets() -> tuple[bytes, ...]:
    trace = run(preset("ikev2-client-behind-nat"))
    return tuple(dict.fromkeys(h.packet for h in trace.hops if (h.label or "").startswith(("IKE_", "INFO"))))


def _v2_messages() -> tuple[bytes, ...]:
    found = (carried(packet) for packet in _v2_packets())
    return tuple(c.data for c in found if c is not None and c.kind == "ike")


@FUZZ
@given(st.data())
def test_mutated_ikev2_messages_round_trip_or_decode_error(data):
    """Re-encoding what decoded gives the same bytes, except in the fields the layouts call
    reserved (RFC 7296 §3.2: sent as zero, ignored on receipt)."""
    msg = _mutate(data, data.draw(st.sampled_from(_v2_messages())))
    if len(msg) >= 28 and data.draw(st.booleans()):
        msg = msg[:24] + len(msg).to_bytes(4, "big") + msg[28:]
    try:
        decoded = ikev2.decode_message(msg)
    except DecodeError:
        return
    again = ikev2.encode_message(decoded.header, decoded.payloads)
    assert len(again) == len(msg)
    reserved = {i - IPV4_UDP for f in dissect(_v2_packet(msg)) if "reserved" in f.name for i in range(f.offset, f.end)}
    assert [i for i, (a, b) in enumerate(zip(msg, again)) if a != b and i not in reserved] == []
    assert ikev2.decode_message(again) == decoded


def test_ikev2_field_names_come_from_its_layouts():
    labels = {p.label for v in vars(ikev2_layouts).values() if isinstance(v, Layout) for p in v.parts}
    labels |= {label.format(which=w) for label in labels for w in ("source", "destination")}
    names = set()
    for packet in _v2_packets():
        for f in dissect(packet):
            assert f.name in labels or f.offset < IPV4_UDP + 4, f     # IPv4, UDP, the non-ESP marker
            names.add(f.name)
    assert {"initiator SPI", "critical / reserved", "proposal #", "transform ID", "attribute value", "DH group",
            "nonce", "notify type", "SHA-1(SPIi | SPIr | source IP | source port)"} <= names
    assert (ikev2_layouts.HEADER.offset("message_id"), ikev2_layouts.HEADER.offset("length"),
            ikev2.HEADER_LEN, ikev2.GENERIC_LEN) == (20, 24, 28, 4)                      # RFC 7296 §3.1


V2_ORACLE = {("IKEv2", "initiator SPI"): {"isakmp.ispi"}, ("IKEv2", "responder SPI"): {"isakmp.rspi"},
             ("IKEv2", "exchange type"): {"isakmp.exchangetype"}, ("IKEv2", "message ID"): {"isakmp.messageid"},
             ("IKEv2", "length"): {"isakmp.length"}, ("", "next payload"): {"isakmp.nextpayload"},
             ("", "last substruc"): {"isakmp.nextpayload"}, ("", "critical / reserved"): {"isakmp.criticalpayload"},
             ("", "payload length"): {"isakmp.payloadlength"}, ("", "proposal length"): {"isakmp.payloadlength"},
             ("", "transform length"): {"isakmp.payloadlength"}, ("Proposal", "proposal #"): {"isakmp.prop.number"},
             ("Proposal", "protocol ID"): {"isakmp.prop.protoid"},
             ("Proposal", "number of transforms"): {"isakmp.prop.transforms"},
             ("Transform", "transform type"): {"isakmp.tf.type"},
             ("Transform", "transform ID"): {f"isakmp.tf.id.{t}" for t in ("encr", "prf", "integ", "dh", "esn")},
             ("Transform", "attribute format / type"): {"isakmp.ike2.attr.type"},
             ("Transform", "attribute value"): {"isakmp.ike2.attr.value"},
             ("KE", "DH group"): {"isakmp.key_exchange.dh_group"},
             ("KE", "key exchange data"): {"isakmp.key_exchange.data"}, ("NONCE", "nonce"): {"isakmp.nonce"},
             ("NOTIFY", "notify type"): {"isakmp.notify.msgtype"},
             ("NOTIFY", "protocol ID"): {"isakmp.notify.protoid"}, ("NOTIFY", "SHA-1("): {"isakmp.notify.data"}}


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_ikev2_fields_sit_where_tshark_puts_them(tmp_path):
    packets = _v2_packets()
    frames = _tshark_positions(packets, tmp_path)
    checked = set()
    for packet, tshark in zip(packets, frames):
        for f in dissect(packet):
            for (layer, name), theirs in V2_ORACLE.items():
                if f.layer.startswith(layer) and f.name.startswith(name) and f.offset >= IPV4_UDP:
                    spots = set().union(*(tshark.get(t, set()) for t in theirs))
                    assert (f.offset, f.length) in spots, (f, theirs, spots)
                    checked.add((layer, name))
    assert checked == set(V2_ORACLE)
