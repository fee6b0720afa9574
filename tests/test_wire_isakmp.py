"""ISAKMP codec: round trips, strict errors, hypothesis fuzzing, scapy and tshark as oracles."""
import hashlib
import ipaddress
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.isakmp import (ISAKMP, IPSECAttributeTypes, ISAKMP_payload, ISAKMP_payload_Delete,
                                 ISAKMP_payload_Hash, ISAKMP_payload_ID, ISAKMP_payload_KE,
                                 ISAKMP_payload_Nonce, ISAKMP_payload_Notify,
                                 ISAKMP_payload_Proposal, ISAKMP_payload_SA,
                                 ISAKMP_payload_Transform, ISAKMP_payload_VendorID,
                                 ISAKMPAttributeTypes)
from scapy.packet import NoPayload, Padding, Raw
from scapy.utils import wrpcap

from natt_core.errors import ConfigError, DecodeError
from natt_core.wire.isakmp import (HEADER_LEN, ID, KE, SA, Attribute, Cert, CertRequest, Delete, Hash, Header, NatD,
                                   NatOA, Nonce, Notification, Proposal, Sig, Transform, Unknown,
                                   VendorID, decode_header, decode_message, decode_payloads,
                                   encode_header, encode_message, encode_payloads, summary)
from natt_core.wire.numbers import (AuthAlgorithm, EncapsulationMode, EspTransform, ExchangeType,
                                    Flag, HashAlg, IdType, IpsecAttr, IPProto, NotifyType,
                                    Phase1Attr, Phase1Cipher, PayloadType, ProtocolId)

from tests import vectors_wire as V

ICOOKIE = bytes.fromhex("0123456789abcdef")
RCOOKIE = bytes.fromhex("fedcba9876543210")

PHASE1_SA = SA((Proposal(1, ProtocolId.ISAKMP, b"", (
    Transform(1, 1, (Attribute(Phase1Attr.ENCRYPTION, Phase1Cipher.AES_CBC),
                     Attribute(Phase1Attr.KEY_LENGTH, 128),
                     Attribute(Phase1Attr.HASH, HashAlg.SHA1),
                     Attribute(Phase1Attr.AUTH_METHOD, 1), Attribute(Phase1Attr.GROUP, 14),
                     Attribute(Phase1Attr.LIFE_TYPE, 1),
                     Attribute(Phase1Attr.LIFE_DURATION, 86400))),
    Transform(2, 1, (Attribute(Phase1Attr.ENCRYPTION, Phase1Cipher.TRIPLE_DES_CBC),
                     Attribute(Phase1Attr.HASH, HashAlg.MD5),
                     Attribute(Phase1Attr.LIFE_DURATION, 28800))),
)),))
ESP_SA = SA((Proposal(1, ProtocolId.ESP, bytes.fromhex("0a0b0c0d"), (
    Transform(1, EspTransform.ESP_AES, (
        Attribute(IpsecAttr.ENCAPSULATION_MODE, EncapsulationMode.UDP_TRANSPORT),
        Attribute(IpsecAttr.AUTH_ALGORITHM, AuthAlgorithm.HMAC_SHA),
        Attribute(IpsecAttr.KEY_LENGTH, 128), Attribute(IpsecAttr.LIFE_TYPE, 1),
        Attribute(IpsecAttr.LIFE_DURATION, 3600, tlv=True))),
    Transform(2, EspTransform.ESP_3DES, (
        Attribute(IpsecAttr.ENCAPSULATION_MODE, EncapsulationMode.UDP_TUNNEL),
        Attribute(IpsecAttr.AUTH_ALGORITHM, AuthAlgorithm.HMAC_SHA))),
)),))


def natd(ip: bytes, port: int) -> NatD:
    """A realistic NAT-D body: SHA-1(CKY-I | CKY-R | IP | Port), RFC 3947 §3.2."""
    return NatD(hashlib.sha1(ICOOKIE + RCOOKIE + ip + port.to_bytes(2, "big")).digest())


