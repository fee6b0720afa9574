"""IPv4/UDP bytes and checksums: RFC 1624 known answers, the RFC 3948 fix-up, scapy as oracle."""
import ipaddress

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.inet import IP, UDP
from scapy.layers.ipsec import ESP
from scapy.packet import Raw

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import DecodeError
from natt_core.wire.ip import (OFF_UDP_CHECKSUM, IPV4_HEADER_LEN, decode_datagram, encode_datagram,
                               encode_udp, incremental_by, incremental_update, internet_checksum,
                               transport_checksum, udp_checksum_ok)
from natt_core.wire.numbers import IPProto

from tests import vectors_wire as V

packed = lambda ip: ipaddress.IPv4Address(ip).packed  # noqa: E731


# --- RFC 1624 -------------------------------------------------------------------------------

def test_rfc1624_section4_example():
    """The RFC's own numbers: header = (other octets summing to 0xCD7A) + the field m."""
    other = V.RFC1624_OTHER_SUM.to_bytes(2, "big")
    old = V.RFC1624_M.to_bytes(2, "big")
    new = V.RFC1624_M_NEW.to_bytes(2, "big")
    assert internet_checksum(other + old) == V.RFC1624_HC
    assert internet_checksum(other + new) == V.RFC1624_HC_NEW  # recomputation
    assert incremental_update(V.RFC1624_HC, old, new) == V.RFC1624_HC_NEW  # [Eqn. 3]


def test_incremental_update_rejects_odd_or_unequal_lengths():
    with pytest.raises(ValueError):
        incremental_update(0, b"\x01", b"\x02")
    with pytest.raises(ValueError):
        incremental_update(0, b"\x01\x02", b"\x01\x02\x03\x04")


@settings(max_examples=150, deadline=None)
@given(data=st.binary(min_size=2, max_size=64).filter(lambda b: len(b) % 2 == 0),
       pos=st.integers(0, 31), new=st.binary(min_size=2, max_size=2))
def test_incremental_equals_recompute(data, pos, new):
    """Eqn. 3 agrees with a full recompute, up to +0/-0 (0x0000 vs 0xFFFF are the same sum)."""
    i = (pos * 2) % len(data)
    old_ck = internet_checksum(data)
    changed = data[:i] + new + data[i + 2:]
    inc = incremental_update(old_ck, data[i:i + 2], new)
    full = internet_checksum(changed)
    assert inc == full or {inc, full} == {0x0000, 0xFFFF}


# --- RFC 3948 §3.1.2 transport-mode fix-up ----------------------------------------------------

def test_rfc3948_fixup_matches_wireshark():
    """The fix-up depends only on the checksum and the addresses, so Wireshark's value checks it."""
    fixed = incremental_update(V.FIXUP_CHECKSUM, packed(V.FIXUP_ORIG_SRC), packed(V.FIXUP_NAT_SRC))
    assert fixed == V.FIXUP_WIRESHARK_SHOULD_BE


def test_rfc3948_fixup_on_an_l2tp_segment_agrees_with_recompute_and_scapy():
    # An L2TP control header (T, L, S bits, version 2) + a few AVP bytes: any payload would do.
    l2tp = bytes.fromhex("c802001400000000000000000008000000000001")
    sender, receiver = Endpoint(V.FIXUP_ORIG_SRC, 1701), Endpoint(V.FIXUP_DST, 1701)
    seg = encode_udp(sender, receiver, l2tp)
    sent_ck = int.from_bytes(seg[OFF_UDP_CHECKSUM:OFF_UDP_CHECKSUM + 2], "big")
    fixed = incremental_update(sent_ck, packed(V.FIXUP_ORIG_SRC), packed(V.FIXUP_NAT_SRC))
    zeroed = seg[:6] + b"\x00\x00" + seg[8:]
    assert fixed == transport_checksum(V.FIXUP_NAT_SRC, V.FIXUP_DST, IPProto.UDP, zeroed)
    oracle = IP(bytes(IP(src=V.FIXUP_NAT_SRC, dst=V.FIXUP_DST) / UDP(sport=1701, dport=1701)
                      / Raw(l2tp)))
    assert oracle[UDP].chksum == fixed
    assert fixed != sent_ck  # the NAT really broke the original checksum


