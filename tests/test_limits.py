"""Limits against floods and spoofing, and a run's bounded work.

A responder keeps state for an MM1 from anyone, so forged MM1s from random sources must cost a
bounded number of SAs and answers (half-open limits modelled on strongSwan's
charon.init_limit_half_open / block_threshold / half_open_timeout and libreswan's
max-halfopen-ike); an unauthenticated copy of a genuine message must not steer the responder
(RFC 3947 §7: follow only new authenticated messages) nor its NAT-OA (RFC 3947 §5.2). Every
figure here comes from the peer API on virtual time: no wall clock.
"""
from __future__ import annotations

import ipaddress
import random
from dataclasses import replace

import pytest

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import ConfigError
from natt_core.ike.peer import Peer
from natt_core.ike.policy import PeerPolicy
from natt_core.ike.proposals import phase1_offer
from natt_core.ike.states import State
from natt_core.lab import scenario as scenario_module
from natt_core.lab.presets import preset
from natt_core.lab.scenario import RunTooLarge, run
from natt_core.lab.settings import apply_settings
from natt_core.reasons import Reason
from natt_core.wire.isakmp import Header, VendorID, encode_message
from natt_core.wire.numbers import ExchangeType, IPProto, Port

from .helpers import NAT_IP, SERVER_IP, make_pair
from .test_peer_handshake import L2TP_HELLO, L2TP_REPLY

SPOOFED = Endpoint("203.0.113.66", Port.NAT_T)


def forged_mm1s(count: int, seed: int = 5, source: str | None = None):
    """Valid-looking MM1s (a real offer and the NAT-T Vendor IDs), each from a random address and
    port (or all from `source`), each with its own random initiator cookie."""
    rng = random.Random(seed)
    policy = PeerPolicy()
    payloads = [phase1_offer(policy)] + [VendorID(v.vid) for v in policy.nat_t_versions]
    for _ in range(count):
        ip = source or str(ipaddress.IPv4Address(rng.randrange(0x01000000, 0xDF000000)))
        message = encode_message(Header(rng.randbytes(8), bytes(8), 0, ExchangeType.MAIN_MODE), payloads)
        yield Datagram(Endpoint(ip, rng.randrange(1024, 65536)), Endpoint(SERVER_IP, Port.IKE), IPProto.UDP, message)


def run_timers(peer: Peer, until: float, out: list) -> None:
    while (t := peer.next_timer()) is not None and t <= until:
        out.append(peer.on_timer(t))


# ------------------------------------------------------------------------------------------ floods

def test_a_flood_of_forged_mm1s_from_random_sources_is_bounded():
    """20,000 forged MM1s at 100 per virtual second: at most 1,000 SAs at any time and at most
    3 packets answered per forged MM1 on average, counting every later retransmission."""
    server = Peer("server", SERVER_IP, PeerPolicy(), rng=3)
    outs, most = [], 0
    for i, mm1 in enumerate(forged_mm1s(20_000)):
        now = i / 100
        run_timers(server, now, outs)
        outs.append(server.receive(mm1, now))
        most = max(most, len(server.sas))
    run_timers(server, 200 + 120, outs)       # long after every schedule would have ended
    answers = sum(len(o.datagrams) for o in outs)
    events = [e for o in outs for e in o.events]
    assert most <= 1000
    assert answers / 20_000 <= 3
    assert not [e for e in events if e.kind == "Retransmitted"]        # an unverified MM2 is sent once
    refused = [e for e in events if e.kind == "PacketDropped"]
    assert refused and {e.code for e in refused} == {Reason.HALF_OPEN_LIMIT}
    assert len(server.sas) == 0 and server.next_timer() is None           # all forgotten, timers too
    assert server._half_open_total == 0 and not server._half_open_by_ip
    assert len([e for e in events if e.kind == "HalfOpenForgotten"]) == answers


def test_half_open_limit_per_source_address():
    server = Peer("server", SERVER_IP, PeerPolicy(half_open_per_source=5), rng=3)
    outs = [server.receive(d, 0.0) for d in forged_mm1s(8, source="198.51.100.7")]
    assert [len(o.datagrams) for o in outs] == [1] * 5 + [0] * 3
    assert [e.code for o in outs[5:] for e in o.events] == [Reason.HALF_OPEN_SOURCE_LIMIT] * 3
    assert len(server.sas) == 5
    other = server.receive(next(forged_mm1s(1, seed=9)), 0.0)   # another source still gets in
    assert len(other.datagrams) == 1


def test_the_caps_hold_and_a_genuine_client_connects_once_the_flood_is_forgotten():
    pair = make_pair(client_nat=True, seed=4)
    policy = PeerPolicy(half_open_limit=20)
    pair.server = Peer("server", SERVER_IP, policy, rng=5)
    for d in forged_mm1s(50):
        pair.server.receive(d, 0.0)
    assert len(pair.server.sas) == 20
    blocked = pair.clone().connect()
    assert State.ESTABLISHED.value not in [r.state for r in blocked.client.isakmp_rows()]
    assert {e.code for e in blocked.of("PacketDropped", "server")} == {Reason.HALF_OPEN_LIMIT}
    pair.advance(policy.half_open_timeout + 1)
    assert not pair.server.sas and len(pair.of("HalfOpenForgotten", "server")) == 20
    pair.connect()
    assert [r.state for r in pair.client.isakmp_rows() + pair.server.isakmp_rows()] == ["ESTABLISHED"] * 2