MM1 = (Header(ICOOKIE, bytes(8), 0, ExchangeType.MAIN_MODE),
       [PHASE1_SA, VendorID(hashlib.md5(b"RFC 3947").digest()),
        VendorID(hashlib.md5(b"draft-ietf-ipsec-nat-t-ike-02\n").digest())])
MM3 = (Header(ICOOKIE, RCOOKIE, 0, ExchangeType.MAIN_MODE),
       [KE(bytes(range(256))[:128]), Nonce(b"N" * 16),
        natd(bytes([203, 0, 113, 10]), 500), natd(bytes([10, 0, 0, 2]), 500)])
QM1 = (Header(ICOOKIE, RCOOKIE, 0, ExchangeType.QUICK_MODE, message_id=0x1234ABCD),
       [Hash(b"H" * 20), ESP_SA, Nonce(b"n" * 16),
        ID.ipv4("10.0.0.2", IPProto.UDP, 1701), ID.ipv4("203.0.113.10", IPProto.UDP, 1701),
        NatOA.from_ip("10.0.0.2"), NatOA.from_ip("203.0.113.10")])
INFO = (Header(ICOOKIE, RCOOKIE, 0, ExchangeType.INFORMATIONAL, message_id=7),
        [Hash(b"h" * 20), Notification(NotifyType.INITIAL_CONTACT, ProtocolId.ISAKMP,
                                       ICOOKIE + RCOOKIE),
         Delete(ProtocolId.ESP, (bytes.fromhex("0a0b0c0d"), bytes.fromhex("01020304")), 4),
         Delete(ProtocolId.ISAKMP, (ICOOKIE + RCOOKIE,))])
SAMPLES = {"MM1": MM1, "MM3": MM3, "QM1": QM1, "INFO": INFO}
ENCODED = {name: encode_message(h, ps) for name, (h, ps) in SAMPLES.items()}


# --- round trips ---------------------------------------------------------------------------------

EVERY_PAYLOAD = [
    PHASE1_SA, ESP_SA, KE(b"\x01" * 128), ID.ipv4("192.168.1.10"),
    ID(IdType.FQDN, 0, 0, b"vpn.example"), ID(IdType.IPV4_ADDR_SUBNET, 17, 1701, bytes(8)),
    Hash(b"\xaa" * 20), Nonce(b"\xbb" * 32), Notification(NotifyType.NO_PROPOSAL_CHOSEN),
    Notification(24576, ProtocolId.ESP, b"\x0a\x0b\x0c\x0d", b"\x00\x01"),
    Delete(ProtocolId.ISAKMP, (ICOOKIE + RCOOKIE,)),
    Delete(ProtocolId.ESP, (b"\x01\x02\x03\x04",), 4),
    VendorID(V.RFC3947_VID), NatD(b"\x11" * 20), NatD(b"\x22" * 16, draft=True),
    NatOA.from_ip("10.0.0.2"), NatOA.from_ip("2001:db8::1"), NatOA.from_ip("10.0.0.3", draft=True),
    Cert(b"cert"), Sig(b""), CertRequest(b""), CertRequest(b"\x30\x00"), Unknown(15, b"not a known type"),
]


@pytest.mark.parametrize("payload", EVERY_PAYLOAD, ids=lambda p: p.summary())
def test_payload_round_trip(payload):
    body = encode_payloads([payload])
    assert int.from_bytes(body[2:4], "big") == len(body) and body[0] == 0
    chain = decode_payloads(payload.payload_type, body)
    assert chain.payloads == (payload,) and chain.raw == (body,) and chain.end == len(body)


@pytest.mark.parametrize("name", SAMPLES)
def test_message_round_trip(name):
    header, payloads = SAMPLES[name]
    msg = ENCODED[name]
    got_header, chain = decode_message(msg)
    assert got_header == Header(header.icookie, header.rcookie, payloads[0].payload_type,
                                header.exchange, header.flags, header.message_id, len(msg))
    assert list(chain.payloads) == payloads
    assert b"".join(chain.raw) == msg[HEADER_LEN:]


