"""natt_core.wire.dissect: field offsets against tshark's own dissection, protection marks, errors.

The oracle is tshark 4.0 (`-T pdml` gives each field's byte position and size). Field names on the
tshark side are Wireshark's display-filter names (wireshark.org/docs/dfref: ip, udp, udpencap,
isakmp, esp, ah).
"""
from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections import defaultdict
from functools import lru_cache

import pytest
from hypothesis import given, settings, strategies as st

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import DecodeError
from natt_core.ike.nat_t import vid_name
from natt_core.pcap import pcap_bytes
from natt_core.wire import isakmp
from natt_core.wire.dissect import ENCRYPTED, ICV, ID_PAYLOAD, NATD_HASH, SPI, dissect
from natt_core.wire.ip import encode_datagram, encode_ipv4_header
from natt_core.wire.numbers import ExchangeType, IPProto

from .conftest import run_preset

PRESETS = ("client-behind-nat", "client-behind-nat-draft02", "legacy-behind-nat", "ah-behind-nat")

#: (our layer prefix, our field name prefix) -> tshark field name
ORACLE = {
    ("IPv4", "source address"): "ip.src",
    ("IPv4", "destination address"): "ip.dst",
    ("IPv4", "header checksum"): "ip.checksum",
    ("IPv4", "TTL"): "ip.ttl",
    ("IPv4", "identification"): "ip.id",
    ("UDP", "source port"): "udp.srcport",
    ("UDP", "destination port"): "udp.dstport",
    ("UDP", "checksum"): "udp.checksum",
    ("UDP-encap", "non-ESP marker"): "udpencap.non_esp_marker",
    ("UDP-encap", "NAT-keepalive"): "udpencap.nat_keepalive",
    ("ISAKMP", "initiator cookie"): "isakmp.ispi",
    ("ISAKMP", "responder cookie"): "isakmp.rspi",
    ("ISAKMP", "message ID"): "isakmp.messageid",
    ("ISAKMP", "exchange type"): "isakmp.exchangetype",
    ("ISAKMP (encrypted)", "encrypted payloads"): "isakmp.enc.data",
    ("NAT-D", "HASH("): "isakmp.ike.nat_hash",
    ("Vendor ID", "Vendor ID"): "isakmp.vid_bytes",
    ("KE", "g^x"): "isakmp.key_exchange.data",
    ("Nonce", "nonce data"): "isakmp.nonce",
    ("ESP", "SPI"): "esp.spi",
    ("ESP", "sequence number"): "esp.sequence",
    ("AH", "SPI"): "ah.spi",
    ("AH", "sequence number"): "ah.sequence",
    ("AH", "ICV"): "ah.icv",
}


@lru_cache(maxsize=None)
def _packets() -> tuple[bytes, ...]:
    seen: dict[bytes, None] = {}
    for name in PRESETS:
        for hop in run_preset(name, "duration=25").hops:
            seen.setdefault(hop.packet)
    return tuple(seen)


def _tshark_positions(packets: tuple[bytes, ...], tmp_path) -> list[dict[str, set[tuple[int, int]]]]:
    path = tmp_path / "all.pcap"
    path.write_bytes(pcap_bytes((i * 0.001, p) for i, p in enumerate(packets)))
    pdml = subprocess.run(["tshark", "-r", str(path), "-T", "pdml"], capture_output=True, check=True,
                          timeout=60).stdout
    frames = []
    for packet in ET.fromstring(pdml).iter("packet"):
        seen: dict[str, set[tuple[int, int]]] = defaultdict(set)
        for f in packet.iter("field"):
            if f.get("name") and f.get("pos") is not None:
                seen[f.get("name")].add((int(f.get("pos")), int(f.get("size"))))
        frames.append(seen)
    return frames


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_offsets_match_tshark(tmp_path):
    packets = _packets()
    frames = _tshark_positions(packets, tmp_path)
    assert len(frames) == len(packets)
    checked = 0
    for packet, tshark in zip(packets, frames):
        for f in dissect(packet, vid_name=vid_name):
            for (layer, prefix), name in ORACLE.items():
                if f.layer.startswith(layer) and f.name.startswith(prefix) and name in tshark:
                    assert (f.offset, f.length) in tshark[name], (f, name, tshark[name])
                    checked += 1
    assert checked > 300  # every preset's packets contributed


