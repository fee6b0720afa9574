"""NAT devices rewriting real IPv4 packets: checksums checked by scapy (and tshark when present).

Addresses follow the two-clients-behind-one-NAT situation: clients 192.168.11.20 and
192.168.11.22 behind a NAT whose outside address is 192.168.1.30, server 192.168.1.10.
"""
from __future__ import annotations

import ipaddress
import random
import shutil
import subprocess

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.inet import IP, TCP, UDP

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import ConfigError
from natt_core.net.nat import FieldChange, Forward, Nat, NatConfig, Translation
from natt_core.pcap import write_pcap
from natt_core.reasons import Reason
from natt_core.wire.ip import (decode_datagram, encode_datagram, encode_ipv4_header,
                               internet_checksum, ones_complement_sum, pseudo_header,
                               transport_checksum)
from natt_core.wire.numbers import IPProto

A, B = "192.168.11.20", "192.168.11.22"
PUBLIC = "192.168.1.30"
SERVER = "192.168.1.10"


def udp(src: str, sport: int, dst: str, dport: int, payload: bytes = b"ike", zero: bool = False) -> bytes:
    return encode_datagram(Datagram(Endpoint(src, sport), Endpoint(dst, dport), IPProto.UDP, payload,
                                    ident=0x1234, zero_udp_checksum=zero))


def esp(src: str, dst: str, spi: int, payload: bytes = b"\x00" * 24) -> bytes:
    return encode_datagram(Datagram(Endpoint(src), Endpoint(dst), IPProto.ESP,
                                    spi.to_bytes(4, "big") + (1).to_bytes(4, "big") + payload))


def ah(src: str, dst: str, spi: int) -> bytes:
    body = bytes([IPProto.UDP, 4, 0, 0]) + spi.to_bytes(4, "big") + (1).to_bytes(4, "big") + b"\x00" * 12
    return encode_datagram(Datagram(Endpoint(src), Endpoint(dst), IPProto.AH, body))


def tcp(src: str, sport: int, dst: str, dport: int) -> bytes:
    seg = (sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + (1000).to_bytes(4, "big")
           + b"\x00" * 4 + bytes([0x50, 0x02]) + (65535).to_bytes(2, "big") + b"\x00\x00\x00\x00")
    csum = transport_checksum(src, dst, IPProto.TCP, seg)
    seg = seg[:16] + csum.to_bytes(2, "big") + seg[18:]
    return encode_ipv4_header(src, dst, IPProto.TCP, len(seg)) + seg


def make(**kw) -> Nat:
    kw.setdefault("public_ip", PUBLIC)
    seed = kw.pop("seed", 7)
    return Nat(NatConfig(**kw), random.Random(seed))


def ok(tr: Translation) -> bytes:
    assert tr.drop_reason is None, tr.drop_reason
    assert tr.packet is not None
    return tr.packet


def assert_scapy_checksums(packet: bytes) -> None:
    """scapy recomputes both checksums from scratch; they must equal what the NAT wrote."""
    pkt = IP(packet)
    layer = TCP if TCP in pkt else UDP if UDP in pkt else None
    written = (pkt[IP].chksum, pkt[layer].chksum if layer else None)
    del pkt[IP].chksum
    if layer is not None and written[1] != 0:
        del pkt[layer].chksum
    again = IP(bytes(pkt))
    assert (again[IP].chksum, again[layer].chksum if layer else None) == written


def assert_changes_exact(before: bytes, after: bytes, changes: tuple[FieldChange, ...]) -> None:
    """Every byte that differs lies in a recorded field, and every recorded field really changed."""
    differing = {i for i, (x, y) in enumerate(zip(before, after)) if x != y}
    covered: set[int] = set()
    for c in changes:
        old, new = before[c.offset:c.offset + c.size], after[c.offset:c.offset + c.size]
        assert old != new, c
        covered |= set(range(c.offset, c.offset + c.size))
        if "address" in c.name:
            assert (str(ipaddress.IPv4Address(old)), str(ipaddress.IPv4Address(new))) == (c.old, c.new)
        elif "port" in c.name:
            assert (str(int.from_bytes(old, "big")), str(int.from_bytes(new, "big"))) == (c.old, c.new)
        else:
            assert (f"0x{old.hex()}", f"0x{new.hex()}") == (c.old, c.new)
    assert differing <= covered and len(before) == len(after)