_ipv4 = st.integers(1, 0xFFFFFFFE).map(lambda n: str(ipaddress.IPv4Address(n)))


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=40), ends=st.tuples(_ipv4, _ipv4, _ipv4, _ipv4),
       damage=st.one_of(st.none(), st.tuples(st.integers(0, 47), st.integers(1, 255))))
def test_fixed_up_checksum_verifies_as_the_received_one_over_the_nat_oa_addresses(payload, ends, damage):
    """The data plane checks a segment's checksum over the sender's own addresses (NAT-OA) instead
    of building the fixed-up segment: the two answers agree, for intact and damaged segments."""
    orig_src, orig_dst, nat_src, dst = ends
    seg = encode_udp(Endpoint(orig_src, 1701), Endpoint(orig_dst, 1701), payload)
    if damage is not None:
        at, flip = damage[0] % len(seg), damage[1]
        seg = seg[:at] + bytes([seg[at] ^ flip]) + seg[at + 1:]
    checksum = int.from_bytes(seg[OFF_UDP_CHECKSUM:OFF_UDP_CHECKSUM + 2], "big")
    if not checksum:
        return                                    # "no checksum": nothing is fixed up
    fixed = incremental_update(checksum, packed(orig_src) + packed(orig_dst), packed(nat_src) + packed(dst)) or 0xFFFF
    rebuilt = seg[:OFF_UDP_CHECKSUM] + fixed.to_bytes(2, "big") + seg[OFF_UDP_CHECKSUM + 2:]
    assert udp_checksum_ok(nat_src, dst, rebuilt) == udp_checksum_ok(orig_src, orig_dst, seg)
    if damage is None:
        assert udp_checksum_ok(nat_src, dst, rebuilt)      # an intact segment verifies once fixed up


# --- encode_datagram against scapy ---------------------------------------------------------------

@pytest.mark.parametrize("zero", [False, True])
def test_udp_datagram_dissects_in_scapy(zero):
    d = Datagram(Endpoint("192.168.1.10", 4500), Endpoint("198.51.100.7", 4500), IPProto.UDP,
                 b"\x00\x00\x00\x00hello IKE", ident=0x1234, ttl=63, zero_udp_checksum=zero)
    raw = encode_datagram(d)
    pkt = IP(raw)
    assert (pkt.src, pkt.dst, pkt.proto, pkt.id, pkt.ttl, pkt.len) == (
        "192.168.1.10", "198.51.100.7", 17, 0x1234, 63, len(raw))
    assert pkt.flags == "DF" and pkt.ihl == 5
    assert (pkt[UDP].sport, pkt[UDP].dport, pkt[UDP].len) == (4500, 4500, 8 + len(d.payload))
    assert bytes(pkt[UDP].payload) == d.payload
    ours_ip, ours_udp = pkt.chksum, pkt[UDP].chksum
    del pkt.chksum
    if not zero:
        del pkt[UDP].chksum
    rebuilt = IP(bytes(pkt))  # scapy recomputes the checksums it was told to forget
    assert rebuilt.chksum == ours_ip
    assert rebuilt[UDP].chksum == ours_udp
    assert (ours_udp == 0) == zero
    assert decode_datagram(raw) == d


def test_esp_datagram_dissects_in_scapy():
    d = Datagram(Endpoint("203.0.113.1"), Endpoint("198.51.100.7"), IPProto.ESP,
                 bytes.fromhex("0a0b0c0d00000001") + bytes(32), ident=7)
    pkt = IP(encode_datagram(d))
    assert pkt.proto == 50 and pkt[ESP].spi == 0x0A0B0C0D and pkt[ESP].seq == 1
    assert decode_datagram(encode_datagram(d)) == d


# --- decode_datagram errors ------------------------------------------------------------------

VALID = encode_datagram(Datagram(Endpoint("10.0.0.2", 1701), Endpoint("203.0.113.10", 1701),
                                 IPProto.UDP, b"l2tp payload"))


def _reheader(packet: bytes) -> bytes:
    """Recompute the IPv4 header checksum after editing the header."""
    head = packet[:10] + b"\x00\x00" + packet[12:IPV4_HEADER_LEN]
    return head[:10] + internet_checksum(head).to_bytes(2, "big") + packet[12:]