def test_nat_d_draft_and_rfc_types_on_the_wire():
    body = encode_payloads([NatD(b"a" * 20), NatD(b"b" * 20, draft=True),
                            NatOA.from_ip("1.2.3.4", True)])
    assert body[0] == 130 and body[24] == 131 and body[48] == 0  # next-payload bytes
    chain = decode_payloads(PayloadType.NAT_D, body)
    assert [p.draft for p in chain.payloads] == [False, True, True]
    assert chain.first(NatOA).ip == "1.2.3.4" and len(chain.all(NatD)) == 2


def test_quick_mode_raw_payloads_are_the_bytes_hash1_covers():
    """RFC 2409 §5.5: HASH(1) is over everything after the HASH payload, headers included."""
    msg = ENCODED["QM1"]
    _, chain = decode_message(msg)
    assert b"".join(chain.raw[1:]) == msg[HEADER_LEN + len(chain.raw[0]):]
    assert chain.raw[0] == b"\x01\x00\x00\x18" + b"H" * 20  # next payload SA, length 24


def test_attribute_tv_and_tlv_encodings():
    # RFC 2408 §3.3: AF=1 → TV with a 16-bit value; AF=0 → TLV.
    assert Attribute(Phase1Attr.LIFE_DURATION, 28800).encode() == bytes.fromhex("800c7080")
    assert Attribute(Phase1Attr.LIFE_DURATION, 86400).encode() == bytes.fromhex("000c000400015180")
    assert Attribute(Phase1Attr.LIFE_DURATION, 28800, tlv=True).encode() == bytes.fromhex(
        "000c000400007080")
    assert Attribute(6, b"\x01\x02\x03").encode() == bytes.fromhex("00060003010203")
    assert Attribute(12, 86400).tlv and Attribute(12, b"\x00\x01\x51\x80") == Attribute(12, 86400)
    t = Transform(1, 1, (Attribute(12, b"\x01\x51\x80"), Attribute(6, b"\x01" * 8)))
    assert t.get(12) == 86400 and t.get(6) == b"\x01" * 8 and t.get(99, "none") == "none"


def test_summaries():
    assert NatD(bytes.fromhex("3f2a1b0c") * 5).summary() == "NAT-D 20 B 3f2a1b0c…"
    assert summary(Notification(NotifyType.INITIAL_CONTACT)) == "N(INITIAL_CONTACT)"
    assert NatOA.from_ip("10.0.0.2", draft=True).summary() == "NAT-OA (draft) 10.0.0.2"
    assert ID.ipv4("10.0.0.2", 17, 1701).summary() == "ID IPV4_ADDR 10.0.0.2 proto 17 port 1701"
    assert PHASE1_SA.summary() == "SA (1 proposal(s))"


def test_construction_rejects_values_that_do_not_fit():
    with pytest.raises(ConfigError):
        Attribute(0x8000, 1)
    with pytest.raises(ConfigError):
        Attribute(1, 1 << 32)
    with pytest.raises(ConfigError):
        Header(b"short", RCOOKIE, 0, 2)
    with pytest.raises(ConfigError):
        Proposal(1, 3, b"", ())
    with pytest.raises(ConfigError):
        SA(())
    with pytest.raises(ConfigError):
        Delete(ProtocolId.ESP, (b"\x01\x02",), 4)
    with pytest.raises(ConfigError):
        NatOA(IdType.FQDN, b"abcd")
    with pytest.raises(ConfigError):
        Unknown(PayloadType.KE, b"")
    with pytest.raises(ConfigError):
        encode_payloads([Nonce(bytes(0x10000))])


def test_encode_message_fills_next_payload_and_length():
    header, payloads = MM3
    msg = encode_message(Header(ICOOKIE, RCOOKIE, 99, 2, length=5), payloads)
    assert msg[16] == PayloadType.KE and int.from_bytes(msg[24:28], "big") == len(msg)
    assert encode_message(Header(ICOOKIE, RCOOKIE, 99, 5), []) == encode_header(
        Header(ICOOKIE, RCOOKIE, 0, 5), 0)
    assert decode_message(encode_message(Header(ICOOKIE, RCOOKIE, 0, 5), []))[1].payloads == ()


