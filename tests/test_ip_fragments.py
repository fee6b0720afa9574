"""IPv4 fragmentation in the lab network: the fragments themselves (checked against scapy), bounded
reassembly, DF and ICMP Fragmentation Needed, and what a NAT's `fragments` setting does to IKE."""
from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import ConfigError
from natt_core.lab.export import export
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_core.net.fragments import (MAX_BYTES, MAX_DATAGRAMS, Reassembler, frag_needed, fragment, read_frag_needed,
                                     read_fragment)
from natt_core.reasons import Reason
from natt_core.wire.dissect import dissect
from natt_core.wire.ip import decode_datagram, encode_datagram, encode_ipv4_header

SMALL = ["link.mtu=296"]   # RFC 1191's PPP low-delay plateau: MM1 (252 B) fits, MM3/MM4 (400 B) do not


def _udp(size: int, df: bool = False, ident: int = 0x1234) -> bytes:
    d = Datagram(Endpoint("192.168.11.20", 500), Endpoint("192.168.1.10", 500), 17, bytes(range(256)) * (size // 256)
                 + bytes(size % 256), ident=ident)
    packet = encode_datagram(d)
    if df:
        return packet
    head = encode_ipv4_header("192.168.11.20", "192.168.1.10", 17, len(packet) - 20, ident, flags_frag=0)
    return head + packet[20:]


def _run(*settings: str):
    return run(apply_settings(preset("client-behind-nat"), list(settings)))


# --- the fragments, known answers from scapy ------------------------------------------------------

@pytest.mark.parametrize("size, mtu", [(760, 296), (1400, 576), (3000, 1500), (100, 68)])
def test_fragments_match_scapy_byte_for_byte(size, mtu):
    scapy = pytest.importorskip("scapy.all")
    packet = _udp(size)
    ours = fragment(packet, mtu)
    theirs = [bytes(f) for f in scapy.fragment(scapy.IP(packet), fragsize=(mtu - 20) // 8 * 8)]
    assert ours == theirs
    assert all(len(f) <= mtu for f in ours) and len(ours) > 1


def test_a_host_fragments_without_df_and_a_fitting_packet_is_left_alone():
    packet = _udp(1000, df=True)
    assert fragment(packet, 1500) == [packet]
    pieces = fragment(packet, 576)
    assert [read_fragment(p).dont for p in pieces] == [False] * len(pieces)
    assert [read_fragment(p).more for p in pieces] == [True] * (len(pieces) - 1) + [False]


def test_a_fragment_of_a_fragment_keeps_more_fragments_and_its_offsets():
    first, second = fragment(_udp(1000), 576)
    again = fragment(first, 296)
    infos = [read_fragment(p) for p in again]
    assert [i.more for i in infos] == [True, True, True]     # the original first piece had MF set
    assert [i.offset for i in infos] == [0, 272, 544]
    r = Reassembler()
    outcomes = [r.add(p, 0.0) for p in again + [second]]
    assert outcomes[-1].packet == _udp(1000)


# --- reassembly -------------------------------------------------------------------------------------

def test_reassembly_in_any_order_gives_back_the_datagram():
    packet = _udp(2000)
    pieces = fragment(packet, 296)
    random.Random(4).shuffle(pieces)
    r = Reassembler()
    done = [r.add(p, 1.0) for p in pieces]
    assert [d.packet is not None for d in done] == [False] * (len(pieces) - 1) + [True]
    assert decode_datagram(done[-1].packet).payload == decode_datagram(packet).payload
    assert len(r) == 0 and r.held == 0


def test_overlapping_fragments_drop_the_whole_datagram():
    first, *_ = fragment(_udp(800), 296)
    overlap = fragment(_udp(800), 576)[0]    # bytes 0..552 again, differently cut
    r = Reassembler()
    r.add(first, 0.0)
    out = r.add(overlap, 0.0)
    assert out.code is Reason.MALFORMED and "overlap" in out.dropped and len(r) == 0


def test_partial_datagrams_are_forgotten_after_the_timeout():
    r = Reassembler(timeout=30.0)
    r.add(fragment(_udp(800), 296)[0], 0.0)
    assert len(r) == 1
    r.add(fragment(_udp(800, ident=7), 296)[0], 30.0)
    assert len(r) == 1 and r.timed_out == 1


def test_many_random_fragments_never_hold_more_than_the_caps():
    rng = random.Random(1)
    r = Reassembler()
    refused = 0
    for n in range(5000):
        ident = rng.randrange(1 << 16)
        offset = rng.randrange(0, 8000) // 8
        body = rng.randbytes(8 * rng.randrange(1, 180))
        head = encode_ipv4_header(f"10.{n % 250}.0.1", "192.168.1.10", 17, len(body), ident, flags_frag=0x2000 | offset)
        out = r.add(head + body, n * 0.001)
        refused += out.code is Reason.REASSEMBLY_LIMIT
        assert len(r) <= MAX_DATAGRAMS and r.held <= MAX_BYTES
    assert refused > 4000


# --- ICMP Fragmentation Needed --------------------------------------------------------------------

def test_frag_needed_carries_the_next_hop_mtu_and_the_original_header():
    packet = _udp(1000, df=True)
    icmp = frag_needed("192.168.11.1", packet, 1492)
    told = read_frag_needed("192.168.11.1", icmp[20:])
    assert (told.dst, told.mtu) == ("192.168.1.10", 1492)
    assert icmp[20 + 8:] == packet[:28]
    scapy = pytest.importorskip("scapy.all")
    parsed = scapy.IP(icmp)
    assert (parsed[scapy.ICMP].type, parsed[scapy.ICMP].code, parsed[scapy.ICMP].nexthopmtu) == (3, 4, 1492)
    assert parsed[scapy.ICMP].chksum == scapy.ICMP(bytes(parsed[scapy.ICMP])).chksum


def test_df_is_honoured_the_client_learns_the_path_mtu_and_fragments_its_retransmission():
    t = _run("link.wan_mtu=296")
    hops = t.hops
    too_big = [h for h in hops if h.drop_code == Reason.FRAGMENTATION_NEEDED.value]
    assert too_big and too_big[0].label == "MM3" and too_big[0].device == "nat"
    icmp = [h for h in hops if h.label == "ICMP fragmentation needed"]
    assert icmp and icmp[0].dst_host == "client" and icmp[0].dropped is None
    later = [h for h in hops if h.label == "MM3" and h.fragment and h.time > too_big[0].time]
    assert later and all(len(h.packet) <= 296 for h in later)
    assert t.report["peers"]["client"]["phase2"] == "established"


# --- what a NAT does with fragments ---------------------------------------------------------------

def test_pass_translates_every_fragment_and_the_tunnel_comes_up():
    t = _run(*SMALL, "nat.fragments=pass")
    assert t.report["peers"]["client"]["phase2"] == "established"
    pieces = [h for h in t.hops if h.label == "MM3" and h.segment == "internet"]
    assert [h.fragment for h in pieces] == [(1, 2), (2, 2)]
    assert all(h.packet[12:16] == bytes([192, 168, 1, 30]) for h in pieces)   # both carry the public address


def test_drop_fails_at_the_first_message_over_the_mtu_with_a_reason_code():
    t = _run(*SMALL, "nat.fragments=drop")
    client = t.report["peers"]["client"]
    assert client["phase1"] == "failed" and client["reason_code"] == "FRAGMENT_DROPPED"
    assert "MM3" in client["reason"]
    dropped = [h for h in t.hops if h.dropped]
    assert {h.label for h in dropped} == {"MM3"} and all(h.fragment for h in dropped)


def test_first_only_passes_the_first_fragment_and_still_fails():
    t = _run(*SMALL, "nat.fragments=first-only")
    assert t.report["peers"]["client"]["reason_code"] == "FRAGMENT_DROPPED"
    mm3 = [h for h in t.hops if h.label == "MM3" and h.segment == "internet"]
    assert mm3 and all(h.fragment[0] == 1 for h in mm3)          # only first fragments got through
    assert t.report["peers"]["server"]["phase1"] == "not-started"  # the server never completed MM3


def test_fragment_settings_are_checked():
    with pytest.raises(ConfigError, match="link.mtu"):
        apply_settings(preset("client-behind-nat"), ["link.mtu=40"])
    with pytest.raises(ConfigError, match="choose one of"):
        apply_settings(preset("client-behind-nat"), ["nat.fragments=mangle"])


def test_a_fragment_dissects_with_its_udp_header_then_data():
    first, second = fragment(_udp(400), 296)[:2]
    names = [f.name for f in dissect(first)]
    assert "source port" in names and names[-1].startswith("fragment data")
    assert [f.layer for f in dissect(second)][-1] == "IP fragment"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("mode", ["pass", "drop"])
def test_tshark_reassembles_the_lab_fragments_with_no_malformed_packet(mode, tmp_path):
    export(_run(*SMALL, f"nat.fragments={mode}"), tmp_path)
    for name in ("client-lan", "internet"):
        pcap = str(tmp_path / f"{name}.pcap")
        bad = subprocess.run(["tshark", "-r", pcap, "-o", "ip.defragment:TRUE", "-o", "udp.check_checksum:TRUE",
                              "-Y", "_ws.malformed || _ws.expert.severity >= error"],
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 0 and bad.stdout == "", bad.stdout
        frags = subprocess.run(["tshark", "-r", pcap, "-o", "ip.defragment:TRUE", "-Y", "ip.flags.mf == 1",
                                "-T", "fields", "-e", "frame.number"], capture_output=True, text=True, timeout=60)
        assert bool(frags.stdout.split()) == (name == "client-lan" or mode == "pass"), name
    whole = subprocess.run(["tshark", "-r", str(tmp_path / "internet.pcap"), "-o", "ip.defragment:TRUE",
                            "-Y", "ip.fragments", "-T", "fields", "-e", "isakmp.exchangetype"],
                           capture_output=True, text=True, timeout=60)
    assert whole.stdout.split() == (["2", "2"] if mode == "pass" else [])   # MM3 and MM4, reassembled


def test_a_fragment_before_its_first_is_held_and_sent_on_translated_after_it():
    from natt_core.net.nat import Nat, NatConfig
    nat = Nat(NatConfig(public_ip="192.168.1.30"), random.Random(1))
    first, second = fragment(_udp(400, ident=9), 296)
    early = nat.outbound(second, 0.0)
    assert early.packet is None and early.drop_reason is None and "held" in early.note
    tr = nat.outbound(first, 0.01)
    assert [old for old, _ in tr.released] == [second]
    r = Reassembler()
    r.add(tr.packet, 0.02)
    whole = r.add(tr.released[0][1].packet, 0.02).packet
    d = decode_datagram(whole)                       # the UDP checksum over the whole datagram verifies
    assert d.src.ip == "192.168.1.30" and d.payload == decode_datagram(_udp(400, df=True, ident=9)).payload


def test_reordered_fragments_still_cross_a_passing_nat():
    held_somewhere = False
    for seed in range(1, 12):
        t = _run(*SMALL, "link.reorder=0.5", f"seed={seed}")
        held = [h for h in t.hops if "held by nat" in h.note]
        released = [h for h in t.hops if "held until its first fragment came" in h.note]
        assert len(released) == len(held) and all(h.dropped is None for h in released)
        assert t.report["peers"]["client"]["phase2"] == "established", seed
        held_somewhere |= bool(held)
    assert held_somewhere