@pytest.mark.parametrize("packet, message", [
    (VALID[:19], "IPv4 at offset 16: truncated destination address: need 4 bytes, 3 left"),
    (VALID[:-1], f"IPv4 at offset 2: total length {len(VALID)} but {len(VALID) - 1} bytes"),
    (VALID[:10] + b"\x00\x00" + VALID[12:], "IPv4 at offset 10: bad header checksum"),
    (b"\x65" + VALID[1:], "IPv4 at offset 0: version 6, expected 4"),
    (_reheader(VALID[:6] + b"\x20\x00" + VALID[8:]),
     "IPv4 at offset 6: fragments are not supported"),
    (_reheader(VALID[:24] + b"\x00\x09" + VALID[26:]),
     "UDP at offset 24: length field 9 but 20 bytes"),
    (VALID[:-1] + bytes([VALID[-1] ^ 1]), "UDP at offset 26: bad checksum"),
])
def test_decode_datagram_errors(packet, message):
    with pytest.raises(DecodeError) as exc:
        decode_datagram(packet)
    assert str(exc.value) == message


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_decode_or_decode_error(data):
    try:
        assert isinstance(decode_datagram(data), Datagram)
    except DecodeError:
        pass


@settings(max_examples=200, deadline=None)
@given(pos=st.integers(0, len(VALID) - 1), byte=st.integers(0, 255), cut=st.integers(0, 40))
def test_mutated_packet_decodes_or_decode_error(pos, byte, cut):
    mutated = VALID[:pos] + bytes([byte]) + VALID[pos + 1:]
    for candidate in (mutated, mutated[:len(mutated) - cut]):
        try:
            assert isinstance(decode_datagram(candidate), Datagram)
        except DecodeError:
            pass


@settings(max_examples=100, deadline=None)
@given(src=st.ip_addresses(v=4).map(str), dst=st.ip_addresses(v=4).map(str),
       sport=st.integers(0, 65535), dport=st.integers(0, 65535), payload=st.binary(max_size=64),
       ident=st.integers(0, 65535), ttl=st.integers(1, 255), zero=st.booleans())
def test_udp_round_trip(src, dst, sport, dport, payload, ident, ttl, zero):
    d = Datagram(Endpoint(src, sport), Endpoint(dst, dport), IPProto.UDP, payload, ident, ttl, zero)
    assert decode_datagram(encode_datagram(d)) == d


def _outcome(fn, packet):
    try:
        return fn(packet)
    except DecodeError as exc:
        return ("error", exc.layer, exc.offset, str(exc))


@settings(max_examples=300, deadline=None)
@given(proto=st.sampled_from([IPProto.UDP, IPProto.ESP, 51, 1]), payload=st.binary(max_size=40),
       zero=st.booleans(), flips=st.lists(st.tuples(st.integers(0, 80), st.integers(1, 255)), max_size=3),
       cut=st.integers(0, 6))
def test_the_one_read_decoder_agrees_with_the_step_by_step_one(proto, payload, zero, flips, cut):
    """Valid, bit-flipped and truncated packets: the same Datagram (all fields) or the same DecodeError."""
    from natt_core.wire.ip import _decode_datagram_checked
    d = Datagram(Endpoint("192.168.1.10", 4500), Endpoint("203.0.113.5", 500), proto, payload, ident=7,
                 zero_udp_checksum=zero)
    packet = bytearray(encode_datagram(d))
    for at, xor in flips:
        if at < len(packet):
            packet[at] ^= xor
    packet = bytes(packet[:len(packet) - cut])
    fast, slow = _outcome(decode_datagram, packet), _outcome(_decode_datagram_checked, packet)
    assert fast == slow
    if not isinstance(fast, tuple):
        assert (fast.zero_udp_checksum, fast.ident, fast.ttl, fast.label) == (
            slow.zero_udp_checksum, slow.ident, slow.ttl, slow.label)


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=40), frag=st.sampled_from([0x4000, 0x2000, 0x0001, 0]), fragments=st.booleans(),
       flips=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 255)), max_size=3), cut=st.integers(0, 6))
