"""Port-4500 demultiplexing, ESP/AH framing; scapy's ipsec layer as the oracle."""
import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import AH, ESP, NAT_KEEPALIVE, NON_ESP
from scapy.layers.isakmp import ISAKMP
from scapy.packet import Raw

from natt_core.errors import ConfigError, DecodeError
from natt_core.wire.esp import (AhHeader, EspHeader, decode_ah, encode_ah, pad_plaintext,
                                split_esp, strip_trailer)
from natt_core.wire.isakmp import Header, Nonce, encode_message
from natt_core.wire.numbers import ExchangeType, IPProto
from natt_core.wire.udp_encap import KEEPALIVE, NON_ESP_MARKER, Kind, classify_4500, frame_ike

IKE = encode_message(Header(bytes.fromhex("0123456789abcdef"), bytes(8), 0, ExchangeType.MAIN_MODE),
                     [Nonce(b"n" * 16)])
ESP_BYTES = EspHeader(0x0A0B0C0D, 1).encode() + bytes(range(48))


# --- RFC 3948 §2 demultiplexer ---------------------------------------------------------------

@pytest.mark.parametrize("payload, expected", [
    (b"\xff", (Kind.KEEPALIVE, b"")),
    (NON_ESP_MARKER + IKE, (Kind.IKE, IKE)),
    (NON_ESP_MARKER, (Kind.IKE, b"")),  # a bare marker: the ISAKMP decoder reports the rest
    (ESP_BYTES, (Kind.ESP, ESP_BYTES)),
    (b"\xff\x00\x00\x00", (Kind.ESP, b"\xff\x00\x00\x00")),  # only a lone 0xFF is a keepalive
    (b"\x00\x00\x00\x01", (Kind.ESP, b"\x00\x00\x00\x01")),
])
def test_classify_4500(payload, expected):
    assert classify_4500(payload) == expected


@pytest.mark.parametrize("payload", [b"", b"\x00", b"\xff\xff", b"\x00\x00\x00", b"abc"])
def test_classify_4500_rejects_short_payloads(payload):
    with pytest.raises(DecodeError) as exc:
        classify_4500(payload)
    assert str(exc.value) == (f"UDP-encap at offset 0: {len(payload)} bytes: neither a keepalive "
                              "nor room for a marker or an SPI")


def test_frame_ike_round_trip():
    assert frame_ike(IKE) == b"\x00\x00\x00\x00" + IKE
    assert classify_4500(frame_ike(IKE)) == (Kind.IKE, IKE)
    assert KEEPALIVE == b"\xff"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=24))
def test_arbitrary_payloads_classify_or_decode_error(data):
    try:
        kind, rest = classify_4500(data)
    except DecodeError:
        assert len(data) < 4 and data != KEEPALIVE
        return
    assert isinstance(kind, Kind)
    if kind is Kind.IKE:
        assert frame_ike(rest) == data
    elif kind is Kind.ESP:
        assert rest == data and data[:4] != NON_ESP_MARKER


# --- scapy oracle for the framing --------------------------------------------------------------

def _over_4500(payload: bytes):
    return UDP(bytes(UDP(sport=4500, dport=4500) / Raw(payload)))


def test_scapy_sees_non_esp_marker_then_isakmp():
    pkt = _over_4500(frame_ike(IKE))
    assert pkt.haslayer(NON_ESP) and pkt[NON_ESP].non_esp == 0
    assert pkt.haslayer(ISAKMP) and bytes(pkt[ISAKMP]) == IKE


def test_scapy_sees_keepalive():
    pkt = _over_4500(KEEPALIVE)
    assert pkt.haslayer(NAT_KEEPALIVE) and pkt[NAT_KEEPALIVE].nat_keepalive == 0xFF
    assert classify_4500(bytes(pkt.payload))[0] is Kind.KEEPALIVE


def test_scapy_sees_esp_with_our_spi_and_seq():
    pkt = _over_4500(ESP_BYTES)
    header, rest = split_esp(bytes(pkt.payload))
    assert pkt.haslayer(ESP) and (pkt[ESP].spi, pkt[ESP].seq) == (header.spi, header.seq)
    assert pkt[ESP].data == rest == bytes(range(48))


# --- ESP header and trailer ------------------------------------------------------------------

