"""What the virtual network records and says: one HopRecord per packet per segment (the capture
points, grouped per segment for a capture file by `capture_points`), its events (a NAT forgetting
mappings, a host switched off) and the topology rows."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..output import Event
from ..reasons import Reason
from .nat import FieldChange, MappingRow, fmt_time
from .records import fast_init_all


@dataclass(frozen=True)
class HopRecord:
    """One packet leaving one segment: delivered to `dst_host`, or dropped with a reason."""
    time: float
    """When the packet left the segment (arrival at dst_host, or the moment it was dropped)."""
    segment: str
    device: str
    """Host or NAT that put the packet on this segment."""
    direction: str
    """'outbound' (towards or out of a NAT's inside), 'inbound' (the reverse), or 'local'."""
    packet: bytes
    before: bytes | None
    """For a NAT hop: the packet as it was on the previous segment."""
    changes: tuple[FieldChange, ...]
    dropped: str | None
    src_host: str
    """The host that originally sent the packet."""
    dst_host: str | None
    """Host or NAT that took the packet off this segment (None if it reached nobody)."""
    seq: int
    sent: float = 0.0
    """When `device` put the packet on the segment."""
    note: str = ""
    """Why a NAT helper chose the receiver, and link effects ('duplicate copy', 'held back ...')."""
    label: str = ""
    """What the sending host meant (Datagram.label: 'MM5', 'ESP-in-UDP', 'keepalive')."""
    drop_code: Reason | None = None
    """The code beside `dropped` (natt_core.reasons)."""
    packet_id: int = 0
    """The packet's identity: given when a host sends it, kept through NATs, delays and reordering."""
    copy_of: int | None = None
    """For a copy a link made (duplication): the id of the packet it copies; the copy has its own id."""
    fragment_of: int | None = None
    """For an IPv4 fragment: the id of the packet it is a piece of (its own id is its own)."""
    fragment: tuple[int, int] = ()
    """For an IPv4 fragment: (number, count), e.g. (2, 2) for the second of two."""


@dataclass(frozen=True)
class NatMappingExpired(Event):
    """A NAT forgot an idle mapping (RFC 4787 REQ-5): later replies to it are dropped."""
    row: MappingRow | None = None

    def describe(self) -> str:
        r = self.row
        if r is None:
            return f"{self.peer} removed a mapping"
        return (f"{self.peer} removed the idle {r.proto.upper()} mapping {r.inside} <-> {r.outside} "
                f"at t={fmt_time(self.time)}s")


@dataclass(frozen=True)
class NatMappingsFlushed(Event):
    """A NAT dropped every mapping traffic had made, at once (a reboot, a table flush)."""
    rows: tuple[MappingRow, ...] = ()

    def describe(self) -> str:
        return f"{self.peer} flushes its {len(self.rows)} mapping(s): the next packet out gets a new public port"


@dataclass(frozen=True)
class HostPower(Event):
    """A lab action: a host is switched off (nothing in or out, its timers stop) or on again."""
    on: bool = False

    def describe(self) -> str:
        return f"{self.peer} is switched {'on again: it remembers no SA and connects anew' if self.on else 'off'}"


@dataclass(frozen=True)
class Attachment:
    """One interface of a device on a segment, for topology diagrams."""
    kind: str  # "host" | "nat-inside" | "nat-outside"
    device: str
    segment: str
    address: str
    gateway: str | None


def capture_points(records: Iterable[HopRecord]) -> list[tuple[str, list[tuple[float, bytes, str | None]]]]:
    """Group hop records per segment (first-seen order) as (time, packet, comment) for pcapng.

    The comment names what the lab knows and a capture cannot: the NAT rewrite or the drop reason.
    """
    points: dict[str, list[tuple[float, bytes, str | None]]] = {}
    for rec in records:
        notes = [f"{rec.device} -> {rec.dst_host or '?'} ({rec.direction})"]
        if rec.changes:
            notes.append("rewritten: " + ", ".join([f"{c.name} {c.old} -> {c.new}" for c in rec.changes]))
        if rec.note:
            notes.append(rec.note)
        if rec.dropped:
            notes.append(f"dropped: {rec.dropped}")
        points.setdefault(rec.segment, []).append((rec.time, rec.packet, "; ".join(notes)))
    return list(points.items())


fast_init_all(globals())
