"""Turns the network's callbacks into Trace steps and table snapshots, then the final Trace."""
from __future__ import annotations

from copy import deepcopy
from dataclasses import fields
from enum import Enum
from typing import Callable
from operator import attrgetter

from ..net.network import HopRecord, Network
from ..output import Event
from .report import build_report, build_secrets
from ..net.records import builder
from .trace import Change, Hop, PeerEvent, Snapshot, Trace

_FLAT = (str, int, float, bool, type(None))
_FLAT_SET = frozenset(_FLAT)


def _plain(value):
    kind = type(value)
    if kind is bytes:
        return value.hex()
    if kind is tuple:
        return [v if type(v) in _FLAT else _plain(v) for v in value]
    if isinstance(value, Enum):   # a Reason code: its value, as JSON will read it back
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


_ROW = object()      #: what _field says of a nested row (a dataclass): PeerEvent.fields leaves it out
_UNSEEN = object()


def _field(value):
    """A non-flat event field as PeerEvent.fields keeps it, or _ROW."""
    return _ROW if _row_fields(type(value)) is not None else _plain(value)


_EVENT_FIELDS: dict[type, tuple[str, ...]] = {}
_ROW_FIELDS: dict[type, tuple[str, ...] | None] = {}   #: a dataclass's field names; None: any other type


_EVENT_GETTERS: dict[type, tuple[tuple[str, ...], object]] = {}
_ROW_GETTERS: dict[type, tuple[tuple[str, ...], object] | None] = {}   #: None: not a dataclass


def _getter(names: tuple[str, ...]):
    """One call reading the named attributes of an object as a tuple."""
    if len(names) > 1:
        return attrgetter(*names)
    if names:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)   # attrgetter of one name gives the value itself
    return lambda obj: ()


def _event_fields(cls: type) -> tuple[str, ...]:
    """The fields an event adds to `time` and `peer`, looked up once per event class."""
    names = _EVENT_FIELDS.get(cls)
    if names is None:
        names = _EVENT_FIELDS[cls] = tuple(f.name for f in fields(cls) if f.name not in ("time", "peer"))
    return names


def _event_getter(cls: type) -> tuple[tuple[str, ...], object]:
    """An event class's own field names and one getter reading all their values as a tuple."""
    names = _event_fields(cls)
    got = _EVENT_GETTERS[cls] = (names, _getter(names))
    return got


def _row_getter(kind: type) -> tuple[tuple[str, ...], object] | None:
    """A dataclass's field names and their getter, or None for any other type; asked once per type."""
    names = _row_fields(kind)
    got = _ROW_GETTERS[kind] = None if names is None else (names, _getter(names))
    return got


def _told(e: Event) -> tuple[str, dict]:
    """A step's `text` and `fields` from its event."""
    names, get = _EVENT_GETTERS.get(type(e)) or _event_getter(type(e))
    values = get(e)
    # most events hold only strings and numbers: their fields as they are, in C
    return e.describe(), dict(zip(names, values)) if _FLAT_SET.issuperset(map(type, values)) \
        else _event_data(names, values)


def _event_data(names: tuple[str, ...], values: tuple) -> dict:
    """PeerEvent.fields of an event with a value that is not flat: payload bytes as hex, Reason codes
    as their values, tuples as lists; a nested row (a dataclass) left out."""
    data = {}
    for name, value in zip(names, values):
        kind = type(value)
        if kind in _FLAT:
            data[name] = value
        elif kind is bytes:           # a payload
            data[name] = value.hex()
        elif kind is tuple and _FLAT_SET.issuperset(map(type, value)):   # payload names, addresses
            data[name] = list(value)
        elif isinstance(value, Enum):     # a Reason code
            data[name] = value.value
        elif (value := _field(value)) is not _ROW:
            data[name] = value
    return data


def _row_fields(kind: type) -> tuple[str, ...] | None:
    """Asked once per type (hasattr() of a type that lacks the attribute raises inside)."""
    names = _ROW_FIELDS.get(kind, _UNSEEN)
    if names is _UNSEEN:
        names = _ROW_FIELDS[kind] = tuple(f.name for f in fields(kind)) \
            if hasattr(kind, "__dataclass_fields__") else None
    return names


def _data(value):
    """What `dataclasses.asdict` makes of a value, with field names looked up once per class and
    flat values (str, numbers, None) taken as they are instead of deep-copied."""
    kind = type(value)
    if kind in _FLAT:
        return value
    got = _ROW_GETTERS.get(kind, _UNSEEN)
    if got is _UNSEEN:
        got = _row_getter(kind)
    if got is not None:
        names, get = got
        values = get(value)
        if _FLAT_SET.issuperset(map(type, values)):   # most rows: strings and numbers only, taken in C
            return dict(zip(names, values))
        return {name: v if type(v) in _FLAT else _data(v) for name, v in zip(names, values)}
    if kind is tuple or kind is list:
        return kind([v if type(v) in _FLAT else _data(v) for v in value])
    if kind is dict:
        return {_data(k): _data(v) for k, v in value.items()}
    if isinstance(value, Enum):   # deepcopy gives an Enum member back as it is
        return value
    return deepcopy(value)


def _rows(rows) -> tuple[dict, ...]:
    return tuple([_data(r) for r in rows])


def _snapshot_rows(rows) -> tuple[tuple[dict, ...]]:
    """A Snapshot's `rows`, from the engine's frozen row objects, when the snapshot is first read."""
    return (_rows(rows),)


_make_hop, _make_change = builder(Hop), builder(Change)