def test_fields_tile_the_packet_without_overlap():
    for packet in _packets():
        fields = dissect(packet)
        pos = 0
        for f in fields:
            assert f.offset == pos, f
            pos = f.end
        assert pos == len(packet)


def test_protected_marks():
    packets = _packets()
    names = {(f.name, f.protected) for p in packets for f in dissect(p)}
    assert ("SPI", SPI) in names
    assert ("IV + ciphertext + ICV", ENCRYPTED) in names
    assert any(n.startswith("HASH(CKY-I") and why == NATD_HASH for n, why in names)
    # what a NAT rewrites is never marked protected outside AH
    for p in packets:
        if p[9] != IPProto.AH:
            for f in dissect(p):
                if f.name in ("source address", "source port", "destination port"):
                    assert f.protected is None


def test_esp_sizes_split_iv_ciphertext_icv():
    packet = next(p for p in _packets() if p[9] == IPProto.UDP and len(p) > 100
                  and p[28:32] != b"\x00\x00\x00\x00" and int.from_bytes(p[22:24], "big") == 4500)
    spi = int.from_bytes(packet[28:32], "big")
    fields = {f.name: f for f in dissect(packet, esp_sizes={spi: (16, 12)})}
    assert fields["IV"].length == 16 and fields["ICV"].length == 12
    assert fields["ICV"].end == len(packet) and fields["ICV"].protected == ICV
    with pytest.raises(DecodeError):
        dissect(packet, esp_sizes={spi: (16, 1000)})


def _udp(payload: bytes, sport=500, dport=500) -> bytes:
    return encode_datagram(Datagram(Endpoint("192.0.2.1", sport), Endpoint("198.51.100.2", dport),
                                    IPProto.UDP, payload))


def test_plaintext_id_and_nat_oa_payloads():
    header = isakmp.Header(b"\x11" * 8, b"\x22" * 8, 0, ExchangeType.AGGRESSIVE)
    msg = isakmp.encode_message(header, [isakmp.ID.ipv4("10.0.0.5"), isakmp.NatOA.from_ip("192.168.1.7"),
                                         isakmp.NatOA.from_ip("192.168.1.8", draft=True)])
    fields = dissect(_udp(msg))
    ident = [f for f in fields if f.layer == "ID payload" and f.name == "identification data"]
    assert ident[0].value == "10.0.0.5" and ident[0].protected == ID_PAYLOAD
    oa = [f.value for f in fields if f.name == "original address"]
    assert oa == ["192.168.1.7", "192.168.1.8"]
    assert any(f.layer == "NAT-OA (draft) payload" for f in fields)


def test_malformed_input_is_a_decode_error():
    with pytest.raises(DecodeError):
        dissect(b"\x45\x00")
    with pytest.raises(DecodeError):
        dissect(_udp(b"\x00\x00", 4500, 4500))          # neither keepalive nor marker nor SPI
    with pytest.raises(DecodeError):
        dissect(_udp(b"\x00" * 10))                      # ISAKMP header truncated


def _reframe(packet: bytes, body: bytes) -> bytes:
    """Same IPv4 header fields, new body, valid header checksum; UDP checksum zeroed (not used)."""
    proto = packet[9]
    if proto == IPProto.UDP and len(body) >= 8:
        body = body[:4] + len(body).to_bytes(2, "big") + b"\x00\x00" + body[8:]
    src = ".".join(map(str, packet[12:16]))
    dst = ".".join(map(str, packet[16:20]))
    return encode_ipv4_header(src, dst, proto, len(body)) + body


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_packets_raise_only_decode_error(data):
    packet = data.draw(st.sampled_from(_packets()))
    body = bytearray(packet[20:])
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(body) - 1))
        body[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(body)))
    try:
        fields = dissect(_reframe(packet, bytes(body[:cut] if data.draw(st.booleans()) else body)))
    except DecodeError:
        return
    assert all(f.length > 0 for f in fields)