# ----------------------------------------------------------------- NAPT basics
def test_napt_rewrites_source_and_both_checksums():
    nat = make(port_allocation="sequential")
    before = udp(A, 4500, SERVER, 4500, b"\x00\x00\x00\x00 non-ESP marker and IKE")
    tr = nat.outbound(before, 1.0)
    after = ok(tr)
    assert_scapy_checksums(after)
    assert_changes_exact(before, after, tr.changes)
    assert [c.name for c in tr.changes] == ["IPv4 source address", "UDP source port",
                                            "IPv4 header checksum", "UDP checksum"]
    assert (tr.changes[0].offset, tr.changes[0].old, tr.changes[0].new) == (12, A, PUBLIC)
    assert (tr.changes[1].offset, tr.changes[1].old, tr.changes[1].new) == (20, "4500", "49152")
    assert [c.offset for c in tr.changes[2:]] == [10, 26]
    d = decode_datagram(after)  # our own decoder verifies the UDP checksum too
    assert (d.src, d.dst) == (Endpoint(PUBLIC, 49152), Endpoint(SERVER, 4500))
    assert after[28:] == before[28:]  # the payload is never touched
    assert tr.mapping.inside == f"{A}:4500" and tr.mapping.outside == f"{PUBLIC}:49152"


def test_reply_is_translated_back():
    nat = make(port_allocation="sequential")
    ok(nat.outbound(udp(A, 500, SERVER, 500), 0.0))
    before = udp(SERVER, 500, PUBLIC, 49152, b"reply")
    tr = nat.inbound(before, 0.5)
    after = ok(tr)
    assert_scapy_checksums(after)
    assert_changes_exact(before, after, tr.changes)
    d = decode_datagram(after)
    assert (d.src, d.dst, d.payload) == (Endpoint(SERVER, 500), Endpoint(A, 500), b"reply")
    assert {c.name for c in tr.changes} >= {"IPv4 destination address", "UDP destination port"}


def test_tcp_is_translated_with_its_checksum():
    nat = make(port_allocation="sequential")
    before = tcp(A, 1701, SERVER, 80)
    tr = nat.outbound(before, 0.0)
    after = ok(tr)
    assert_scapy_checksums(after)
    assert_changes_exact(before, after, tr.changes)
    assert "TCP checksum" in [c.name for c in tr.changes] and tr.mapping.proto == "tcp"
    assert tr.mapping.expires == 7440.0


def test_udp_checksum_zero_stays_zero():
    nat = make()
    before = udp(A, 4500, SERVER, 4500, b"\xff", zero=True)  # a NAT-keepalive, RFC 3948 §2.3
    tr = nat.outbound(before, 0.0)
    after = ok(tr)
    assert after[26:28] == b"\x00\x00"
    assert "UDP checksum" not in [c.name for c in tr.changes]
    assert_changes_exact(before, after, tr.changes)
    assert_scapy_checksums(after)


def test_a_computed_zero_udp_checksum_is_sent_as_all_ones():
    """RFC 768: 0 means "no checksum", so a sum that comes out as zero is sent as 0xFFFF."""
    seg = lambda word: bytes.fromhex("c000 1194 000a 0000") + word.to_bytes(2, "big")  # 49152 -> 4500
    word = 0xFFFF - ones_complement_sum(pseudo_header(PUBLIC, SERVER, IPProto.UDP, 10) + seg(0))
    tr = make(port_allocation="sequential").outbound(udp(A, 4500, SERVER, 4500, word.to_bytes(2, "big")), 0)
    after = ok(tr)
    assert after[26:28] == b"\xff\xff" and tr.changes[-1].new == "0xffff"
    assert_scapy_checksums(after)
    decode_datagram(after)


@settings(max_examples=150, deadline=None)
@given(inside=st.integers(0xC0A80001, 0xC0A8FFFE), sport=st.integers(1, 65535),
       payload=st.binary(max_size=64), seed=st.integers(0, 2**32))
def test_incremental_checksums_equal_full_recompute(inside, sport, payload, seed):
    src = str(ipaddress.IPv4Address(inside))
    nat = Nat(NatConfig(public_ip=PUBLIC), random.Random(seed))
    before = udp(src, sport, SERVER, 4500, payload)
    after = ok(nat.outbound(before, 0.0))
    assert internet_checksum(after[:20]) == 0
    full = transport_checksum(PUBLIC, SERVER, IPProto.UDP, after[20:26] + b"\x00\x00" + after[28:])
    assert int.from_bytes(after[26:28], "big") == full


