"""natt_core.wire.ikev2 and the SK payload: round trips, strictness, and independent oracles.

Oracles: bytes published in AOSP's IKE library tests (frameworks/opt/net/ike,
IkeAuthPskPayloadTest.java / IkeSaPayloadTest: the IKE_SA_INIT header and SA payload quoted in
/work/shared/reference/ikev2-facts.md §2.1/§2.3), scapy's IKEv2 layer (scapy.contrib.ikev2) and
tshark 4.0's dissector, which also decrypts our SK payloads from an ikev2_decryption_table UAT
and checks their ICV.
"""
from __future__ import annotations

import random
import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import ConfigError, DecodeError, IntegrityError
from natt_core.ike.v2.sk import SkCipher, open_sk, seal
from natt_core.ike.v2.suites import ENCR, INTEG
from natt_core.pcap import pcap_bytes
from natt_core.wire.ikev2 import (KE, SA, Attribute, Auth, Delete, Encrypted, Header, IDi, IDr, Nonce,
                                  Notify, Proposal, TrafficSelector, Transform, TSi, TSr, Unknown, Vendor,
                                  decode_message, decode_payloads, encode_message)
from natt_core.wire.ikev2_numbers import Exchange, HdrFlag, NotifyType, Payload
from natt_core.wire.ip import encode_datagram

SPI_I, SPI_R = bytes.fromhex("fc54823dbf99e8c7"), bytes.fromhex("886de7e7fc812621")


# --- known answers from AOSP ----------------------------------------------------------------

def test_aosp_ike_sa_init_header_and_sa_payload():
    """AOSP IkeAuthPskPayloadTest: header `5f54bf6d8b48e6e1 0..0 21 20 22 08 00000000 00000150`
    and SA payload `22000030 0000002c 01010004` + four transforms."""
    header = bytes.fromhex("5f54bf6d8b48e6e1" "0000000000000000" "21202208" "00000000" "00000150")
    sa = bytes.fromhex("22000030" "0000002c01010004" "0300000c0100000c800e0080" "0300000803000002"
                       "0300000804000002" "0000000802000002")
    proposal = Proposal(1, 1, b"", (Transform(1, 12, (Attribute(14, 128),)), Transform(3, 2), Transform(4, 2),
                                    Transform(2, 2)))
    # our encoder gives the same SA body, and the same header for a 336-byte message
    assert SA((proposal,)).encode_body() == sa[4:]
    h = Header(bytes.fromhex("5f54bf6d8b48e6e1"), bytes(8), Payload.SA, Exchange.IKE_SA_INIT, HdrFlag.INITIATOR)
    assert h.encode(0x150) == header
    parsed = decode_payloads(Payload.SA, b"\x00" + sa[1:])  # next payload (KE, 34) forced to none
    assert parsed[0].proposals[0] == proposal
    assert parsed[0].proposals[0].transforms[0].key_length == 128


def test_natd_notify_layout():
    """facts §2.4: `2900001c 00 00 4004 <20 B>` (Notify, NAT_DETECTION_SOURCE_IP)."""
    wire = encode_message(Header(SPI_I, bytes(8), 0, 34, 8), [Notify(16388, bytes(20)), Nonce(bytes(16))])
    assert wire[28:36] == bytes.fromhex("2800001c00004004")


# --- round trips ------------------------------------------------------------------------------

ipv4 = st.integers(0, 2**32 - 1).map(lambda n: ".".join(str(n >> s & 255) for s in (24, 16, 8, 0)))
attrs = st.one_of(st.builds(Attribute, st.integers(0, 0x7FFF), st.integers(0, 0xFFFF)),
                  st.builds(Attribute, st.integers(0, 0x7FFF), st.binary(max_size=12)))
transforms = st.builds(Transform, st.integers(0, 255), st.integers(0, 0xFFFF), st.lists(attrs, max_size=2).map(tuple))
proposals = st.builds(Proposal, st.integers(0, 255), st.integers(0, 255), st.binary(max_size=8),
                      st.lists(transforms, max_size=4).map(tuple))