def test_a_half_open_sa_whose_initiator_vanished_is_forgotten_with_its_timers():
    """The client goes silent after MM3: the responder retransmits MM4 on one schedule, gives up,
    and once idle for the half-open timeout forgets the SA (keeping why it failed for reports)."""
    pair = make_pair(client_nat=True, seed=6)
    seen = set()

    def silent_after_mm3(d):
        seen.add(d.label)
        return d.src.ip == pair.client.address and "MM4" in seen
    pair.drop = silent_after_mm3
    pair.connect()
    sa = next(iter(pair.server.sas.values()))
    assert sa.state is State.R_EXPECT_MM5 and len(sa.armed) == 2          # one retransmission, one expiry
    pair.advance(200)
    assert not pair.server.sas and pair.server.next_timer() is None
    gave_up = pair.of("GaveUp", "server")
    forgotten = pair.of("HalfOpenForgotten", "server")
    assert len(gave_up) == 1 and len(forgotten) == 1
    assert forgotten[0].time == pytest.approx(gave_up[0].time + PeerPolicy().half_open_timeout)
    assert [s.code for s in pair.server.ended] == [Reason.GAVE_UP]
    assert len([1 for _, d in pair.wire if d.label == "MM4"]) == PeerPolicy().retransmit_tries


# ------------------------------------------------------------------------------------------ spoofed copies

def spoof_first(pair, label: str):
    """A drop hook: the first time `label` travels, a copy from SPOOFED reaches the server first."""
    sent = []

    def hook(d):
        if d.label == label and not sent:
            routed = pair._route(d)
            sent.append(pair.server.receive(replace(routed[1], src=SPOOFED), pair.now))
        return False
    pair.drop = hook
    return sent


def tunnel_works(pair) -> bool:
    before = len(pair.of("DataReceived"))
    pair.take(pair.client.send_udp(L2TP_HELLO, pair.now))
    pair.take(pair.server.send_udp(L2TP_REPLY, pair.now))
    return len(pair.of("DataReceived")) == before + 2


def test_a_spoofed_copy_of_mm5_after_the_genuine_one_is_not_answered():
    pair = make_pair(client_nat=True, seed=7).connect()
    mm5 = next(d for _, d in pair.wire if d.label == "MM5")
    out = pair.server.receive(replace(mm5, src=SPOOFED), pair.now)
    assert out.datagrams == () and [e.code for e in out.events] == [Reason.DUPLICATE_ELSEWHERE]
    assert pair.server.isakmp_rows()[0].remote == f"{NAT_IP}:{Port.NAT_T + 61000}"
    assert tunnel_works(pair)


def test_a_spoofed_copy_of_mm5_that_overtakes_the_genuine_one_does_not_redirect_the_responder():
    """The copy arrives first, so MM6 goes to it; the genuine MM5 is then a repeat from the IP the
    exchange came from and is answered there, and the next new authenticated message (QM1) moves
    the SA back for good."""
    pair = make_pair(client_nat=True, seed=7)
    spoofed = spoof_first(pair, "MM5")
    pair.connect()
    assert [d.label for d in spoofed[0].datagrams] == ["MM6"]               # one answer to the copy
    assert [r.state for r in pair.client.isakmp_rows() + pair.server.isakmp_rows()] == ["ESTABLISHED"] * 2
    genuine = f"{NAT_IP}:{Port.NAT_T + 61000}"
    assert pair.server.isakmp_rows()[0].remote == genuine
    assert {r.remote for r in pair.server.ipsec_rows()} == {genuine}
    assert tunnel_works(pair)


def test_a_spoofed_copy_of_qm1_does_not_poison_nat_oa():
    """The responder's NAT-OAi names the initiator as phase 1 authenticated it, never the source of
    an unauthenticated copy; the checksum fix-up then works both ways (RFC 3948 §3.1.2)."""
    pair = make_pair(client_nat=True, seed=8)
    spoofed = spoof_first(pair, "QM1")
    pair.connect()
    assert [d.label for d in spoofed[0].datagrams] == ["QM2"]               # one answer to the copy
    client_child = pair.client.ipsec_rows()[0]
    assert client_child.nat_oa == (f"OAi' {NAT_IP}", f"OAr' {SERVER_IP}")
    assert pair.server.isakmp_rows()[0].remote == f"{NAT_IP}:{Port.NAT_T + 61000}"   # QM3 moved it back
    assert tunnel_works(pair)
    assert not [e for e in pair.of("PacketDropped") if e.code is Reason.CHECKSUM_AFTER_NAT]


# ------------------------------------------------------------------------------------------ a run's work

def test_a_tiny_keepalive_is_refused_with_a_clear_message():
    with pytest.raises(ConfigError) as exc:
        apply_settings(preset("keepalive-vs-timeout"), ["client.keepalive_interval=0.000001"])
    assert exc.value.field == "client.keepalive_interval"
    assert "at least 1 s" in str(exc.value)


def test_keepalives_that_would_flood_a_long_run_are_refused_up_front():
    with pytest.raises(ConfigError) as exc:
        apply_settings(preset("multi-client"), ["clients=1000", "duration=86400"])
    assert exc.value.field == "client.keepalive_interval" and "more than a run may carry" in str(exc.value)


def test_a_run_that_needs_more_work_than_allowed_stops_with_a_clear_message(monkeypatch):
    monkeypatch.setattr(scenario_module, "MAX_RUN_PACKETS", 10)
    with pytest.raises(RunTooLarge, match="more than 10 packets"):
        run(preset("client-behind-nat"))
    monkeypatch.setattr(scenario_module, "MAX_RUN_PACKETS", 250_000)
    monkeypatch.setattr(scenario_module, "MAX_RUN_EVENTS", 30)
    with pytest.raises(RunTooLarge, match="more than 30 events"):
        run(preset("client-behind-nat"))
