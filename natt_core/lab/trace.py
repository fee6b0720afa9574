"""The Trace: the one immutable, serializable record of a run, from which every view is drawn.

`steps` is the run in order: each step is a hop (a packet on one segment, before/after a NAT, with
the fields it changed, or dropped with a reason) or a peer event. NAT tables and SA databases are
snapshotted when they change, keyed by the step after which they hold, so a view can show "the
NAT table at this moment" for any step without re-running anything.
"""
from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, Callable
from ..net.records import fast_init_all, slot_setters

# The records below are slotted: a run keeps thousands of them, each one object (no `__dict__`
# beside it) for the collector to scan once the run is over.


@dataclass(frozen=True, slots=True)
class Change:
    name: str
    offset: int
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Hop:
    step: int
    time: float
    segment: str
    device: str
    direction: str
    src_host: str
    dst_host: str | None
    label: str
    packet: bytes
    before: bytes | None = None
    changes: tuple[Change, ...] = ()
    dropped: str | None = None
    drop_code: str | None = None   #: the code beside `dropped` (a natt_core.reasons.Reason value)
    note: str = ""
    packet_id: int = 0
    """Which packet this is: one id per datagram a host sent, kept on every segment and through
    every NAT rewrite, delay and reordering (0: not known, e.g. a trace saved before ids)."""
    copy_of: int | None = None
    """For a duplicate a link made: the id of the packet it copies (the copy has its own id)."""
    fragment_of: int | None = None
    """For an IPv4 fragment: the id of the packet it is a piece of."""
    fragment: tuple[int, ...] = ()
    """For an IPv4 fragment: (number, count)."""

    kind = "hop"


