"""Packet identity: every datagram gets an id when it is sent, and every hop, copy, NAT rewrite,
drop and peer event of it carries that id, so the lesson steps are built from ids, not bytes.

The checks are independent of the grouping: a step's hops must form one path (each hop leaves
the device that took the previous one off its segment, and a NAT's `before` is the previous
hop's bytes), a copy must repeat bytes its original really had on that segment, and every event
must name a packet whose journey involves that peer.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import pytest

from natt_core.addressing import Datagram, Endpoint
from natt_core.lab.presets import PRESETS, preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_core.lab.trace import Trace
from natt_core.net.impair import Impairment
from natt_core.net.network import Network, event_owners
from natt_core.output import EMPTY, Event, Output
from natt_core.wire.numbers import IPProto
from natt_view.steps import journeys

from .conftest import run_preset

SENDING = ("MessageSent", "DataSent", "KeepaliveSent", "Retransmitted")


@lru_cache(maxsize=None)
def trace(*settings: str) -> Trace:
    return run(apply_settings(preset("client-behind-nat"), list(settings)))


def nat_names(t: Trace) -> set[str]:
    return {a["device"] for a in t.topology if a["kind"].startswith("nat")}


def check_every_step_is_one_packet(t: Trace) -> None:
    steps = journeys(t)
    assert sorted(h.step for j in steps for h in j.hops) == [h.step for h in t.hops]
    assert len({j.packet_id for j in steps}) == len(steps)
    duration = t.scenario["duration"]
    for j in steps:
        assert j.packet_id > 0 and {h.packet_id for h in j.hops} == {j.packet_id}
        assert len({h.copy_of for h in j.hops}) == 1
        for a, b in zip(j.hops, j.hops[1:]):
            assert b.device == a.dst_host and b.before == a.packet   # one path, one packet
        assert all(h.dropped is None for h in j.hops[:-1])
        if j.last.dst_host in nat_names(t) and not j.dropped:
            assert j.last.time > duration - 0.1, j.title()         # only a packet still in flight stops at a NAT
        if not j.is_copy:
            assert j.first.device == j.sender and j.first.before is None


def test_duplication_gives_one_step_per_packet_and_copies_say_so():
    t = trace("link.duplicate=0.5", "seed=1")
    check_every_step_is_one_packet(t)
    steps = journeys(t)
    first = steps[0]
    assert first.title() == "MM1: client → server"                 # not "MM1: client → nat"
    assert [h.segment for h in first.hops] == ["client-lan", "internet"]
    copies = [j for j in steps if j.is_copy]
    made = [h for h in t.hops if h.note.endswith("duplicate copy")]
    assert copies and len(copies) == len(made) == len({h.packet_id for h in made})
    by_id = {j.packet_id: j for j in steps}
    for c in copies:
        original = by_id[c.first.copy_of]
        assert c.copy_of == original.index < c.index
        assert c.first.note.endswith("duplicate copy") and c.label == original.label
        assert c.shown_label == f"{c.label} (copy)"
        assert f"(duplicate of step {original.index}, made on {c.first.segment})" in c.title()
        twin = [h for h in original.hops if h.segment == c.first.segment]
        assert twin and twin[0].packet == c.first.packet               # the same bytes on the same wire
    assert all("copy" not in j.title() and "copy" not in j.shown_label for j in steps if not j.is_copy)


def test_events_belong_to_the_packet_that_caused_or_carried_them():
    t = trace("link.duplicate=0.5", "seed=1")
    steps = journeys(t)
    assert all(e.packet_id is not None for e in t.events)
    for j in steps:
        for e in j.events:
            assert e.packet_id == j.packet_id
            if e.event in SENDING:
                assert e.peer == j.sender and not j.is_copy
                assert e.fields.get("label", j.label) == j.label
            else:                                                    # the delivery of this packet caused it
                assert e.peer == j.last.dst_host and not j.dropped
    assert sum(len(j.events) for j in steps) == len(t.events)
    sent = [e for e in t.events if e.event in SENDING]
    assert len(sent) == len([j for j in steps if not j.is_copy])      # one announcement per datagram sent


def test_reordered_packet_keeps_its_id_and_its_whole_journey():
    t = trace("clients=3", "link.reorder=0.5", "seed=1")
    check_every_step_is_one_packet(t)
    held = [h for h in t.hops if "reordered" in h.note]
    assert held
    steps = {j.packet_id: j for j in journeys(t)}
    for h in held:
        j = steps[h.packet_id]
        assert h in j.hops and not j.is_copy and "copy" not in j.title()
        assert j.dropped or j.last.dst_host not in nat_names(t) or j.last.time > t.scenario["duration"] - 0.1
    # a packet from one sender is overtaken by the sender's next one only when it was held back
    overtaken = []
    for sender in {j.sender for j in steps.values()}:
        sent = sorted(i for i, j in steps.items() if j.sender == sender)
        overtaken += [a for a, b in zip(sent, sent[1:]) if steps[a].last.step > steps[b].last.step]
    assert overtaken and all(any("reordered" in h.note for h in steps[a].hops) for a in overtaken)


def test_the_trace_keeps_ids_through_json():
    t = trace("link.duplicate=0.5", "seed=1")
    back = Trace.from_json(t.to_json())
    assert back.steps == t.steps
    assert [h.copy_of for h in back.hops] == [h.copy_of for h in t.hops]
    assert [e.packet_id for e in back.events] == [e.packet_id for e in t.events]
    assert [j.title() for j in journeys(back)] == [j.title() for j in journeys(t)]


def test_steps_are_kept_on_their_own_trace():
    a, b = trace(), trace("link.duplicate=0.5", "seed=1")
    assert journeys(a) is journeys(a)
    assert len(journeys(a)) != len(journeys(b))
    copy = Trace.from_json(a.to_json())
    assert journeys(copy) is not journeys(a) and journeys(copy) == journeys(a)


# ----------------------------------------------------------------- the network itself
@dataclass(frozen=True)
class MessageSent(Event):
    """Stands in for the engine's sending event (events are told apart by their kind)."""
    label: str = ""