def test_split_esp():
    assert split_esp(ESP_BYTES) == (EspHeader(0x0A0B0C0D, 1), bytes(range(48)))
    assert split_esp(EspHeader(0xFFFFFFFF, 0xFFFFFFFF).encode()) == (
        EspHeader(0xFFFFFFFF, 0xFFFFFFFF), b"")


@pytest.mark.parametrize("data, message", [
    (b"\x0a\x0b\x0c", "ESP at offset 0: truncated header: need 8 bytes, 3 left"),
    (bytes(8) + b"x", "ESP at offset 0: SPI 0 is reserved (a non-ESP marker, not ESP)"),
])
def test_split_esp_errors(data, message):
    with pytest.raises(DecodeError) as exc:
        split_esp(data)
    assert str(exc.value) == message


def test_esp_header_rejects_spi_zero_and_overflow():
    with pytest.raises(ConfigError):
        EspHeader(0, 1)
    with pytest.raises(ConfigError):
        EspHeader(1, 1 << 32)


def test_pad_plaintext_layout():
    # RFC 4303 §2.4: padding 1, 2, 3, ... then Pad Length and Next Header; 16-byte AES blocks.
    assert pad_plaintext(b"abcde", IPProto.IPIP, 16) == b"abcde" + bytes(range(1, 10)) + b"\x09\x04"
    assert pad_plaintext(b"ab", IPProto.UDP) == b"ab\x00\x11"  # already 4-aligned: no padding


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=64), nh=st.integers(0, 255), block=st.sampled_from([4, 8, 16]))
def test_pad_and_strip_round_trip(payload, nh, block):
    padded = pad_plaintext(payload, nh, block)
    assert len(padded) % block == 0 and len(padded) - len(payload) - 2 < block
    assert strip_trailer(padded) == (payload, nh)


@pytest.mark.parametrize("plaintext, message", [
    (b"\x04", "ESP trailer at offset 0: need 2 trailer bytes, 1 present"),
    (b"ab\x05\x04", "ESP trailer at offset 2: pad length 5 exceeds the 2 bytes before it"),
    (b"ab\x01\x03\x02\x04", "ESP trailer at offset 2: padding is not 1, 2, 3, ..."),
])
def test_strip_trailer_errors(plaintext, message):
    with pytest.raises(DecodeError) as exc:
        strip_trailer(plaintext)
    assert str(exc.value) == message


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_split_and_strip_on_arbitrary_bytes(data):
    for fn in (split_esp, strip_trailer, decode_ah):
        try:
            fn(data)
        except DecodeError:
            pass


# --- AH ----------------------------------------------------------------------------------------

def test_ah_round_trip_and_scapy_agrees():
    icv = bytes(range(12))  # HMAC-SHA-1-96
    raw = encode_ah(IPProto.UDP, 0x01020304, 9, icv, b"udp segment")
    header, payload = decode_ah(raw)
    assert header == AhHeader(IPProto.UDP, 4, 0x01020304, 9, icv)  # (12 + 12) / 4 - 2 = 4
    assert header.length == 24 and payload == b"udp segment"
    pkt = IP(bytes(IP(src="10.0.0.2", dst="198.51.100.7", proto=IPProto.AH) / Raw(raw)))
    ah = pkt[AH]
    assert (ah.nh, ah.payloadlen, ah.spi, ah.seq, ah.icv) == (17, 4, 0x01020304, 9, icv)
    assert bytes(ah.payload) == b"udp segment"


@pytest.mark.parametrize("data, message", [
    (bytes(11), "AH at offset 0: truncated header: need 12 bytes, 11 left"),
    (bytes([17, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]),
     "AH at offset 1: payload length 0 gives 8 bytes, less than 12"),
    (bytes([17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]) + bytes(8),
     "AH at offset 1: payload length 4 gives 24 bytes, only 20 present"),
    (bytes([17, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), "AH at offset 4: SPI 0 is reserved"),
])
def test_decode_ah_errors(data, message):
    with pytest.raises(DecodeError) as exc:
        decode_ah(data)
    assert str(exc.value) == message


def test_encode_ah_rejects_bad_icv_and_spi():
    with pytest.raises(ConfigError):
        encode_ah(17, 1, 1, bytes(10), b"")  # RFC 4302 §2.6: IPv4 needs a multiple of 32 bits
    with pytest.raises(ConfigError):
        encode_ah(17, 0, 1, bytes(12), b"")
    assert decode_ah(encode_ah(6, 5, 1, b"", b"x"))[0].payload_len == 1  # no ICV: 3 words - 2