class _FilledLater:
    """A frozen record whose last fields (`_later`) are worked out from a source when first read:
    most runs (a benchmark, a thousand clients) are never shown, and a view reads the few records
    of the step it shows. The source and its filler sit in two slots until then (a `_later` slot
    not yet filled is unset, so reading it lands in `__getattr__`)."""
    __slots__ = ("_source", "_fill")
    _later: tuple[str, ...] = ()

    def __getattr__(self, name: str):
        """Only asked for what the instance does not hold: a `_later` field not yet filled."""
        if name in self._later:
            try:
                source, fill = self._source, self._fill
            except AttributeError:      # built whole (e.g. read from JSON): it lacks nothing
                pass
            else:
                if fill is not None:    # (None: another thread has just filled it)
                    for later, value in zip(self._later, fill(source)):
                        object.__setattr__(self, later, value)
                    object.__setattr__(self, "_fill", None)     # the filler, then the source can go
                    object.__setattr__(self, "_source", None)
                return object.__getattribute__(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


@dataclass(frozen=True, slots=True)
class PeerEvent(_FilledLater):
    step: int
    time: float
    peer: str
    event: str
    text: str
    fields: dict = field(default_factory=dict, compare=False, hash=False)
    packet_id: int | None = None
    """The packet the event belongs to: the one whose delivery caused it, or for a sending event
    (MessageSent, DataSent, ...) the one it sent; None when it concerns no packet (a timer)."""

    kind = "event"
    _later = ("text", "fields")

    @classmethod
    def add_later(cls, steps: list, events, packet_ids, fill) -> None:
        """Append one step per event (its time, peer and kind) to `steps`, numbered by its place; its
        `text` and `fields` are `fill(event)`, worked out when first read. One call per batch."""
        new = object.__new__
        s_step, s_time, s_peer, s_event, s_packet, s_source, s_fill = _EVENT_SETTERS
        for step, e, packet_id in zip(range(len(steps), len(steps) + len(events)), events, packet_ids):
            obj = new(cls)
            s_step(obj, step)
            s_time(obj, e.time)
            s_peer(obj, e.peer)
            s_event(obj, e.kind)
            s_packet(obj, packet_id)
            s_source(obj, e)
            s_fill(obj, fill)
            steps.append(obj)


@dataclass(frozen=True, slots=True)
class Snapshot(_FilledLater):
    """A table as it stood after `step`: a NAT's mappings or one peer's SA database."""
    step: int
    time: float
    owner: str
    table: str                      #: "nat", "isakmp", "ipsec" or "spd" (a server's policies)
    rows: tuple[dict, ...]

    _later = ("rows",)

    @classmethod
    def later(cls, step: int, time: float, owner: str, table: str, source, fill) -> "Snapshot":
        """A snapshot whose `rows` are `fill(source)[0]`, worked out when first read: `source`
        must not change afterwards (the engine's table rows are frozen and replaced, never edited)."""
        obj = object.__new__(cls)
        s_step, s_time, s_owner, s_table, s_source, s_fill = _SNAPSHOT_SETTERS
        s_step(obj, step)
        s_time(obj, time)
        s_owner(obj, owner)
        s_table(obj, table)
        s_source(obj, source)
        s_fill(obj, fill)
        return obj


#: the slots PeerEvent.add_later and Snapshot.later fill, in the order they fill them
_EVENT_SETTERS = slot_setters(PeerEvent, ("step", "time", "peer", "event", "packet_id", "_source", "_fill"))
_SNAPSHOT_SETTERS = slot_setters(Snapshot, ("step", "time", "owner", "table", "_source", "_fill"))


@dataclass(frozen=True)
class Trace:
    scenario: dict
    topology: tuple[dict, ...]
    steps: tuple[Hop | PeerEvent, ...]
    snapshots: tuple[Snapshot, ...]
    report: dict
    secrets: dict

    @cached_property
    def hops(self) -> tuple[Hop, ...]:
        return tuple(s for s in self.steps if isinstance(s, Hop))

    @cached_property
    def events(self) -> tuple[PeerEvent, ...]:
        return tuple(s for s in self.steps if isinstance(s, PeerEvent))

    def memo(self, key: str, build: Callable[["Trace"], Any]) -> Any:
        """`build(self)`, computed once per trace object and kept on it.

        A trace never changes, so whatever a view derives from it (the lesson steps, opened
        ciphertexts) can live as long as the trace does and no longer; a cache keyed by `id()`
        could hand one trace's steps to another that reused a freed trace's address."""
        memo = self.__dict__.get("_memo")
        if memo is None:
            memo = {}
            object.__setattr__(self, "_memo", memo)
        if key not in memo:
            memo[key] = build(self)
        return memo[key]

    def table_at(self, owner: str, table: str, step: int) -> tuple[dict, ...]:
        """The newest snapshot of `owner`'s table taken at or before `step`."""
        rows: tuple[dict, ...] = ()
        for snap in self.snapshots:
            if snap.step > step:
                break
            if snap.owner == owner and snap.table == table:
                rows = snap.rows
        return rows

    # ------------------------------------------------------------------ serialization
    def to_json(self) -> str:
        return json.dumps(_encode(asdict(self) | {"steps": [_step_dict(s) for s in self.steps]}), indent=None)

    @classmethod
    def from_json(cls, text: str) -> "Trace":
        raw = _decode(json.loads(text))
        steps = []
        for s in raw["steps"]:
            kind = s.pop("kind")
            if kind == "hop":
                s["changes"] = tuple(Change(**c) for c in s["changes"])
                s["fragment"] = tuple(s.get("fragment", ()))
                steps.append(Hop(**s))
            else:
                steps.append(PeerEvent(**s))
        snaps = tuple(Snapshot(**(s | {"rows": tuple(s["rows"])})) for s in raw["snapshots"])
        return cls(raw["scenario"], tuple(raw["topology"]), tuple(steps), snaps, raw["report"], raw["secrets"])


def _step_dict(s) -> dict:
    return asdict(s) | {"kind": s.kind}


def _encode(value: Any) -> Any:
    if isinstance(value, Enum):          # e.g. a profile's announced NAT-T versions in the scenario
        return value.value
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$b64"}:
            return base64.b64decode(value["$b64"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