class Talker:
    """Sends two labelled datagrams at t=0 and answers every datagram with one of its own."""

    def __init__(self, name: str, me: Endpoint, peer: Endpoint):
        self.name, self.me, self.peer, self.started = name, me, peer, False
        self.got: list[Datagram] = []

    def _send(self, label: str, now: float) -> Output:
        return Output((Datagram(self.me, self.peer, IPProto.UDP, label.encode(), label=label),),
                      (MessageSent(now, self.name, label),))

    def receive(self, d: Datagram, now: float) -> Output:
        self.got.append(d)
        return Output(events=(Event(now, self.name),)) + self._send(f"re:{d.label}", now)

    def on_timer(self, now: float) -> Output:
        self.started = True
        return self._send("a", now) + self._send("b", now)

    def next_timer(self) -> float | None:
        return None if self.started else 0.0


class Sink:
    def __init__(self, name: str):
        self.name = name

    def receive(self, d: Datagram, now: float) -> Output:
        return Output(events=(Event(now, self.name),))

    def on_timer(self, now: float) -> Output:
        return EMPTY

    def next_timer(self) -> float | None:
        return None


def test_network_ids_copies_and_event_owners():
    net = Network(seed=2)
    net.add_segment("lan", Impairment(duplicate=1.0, delay=0.01))
    net.add_host(Talker("t", Endpoint("10.0.0.1", 9), Endpoint("10.0.0.2", 9)), "lan", "10.0.0.1")
    net.add_host(Sink("s"), "lan", "10.0.0.2")
    hops, events = [], []
    net.on_hop.append(hops.append)
    net.on_events.append(lambda batch, ids: events.extend(
        (e.kind, e.peer, getattr(e, "label", ""), pid) for e, pid in zip(batch, ids)))
    net.run(1.0)
    # a and b get ids 1 and 2 when sent; each link copy gets the next free id and names its original
    assert [(h.label, h.packet_id, h.copy_of, h.note) for h in hops] == [
        ("a", 1, None, ""), ("b", 2, None, ""), ("a", 3, 1, "duplicate copy"), ("b", 4, 2, "duplicate copy")]
    assert events[:2] == [("MessageSent", "t", "a", 1), ("MessageSent", "t", "b", 2)]
    assert events[2:] == [("Event", "s", "", 1), ("Event", "s", "", 2), ("Event", "s", "", 3),
                          ("Event", "s", "", 4)]


def test_event_owners_pairs_each_sending_event_with_its_own_datagram():
    d = [Datagram(Endpoint("10.0.0.1", 1), Endpoint("10.0.0.2", 2), IPProto.UDP, b"", label=x)
         for x in ("MM2", "keepalive", "MM3")]
    out = Output(tuple(d), (Event(0, "p"), MessageSent(0, "p", "MM3"), MessageSent(0, "p", "MM9")))
    assert event_owners(out, 10, cause=7) == [7, 12, 7]   # MM3 skips the others; MM9 announces nothing here
    assert event_owners(Output(events=(Event(0, "p"),)), 1, cause=None) == [None]


def test_fast_records_equal_the_constructed_ones():
    from natt_core.lab.trace import Hop
    from natt_core.net.records import record
    full = (3, 0.5, "lan", "client", "outbound", "client", "nat", "MM1", b"\x45", None, (), None, "", 7, None)
    fast, slow = record(Hop, *full), Hop(*full)
    assert fast == slow and repr(fast) == repr(slow) and fast.kind == "hop"
    short = record(Hop, *full[:9])                                   # defaults come from the real constructor
    assert short == Hop(*full[:9]) and short.packet_id == 0 and short.copy_of is None


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_presets_trace_goes_through_json_and_back(name):
    """The app caches and downloads traces as JSON: a profile's enums in the scenario included."""
    t = run_preset(name)
    back = Trace.from_json(t.to_json())
    assert back.steps == t.steps and back.report == t.report