@settings(max_examples=60, deadline=None)
@given(payloads=st.lists(st.binary(max_size=48), min_size=2, max_size=6), seed=st.integers(0, 2**32))
def test_every_packet_of_a_flow_gets_checksums_of_its_own(payloads, seed):
    """A mapping's later packets reuse the rewrite worked out for its first: their checksums must
    still be their own (scapy recomputes them), both ways, and the recorded changes exact."""
    nat = Nat(NatConfig(public_ip=PUBLIC), random.Random(seed))
    port = None
    for i, payload in enumerate(payloads):
        before = udp(A, 4500, SERVER, 4500, payload, zero=i % 3 == 2)
        tr = nat.outbound(before, float(i))
        after = ok(tr)
        assert_scapy_checksums(after)
        assert_changes_exact(before, after, tr.changes)
        port = int.from_bytes(after[20:22], "big")
        reply = udp(SERVER, 4500, PUBLIC, port, payload[::-1])
        back = nat.inbound(reply, float(i) + 0.5)
        inside = ok(back)
        assert inside[16:20] == bytes(map(int, A.split("."))) and int.from_bytes(inside[22:24], "big") == 4500
        assert_scapy_checksums(inside)
        assert_changes_exact(reply, inside, back.changes)


def test_a_rewrite_fits_only_packets_with_the_bytes_it_replaces():
    from natt_core.net.rewrite import Rewrite, rewrite
    first, later = udp(A, 4500, SERVER, 4500, b"one"), udp(A, 4500, SERVER, 4500, b"another payload")
    plan = Rewrite(first, IPProto.UDP, "source", PUBLIC, 62000)
    assert plan.fits(later, IPProto.UDP, PUBLIC, 62000) and plan.apply(later) == rewrite(later, IPProto.UDP, "source",
                                                                                        PUBLIC, 62000)
    assert not plan.fits(udp(B, 4500, SERVER, 4500, b"one"), IPProto.UDP, PUBLIC, 62000)    # another inside host
    assert not plan.fits(udp(A, 4501, SERVER, 4500, b"one"), IPProto.UDP, PUBLIC, 62000)   # another port
    assert not plan.fits(later, IPProto.UDP, PUBLIC, 62001)


def test_unsolicited_inbound_is_dropped_with_a_reason():
    tr = make().inbound(udp("203.0.113.5", 4500, PUBLIC, 62636), 3.0)
    assert tr.packet is None
    assert tr.drop_reason == ("no mapping for UDP 203.0.113.5:4500 -> 192.168.1.30:62636: nothing "
                              "inside has sent from this public port")


@pytest.mark.parametrize("data,where", [
    (b"", "IPv4 at offset 0"),
    (b"\x60" + b"\x00" * 39, "version 6"),
    (udp(A, 1, SERVER, 2)[:-1], "total length"),
    (udp(A, 1, SERVER, 2)[:10] + b"\x00\x00" + udp(A, 1, SERVER, 2)[12:], "bad header checksum"),
    (encode_ipv4_header(A, SERVER, IPProto.ESP, 3) + b"abc", "ESP at offset 20"),
])
def test_malformed_packets_are_dropped_not_raised(data, where):
    for fn in (make().outbound, make().inbound):
        tr = fn(data, 0.0)
        assert tr.packet is None and where in tr.drop_reason


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=80))
def test_random_bytes_never_raise(data):
    nat = make(esp="spi-track")
    for tr in (nat.outbound(data, 0.0), nat.inbound(data, 0.0)):
        assert (tr.packet is None) == (tr.drop_reason is not None)


# ----------------------------------------------------------------- expiry on the virtual clock
def test_mapping_expires_when_idle():
    nat = make(port_allocation="preserve", udp_timeout=30.0)
    ok(nat.outbound(udp(A, 4500, SERVER, 4500), 5.0))
    assert ok(nat.inbound(udp(SERVER, 4500, PUBLIC, 4500), 34.9))
    assert nat.expire(34.9) == []
    tr = nat.inbound(udp(SERVER, 4500, PUBLIC, 4500), 35.0)  # exactly at expiry: gone
    assert tr.drop_reason == (f"no mapping for UDP {SERVER}:4500 -> {PUBLIC}:4500 "
                              f"(mapping for {A}:4500 expired at t=35.0s)")
    [row] = nat.expire(35.0)
    assert (row.inside, row.expires) == (f"{A}:4500", 35.0)
    assert nat.table(35.0) == () and nat.expire(40.0) == []


