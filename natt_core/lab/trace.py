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
from ..net.records import fast_init_all


@dataclass(frozen=True)
class Change:
    name: str
    offset: int
    old: str
    new: str


@dataclass(frozen=True)
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
    of the step it shows. The source and its filler sit in two keys of the instance's dict, not in
    a tuple per record kept alive for the trace's life."""
    _later: tuple[str, ...] = ()

    def __getattr__(self, name: str):
        """Only asked for what the instance does not hold: a `_later` field not yet filled."""
        own = self.__dict__
        source, fill = own.get("_source"), own.get("_fill")
        if source is not None and fill is not None and name in self._later:
            own.update(zip(self._later, fill(source)))
            own.pop("_source", None)      # (another thread may have filled it the same way)
            own.pop("_fill", None)
        if name in own:
            return own[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __getstate__(self) -> dict:
        """Its fields in order, filled (pickle and deepcopy see the same record either way)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
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
        new, put = object.__new__, object.__setattr__
        for step, e, packet_id in zip(range(len(steps), len(steps) + len(events)), events, packet_ids):
            obj = new(cls)
            put(obj, "__dict__", {"step": step, "time": e.time, "peer": e.peer, "event": e.kind,
                                  "packet_id": packet_id, "_source": e, "_fill": fill})
            steps.append(obj)


@dataclass(frozen=True)
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
        object.__setattr__(obj, "__dict__", {"step": step, "time": time, "owner": owner, "table": table,
                                             "_source": source, "_fill": fill})
        return obj


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
