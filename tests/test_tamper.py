"""Any single-bit flip of an encrypted IKE message (MM5) or of ESP is rejected; the state survives."""
from __future__ import annotations

from dataclasses import replace

from .helpers import make_pair
from .test_state_table import MESSAGES, SNAPSHOTS


def _flips(payload: bytes):
    for bit in range(len(payload) * 8):
        b = bytearray(payload)
        b[bit // 8] ^= 1 << (bit % 8)
        yield bytes(b)


def test_every_bit_flip_of_mm5_is_rejected_and_the_genuine_mm5_still_works():
    mm5 = next(m for m in MESSAGES if m.label == "MM5")
    before = next(s for s in SNAPSHOTS if s.server.sas and
                  next(iter(s.server.sas.values())).state.value == "R_EXPECT_MM5")
    for flipped in _flips(mm5.payload):
        pair = before.clone()
        out = pair.server.receive(replace(mm5, payload=flipped), pair.now)
        assert not any(e.kind == "Phase1Established" for e in out.events)
        assert next(iter(pair.server.sas.values())).state.value == "R_EXPECT_MM5" or not pair.server.sas
        out = pair.server.receive(mm5, pair.now + 0.01)
        assert any(e.kind == "Phase1Established" for e in out.events)


def test_every_bit_flip_of_esp_in_udp_is_dropped_and_replays_too():
    pair = make_pair(client_nat=True).connect()
    out = pair.client.send_udp(b"\xc8\x02" + bytes(18), pair.now)
    esp = out.datagrams[0]
    routed = pair._route(esp)[1]
    for flipped in _flips(routed.payload):
        copy = pair.clone()
        got = copy.server.receive(replace(routed, payload=flipped), pair.now)
        assert not any(e.kind == "DataReceived" for e in got.events)
        assert any(e.kind == "PacketDropped" for e in got.events)
    first = pair.server.receive(routed, pair.now)
    assert any(e.kind == "DataReceived" for e in first.events)
    again = pair.server.receive(routed, pair.now)
    dropped = [e for e in again.events if e.kind == "PacketDropped"]
    assert dropped and "replay" in dropped[0].reason