def test_a_flow_whose_mapping_went_is_translated_by_the_new_one():
    nat = make(port_allocation="sequential")
    first = ok(nat.outbound(udp(A, 4500, SERVER, 4500), 0.0))
    again = ok(nat.outbound(udp(A, 4500, SERVER, 4500, b"again"), 1.0))    # the flow's later packet
    port = IP(first)[UDP].sport
    assert IP(again)[UDP].sport == port and IP(again)[IP].src == PUBLIC
    assert_scapy_checksums(again)
    assert ok(nat.inbound(udp(SERVER, 4500, PUBLIC, port), 1.5))
    nat.flush(2.0)
    tr = nat.inbound(udp(SERVER, 4500, PUBLIC, port), 2.5)
    assert tr.packet is None and tr.drop_code == Reason.NAT_MAPPING_FLUSHED
    later = ok(nat.outbound(udp(A, 4500, SERVER, 4500, b"again"), 3.0))
    assert IP(later)[UDP].sport != port and [r.outside for r in nat.table(3.0)] == [f"{PUBLIC}:{IP(later)[UDP].sport}"]


def test_outbound_refreshes_inbound_only_when_configured():
    for inbound_refresh, alive_at_50, expiry in ((False, False, 40.0), (True, True, 55.0)):
        nat = make(port_allocation="preserve", udp_timeout=30.0, inbound_refresh=inbound_refresh)
        ok(nat.outbound(udp(A, 4500, SERVER, 4500), 0.0))
        ok(nat.outbound(udp(A, 4500, SERVER, 4500, b"\xff"), 10.0))     # keepalive: now until 40
        assert nat.next_expiry() == 30.0  # queued early, never late
        ok(nat.inbound(udp(SERVER, 4500, PUBLIC, 4500), 25.0))
        assert nat.expire(30.0) == [] and nat.next_expiry() == expiry
        tr = nat.inbound(udp(SERVER, 4500, PUBLIC, 4500), 50.0)
        assert (tr.drop_reason is None) == alive_at_50


# ----------------------------------------------------------------- port allocation
def test_preserve_then_sequential_fallback():
    nat = make(port_allocation="preserve", port_range=(40000, 40010))
    assert nat.outbound(udp(A, 4500, SERVER, 4500), 0).mapping.outside == f"{PUBLIC}:4500"
    assert nat.outbound(udp(B, 4500, SERVER, 4500), 0).mapping.outside == f"{PUBLIC}:40000"
    assert nat.outbound(udp(B, 500, SERVER, 500), 0).mapping.outside == f"{PUBLIC}:500"


def test_sequential_allocation_and_exhaustion():
    nat = make(port_allocation="sequential", port_range=(40000, 40001))
    ports = [nat.outbound(udp(A, p, SERVER, 500), 0).mapping.outside for p in (1000, 1001)]
    assert ports == [f"{PUBLIC}:40000", f"{PUBLIC}:40001"]
    tr = nat.outbound(udp(A, 1002, SERVER, 500), 0)
    assert tr.packet is None and tr.drop_reason.endswith("no free public port in 40000-40001")
    assert tr.drop_code is Reason.NAT_NO_FREE_PORT


def test_random_allocation_is_seeded_and_in_range():
    def ports(seed):
        nat = make(port_allocation="random", port_range=(50000, 59999), seed=seed)
        return [nat.outbound(udp(A, p, SERVER, 500), 0).mapping.outside for p in range(1000, 1020)]
    assert ports(1) == ports(1)
    assert ports(1) != ports(2)
    assert all(50000 <= int(p.split(":")[1]) <= 59999 for p in ports(3))
    assert len(set(ports(3))) == 20


# ----------------------------------------------------------------- RFC 4787 mapping and filtering
@pytest.mark.parametrize("mapping,same_for_other_port,same_for_other_host", [
    ("endpoint-independent", True, True),
    ("address-dependent", True, False),
    ("address-and-port-dependent", False, False),
])
def test_mapping_behaviour(mapping, same_for_other_port, same_for_other_host):
    nat = make(mapping=mapping, port_allocation="sequential")
    first = nat.outbound(udp(A, 500, SERVER, 500), 0).mapping.outside
    other_port = nat.outbound(udp(A, 500, SERVER, 4500), 0).mapping.outside
    other_host = nat.outbound(udp(A, 500, "203.0.113.5", 500), 0).mapping.outside
    assert (first == other_port, first == other_host) == (same_for_other_port, same_for_other_host)


