"""IKEv2 in the field layouts (natt_core.wire.dissect_ikev2 via dissect): every byte of every IKE
packet of a NATed run labelled once, the NAT detection hashes and SK marked as what a NAT cannot
rewrite, the values agreeing with tshark's dissection, and bad bytes a DecodeError only."""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

import pytest
from hypothesis import given, settings, strategies as st

from natt_core.errors import DecodeError
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.pcap import pcap_bytes
from natt_core.wire.dissect import ENCRYPTED, NATD_HASH, dissect


@lru_cache(maxsize=1)
def ike_packets() -> tuple[bytes, ...]:
    trace = run(preset("ikev2-client-behind-nat"))
    return tuple(h.packet for h in trace.hops if h.segment == "internet" and (h.label or "").startswith(("IKE_", "INFO")))


def test_every_byte_is_labelled_once():
    assert len(ike_packets()) >= 4
    for packet in ike_packets():
        fields = dissect(packet)
        at = 0
        for f in fields:
            assert f.offset == at, (f, at)
            at = f.end
        assert at == len(packet)


def test_what_a_nat_cannot_touch():
    init, _, auth = ike_packets()[:3]
    natd = [f for f in dissect(init) if f.protected == NATD_HASH]
    assert len(natd) == 2 and {("source" in f.name) for f in natd} == {True, False}
    assert any(f.protected == ENCRYPTED and f.layer.startswith("IKEv2 SK") for f in dissect(auth))


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_values_agree_with_tshark(tmp_path):
    path = tmp_path / "ike.pcap"
    path.write_bytes(pcap_bytes((0.001 * i, p) for i, p in enumerate(ike_packets())))
    out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|", "-e", "isakmp.ispi",
                          "-e", "isakmp.exchangetype", "-e", "isakmp.notify.data"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    for packet, line in zip(ike_packets(), out):
        ispi, exchange, notify = line.split("|")
        fields = {f.name: f for f in dissect(packet)}
        assert fields["initiator SPI"].value == ispi
        assert fields["exchange type"].value.startswith(exchange + " ")
        ours = [packet[f.offset:f.end].hex() for f in dissect(packet) if f.protected == NATD_HASH]
        assert ours == [x for x in notify.split(",") if len(x) == 40]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutations_raise_decode_error_only(data):
    packet = bytearray(data.draw(st.sampled_from(ike_packets())))
    for _ in range(data.draw(st.integers(1, 3))):
        packet[data.draw(st.integers(28, len(packet) - 1))] = data.draw(st.integers(0, 255))
    try:
        dissect(bytes(packet))
    except DecodeError:
        pass


def test_inner_chain_of_an_sk_payload():
    """What an opened SK payload carries is rendered through the same layouts: the IDs marked as
    what AUTH signs, the traffic selectors read back as addresses."""
    from natt_core.wire.dissect import ID_PAYLOAD
    from natt_core.wire.dissect_ikev2 import dissect_ikev2_chain
    from natt_core.wire.ikev2 import (IDi, Auth, Attribute, Proposal, SA, TrafficSelector, Transform, TSi, TSr,
                                      encode_payloads)
    sa = SA((Proposal(1, 3, bytes.fromhex("c0ffee01"), (Transform(1, 12, (Attribute(14, 128),)),
                                                          Transform(3, 12), Transform(5, 0))),))
    inner = (IDi(1, bytes([10, 0, 0, 2])), Auth(2, bytes(range(32))), sa,
             TSi((TrafficSelector.host("10.0.0.2", 17, 1701),)), TSr((TrafficSelector("10.0.0.0", "10.0.0.255"),)))
    plain = encode_payloads(inner)
    fields = dissect_ikev2_chain(inner[0].payload_type, plain)
    at = 0
    for f in fields:
        assert f.offset == at and f.length > 0, f
        at = f.end
    assert at == len(plain)
    by = {(f.layer, f.name): f for f in fields}
    assert {f.name for f in fields if f.protected == ID_PAYLOAD} == {"ID type", "reserved", "identification data"}
    assert by[("IDI payload", "identification data")].value == "0a000002"
    assert by[("Proposal #1", "SPI")].value == "c0ffee01"
    assert by[("Transform ENCR 12", "attribute value")].value == "128"
    assert by[("TSR payload selector", "ending address")].value == "10.0.0.255"
    assert by[("TSI payload selector", "start port")].offset == plain.index(bytes([7, 17, 0, 16])) + 4
    with pytest.raises(DecodeError):
        dissect_ikev2_chain(inner[0].payload_type, plain[:-1])