# --- exact errors ----------------------------------------------------------------------------

def _patched(data: bytes, index: int, value: int) -> bytes:
    return data[:index] + bytes([value]) + data[index + 1:]


SA_BODY = encode_payloads([ESP_SA])  # SA header 0..3, DOI/situation 4..11, proposal header 12..
MM3_MSG = ENCODED["MM3"]


@pytest.mark.parametrize("call, message", [
    (lambda: decode_header(b"\x01" * 10),
     "ISAKMP header at offset 0: truncated header: need 28 bytes, 10 left"),
    (lambda: decode_header(MM3_MSG + b"\x00"),
     f"ISAKMP header at offset 24: length field {len(MM3_MSG)} but {len(MM3_MSG) + 1} bytes"),
    (lambda: decode_header(_patched(MM3_MSG, 17, 0x20)),
     "ISAKMP header at offset 17: version 0x20: major 2, expected 1"),
    (lambda: decode_header(bytes(8) + MM3_MSG[8:]),
     "ISAKMP header at offset 0: initiator cookie is zero"),
    (lambda: decode_message(_patched(MM3_MSG, 19, Flag.ENCRYPTED)),
     "ISAKMP header at offset 19: encrypted body: decrypt it, then decode_payloads"),
    (lambda: decode_payloads(PayloadType.SA, b"\x00\x00"),
     "ISAKMP payload at offset 28: truncated SA payload header: need 4 bytes, 2 left"),
    (lambda: decode_payloads(PayloadType.KE, b"\x00\x00\x00\x02"),
     "ISAKMP payload at offset 30: KE payload length 2 is less than 4"),
    (lambda: decode_payloads(PayloadType.NONCE, b"\x00\x00\x00\x10abc"),
     "ISAKMP payload at offset 30: NONCE payload length 16 exceeds the 7 bytes left"),
    (lambda: decode_payloads(PayloadType.NONCE, encode_payloads([Nonce(b"n" * 8)]) + b"\x00" * 3),
     "ISAKMP payload at offset 40: 3 trailing bytes after the last payload"),
    # proposal header starts at body offset 12 = absolute 40; its transform count is at 44 + 3.
    (lambda: decode_payloads(PayloadType.SA, _patched(SA_BODY, 19, 3)),
     "ISAKMP proposal at offset 47: transform count 3 but 2 transforms"),
    (lambda: decode_payloads(PayloadType.SA, _patched(SA_BODY, 12, 5)),
     "ISAKMP proposal at offset 40: proposal next payload 5, expected 2 or 0"),
    (lambda: decode_payloads(PayloadType.SA, _patched(SA_BODY, 12, 2)),
     "ISAKMP proposal at offset 40: says another proposal follows but the SA ends"),
    # proposal body 44..: number, protocol, SPI size, count, 4-byte SPI; the first transform
    # (8 + 24 attribute bytes) covers 52..83, so ending the chain there leaves the 16-byte second.
    (lambda: decode_payloads(PayloadType.SA, _patched(SA_BODY, 24, 0)),
     "ISAKMP proposal at offset 84: 16 bytes after the last transform"),
    (lambda: decode_payloads(PayloadType.SA, _patched(SA_BODY, 18, 200)),
     "ISAKMP proposal at offset 48: truncated SPI: need 200 bytes, 52 left"),
    (lambda: decode_payloads(PayloadType.SA,
                             bytes.fromhex("00000022" "0000000100000001" "00000016" "01010001"
                                           "0000000e" "01010000" "000c00040001")),
     "ISAKMP transform at offset 60: truncated attribute value: need 4 bytes, 2 left"),
    (lambda: decode_payloads(PayloadType.NAT_OA, bytes.fromhex("0000000c" "02000000" "61626364")),
     "ISAKMP NAT-OA at offset 32: ID type 2 with 4 address bytes; "
     "expected 1 (IPv4, 4 bytes) or 5 (IPv6, 16 bytes)"),
    (lambda: decode_payloads(PayloadType.DELETE,
                             bytes.fromhex("00000010" "00000001" "03040002" "0a0b0c0d")),
     "ISAKMP Delete at offset 40: 2 SPIs of 4 bytes need 8 bytes, 4 present"),
    (lambda: decode_payloads(PayloadType.ID, bytes.fromhex("0000000b" "01000000" "0a0000")),
     "ISAKMP ID at offset 32: ID type IPV4_ADDR needs 4 bytes of data, 3 present"),
    (lambda: decode_payloads(PayloadType.NOTIFICATION,
                             bytes.fromhex("0000000c" "00000001" "0104000e")),
     "ISAKMP Notification at offset 40: truncated SPI: need 4 bytes, 0 left"),
])
def test_exact_errors(call, message):
    with pytest.raises(DecodeError) as exc:
        call()
    assert str(exc.value) == message