selectors = st.builds(TrafficSelector, ipv4, ipv4, st.integers(0, 255), st.integers(0, 65535), st.integers(0, 65535))
bodies = st.one_of(
    st.builds(SA, st.lists(proposals, min_size=1, max_size=3).map(tuple)),
    st.builds(KE, st.integers(0, 0xFFFF), st.binary(max_size=64)),
    st.builds(IDi, st.integers(0, 255), st.binary(max_size=20)),
    st.builds(IDr, st.integers(0, 255), st.binary(max_size=20)),
    st.builds(Auth, st.integers(0, 255), st.binary(max_size=32)),
    st.builds(Nonce, st.binary(min_size=16, max_size=64)),
    st.builds(Notify, st.integers(0, 0xFFFF), st.binary(max_size=24), st.integers(0, 255), st.binary(max_size=8)),
    st.builds(Delete, st.integers(0, 255), st.integers(0, 3).flatmap(
        lambda n: st.lists(st.binary(min_size=4, max_size=4), max_size=n).map(tuple))),
    st.builds(Vendor, st.binary(max_size=20)),
    st.builds(TSi, st.lists(selectors, min_size=1, max_size=3).map(tuple)),
    st.builds(TSr, st.lists(selectors, min_size=1, max_size=3).map(tuple)),
    st.builds(Unknown, st.integers(49, 255), st.binary(max_size=16), st.booleans()),
)
headers = st.builds(Header, st.binary(min_size=8, max_size=8).filter(any), st.binary(min_size=8, max_size=8),
                    st.just(0), st.sampled_from(list(Exchange)), st.sampled_from([0, 8, 32, 40]),
                    st.integers(0, 2**32 - 1))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(headers, st.lists(bodies, max_size=6))
def test_round_trip(header, payloads):
    wire = encode_message(header, payloads)
    msg = decode_message(wire)
    assert msg.payloads == tuple(payloads)
    assert encode_message(msg.header, msg.payloads) == wire
    assert msg.header.exchange == header.exchange and msg.header.message_id == header.message_id


