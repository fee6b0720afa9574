"""The L2TP control connection (RFC 2661 §5.8, §7): IDs, Ns/Nr, ZLBs and retransmission, run
back to back over a link that loses and reorders."""
from __future__ import annotations

import random

import pytest

from natt_core.l2tp.control import MAX_RETRIES, ControlConnection
from natt_core.reasons import Reason
from natt_core.wire.l2tp import MessageType, decode_l2tp


def kind_of(data):
    m = decode_l2tp(data)
    return MessageType(int.from_bytes(m.avps[0].value, "big")).name if m.avps else "ZLB"


def run(lac, lns, loss=0.0, reorder=0.0, seed=0, until=60.0):
    """Deliver in virtual time: each packet takes 10 ms, or 60 ms when reordered."""
    rng, now, flight, log = random.Random(seed), 0.0, [], []

    def post(src, packets, t):
        for p in packets:
            log.append((t, src, p))
            if rng.random() >= loss:
                flight.append((t + (0.06 if rng.random() < reorder else 0.01), src, p))

    post("lac", lac.start(now), now)
    while now < until:
        timers = [t for t in (lac.next_timer(), lns.next_timer()) if t is not None]
        nxt = min([f[0] for f in flight] + timers, default=None)
        if nxt is None:
            break
        now = nxt
        for item in sorted(f for f in flight if f[0] <= now):
            flight.remove(item)
            dst = lns if item[1] == "lac" else lac
            post("lns" if dst is lns else "lac", dst.receive(item[2], now), now)
        for name, end in (("lac", lac), ("lns", lns)):
            if end.next_timer() is not None and end.next_timer() <= now:
                post(name, end.on_timer(now), now)
    return log


def test_ladder_ids_and_sequence_numbers_as_rfc_2661_draws_them():
    lac, lns = ControlConnection("lac", 1, session_id=7), ControlConnection("lns", 50177, session_id=18910)
    log = run(lac, lns)
    ladder = [(src, kind_of(p), decode_l2tp(p).tunnel_id, decode_l2tp(p).session_id, decode_l2tp(p).ns,
               decode_l2tp(p).nr) for _, src, p in log]
    assert ladder == [
        ("lac", "SCCRQ", 0, 0, 0, 0),
        ("lns", "SCCRP", 1, 0, 0, 1),          # the peer's assigned tunnel ID, Nr 1
        ("lac", "SCCCN", 50177, 0, 1, 1),
        ("lac", "ICRQ", 50177, 0, 2, 1),
        ("lns", "ZLB", 1, 0, 1, 2),            # SCCCN acknowledged; a ZLB does not use an Ns
        ("lns", "ICRP", 1, 7, 1, 3),
        ("lac", "ICCN", 50177, 18910, 3, 2),
        ("lns", "ZLB", 1, 0, 2, 4),
    ]
    assert (lac.tunnel_state, lac.session_state, lns.tunnel_state, lns.session_state) == ("established",) * 4
    assert lac.next_timer() is None and lns.next_timer() is None      # everything acknowledged


@pytest.mark.parametrize("seed", range(40))
def test_loss_and_reordering_end_established_through_retransmission(seed):
    lac, lns = ControlConnection("lac", 1), ControlConnection("lns", 2)
    run(lac, lns, loss=0.2, reorder=0.3, seed=seed)
    assert (lac.session_state, lns.session_state) == ("established", "established"), lac.notes + lns.notes


def test_retransmissions_back_off_and_then_clear_the_tunnel():
    lac, lns = ControlConnection("lac", 1), ControlConnection("lns", 2)
    log = run(lac, lns, loss=1.0)
    assert [t for t, _, _ in log] == [0, 1, 3, 7, 15, 23]           # 1, 2, 4, 8, 8 s
    assert {kind_of(p) for _, _, p in log} == {"SCCRQ"} and {decode_l2tp(p).ns for _, _, p in log} == {0}
    assert lac.tunnel_state == "closed" and lac.notes[-1].code == Reason.L2TP_NO_ACK
    assert f"after {MAX_RETRIES} retransmissions" in lac.notes[-1].text


def test_duplicate_is_acknowledged_and_not_processed_twice():
    lac, lns = ControlConnection("lac", 1), ControlConnection("lns", 2)
    sccrq = lac.start(0)[0]
    assert kind_of(lns.receive(sccrq, 0)[0]) == "SCCRP"
    again = lns.receive(sccrq, 1)
    assert [kind_of(p) for p in again] == ["ZLB"] and decode_l2tp(again[0]).nr == 1


def test_hello_and_stopccn():
    lac, lns = ControlConnection("lac", 1), ControlConnection("lns", 2)
    run(lac, lns)
    hello = lns.hello(100)
    assert kind_of(hello[0]) == "HELLO" and decode_l2tp(hello[0]).session_id == 0
    assert kind_of(lac.receive(hello[0], 100)[0]) == "ZLB"
    stop = lac.stop(101)
    assert kind_of(stop[0]) == "STOPCCN"
    lns.receive(stop[0], 101)
    assert lns.tunnel_state == lns.session_state == "closed" and lns.notes[-1].code == Reason.L2TP_STOPPED


def test_data_header_as_linux_sends_it_and_with_every_optional_field():
    from natt_core.errors import DecodeError
    from natt_core.l2tp.data import decode_data, encode_data, is_data
    frame = bytes.fromhex("ff03c021010100040000")
    assert encode_data(50177, 18910, frame) == bytes.fromhex("0002c40149de") + frame     # RFC 2661 §3.1
    # L, S and O set: length, Ns/Nr, an offset size of 2 and two bytes of padding
    full = bytes.fromhex("4a02") + (16 + len(frame)).to_bytes(2, "big") + bytes.fromhex("0001000200050000" "0002aaaa")
    assert decode_data(full + frame) == (1, 2, frame) and is_data(full + frame)
    with pytest.raises(DecodeError):
        decode_data(bytes.fromhex("c802000c0000000000000000"))                            # a control message
    with pytest.raises(DecodeError):
        decode_data(bytes.fromhex("4002ffff00010002"))                                    # length past the end