@pytest.mark.parametrize("filtering,other_port_ok,other_host_ok", [
    ("endpoint-independent", True, True),
    ("address-dependent", True, False),
    ("address-and-port-dependent", False, False),
])
def test_filtering_behaviour(filtering, other_port_ok, other_host_ok):
    nat = make(filtering=filtering, port_allocation="preserve")
    ok(nat.outbound(udp(A, 4500, SERVER, 4500), 0))
    assert ok(nat.inbound(udp(SERVER, 4500, PUBLIC, 4500), 1))
    from_other_port = nat.inbound(udp(SERVER, 4501, PUBLIC, 4500), 1)
    from_other_host = nat.inbound(udp("203.0.113.5", 4500, PUBLIC, 4500), 1)
    assert (from_other_port.drop_reason is None, from_other_host.drop_reason is None) == \
        (other_port_ok, other_host_ok)
    if not other_host_ok:
        assert from_other_host.drop_reason.startswith(
            f"filtered: UDP 203.0.113.5:4500 -> {PUBLIC}:4500 belongs to {A}:4500, which has only "
            f"sent to {SERVER}")
        assert from_other_host.drop_code is Reason.FILTERED


# ----------------------------------------------------------------- static 1:1, plain router, forwards
def test_static_one_to_one_keeps_ports_and_accepts_unsolicited():
    nat = make(kind="static")
    before = udp(A, 4500, SERVER, 4500)
    tr = nat.outbound(before, 0)
    after = ok(tr)
    assert [c.name for c in tr.changes] == ["IPv4 source address", "IPv4 header checksum", "UDP checksum"]
    assert_changes_exact(before, after, tr.changes)
    assert_scapy_checksums(after)
    d = decode_datagram(ok(nat.inbound(udp("203.0.113.5", 500, PUBLIC, 500), 99)))
    assert d.dst == Endpoint(A, 500)
    assert decode_datagram(ok(nat.inbound(esp(SERVER, PUBLIC, 7), 1))).dst.ip == A
    other = nat.outbound(udp(B, 1, SERVER, 2), 0)
    assert "no static mapping for inside host 192.168.11.22" in other.drop_reason
    [row] = nat.table(1000)
    assert (row.proto, row.inside, row.outside, row.kind, row.expires) == ("ip", A, PUBLIC, "static", None)


def test_static_map_with_two_public_addresses():
    nat = make(kind="static", static_map=((A, PUBLIC), (B, "192.168.1.31")))
    assert nat.outside_addresses() == (PUBLIC, "192.168.1.31")
    assert decode_datagram(ok(nat.outbound(udp(B, 1, SERVER, 2), 0))).src.ip == "192.168.1.31"
    assert decode_datagram(ok(nat.inbound(udp(SERVER, 2, "192.168.1.31", 1), 0))).dst.ip == B


def test_plain_router_passes_everything_unchanged_but_can_drop_esp():
    router = make(kind="none")
    packet = udp(A, 500, SERVER, 500)
    assert router.outbound(packet, 0) == Translation(packet)
    firewall = make(kind="none", esp="drop")
    tr = firewall.outbound(esp(A, SERVER, 1), 0)
    assert tr.drop_reason == "ESP (IP protocol 50) dropped: this device does not pass ESP (esp='drop')"


def test_forwards_reach_a_server_behind_the_nat():
    inside = "192.168.11.5"
    nat = make(forwards=(Forward(IPProto.UDP, 500, Endpoint(inside, 500)),
                         Forward(IPProto.UDP, 4500, Endpoint(inside, 4500)),
                         Forward(IPProto.UDP, 10500, Endpoint(inside, 500))),
               port_allocation="preserve")
    for public, private in ((500, 500), (4500, 4500), (10500, 500)):
        d = decode_datagram(ok(nat.inbound(udp("203.0.113.5", 4500, PUBLIC, public), 0)))
        assert d.dst == Endpoint(inside, private)
    tr = nat.outbound(udp(inside, 4500, "203.0.113.5", 4500), 0)
    assert decode_datagram(ok(tr)).src == Endpoint(PUBLIC, 4500)
    assert tr.mapping.kind == "forward" and tr.mapping.expires is None
    # A forwarded port is reserved: a client preserving port 4500 gets another one.
    assert nat.outbound(udp(A, 4500, SERVER, 4500), 0).mapping.outside != f"{PUBLIC}:4500"
    assert [r.kind for r in nat.table(10_000)] == ["forward"] * 3