def test_padding_is_allowed_only_up_to_max_padding():
    body = encode_payloads([Hash(b"h" * 20), Nonce(b"n" * 8)]) + b"\x00\x07\x00"
    chain = decode_payloads(PayloadType.HASH, body, max_padding=3)
    assert chain.end == len(body) - 3 and len(chain.payloads) == 2
    with pytest.raises(DecodeError):
        decode_payloads(PayloadType.HASH, body, max_padding=2)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_truncation_is_a_decode_error(name):
    msg = ENCODED[name]
    for n in range(len(msg)):
        cut = msg[:n]
        with pytest.raises(DecodeError):
            decode_message(cut)
        if n >= HEADER_LEN:  # same prefix with a consistent length field: the chain must fail
            with pytest.raises(DecodeError):
                decode_message(cut[:24] + n.to_bytes(4, "big") + cut[28:])


# --- hypothesis ------------------------------------------------------------------------------

u8, u16, u32 = st.integers(0, 0xFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
attributes = st.one_of(
    st.builds(Attribute, st.integers(0, 0x7FFF), u32, st.booleans()),
    st.builds(Attribute, st.integers(0, 0x7FFF), st.binary(max_size=12)))
transforms = st.builds(Transform, u8, u8, st.lists(attributes, max_size=4).map(tuple))
proposals = st.builds(Proposal, u8, u8, st.binary(max_size=8),
                      st.lists(transforms, min_size=1, max_size=3).map(tuple))
payloads = st.one_of(
    st.builds(SA, st.lists(proposals, min_size=1, max_size=3).map(tuple), u32, u32),
    st.builds(KE, st.binary(max_size=64)), st.builds(Hash, st.binary(max_size=32)),
    st.builds(Nonce, st.binary(max_size=32)), st.builds(VendorID, st.binary(max_size=20)),
    st.builds(ID, st.sampled_from([2, 3, 9, 11]), u8, u16, st.binary(max_size=16)),
    st.builds(ID, st.just(1), u8, u16, st.binary(min_size=4, max_size=4)),
    st.builds(Notification, u16, u8, st.binary(max_size=16), st.binary(max_size=16), u32),
    st.integers(0, 16).flatmap(lambda n: st.builds(
        Delete, u8, st.lists(st.binary(min_size=n, max_size=n), max_size=3).map(tuple),
        st.just(n), u32)),
    st.builds(NatD, st.binary(max_size=32), st.booleans()),
    st.builds(NatOA, st.just(1), st.binary(min_size=4, max_size=4), st.booleans()),
    st.builds(NatOA, st.just(5), st.binary(min_size=16, max_size=16), st.booleans()),
    st.builds(Cert, st.binary(max_size=32), u8), st.builds(CertRequest, st.binary(max_size=16), u8),
    st.builds(Sig, st.binary(max_size=32)),
    st.builds(Unknown, st.sampled_from([2, 3, 14, 15, 16, 200]), st.binary(max_size=16)))


@settings(max_examples=200, deadline=None)
@given(st.lists(payloads, max_size=6))
def test_generated_payload_lists_round_trip(ps):
    body = encode_payloads(ps)
    first = ps[0].payload_type if ps else 0
    chain = decode_payloads(first, body)
    assert chain.payloads == tuple(ps)
    assert b"".join(chain.raw) == body and chain.end == len(body)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.sampled_from([0, 1, 4, 5, 8, 10, 11, 12, 13, 20, 21, 130, 6]))