@settings(max_examples=300, deadline=None)
@given(headers, st.lists(bodies, min_size=1, max_size=4), st.data())
def test_mutations_raise_decode_error_only(header, payloads, data):
    wire = bytearray(encode_message(header, payloads))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(wire) - 1))
        wire[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    for candidate in (bytes(wire), bytes(wire[:cut])):
        try:
            decode_message(candidate)
        except DecodeError:
            pass


@given(st.binary(max_size=200))
def test_random_bytes_raise_decode_error_only(blob):
    try:
        decode_message(blob)
    except DecodeError:
        pass


def test_strictness():
    good = encode_message(Header(SPI_I, bytes(8), 0, 34, 8), [Nonce(bytes(16))])
    with pytest.raises(DecodeError, match="Length"):
        decode_message(good + b"\x00")
    with pytest.raises(DecodeError, match="version"):
        decode_message(good[:17] + b"\x10" + good[18:])
    with pytest.raises(DecodeError, match="zero"):
        decode_message(bytes(8) + good[8:])
    with pytest.raises(DecodeError, match="nonce"):
        decode_message(encode_message(Header(SPI_I, bytes(8), 0, 34, 8), [Nonce(bytes(8))]))
    with pytest.raises(ConfigError):
        Header(SPI_I, bytes(7), 0, 34)
    with pytest.raises(ConfigError):
        encode_message(Header(SPI_I, bytes(8), 0, 34), [Encrypted(0, b""), Nonce(bytes(16))])
    # an SK payload must be the last one
    sk = encode_message(Header(SPI_I, bytes(8), 0, 35), [Encrypted(Payload.IDI, bytes(40))])
    assert decode_message(sk).encrypted.data == bytes(40)
    bad = bytearray(sk + bytes(4))
    bad[24:28] = len(bad).to_bytes(4, "big")
    with pytest.raises(DecodeError, match="after the SK"):
        decode_message(bytes(bad))


def test_unknown_critical_payload_is_kept_with_its_bit():
    wire = encode_message(Header(SPI_I, bytes(8), 0, 34, 8), [Unknown(200, b"abc", True), Nonce(bytes(16))])
    assert wire[29] == 0x80
    msg = decode_message(wire)
    assert msg.payloads[0] == Unknown(200, b"abc", True)


# --- SK ---------------------------------------------------------------------------------------

def _cipher(encr: str, integ: str | None, seed: int) -> SkCipher:
    rng = random.Random(seed)
    e, i = ENCR[encr], INTEG.get(integ)
    return SkCipher(e, rng.randbytes(e.key_len), i, rng.randbytes(i.key_len) if i else b"")


SUITES = [("aes-cbc-128", "hmac-sha1-96"), ("aes-cbc-256", "hmac-sha256-128"), ("aes-gcm-16-128", None),
          ("aes-gcm-16-256", None)]
INNER = [IDi(1, bytes([10, 0, 0, 2])), Auth(2, bytes(20)), SA((Proposal(1, 3, b"\xc1\x00\x00\x01",
                                                                       (Transform(1, 12, (Attribute(14, 128),)),
                                                                        Transform(3, 2), Transform(5, 0))),)),
         TSi((TrafficSelector.host("10.0.0.2", 17, 1701),)), TSr((TrafficSelector.host("203.0.113.10", 17, 1701),))]


@pytest.mark.parametrize("encr,integ", SUITES)
def test_sk_round_trip_and_tamper(encr, integ):
    c = _cipher(encr, integ, 1)
    iv = random.Random(2).randbytes(c.encr.iv_len)
    wire = seal(Header(SPI_I, SPI_R, 0, Exchange.IKE_AUTH, HdrFlag.INITIATOR, 1), INNER, c, iv)
    msg = decode_message(wire)
    assert msg.header.next_payload == Payload.SK and msg.encrypted.first_inner == Payload.IDI
    assert open_sk(msg, c) == tuple(INNER)
    for at in (5, 20, 30, len(wire) // 2, len(wire) - 1):
        bad = bytearray(wire)
        bad[at] ^= 1
        with pytest.raises((IntegrityError, DecodeError)):
            open_sk(decode_message(bytes(bad)), c)
    with pytest.raises(IntegrityError):
        open_sk(msg, _cipher(encr, integ, 9))
    empty = seal(Header(SPI_I, SPI_R, 0, Exchange.INFORMATIONAL, HdrFlag.INITIATOR, 2), [], c, iv)
    assert open_sk(decode_message(empty), c) == ()


# --- scapy ------------------------------------------------------------------------------------

def test_scapy_reads_ours_and_we_read_scapys():
    scapy = pytest.importorskip("scapy.contrib.ikev2")
    ours = encode_message(Header(SPI_I, bytes(8), 0, Exchange.IKE_SA_INIT, HdrFlag.INITIATOR), [
        SA((Proposal(1, 1, b"", (Transform(1, 12, (Attribute(14, 128),)), Transform(2, 2), Transform(3, 2),
                                 Transform(4, 14))),)),
        KE(14, bytes(range(256))), Nonce(bytes(range(32))),
        Notify(NotifyType.NAT_DETECTION_SOURCE_IP, b"s" * 20), Notify(NotifyType.NAT_DETECTION_DESTINATION_IP, b"d" * 20)])
    p = scapy.IKEv2(ours)
    assert p.init_SPI == SPI_I and p.exch_type == 34 and p.flags == 8 and p.length == len(ours)
    assert p[scapy.IKEv2_KE].group == 14 and p[scapy.IKEv2_KE].ke == bytes(range(256))
    assert p[scapy.IKEv2_Nonce].nonce == bytes(range(32))
    notes = [n for n in p.iterpayloads() if isinstance(n, scapy.IKEv2_Notify)]
    assert [(n.type, n.notify) for n in notes] == [(16388, b"s" * 20), (16389, b"d" * 20)]
    assert p[scapy.IKEv2_Proposal].trans_nb == 4
    theirs = bytes(scapy.IKEv2(init_SPI=SPI_I, resp_SPI=SPI_R, exch_type=37, flags="Response", id=7)
                   / scapy.IKEv2_Delete(proto=3, SPIsize=4, SPInum=2, SPI=[b"\xc1\0\0\1", b"\xc2\0\0\2"])
                   / scapy.IKEv2_TSi(number_of_TSs=1, traffic_selector=[scapy.IPv4TrafficSelector(
                       IP_protocol_ID=17, start_port=1701, end_port=1701, starting_address_v4="10.0.0.2",
                       ending_address_v4="10.0.0.2")]))
    msg = decode_message(theirs)
    assert msg.header.message_id == 7 and msg.header.is_response
    assert msg.payloads == (Delete(3, (b"\xc1\0\0\1", b"\xc2\0\0\2")), TSi((TrafficSelector.host("10.0.0.2", 17, 1701),)))


# --- tshark -----------------------------------------------------------------------------------

def _tshark(pcap: bytes, tmp_path, fields, *opts) -> list[list[str]]:
    path = tmp_path / "ikev2.pcap"
    path.write_bytes(pcap)
    cmd = ["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|", *opts]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    return [line.split("|") for line in out.splitlines()]


def _udp(payload: bytes, sport=500, dport=500) -> bytes:
    return encode_datagram(Datagram(Endpoint("10.0.0.2", sport), Endpoint("203.0.113.10", dport), 17, payload))


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_dissects_ike_sa_init(tmp_path):
    init = encode_message(Header(SPI_I, bytes(8), 0, Exchange.IKE_SA_INIT, HdrFlag.INITIATOR), [
        SA((Proposal(1, 1, b"", (Transform(1, 12, (Attribute(14, 128),)), Transform(2, 2), Transform(3, 2),
                                 Transform(4, 14))),)),
        KE(14, bytes(256)), Nonce(bytes(range(32))),
        Notify(16388, bytes(range(20))), Notify(16389, bytes(range(1, 21)))])
    rows = _tshark(pcap_bytes([(0.0, _udp(init))]), tmp_path,
                   ["isakmp.ispi", "isakmp.exchangetype", "isakmp.flag_i", "isakmp.notify.msgtype",
                    "isakmp.key_exchange.dh_group", "isakmp.nonce", "_ws.expert"])
    ispi, exch, flag_i, notes, group, nonce, expert = rows[0]
    assert (ispi, exch, group) == (SPI_I.hex(), "34", "14")
    assert flag_i in ("1", "True") and notes == "16388,16389" and nonce == bytes(range(32)).hex()
    assert "malformed" not in expert.lower()


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("encr,integ", SUITES)
def test_tshark_decrypts_our_sk(tmp_path, encr, integ):
    ci, cr = _cipher(encr, integ, 3), _cipher(encr, integ, 4)
    rng = random.Random(5)
    req = seal(Header(SPI_I, SPI_R, 0, Exchange.IKE_AUTH, HdrFlag.INITIATOR, 1), INNER, ci,
               rng.randbytes(ci.encr.iv_len))
    resp = seal(Header(SPI_I, SPI_R, 0, Exchange.IKE_AUTH, HdrFlag.RESPONSE, 1), INNER[1:], cr,
                rng.randbytes(cr.encr.iv_len))
    pcap = pcap_bytes([(0.0, _udp(b"\0\0\0\0" + req, 4500, 4500)), (0.1, _udp(b"\0\0\0\0" + resp, 4500, 4500))])
    integ_label = ci.integ.wireshark_ike if ci.integ else "NONE [RFC4306]"
    uat = (f'{SPI_I.hex()},{SPI_R.hex()},{ci.enc_key.hex()},{cr.enc_key.hex()},"{ci.encr.wireshark_ike}",'
           f'{ci.auth_key.hex()},{cr.auth_key.hex()},"{integ_label}"')
    rows = _tshark(pcap, tmp_path, ["isakmp.id.type", "isakmp.auth.method", "isakmp.ts.start_ipv4",
                                    "isakmp.enc.pad_length", "_ws.expert"],
                   "-o", f"uat:ikev2_decryption_table:{uat}")
    assert rows[0][0] == "1" and rows[0][1] == "2" and rows[0][2] == "10.0.0.2,203.0.113.10"
    assert rows[1][0] == "" and rows[1][1] == "2"
    if ci.encr.aead:
        assert rows[0][3] == "0"
    for row in rows:
        assert "incorrect" not in row[4].lower() and "malformed" not in row[4].lower()
    # and a wrong key shows as an incorrect ICV: the check can fail
    if not ci.encr.aead:
        bad_uat = uat.replace(ci.auth_key.hex(), bytes(len(ci.auth_key)).hex())
        out = subprocess.run(["tshark", "-r", str(tmp_path / "ikev2.pcap"), "-V", "-o",
                              f"uat:ikev2_decryption_table:{bad_uat}"], capture_output=True, text=True, timeout=60)
        assert "incorrect" in out.stdout
