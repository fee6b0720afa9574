"""Turns the network's callbacks into Trace steps and table snapshots, then the final Trace."""
from __future__ import annotations

from dataclasses import asdict, fields

from ..net.network import HopRecord, Network
from ..output import Event
from .report import build_report, build_secrets
from .trace import Change, Hop, PeerEvent, Snapshot, Trace


def _plain(value):
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class Recorder:
    def __init__(self, net: Network, hosts: dict, snapshots: bool = True):
        self.net, self.hosts, self.snapshots = net, hosts, snapshots
        self.steps: list = []
        self.snaps: list[Snapshot] = []
        self.events: list[Event] = []
        self._last: dict[tuple[str, str], tuple] = {}
        net.on_hop.append(self._hop)
        net.on_event_for.append(self._event)
        if snapshots:  # without snapshots nobody needs the table after every change (O(n) each)
            net.on_nat_change.append(self._nat)

    def _hop(self, r: HopRecord) -> None:
        changes = tuple(Change(c.name, c.offset, c.old, c.new) for c in r.changes)
        self.steps.append(Hop(len(self.steps), r.time, r.segment, r.device, r.direction, r.src_host, r.dst_host,
                              r.label, r.packet, r.before, changes, r.dropped, r.note, r.packet_id, r.copy_of))

    def _event(self, e: Event, packet_id: int | None) -> None:
        data = {f.name: _plain(getattr(e, f.name)) for f in fields(e) if f.name not in ("time", "peer")}
        data = {k: v for k, v in data.items() if not hasattr(v, "__dataclass_fields__")}
        self.steps.append(PeerEvent(len(self.steps), e.time, e.peer, e.kind, e.describe(), data, packet_id))
        self.events.append(e)
        if self.snapshots and e.peer in self.hosts:
            self._snap_peer(e.peer, e.time)

    def _snap_peer(self, name: str, time: float) -> None:
        peer = self.hosts[name].peer
        for table, rows in (("isakmp", peer.isakmp_rows()), ("ipsec", peer.ipsec_rows())):
            if self._last.get((name, table)) != rows:
                self._last[(name, table)] = rows
                self.snaps.append(Snapshot(len(self.steps) - 1, time, name, table, tuple(asdict(r) for r in rows)))

    def _nat(self, name: str, time: float, rows) -> None:
        self.snaps.append(Snapshot(len(self.steps) - 1, time, name, "nat", tuple(asdict(r) for r in rows)))

    def finish(self, scenario) -> Trace:
        end = self.net.clock.now
        last = len(self.steps) - 1
        for name in self.hosts:
            self._last.pop((name, "isakmp"), None), self._last.pop((name, "ipsec"), None)
            self._snap_peer(name, end)
        for att in self.net.topology():
            if att.kind == "nat-inside":
                rows = self.net.nat(att.device).table(end)
                self.snaps.append(Snapshot(last, end, att.device, "nat", tuple(asdict(r) for r in rows)))
        topology = tuple(asdict(a) for a in self.net.topology())
        report = build_report(scenario, self.hosts, self.events, self.steps, self.net)
        return Trace(_scenario_dict(scenario), topology, tuple(self.steps), tuple(self.snaps), report,
                     build_secrets(self.hosts))


def _scenario_dict(s) -> dict:
    d = asdict(s)
    for key in ("client", "server"):
        d[key].pop("extra", None)
    return d
