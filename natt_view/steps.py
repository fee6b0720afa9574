"""Lesson steps from a Trace: one step per packet journey, sender to receiver through every NAT.

The trace records a packet once per segment it crosses; a NAT's hop carries the bytes it received
(`before`), so the hops of one packet chain by `hop.before == previous.packet`. A step is that
chain, plus the peer events it caused, plus the trace index at which its tables are shown.
Everything here is computed from the trace alone: no engine is re-run.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

from natt_core.crypto.primitives import CIPHERS
from natt_core.errors import NattError
from natt_core.ike.nat_t import vid_name
from natt_core.ipsec.esp_sa import integrity_spec
from natt_core.lab.trace import Hop, PeerEvent, Trace
from natt_core.wire.dissect import Field, dissect

#: events that announce the packet about to be sent: shown with the journey they start
SENDER_EVENTS = ("MessageSent", "DataSent", "KeepaliveSent", "Retransmitted")
#: events the step view leaves out because the packet itself shows them
QUIET_EVENTS = ("MessageSent",)


@dataclass(frozen=True)
class Journey:
    """One packet from its sender to its receiver (or to the device that dropped it)."""
    index: int                       #: 1-based lesson step number
    hops: tuple[Hop, ...]            #: one per segment, in order
    events: tuple[PeerEvent, ...]    #: what the peers said about it, in trace order
    last_step: int                   #: trace index at which tables are shown

    @property
    def label(self) -> str:
        return self.hops[0].label

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
        return f"{self.label}: {self.sender} → {end}"


_CACHE: "OrderedDict[int, tuple[Trace, tuple[Journey, ...]]]" = OrderedDict()
_CACHE_SIZE = 32


def journeys(trace: Trace) -> tuple[Journey, ...]:
    """The trace as lesson steps; memoised per trace object (traces are immutable, not hashable)."""
    hit = _CACHE.get(id(trace))
    if hit is not None and hit[0] is trace:
        _CACHE.move_to_end(id(trace))
        return hit[1]
    result = _build(trace)
    _CACHE[id(trace)] = (trace, result)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def _build(trace: Trace) -> tuple[Journey, ...]:
    chains: list[list[Hop]] = []
    open_by_packet: dict[bytes, int] = {}
    for hop in trace.hops:
        index = open_by_packet.pop(hop.before, None) if hop.before is not None else None
        if index is None:
            chains.append([hop])
            index = len(chains) - 1
        else:
            chains[index].append(hop)
        if hop.dropped is None:
            open_by_packet[hop.packet] = index
    events: list[list[PeerEvent]] = [[] for _ in chains]
    firsts = [c[0].step for c in chains]
    lasts = [c[-1].step for c in chains]
    for e in trace.events:
        events[_owner(e, chains, firsts, lasts)].append(e)
    out = []
    for i, chain in enumerate(chains):
        last = max([chain[-1].step] + [e.step for e in events[i]])
        out.append(Journey(i + 1, tuple(chain), tuple(events[i]), last))
    return tuple(out)


def _sent_kind(e: PeerEvent):
    """Which packet labels a sender-side event announces."""
    if e.event == "KeepaliveSent":
        return lambda label: label == "keepalive"
    if e.event == "DataSent":
        return lambda label: label in ("ESP", "ESP-in-UDP", "AH")
    wanted = e.fields.get("label")
    return (lambda label: label == wanted) if wanted else (lambda label: True)


def _owner(e: PeerEvent, chains, firsts, lasts) -> int:
    """Sender-side events belong to the sender's next such packet; the rest to the packet just
    delivered (the one whose last hop is the newest before the event)."""
    if e.event in SENDER_EVENTS:
        matches = _sent_kind(e)
        for i, chain in enumerate(chains):
            if firsts[i] > e.step and chain[0].src_host == e.peer and matches(chain[0].label):
                return i
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
    return tuple(sorted(esp_sizes(trace).items()))


@lru_cache(maxsize=512)
def _fields(packet: bytes, sizes: tuple) -> tuple[Field, ...]:
    return dissect(packet, dict(sizes), vid_name=vid_name)


def changed_offsets(a: bytes, b: bytes) -> frozenset[int]:
    """Byte offsets where two versions of one packet differ (same length: NATs rewrite in place)."""
    return frozenset(i for i, (x, y) in enumerate(zip(a, b)) if x != y)


def journey_changes(j: Journey) -> frozenset[int]:
    """Every byte some NAT rewrote on the way, first segment against the last."""
    return changed_offsets(j.first.packet, j.last.packet)