# ----------------------------------------------------------------- ESP and AH: no ports
def test_esp_drop_in_both_directions():
    nat = make(esp="drop")
    for tr in (nat.outbound(esp(A, SERVER, 1), 0), nat.inbound(esp(SERVER, PUBLIC, 1), 0)):
        assert tr.packet is None and "ESP (IP protocol 50) dropped" in tr.drop_reason
        assert tr.drop_code is Reason.NAT_UNSUPPORTED_PROTOCOL


def test_esp_address_only():
    nat = make(esp="address-only")
    before = esp(A, SERVER, 0x1000)
    tr = nat.outbound(before, 0)
    after = ok(tr)
    assert [c.name for c in tr.changes] == ["IPv4 source address", "IPv4 header checksum"]
    assert_changes_exact(before, after, tr.changes)
    assert_scapy_checksums(after)
    tr = nat.inbound(esp(SERVER, PUBLIC, 0x2000), 0)
    assert tr.drop_reason == (f"no mapping for ESP {SERVER} -> {PUBLIC} (SPI 0x00002000): ESP has no "
                              "ports to translate, the SPI is not known and no inside host is set to "
                              "receive ESP")
    passing = make(esp="address-only", esp_host=B)
    assert decode_datagram(ok(passing.inbound(esp(SERVER, PUBLIC, 0x2000), 0))).dst.ip == B


def test_esp_spi_track_guesses_and_the_guess_breaks_with_two_clients():
    nat = make(esp="spi-track")
    ok(nat.outbound(esp(A, SERVER, 0xA0), 1.0))
    tr = nat.inbound(esp(SERVER, PUBLIC, 0xA1), 1.1)   # first SPI from the server: guess A
    assert decode_datagram(ok(tr)).dst.ip == A
    assert (tr.mapping.kind, tr.mapping.spi, tr.mapping.inside) == ("esp-spi", 0xA1, A)
    ok(nat.outbound(esp(B, SERVER, 0xB0), 2.0))
    assert decode_datagram(ok(nat.inbound(esp(SERVER, PUBLIC, 0xA1), 2.1))).dst.ip == A  # remembered
    # The server's SPI for A's *new* SA arrives after B spoke: the NAT guesses B. Wrong host.
    assert decode_datagram(ok(nat.inbound(esp(SERVER, PUBLIC, 0xA2), 2.2))).dst.ip == B
    stranger = nat.inbound(esp("203.0.113.9", PUBLIC, 5), 3)  # nobody inside sent ESP there
    assert stranger.packet is None and "the SPI is not known" in stranger.drop_reason


def test_ah_is_rewritten_like_esp_and_can_be_dropped():
    nat = make(ah="address-only")
    before = ah(A, SERVER, 0x77)
    tr = nat.outbound(before, 0)
    assert_changes_exact(before, ok(tr), tr.changes)  # the address AH's ICV covers just changed
    assert make(ah="drop").outbound(before, 0).drop_reason.startswith("AH (IP protocol 51) dropped")


def test_icmp_has_no_ports_for_napt():
    packet = encode_ipv4_header(A, SERVER, IPProto.ICMP, 8) + b"\x08\x00\xf7\xff\x00\x00\x00\x00"
    assert "IP protocol 1 has no ports" in make().outbound(packet, 0).drop_reason