def test_random_bodies_decode_or_decode_error(data, first):
    framed = encode_header(Header(ICOOKIE, RCOOKIE, first, 2), len(data)) + data
    for candidate in (data, framed):
        try:
            decode_message(candidate)
        except DecodeError:
            pass
    try:
        decode_payloads(first, data, max_padding=15)
    except DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(sorted(SAMPLES)), pos=st.integers(0, 10_000), byte=u8,
       fix_length=st.booleans())
def test_mutated_messages_decode_or_decode_error(name, pos, byte, fix_length):
    msg = ENCODED[name]
    pos %= len(msg)
    if fix_length and pos < HEADER_LEN:
        pos = HEADER_LEN + pos % (len(msg) - HEADER_LEN)
    mutated = _patched(msg, pos, byte)
    try:
        header, chain = decode_message(mutated)
    except DecodeError:
        return
    assert b"".join(chain.raw) == mutated[HEADER_LEN:]  # a success accounts for every byte


# --- scapy oracle ----------------------------------------------------------------------------

SCAPY_CLASS = {SA: ISAKMP_payload_SA, KE: ISAKMP_payload_KE, ID: ISAKMP_payload_ID,
               Hash: ISAKMP_payload_Hash, Nonce: ISAKMP_payload_Nonce,
               Notification: ISAKMP_payload_Notify, Delete: ISAKMP_payload_Delete,
               VendorID: ISAKMP_payload_VendorID}


def _scapy_attribute_numbers(protocol_id: int, attrs: list) -> list:
    """Map scapy's (name, value-name) pairs back to numbers with scapy's own tables."""
    table = {ProtocolId.ISAKMP: ISAKMPAttributeTypes, ProtocolId.ESP: IPSECAttributeTypes}
    out = []
    for name, value in attrs:
        number, names, _tlv = table.get(protocol_id, {}).get(name, (name, {}, 0))
        out.append((number, names.get(value, value)))
    return out


def _check_sa(ours: SA, theirs) -> None:
    assert (theirs.doi, theirs.situation) == (ours.doi, ours.situation)
    prop = theirs.prop
    for p in ours.proposals:
        assert isinstance(prop, ISAKMP_payload_Proposal)
        assert (prop.proposal, prop.proto, prop.SPIsize, prop.trans_nb, prop.SPI) == (
            p.number, p.protocol_id, len(p.spi), len(p.transforms), p.spi)
        trans = prop.trans
        for t in p.transforms:
            assert isinstance(trans, ISAKMP_payload_Transform)
            assert (trans.transform_count, trans.transform_id) == (t.number, t.transform_id)
            expected = [(a.type, a.value if isinstance(a.value, int)
                         else int.from_bytes(a.value, "big")) for a in t.attributes]
            assert _scapy_attribute_numbers(p.protocol_id, trans.transforms) == expected
            trans = trans.payload
        assert isinstance(trans, NoPayload)
        prop = prop.payload
    assert isinstance(prop, NoPayload)


def _check_payload(ours, theirs) -> None:
    assert theirs.length == 4 + len(ours.encode_body())
    assert isinstance(theirs, SCAPY_CLASS.get(type(ours), ISAKMP_payload))
    if isinstance(ours, SA):
        _check_sa(ours, theirs)
    elif isinstance(ours, ID):
        ipv4 = ours.id_type == IdType.IPV4_ADDR
        data = str(ipaddress.IPv4Address(ours.data)) if ipv4 else ours.data
        assert (theirs.IDtype, theirs.ProtoID, theirs.Port, theirs.IdentData) == (
            ours.id_type, ours.protocol, ours.port, data)
    elif isinstance(ours, Notification):
        assert (theirs.doi, theirs.proto, theirs.SPIsize, theirs.notify_msg_type, theirs.SPI,
                theirs.notify_data) == (ours.doi, ours.protocol_id, len(ours.spi), ours.notify_type,
                                        ours.spi, ours.data)
    elif isinstance(ours, Delete):
        assert (theirs.doi, theirs.proto, theirs.SPIsize, theirs.SPIcount, theirs.SPIs) == (
            ours.doi, ours.protocol_id, ours.spi_size, len(ours.spis), list(ours.spis))
    else:
        names = {KE: "ke", Hash: "hash", Nonce: "nonce", VendorID: "VendorID"}
        field = names.get(type(ours), "load")
        assert getattr(theirs, field) == ours.encode_body()


