"""Capture files read back by independent tools: scapy (always) and tshark (when installed)."""
from __future__ import annotations

import random
import shutil
import struct
import subprocess

import pytest
from scapy.utils import rdpcap

from natt_core.addressing import Endpoint
from natt_core.errors import ConfigError
from natt_core.net.nat import Nat, NatConfig
from natt_core.net.network import Network
from natt_core.net.network_records import capture_points
from natt_core.pcap import EPOCH, LINKTYPE_RAW, pcap_bytes, pcapng_bytes, write_pcap, write_pcapng

from .test_network import Echo, Pinger, recorder

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def nat_run() -> list:
    """One client behind a NAPT pinging a server twice: 8 hop records on two segments."""
    net = Network(seed=2)
    net.add_segment("inside"), net.add_segment("outside")
    net.add_nat(Nat(NatConfig(public_ip="192.168.1.30", port_allocation="sequential"), random.Random(0)),
                "inside", "192.168.11.1", "outside")
    net.add_host(Pinger("client", Endpoint("192.168.11.20", 4500), Endpoint("192.168.1.10", 4500),
                        count=2, first=0.25), "inside", "192.168.11.20", gateway="192.168.11.1")
    net.add_host(Echo("server"), "outside", "192.168.1.10")
    records = recorder(net)
    net.run(3)
    return records


def tshark(path, *fields: str) -> list[list[str]]:
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", *sum((["-e", f] for f in fields), [])],
                         capture_output=True, text=True, timeout=60)
    errors = [line for line in out.stderr.splitlines() if line and not line.startswith("Running as user")]
    assert out.returncode == 0 and not errors, out.stderr
    return [line.split("\t") for line in out.stdout.splitlines()]


def test_classic_pcap_header_and_scapy_roundtrip(tmp_path):
    records = nat_run()
    path = tmp_path / "hops.pcap"
    write_pcap(path, [(r.time, r.packet) for r in records])
    data = path.read_bytes()
    assert struct.unpack("<IHHiIII", data[:24]) == (0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW)
    packets = rdpcap(str(path))
    assert [bytes(p) for p in packets] == [r.packet for r in records]
    assert [float(p.time) for p in packets] == pytest.approx([EPOCH + r.time for r in records], abs=1e-6)
    assert pcap_bytes([]) == data[:24]


def test_timestamps_round_to_microseconds_without_overflow():
    data = pcap_bytes([(1.9999996, b"\x45")])
    assert struct.unpack("<II", data[24:32]) == (EPOCH + 2, 0)
    with pytest.raises(ConfigError, match=">= 0"):
        pcap_bytes([(-1.0, b"x")])
    with pytest.raises(ConfigError, match="must be bytes"):
        pcap_bytes([(0.0, "text")])


def test_pcapng_roundtrip_with_scapy(tmp_path):
    records = nat_run()
    points = capture_points(records)
    assert [name for name, _ in points] == ["inside", "outside"]
    path = tmp_path / "both_sides.pcapng"
    write_pcapng(path, points)
    packets = rdpcap(str(path))
    merged = sorted(((t, i, n, pkt, note) for i, (_, pkts) in enumerate(points)
                     for n, (t, pkt, note) in enumerate(pkts)), key=lambda x: x[:3])
    assert [bytes(p) for p in packets] == [m[3] for m in merged]
    assert [p.comment for p in packets] == [m[4].encode() for m in merged]
    assert [p.sniffed_on for p in packets] == [points[m[1]][0] for m in merged]
    empty = pcapng_bytes([])  # just the section header block, its length repeated at the end
    assert struct.unpack("<IIIHH", empty[:16]) == (0x0A0D0D0A, len(empty), 0x1A2B3C4D, 1, 0)
    assert struct.unpack("<I", empty[-4:]) == (len(empty),)


@needs_tshark
def test_tshark_reads_the_pcap(tmp_path):
    records = nat_run()
    path = tmp_path / "hops.pcap"
    write_pcap(path, [(r.time, r.packet) for r in records])
    rows = tshark(path, "ip.src", "udp.srcport", "frame.time_epoch")
    assert [row[:2] for row in rows[:2]] == [["192.168.11.20", "4500"], ["192.168.1.30", "49152"]]
    assert float(rows[0][2]) == pytest.approx(EPOCH + records[0].time, abs=1e-6)


@needs_tshark
def test_tshark_shows_interfaces_and_comments(tmp_path):
    records = nat_run()
    path = tmp_path / "both_sides.pcapng"
    write_pcapng(path, capture_points(records))
    rows = tshark(path, "frame.interface_name", "ip.src", "frame.comment")
    assert len(rows) == len(records)
    assert {r[0] for r in rows} == {"inside", "outside"}
    first_out = next(r for r in rows if r[0] == "outside")
    assert first_out[1] == "192.168.1.30"
    assert ("nat -> server (outbound); rewritten: IPv4 source address 192.168.11.20 -> 192.168.1.30, "
            "UDP source port 4500 -> 49152") in first_out[2]
    assert all(r[2] for r in rows)


@needs_tshark
def test_tshark_reads_dropped_packets_with_their_reason(tmp_path):
    path = tmp_path / "drops.pcapng"
    bad = bytes.fromhex("4500001c000040004011") + b"\x00" * 18  # bad IPv4 checksum on purpose
    write_pcapng(path, [("wan", [(0.5, bad, "dropped: bad header checksum")]), ("lan", [])])
    rows = tshark(path, "frame.interface_name", "frame.comment")
    assert rows == [["wan", "dropped: bad header checksum"]]