# ----------------------------------------------------------------- "IPsec helpers" (RFC 3715 §2.3)
def test_static_port_500_helper_refuses_a_second_client_until_the_first_state_idles_out():
    nat = make(helper="static-port-500", port_allocation="random", udp_timeout=30.0)
    tr_a = nat.outbound(udp(A, 500, SERVER, 500), 0.0)
    assert decode_datagram(ok(tr_a)).src == Endpoint(PUBLIC, 500)  # source port 500 kept
    assert tr_a.mapping.kind == "static-port-500" and tr_a.mapping.remote == f"{SERVER}:500"
    tr_b = nat.outbound(udp(B, 500, SERVER, 500), 0.1)
    assert tr_b.packet is None
    assert "static-port-500 helper" in tr_b.drop_reason and f"held by {A}:500" in tr_b.drop_reason
    assert "t=30.0s" in tr_b.drop_reason  # when A's state idles out
    assert [r.inside for r in nat.table(0.1)] == [f"{A}:500"]
    # The server's answer still reaches A, the owner of the state.
    assert decode_datagram(ok(nat.inbound(udp(SERVER, 500, PUBLIC, 500, b"MM2 for A"), 0.2))).dst == Endpoint(A, 500)
    # Another peer (or another remote port) is another state: B may use port 500 towards it.
    other = "192.168.1.99"
    assert decode_datagram(ok(nat.outbound(udp(B, 500, other, 500), 0.3))).src == Endpoint(PUBLIC, 500)
    assert decode_datagram(ok(nat.inbound(udp(other, 500, PUBLIC, 500), 0.4))).dst == Endpoint(B, 500)
    assert "no mapping" in nat.inbound(udp("192.168.1.98", 500, PUBLIC, 500), 0.4).drop_reason
    # B keeps being refused while A's state lives (refreshed by A's outbound packets only) ...
    ok(nat.outbound(udp(A, 500, SERVER, 500), 20.0))
    assert nat.outbound(udp(B, 500, SERVER, 500), 49.9).packet is None
    # ... and gets port 500 once it has idled out; A's late answer then finds no state.
    assert decode_datagram(ok(nat.outbound(udp(B, 500, SERVER, 500), 50.1))).src == Endpoint(PUBLIC, 500)
    assert decode_datagram(ok(nat.inbound(udp(SERVER, 500, PUBLIC, 500), 50.2))).dst == Endpoint(B, 500)
    # Ports other than 500 are translated as usual.
    assert decode_datagram(ok(nat.outbound(udp(A, 4500, SERVER, 4500), 51))).src.port != 4500
    # Without the helper, each client gets its own public port and replies go to the right host.
    plain = make(port_allocation="random")
    pa = plain.outbound(udp(A, 500, SERVER, 500), 0).mapping.outside.split(":")[1]
    pb = plain.outbound(udp(B, 500, SERVER, 500), 0).mapping.outside.split(":")[1]
    assert pa != pb
    assert decode_datagram(ok(plain.inbound(udp(SERVER, 500, PUBLIC, int(pa)), 1))).dst.ip == A


def test_esp_last_client_helper_sends_the_first_clients_esp_to_the_second():
    nat = make(helper="esp-last-client", esp="spi-track")
    ok(nat.outbound(udp(A, 500, SERVER, 500), 0.0))
    ok(nat.outbound(esp(A, SERVER, 0xA0), 1.0))
    assert decode_datagram(ok(nat.inbound(esp(SERVER, PUBLIC, 0xA1), 1.1))).dst.ip == A
    ok(nat.outbound(udp(B, 500, SERVER, 500), 2.0))  # B starts IKE
    tr = nat.inbound(esp(SERVER, PUBLIC, 0xA1), 2.1)  # A's SPI, whatever: B gets it
    assert decode_datagram(ok(tr)).dst.ip == B
    assert (tr.mapping.kind, tr.mapping.inside, tr.mapping.remote) == ("esp-last-client", B, SERVER)
    assert tr.note.startswith("esp-last-client helper") and B in tr.note  # why B, for the trace
    # ESP-in-UDP (NAT-T) is ordinary UDP to the helper: each client keeps its own 4500 mapping.
    pa = decode_datagram(ok(nat.outbound(udp(A, 4500, SERVER, 4500), 3.0))).src.port
    pb = decode_datagram(ok(nat.outbound(udp(B, 4500, SERVER, 4500), 3.0))).src.port
    assert pa != pb and decode_datagram(ok(nat.inbound(udp(SERVER, 4500, PUBLIC, pa, b"esp"), 3.1))).dst.ip == A


# ----------------------------------------------------------------- configuration
@pytest.mark.parametrize("kw,words", [
    ({"kind": "cone"}, "napt, static, none"),
    ({"mapping": "full-cone"}, "endpoint-independent"),
    ({"filtering": "x"}, "address-and-port-dependent"),
    ({"esp": "pass"}, "drop, address-only, spi-track"),
    ({"helper": "alg"}, "static-port-500, esp-last-client"),
    ({"port_allocation": "x"}, "preserve, sequential, random"),
    ({"udp_timeout": 0}, "positive"),
    ({"port_range": (10, 5)}, "low <= high"),
    ({"port_range": 5}, "must be \\(low, high\\)"),
    ({"kind": "static", "static_map": (("10.0.0.1",),)}, "pairs"),
    ({"forwards": ((17, 500, "10.0.0.1"),)}, "Forward\\(proto"),
    ({"public_ip": "300.1.1.1"}, "invalid IPv4"),
    ({"static_map": ((A, PUBLIC),)}, "kind 'static'"),
    ({"forwards": (Forward(17, 500, Endpoint(A, 500)),), "helper": "static-port-500"}, "conflicts"),
    ({"helper": "esp-last-client", "esp": "drop"}, "esp other than 'drop'"),
])
def test_config_errors_name_the_choices(kw, words):
    kw.setdefault("public_ip", PUBLIC)
    with pytest.raises(ConfigError, match=words):
        NatConfig(**kw)