@pytest.mark.parametrize("name", SAMPLES)
def test_scapy_dissects_our_messages(name):
    header, payloads = SAMPLES[name]
    msg = ENCODED[name]
    pkt = ISAKMP(msg)
    assert not pkt.haslayer(Raw) and not pkt.haslayer(Padding)
    assert (pkt.init_cookie, pkt.resp_cookie, pkt.version, pkt.exch_type, pkt.id, pkt.length) == (
        header.icookie, header.rcookie, 0x10, header.exchange, header.message_id, len(msg))
    layer, next_type = pkt.payload, pkt.next_payload
    for ours in payloads:
        assert next_type == ours.payload_type
        _check_payload(ours, layer)
        layer, next_type = layer.payload, layer.next_payload
    assert isinstance(layer, NoPayload) and next_type == 0


def test_scapy_names_the_rfc3947_vendor_id():
    assert hashlib.md5(b"RFC 3947").digest() == V.RFC3947_VID
    vid = ISAKMP(ENCODED["MM1"])[ISAKMP_payload_VendorID]
    assert vid.VendorID == V.RFC3947_VID
    assert "RFC 3947" in vid.sprintf("%VendorID%")


# --- tshark oracle ---------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_dissects_our_messages(tmp_path):
    draft = encode_message(MM3[0], [KE(b"k" * 16), Nonce(b"n" * 16),
                                    NatD(b"\x5a" * 20, draft=True), NatD(b"\xa5" * 20, draft=True)])
    frames = [ENCODED["MM1"], ENCODED["MM3"], ENCODED["QM1"], draft]
    pcap = tmp_path / "ike.pcap"
    wrpcap(str(pcap), [IP(src="10.0.0.2", dst="203.0.113.10") / UDP(sport=500, dport=500) / m
                       for m in frames])
    out = subprocess.run(["tshark", "-n", "-r", str(pcap), "-V"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert "Malformed" not in out and "Expert Info (Warn" not in out
    assert V.RFC3947_VID_WIRESHARK_NAME in out
    assert "NAT-D (RFC 3947)" in out
    for p in MM3[1][2:]:
        assert p.hash.hex() in out
    assert "NAT-OA (RFC 3947)" in out and "UDP-Encapsulated-Transport" in out
    assert "NAT-D (draft-ietf-ipsec-nat-t-ike-01 to 03)" in out


def test_a_payload_class_stops_being_a_leaf_when_a_class_derives_from_it():
    """`only` matches a leaf payload class by identity: a class derived later must turn that off,
    or its instances would be missed (and two payloads counted as one)."""
    from dataclasses import dataclass

    from natt_core.ike.main_mode import only
    from natt_core.wire.isakmp import PayloadChain, _Opaque

    @dataclass(frozen=True)
    class Outer(_Opaque):
        payload_type = 200

    assert Outer._leaf and not _Opaque._leaf
    chain = PayloadChain((Outer(b"a"), Hash(b"h")), (b"", b""), 0)
    assert only(chain, Outer, "test").data == b"a"

    @dataclass(frozen=True)
    class Inner(Outer):
        pass

    assert not Outer._leaf and Inner._leaf
    with pytest.raises(DecodeError, match="found 2"):
        only(PayloadChain((Outer(b"a"), Inner(b"b")), (b"", b""), 0), Outer, "test")
    assert only(PayloadChain((Inner(b"b"), Hash(b"h")), (b"", b""), 0), Outer, "test").data == b"b"
