"""Lesson steps from a Trace: one step per packet journey, sender to receiver through every NAT.

The network gives every datagram an id when a host sends it and keeps it on every segment and
through every NAT rewrite, so a step is simply the hops of one packet id, plus the peer events the
trace says belong to that packet, plus the trace index at which its tables are shown. A duplicate
a link made is a packet of its own (`Hop.copy_of`) and so a step of its own; nothing is matched
by bytes. Everything here is computed from the trace alone: no engine is re-run.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from natt_core.crypto.primitives import CIPHERS
from natt_core.errors import NattError
from natt_core.ike.nat_t import vid_name
from natt_core.ipsec.esp_sa import integrity_spec
from natt_core.lab.trace import Hop, PeerEvent, Trace
from natt_core.net.network import SENDING_EVENTS
from natt_core.wire.dissect import Field, dissect

#: events that announce the packet about to be sent: shown with the journey they start
SENDER_EVENTS = SENDING_EVENTS
#: events the step view leaves out because the packet itself shows them
QUIET_EVENTS = ("MessageSent",)


@dataclass(frozen=True)
class Journey:
    """One packet from its sender to its receiver (or to the device that dropped it)."""
    index: int                       #: 1-based lesson step number
    hops: tuple[Hop, ...]            #: one per segment, in order
    events: tuple[PeerEvent, ...]    #: what the peers said about it, in trace order
    last_step: int                   #: trace index at which tables are shown
    copy_of: int | None = None
    """For a duplicate a link made: the step number of the journey of the packet it copies."""

    @property
    def label(self) -> str:
        return self.hops[0].label

    @property
    def packet_id(self) -> int:
        """The packet's id in the trace (every hop of the journey carries it)."""
        return self.hops[0].packet_id

    @property
    def is_copy(self) -> bool:
        return self.hops[0].copy_of is not None

    @property
    def fragment(self) -> tuple[int, ...]:
        """(number, count) for an IPv4 fragment (Hop.fragment), else ()."""
        return tuple(getattr(self.hops[0], "fragment", ()) or ())

    @property
    def shown_label(self) -> str:
        """The label as a lesson shows it: a duplicate says that it is one, a fragment which one."""
        label = f"{self.label} (copy)" if self.is_copy else self.label
        if self.fragment:
            label = f"{label}, IP fragment {self.fragment[0]} of {self.fragment[1]}"
        return label

    @property
    def sender(self) -> str:
        return self.hops[0].src_host

    @property
    def receiver(self) -> str:
        return self.hops[-1].dst_host or self.hops[-1].segment

    @property
    def dropped(self) -> str | None:
        return self.hops[-1].dropped

    @property
    def devices(self) -> tuple[str, ...]:
        """The NATs or routers the packet went through, in order."""
        return tuple(h.device for h in self.hops[1:])

    @property
    def first(self) -> Hop:
        return self.hops[0]

    @property
    def last(self) -> Hop:
        return self.hops[-1]

    @property
    def time(self) -> float:
        return self.hops[0].time

    def title(self) -> str:
        end = f"dropped at {self.last.dst_host or self.last.segment}" if self.dropped else self.receiver
        if self.is_copy:
            of = f" of step {self.copy_of}" if self.copy_of else ""
            return (f"{self.label} (duplicate{of}, made on {self.first.segment}): "
                    f"{self.sender} → {end}")
        if self.fragment:
            return f"{self.shown_label}: {self.sender} → {end}"
        return f"{self.label}: {self.sender} → {end}"


def journeys(trace: Trace) -> tuple[Journey, ...]:
    """The trace as lesson steps, computed once per trace object (kept on the trace itself)."""
    return trace.memo("natt_view.steps.journeys", _build)


def _build(trace: Trace) -> tuple[Journey, ...]:
    """Hops grouped by packet id, in the order each packet first appears; events by their packet."""
    chains: list[list[Hop]] = []
    by_id: dict[int, int] = {}
    for hop in trace.hops:
        index = by_id.get(hop.packet_id) if hop.packet_id else None
        if index is None:
            index = len(chains)
            chains.append([hop])
            if hop.packet_id:
                by_id[hop.packet_id] = index
        else:
            chains[index].append(hop)
    events: list[list[PeerEvent]] = [[] for _ in chains]
    lasts = [c[-1].step for c in chains]
    for e in trace.events:
        index = by_id.get(e.packet_id) if e.packet_id else None
        events[_unowned(e, lasts) if index is None else index].append(e)
    out = []
    for i, chain in enumerate(chains):
        last = max([chain[-1].step] + [e.step for e in events[i]])
        original = by_id.get(chain[0].copy_of) if chain[0].copy_of else None
        out.append(Journey(i + 1, tuple(chain), tuple(events[i]), last,
                           None if original is None else original + 1))
    return tuple(out)


def _unowned(e: PeerEvent, lasts: list[int]) -> int:
    """Where an event of no packet (a timer's, or a packet still in flight at the end) is shown:
    with the journey that ended last before it happened (the first journey if none had)."""
    best = 0
    for i, last in enumerate(lasts):
        if last < e.step and last >= lasts[best]:
            best = i
    return best


def visible_events(j: Journey) -> tuple[PeerEvent, ...]:
    return tuple(e for e in j.events if e.event not in QUIET_EVENTS)


def esp_sizes(trace: Trace) -> dict[int, tuple[int, int]]:
    """SPI -> (IV length, ICV length) from the run's secrets, so ESP can be split exactly."""
    sizes = {}
    for c in trace.secrets.get("child_sas", ()):
        try:
            iv = CIPHERS[c["cipher"]].block if c.get("cipher") else 0
            sizes[int(c["spi"], 16)] = (iv, integrity_spec(c["integrity"]).icv_len)
        except (KeyError, ValueError, NattError):
            continue
    return sizes


def fields_of(trace: Trace, packet: bytes) -> tuple[Field, ...]:
    """The dissection of one packet of this trace (DecodeError for bytes that do not parse)."""
    return _fields(packet, _sizes_key(trace))


def _sizes_key(trace: Trace) -> tuple:
    return trace.memo("natt_view.steps.esp_sizes", lambda t: tuple(sorted(esp_sizes(t).items())))


@lru_cache(maxsize=512)
def _fields(packet: bytes, sizes: tuple) -> tuple[Field, ...]:
    return dissect(packet, dict(sizes), vid_name=vid_name)


def changed_offsets(a: bytes, b: bytes) -> frozenset[int]:
    """Byte offsets where two versions of one packet differ (same length: NATs rewrite in place)."""
    return frozenset(i for i, (x, y) in enumerate(zip(a, b)) if x != y)


def journey_changes(j: Journey) -> frozenset[int]:
    """Every byte some NAT rewrote on the way, first segment against the last."""
    return changed_offsets(j.first.packet, j.last.packet)