class _Tables:
    """One host's tables as they were last snapshotted (None: not yet)."""
    __slots__ = ("isakmp", "ipsec", "spd")

    def __init__(self):
        self.isakmp = self.ipsec = self.spd = None


class Recorder:
    def __init__(self, net: Network, hosts: dict, snapshots: bool = True,
                 limits: tuple[int, int] | None = None, over: Callable[[str, int], None] | None = None):
        """`limits`: at most so many hops and events in the run, past which `over(what, limit)` is
        called (it raises): the recorder sees every hop and every batch of events anyway, so it
        counts them instead of a second callback per packet."""
        self.net, self.hosts, self.snapshots = net, hosts, snapshots
        self.steps: list = []
        self.snaps: list[Snapshot] = []
        self.events: list[Event] = []
        self.hops = 0
        self.max_hops, self.max_events = limits or (float("inf"), float("inf"))
        self._over = over
        self._last: dict[str, _Tables] = {}   #: per host: the rows of each table last snapshotted
        self._changes: dict[tuple, Change] = {}
        net.on_hop_values.append(self._hop)
        net.on_events.append(self._events)
        if snapshots:  # without snapshots nobody needs the table after every change (O(n) each)
            net.on_nat_change.append(self._nat)

    def _hop(self, time, segment, device, direction, packet, before, changes, dropped, src_host, dst_host,
             seq, sent, note, label, drop_code, packet_id, copy_of, fragment_of, fragment) -> None:
        """A HopRecord's values in its field order (Network.on_hop_values; checked below the class):
        the Hop step is built from them without a HopRecord in between."""
        self.hops += 1
        if self.hops > self.max_hops:
            self._over("packets", self.max_hops)
        if changes:   # one Change per distinct rewrite: a NAT makes the same ones for every packet of a flow
            known, shown = self._changes, []
            for c in changes:
                key = (c.name, c.offset, c.old, c.new)
                change = known.get(key)
                if change is None:
                    change = known[key] = _make_change(*key)
                shown.append(change)
            changes = tuple(shown)
        steps = self.steps
        steps.append(_make_hop(len(steps), time, segment, device, direction, src_host, dst_host, label, packet,
                               before, changes, dropped, drop_code.value if drop_code else None, note, packet_id,
                               copy_of, fragment_of, fragment))

    def _events(self, events: tuple[Event, ...], packet_ids: list[int | None]) -> None:
        """One host's events of one output: the host's tables are the same after each of them, so
        they are snapshotted at the first."""
        self.events += events
        if len(self.events) > self.max_events:
            self._over("events", self.max_events)
        steps = self.steps
        first = len(steps)
        PeerEvent.add_later(steps, events, packet_ids, _told)     # text and fields when first read
        if self.snapshots:
            # asked at the first event of each run of one peer's events (nearly always the whole
            # batch); a peer asked again later in the batch finds its tables as it left them
            last = None
            for at, e in enumerate(events):
                name = e.peer
                if name != last:
                    last = name
                    if name in self.hosts:
                        self._snap_peer(name, e.time, first + at)

    def _snap_peer(self, name: str, time: float, step: int) -> None:
        """A snapshot of each of the host's tables that changed since its last one (the engine
        keeps an unchanged SA's row object, so an unchanged table compares equal at once). Asked
        after every batch of events: the tables are read one by one, without a list of them."""
        host = self.hosts[name]
        peer = host.peer
        last = self._last.get(name)
        if last is None:
            last = self._last[name] = _Tables()
        rows = peer.isakmp_rows()
        if last.isakmp != rows:
            last.isakmp = rows
            self._snap(rows, step, time, name, "isakmp")
        rows = peer.ipsec_rows()
        if last.ipsec != rows:
            last.ipsec = rows
            self._snap(rows, step, time, name, "ipsec")
        spd = host.spd
        if spd is not None:
            rows = spd.rows()        # host.spd_rows() of a host that has an SPD
            if last.spd != rows:
                last.spd = rows
                self._snap(rows, step, time, name, "spd")

    def _snap(self, rows: tuple, step: int, time: float, name: str, table: str) -> None:
        self.snaps.append(Snapshot.later(step, time, name, table, rows, _snapshot_rows))

    def _nat(self, name: str, time: float, rows) -> None:
        self.snaps.append(Snapshot.later(len(self.steps) - 1, time, name, "nat", rows, _snapshot_rows))

    def finish(self, scenario) -> Trace:
        end = self.net.clock.now
        last = len(self.steps) - 1
        for name in self.hosts:
            self._last.pop(name, None)      # every table once more, as it ended
            self._snap_peer(name, end, last)
        for att in self.net.topology():
            if att.kind == "nat-inside":
                rows = self.net.nat(att.device).table(end)
                self.snaps.append(Snapshot.later(last, end, att.device, "nat", rows, _snapshot_rows))
        topology = _rows(self.net.topology())
        report = build_report(scenario, self.hosts, self.events, self.steps, self.net)
        return Trace(_scenario_dict(scenario), topology, tuple(self.steps), tuple(self.snaps), report,
                     build_secrets(self.hosts))


# Recorder._hop takes a HopRecord's values by position: its parameters are the record's fields, in order
if Recorder._hop.__code__.co_varnames[1:Recorder._hop.__code__.co_argcount] != tuple(f.name for f in fields(HopRecord)):
    raise TypeError("Recorder._hop's parameters must follow HopRecord's fields")


def _scenario_dict(s) -> dict:
    d = _data(s)
    for key in ("client", "server"):
        d[key].pop("extra", None)
    return d