def test_ipv4_header_one_read_agrees_with_the_step_by_step_read(payload, frag, fragments, flips, cut):
    """decode_ipv4_header reads bytes in one struct read and anything else (here: the same packet
    as a bytearray) step by step: the same header and payload, or the same DecodeError."""
    from natt_core.wire.ip import decode_ipv4_header, encode_ipv4_header
    packet = bytearray(encode_ipv4_header("192.168.1.10", "203.0.113.5", 1, len(payload), 9, 64, 0, frag) + payload)
    for at, xor in flips:
        if at < len(packet):
            packet[at] ^= xor
    packet = packet[:len(packet) - cut]
    read = lambda p: decode_ipv4_header(p, fragments)  # noqa: E731
    assert _outcome(read, bytes(packet)) == _outcome(read, packet)


@settings(max_examples=300, deadline=None)
@given(proto=st.sampled_from([IPProto.UDP, IPProto.ESP, 51]), payload=st.binary(max_size=64), zero=st.booleans(),
       ident=st.integers(0, 0xFFFF), ttl=st.integers(0, 255), ports=st.tuples(st.integers(0, 65535), st.integers(0, 65535)))
def test_encode_datagram_is_the_ip_header_and_udp_built_step_by_step(proto, payload, zero, ident, ttl, ports):
    udp = proto == IPProto.UDP
    src, dst = Endpoint("10.1.2.3", ports[0] if udp else 0), Endpoint("198.51.100.7", ports[1] if udp else 0)
    d = Datagram(src, dst, proto, payload, ident=ident, ttl=ttl, zero_udp_checksum=zero)
    body = encode_udp(src, dst, payload, checksum=not zero) if udp else payload
    from natt_core.wire.ip import encode_ipv4_header
    assert encode_datagram(d) == encode_ipv4_header(src.ip, dst.ip, proto, len(body), ident, ttl) + body


def test_encode_datagram_refuses_what_does_not_fit():
    big = Datagram(Endpoint("10.0.0.1", 1), Endpoint("10.0.0.2", 2), IPProto.UDP, bytes(0xFFFF - 7))
    with pytest.raises(ValueError, match="UDP datagram too long"):
        encode_datagram(big)
    with pytest.raises(ValueError, match="IPv4 packet too long"):
        encode_datagram(Datagram(Endpoint("10.0.0.1", 1), Endpoint("10.0.0.2", 2), IPProto.UDP, bytes(0xFFFF - 20)))


def test_pseudo_words_answers_what_udp_checksum_ok_does():
    """The data plane verifies inner UDP checksums from `pseudo_words` (worked out once per flow):
    it must agree with udp_checksum_ok for odd and even lengths, good and bad checksums."""
    import random as _random
    from natt_core.addressing import Endpoint as _Ep
    from natt_core.wire.ip import encode_udp as _encode_udp, pseudo_words, udp_checksum_ok as _ok, udp_words_ok
    rng = _random.Random(7)
    for size in range(0, 40):
        src, dst = _Ep("10.0.0.2", 1701), _Ep("198.51.100.7", 1701)
        good = _encode_udp(src, dst, rng.randbytes(size))
        bad = good[:6] + ((int.from_bytes(good[6:8], "big") ^ 0x0100) or 1).to_bytes(2, "big") + good[8:]
        words = pseudo_words(src.ip, dst.ip)
        for seg in (good, bad):
            fast = udp_words_ok(words, seg)
            assert fast == _ok(src.ip, dst.ip, seg), (size, seg.hex())
        assert _ok(src.ip, dst.ip, good) and not _ok(src.ip, dst.ip, bad)


@given(st.integers(0, 0xFFFF), st.binary(min_size=8, max_size=8), st.binary(min_size=8, max_size=8))
def test_incremental_by_a_kept_difference_equals_incremental_update(checksum, old, new):
    """A NAT mapping and an SA's NAT-OA fix-up keep the words' difference and use `incremental_by`:
    it must answer as RFC 1624's `incremental_update` does, the all-ones checksum included."""
    delta = (int.from_bytes(new, "big") - int.from_bytes(old, "big")) % 0xFFFF
    assert incremental_by(checksum, delta, old, new) == incremental_update(checksum, old, new)
    assert incremental_by(0xFFFF, delta, old, new) == incremental_update(0xFFFF, old, new)