def test_forward_validation():
    with pytest.raises(ConfigError, match="17 \\(UDP\\), 6 \\(TCP\\)"):
        Forward(IPProto.ESP, 1, Endpoint(A, 1))
    with pytest.raises(ConfigError):
        Forward(IPProto.UDP, 500, Endpoint(A))


# ----------------------------------------------------------------- independent oracle: tshark
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_validates_the_rewritten_checksums(tmp_path):
    nat = make(port_allocation="random")
    packets = [ok(nat.outbound(udp(A, 500, SERVER, 500, b"x" * n), 0)) for n in range(5)]
    packets.append(ok(nat.inbound(udp(SERVER, 500, PUBLIC, decode_datagram(packets[0]).src.port), 1)))
    path = tmp_path / "nat.pcap"
    write_pcap(path, [(i * 0.1, p) for i, p in enumerate(packets)])
    out = subprocess.run(["tshark", "-r", str(path), "-o", "ip.check_checksum:TRUE",
                          "-o", "udp.check_checksum:TRUE", "-T", "fields",
                          "-e", "ip.checksum.status", "-e", "udp.checksum.status"],
                         capture_output=True, text=True, timeout=60, check=True)
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    assert rows == [["1", "1"]] * len(packets)  # 1 = PROTO_CHECKSUM_E_GOOD


def test_a_translation_shows_its_mapping_as_it_stood_after_its_own_packet():
    """The row is the table line after that packet, even when read after later packets moved it on."""
    nat = make(filtering="address-dependent", udp_timeout=120)
    first = nat.outbound(udp(A, 500, SERVER, 500), 0)
    second = nat.outbound(udp(A, 500, "203.0.113.5", 500), 5)
    assert (second.mapping.expires, second.mapping.allowed) == (125.0, (SERVER, "203.0.113.5"))
    assert (first.mapping.expires, first.mapping.allowed) == (120.0, (SERVER,))
    assert nat.table(5)[-1] == second.mapping
    assert first == first and first != second



@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=41), st.booleans(), st.sampled_from(["napt", "static", "none"]),
       st.integers(1, 0xFFFF), st.integers(1, 255))
def test_a_translation_called_well_formed_reads_as_the_decoder_reads_it(payload, zero, kind, ident, ttl):
    """The network hands a host a packet the NAT marked well_formed without decoding checks
    (wire.ip.datagram_of): out and back, UDP (with and without checksum) and ESP, it must be
    exactly what decode_datagram makes of the same bytes."""
    from natt_core.wire.ip import _decode_datagram_checked, datagram_of
    nat = Nat(NatConfig(public_ip=PUBLIC, kind=kind), random.Random(0))
    checked = 0
    for proto, sport, body in ((IPProto.UDP, 4500, payload),
                               (IPProto.ESP, 0, b"\x00\x00\x10\x01\x00\x00\x00\x01" + payload)):
        out = nat.outbound(encode_datagram(Datagram(Endpoint(A, sport), Endpoint(SERVER, sport), proto, body,
                                                    ident, ttl, zero)), 0.0)
        public = decode_datagram(out.packet).src
        back = nat.inbound(encode_datagram(Datagram(Endpoint(SERVER, sport), public, proto, body, ident, ttl, zero)),
                           0.0)
        for tr in (out, back):
            if tr.packet is not None:    # (ESP back through a NAPT that does not know the SPI is dropped)
                assert tr.well_formed
                # the step-by-step decoder (decode_ipv4_header, decode_udp) as the independent reading
                fast, slow = datagram_of(tr.packet), _decode_datagram_checked(tr.packet)
                assert fast == slow and fast.__dict__ == slow.__dict__
                assert (fast.payload, fast.ident, fast.ttl, fast.zero_udp_checksum) == (
                    body, ident, ttl, zero and proto == IPProto.UDP)
                checked += 1
    assert checked >= 3
