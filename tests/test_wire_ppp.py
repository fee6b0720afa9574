"""PPP codecs: round trips, fuzz (only DecodeError), scapy's PPP layers as an independent oracle."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.inet import ICMP, IP
from scapy.layers.ppp import (HDLC, PPP, PPP_CHAP, PPP_CHAP_ChallengeResponse, PPP_IPCP, PPP_IPCP_Option_DNS1,
                              PPP_IPCP_Option_DNS2, PPP_IPCP_Option_IPAddress, PPP_LCP_ACCM_Option,
                              PPP_LCP_Auth_Protocol_Option, PPP_LCP_Configure, PPP_LCP_Echo,
                              PPP_LCP_Magic_Number_Option, PPP_LCP_MRU_Option, PPP_LCP_Option, PPP_LCP_Terminate,
                              PPP_PAP_Request, PPP_PAP_Response)

from natt_core.errors import DecodeError
from natt_core.wire import ppp
from natt_core.wire.ppp import AuthCode, ChapAlg, Code, IpcpOpt, LcpOpt, Proto

H = bytes.fromhex


def frame(proto, packet) -> bytes:
    return ppp.encode_frame(proto, packet.encode())


# --- scapy as oracle ---------------------------------------------------------------------------

def test_lcp_configure_request_matches_scapy_both_ways():
    ours = ppp.ControlPacket(Code.CONFIGURE_REQUEST, 7, (
        ppp.mru(1400), ppp.accm(0), ppp.auth_protocol(Proto.CHAP, ChapAlg.MSCHAPV2),
        ppp.magic_number(0x1A2B3C4D), ppp.Option(LcpOpt.PFC), ppp.Option(LcpOpt.ACFC)))
    theirs = HDLC() / PPP(proto=0xC021) / PPP_LCP_Configure(code=1, id=7, options=[
        PPP_LCP_MRU_Option(max_recv_unit=1400), PPP_LCP_ACCM_Option(accm=0),
        PPP_LCP_Auth_Protocol_Option(auth_protocol=0xC223, algorithm=0x81),
        PPP_LCP_Magic_Number_Option(magic_number=0x1A2B3C4D), PPP_LCP_Option(type=7), PPP_LCP_Option(type=8)])
    assert frame(Proto.LCP, ours) == bytes(theirs)
    back = ppp.decode(bytes(theirs)).packet
    assert back == ours
    assert back.option(LcpOpt.AUTH).value == H("C223 81")


def test_auth_protocol_option_bytes_of_rfc_1334_1994_2759():
    assert ppp.auth_protocol(Proto.PAP).encode() == H("03 04 C0 23")
    assert ppp.auth_protocol(Proto.CHAP, ChapAlg.MD5).encode() == H("03 05 C2 23 05")
    assert ppp.auth_protocol(Proto.CHAP, ChapAlg.MSCHAPV2).encode() == H("03 05 C2 23 81")
    md5 = PPP_LCP_Auth_Protocol_Option(auth_protocol=0xC223, algorithm=5)
    assert ppp.auth_protocol(Proto.CHAP, ChapAlg.MD5).encode() == bytes(md5)


def test_lcp_echo_and_terminate_match_scapy():
    echo = ppp.ControlPacket(Code.ECHO_REQUEST, 3, magic=0xDEADBEEF, data=b"hi")
    assert frame(Proto.LCP, echo) == bytes(HDLC() / PPP(proto=0xC021) /
                                            PPP_LCP_Echo(code=9, id=3, magic_number=0xDEADBEEF, data=b"hi"))
    term = ppp.ControlPacket(Code.TERMINATE_REQUEST, 4, data=b"bye")
    theirs = bytes(HDLC() / PPP(proto=0xC021) / PPP_LCP_Terminate(code=5, id=4, data=b"bye"))
    assert frame(Proto.LCP, term) == theirs
    assert ppp.decode(theirs).packet == term


def test_ipcp_with_dns_matches_scapy():
    ours = ppp.ControlPacket(Code.CONFIGURE_NAK, 2, (
        ppp.address_option(IpcpOpt.IP_ADDRESS, "10.99.0.10"), ppp.address_option(IpcpOpt.PRIMARY_DNS, "10.99.0.1"),
        ppp.address_option(IpcpOpt.SECONDARY_DNS, "9.9.9.9")))
    theirs = bytes(HDLC() / PPP(proto=0x8021) / PPP_IPCP(code=3, id=2, options=[
        PPP_IPCP_Option_IPAddress(data="10.99.0.10"), PPP_IPCP_Option_DNS1(data="10.99.0.1"),
        PPP_IPCP_Option_DNS2(data="9.9.9.9")]))
    assert frame(Proto.IPCP, ours) == theirs
    back = ppp.decode(theirs).packet
    assert back.option(IpcpOpt.IP_ADDRESS).address == "10.99.0.10"
    assert back.option(IpcpOpt.SECONDARY_DNS).address == "9.9.9.9"


def test_pap_matches_scapy():
    req = ppp.PapPacket(1, 9, b"alice", b"secret")
    theirs = bytes(HDLC() / PPP(proto=0xC023) / PPP_PAP_Request(id=9, username=b"alice", password=b"secret"))
    assert frame(Proto.PAP, req) == theirs
    assert ppp.decode(theirs).packet == req
    ack = ppp.PapPacket(2, 9, message=b"Login ok")
    assert frame(Proto.PAP, ack) == bytes(HDLC() / PPP(proto=0xC023) / PPP_PAP_Response(code=2, id=9, message=b"Login ok"))


def test_chap_challenge_response_and_success_match_scapy():
    ch = ppp.ChapPacket(AuthCode.CHALLENGE, 1, bytes(range(16)), b"lns")
    theirs = bytes(HDLC() / PPP(proto=0xC223) / PPP_CHAP_ChallengeResponse(code=1, id=1, value=bytes(range(16)),
                                                                            optional_name=b"lns"))
    assert frame(Proto.CHAP, ch) == theirs
    assert ppp.decode(theirs).packet == ch
    ok = ppp.ChapPacket(AuthCode.SUCCESS, 1, message=b"S=" + b"A" * 40)
    assert frame(Proto.CHAP, ok) == bytes(HDLC() / PPP(proto=0xC223) / PPP_CHAP(code=3, id=1, data=b"S=" + b"A" * 40))


def test_ipv4_inside_ppp_matches_scapy():
    pkt = bytes(IP(src="10.99.0.10", dst="10.0.0.5", id=1) / ICMP(id=1, seq=1) / b"ping")
    f = ppp.encode_frame(Proto.IPV4, pkt)
    assert f == bytes(HDLC() / PPP(proto=0x0021) / IP(pkt))
    header, payload = ppp.decode(f).packet
    assert (header.src, header.dst, header.proto) == ("10.99.0.10", "10.0.0.5", 1)


# --- MS-CHAPv2 layouts (RFC 2759 §4-§6) --------------------------------------------------------

def test_mschapv2_response_layout():
    r = ppp.MsChapV2Response(bytes(range(16)), bytes(range(100, 124)))
    v = r.encode()
    assert len(v) == 49 and v[16:24] == b"\x00" * 8 and v[48] == 0
    assert ppp.decode_mschapv2_response(v) == r
    with pytest.raises(DecodeError):
        ppp.decode_mschapv2_response(v[:16] + b"\x01" + v[17:])
    with pytest.raises(DecodeError):
        ppp.decode_mschapv2_response(v[:-1])


def test_mschapv2_success_and_failure_messages():
    s = ppp.mschapv2_success("S=407A5589115FD0D6209F510FE9C04566932CDA56", "Access granted")
    assert s == b"S=407A5589115FD0D6209F510FE9C04566932CDA56 M=Access granted"
    d = ppp.decode_mschapv2_success(s)
    assert d.auth_response.endswith("CDA56") and d.message == "Access granted"
    assert ppp.decode_mschapv2_success(s[:42]).message == ""
    with pytest.raises(DecodeError):
        ppp.decode_mschapv2_success(b"S=407a5589115fd0d6209f510fe9c04566932cda56")   # lower case
    f = ppp.MsChapV2Failure(691, True, bytes(range(16)), 3, "Access denied")
    raw = f.encode()
    assert raw.startswith(b"E=691 R=1 C=000102030405060708090A0B0C0D0E0F V=3 M=")
    assert ppp.decode_mschapv2_failure(raw) == f
    # pppd's form (V=0) and a message with spaces and '=' signs
    assert ppp.decode_mschapv2_failure(b"E=691 R=1 C=" + b"AB" * 16 + b" V=0 M=a = b").message == "a = b"
    for bad in (b"", b"R=1", b"E=x", b"E=691 C=ABC", b"E=691 E=691", b"X=1"):
        with pytest.raises(DecodeError):
            ppp.decode_mschapv2_failure(bad)


# --- strictness --------------------------------------------------------------------------------

@pytest.mark.parametrize("raw, why", [
    (H("FF"), "control"),
    (H(""), "truncated"),
    (H("FF 05 C0 21"), "control"),
    (H("FF 03 C0 20 01"), "protocol"),                 # even low octet
    (H("FF 03 C0 21 01 01 00 03"), "length"),          # length < 4
    (H("FF 03 C0 21 01 01 00 09 01 04 05"), "length"), # length beyond the data
    (H("FF 03 C0 21 01 01 00 07 01 03 05"), "option 1"),  # MRU with 1 byte
    (H("FF 03 C0 21 01 01 00 06 05 01"), "below 2"),
    (H("FF 03 C0 21 01 01 00 09 03 05 C0 23 00"), "PAP"),
    (H("FF 03 C0 21 0C 01 00 04"), "unknown LCP code"),
    (H("FF 03 80 21 09 01 00 08 00 00 00 00"), "unknown IPCP code"),
    (H("FF 03 80 21 01 01 00 08 03 04 0A 00"), "option 3"),
    (H("FF 03 C2 23 01 01 00 05 00"), "value size 0"),
    (H("FF 03 C0 23 01 01 00 06 05 61"), "truncated"),
])
def test_malformed_frames_say_why(raw, why):
    with pytest.raises(DecodeError, match=why):
        ppp.decode(raw)


def test_without_address_control_and_with_pfc():
    ipcp = ppp.ControlPacket(Code.CONFIGURE_REQUEST, 1, (ppp.address_option(3, "0.0.0.0"),))
    packed = ppp.encode_frame(Proto.IPCP, ipcp.encode(), acfc=True)
    assert packed[:2] == H("80 21")
    assert ppp.decode(packed).packet == ipcp
    pfc = ppp.encode_frame(Proto.IPV4, b"x", acfc=True, pfc=True)
    assert pfc == H("21") + b"x" and ppp.decode_frame(pfc) == ppp.Frame(0x21, b"x")
    lcp = ppp.encode_frame(Proto.LCP, b"", acfc=True, pfc=True)
    assert lcp == H("FF 03 C0 21")                     # never compressed (RFC 1661 §6.5/§6.6)


def test_padding_after_length_is_ignored():
    raw = ppp.ControlPacket(Code.TERMINATE_ACK, 2).encode() + b"\x00\x00"
    assert ppp.decode_control(raw) == ppp.ControlPacket(Code.TERMINATE_ACK, 2)


# --- properties --------------------------------------------------------------------------------

lcp_options = st.one_of(
    st.integers(0, 0xFFFF).map(ppp.mru), st.integers(0, 2**32 - 1).map(ppp.accm),
    st.integers(0, 2**32 - 1).map(ppp.magic_number), st.just(ppp.auth_protocol(Proto.PAP)),
    st.sampled_from(list(ChapAlg)).map(lambda a: ppp.auth_protocol(Proto.CHAP, a)),
    st.sampled_from([LcpOpt.PFC, LcpOpt.ACFC]).map(ppp.Option),
    st.builds(ppp.Option, st.integers(9, 255), st.binary(max_size=20)))
ipcp_options = st.builds(lambda k, a: ppp.Option(k, a), st.sampled_from(list(IpcpOpt)[1:]), st.binary(min_size=4, max_size=4))


@given(st.sampled_from(ppp.CONFIG_CODES), st.integers(0, 255), st.lists(lcp_options, max_size=8))
def test_lcp_config_round_trip(code, ident, options):
    p = ppp.ControlPacket(code, ident, tuple(options))
    assert ppp.decode(ppp.encode_frame(Proto.LCP, p.encode())).packet == p


@given(st.sampled_from(ppp.CONFIG_CODES), st.integers(0, 255), st.lists(ipcp_options, max_size=5))
def test_ipcp_round_trip_and_scapy_parses_it(code, ident, options):
    p = ppp.ControlPacket(code, ident, tuple(options))
    raw = ppp.encode_frame(Proto.IPCP, p.encode())
    assert ppp.decode(raw).packet == p
    theirs = HDLC(raw)
    assert theirs[PPP_IPCP].code == code and len(theirs[PPP_IPCP].options) == len(options)


@given(st.sampled_from(ppp.MAGIC_CODES + (5, 6, 7, 8)), st.integers(0, 255), st.integers(0, 2**32 - 1),
       st.binary(max_size=40), st.sampled_from([0x0021, 0x8021, 0xC223]))
def test_lcp_other_codes_round_trip(code, ident, magic, data, proto):
    p = ppp.ControlPacket(code, ident, data=data, magic=magic if code in ppp.MAGIC_CODES else 0,
                          rejected_protocol=proto if code == 8 else 0)
    assert ppp.decode_control(p.encode()) == p


@given(st.integers(1, 2), st.integers(0, 255), st.binary(min_size=1, max_size=255), st.binary(max_size=30))
def test_chap_round_trip(code, ident, value, name):
    p = ppp.ChapPacket(code, ident, value, name)
    assert ppp.decode_chap(p.encode()) == p


@given(st.integers(0, 255), st.binary(max_size=255), st.binary(max_size=255), st.integers(2, 3))
def test_pap_round_trip(ident, peer, pw, code):
    assert ppp.decode_pap(ppp.PapPacket(1, ident, peer, pw).encode()) == ppp.PapPacket(1, ident, peer, pw)
    assert ppp.decode_pap(ppp.PapPacket(code, ident, message=pw).encode()) == ppp.PapPacket(code, ident, message=pw)


@settings(max_examples=400)
@given(st.binary(max_size=80))
def test_fuzz_only_decode_error(data):
    for fn in (ppp.decode, lambda d: ppp.decode(b"\xff\x03\xc0\x21" + d), lambda d: ppp.decode(b"\xff\x03\x80\x21" + d),
               lambda d: ppp.decode(b"\xff\x03\xc2\x23" + d), lambda d: ppp.decode(b"\xff\x03\xc0\x23" + d),
               ppp.decode_mschapv2_failure, ppp.decode_mschapv2_success, ppp.decode_mschapv2_response):
        try:
            fn(data)
        except DecodeError:
            pass
