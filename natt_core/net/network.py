"""The virtual network: segments, hosts and NAT devices, and the only deliverer of packets.

Hosts are sans-IO (they return an `Output`); the network encodes their datagrams as real IPv4
bytes (`natt_core.wire.ip`), carries them across segments with optional impairments, passes them
through NAT devices (`natt_core.net.nat`) and hands the decoded result to the receiving host, all
on a `VirtualClock`. Every packet leaving every segment becomes one `HopRecord` -- a capture point
per segment -- so a lesson can show both sides of a NAT (RFC 3715 §2, RFC 3947 §4: the float to
4500 is only visible if you look at both sides).

Routing is deliberately small: a destination on the same segment is delivered directly, a plain
router (NAT kind 'none') answers for the addresses behind it, anything else goes to the sender's
gateway. A NAT answers on its outside segment for its public address(es).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from socket import inet_aton, inet_ntoa
from typing import Callable, Protocol

from ..addressing import Datagram, check_ipv4
from ..errors import ConfigError, DecodeError
from ..output import Event, Output
from ..wire.icmp import ICMP_PROTO
from ..wire.ip import datagram_of, decode_datagram, encode_datagram
from .clock import Timer, VirtualClock
from .impair import PERFECT, Impairment
from ..reasons import Reason
from .nat import FieldChange, MappingRow, Nat, decode_drop_code
from .fragments import MAX_MTU, MIN_MTU, Reassembler, fragment
from .network_ip import PMTU_ENTRIES, IpLayer
from .network_records import Attachment, HopRecord, HostPower, NatMappingExpired, NatMappingsFlushed
from .records import builder, fast_init_all

_KINDS = ("host", "nat-inside", "nat-outside")   #: Attachment.kind
MAX_HOPS = 16          # a packet crossing more devices than this is in a routing loop
MAX_TIMER_SPINS = 1000  # on_timer calls at one instant before a host is declared stuck
LOST = "lost on segment"  # how every drop reason for a link loss begins
DEFAULT_MTU = 1500      # Ethernet
ROUTE_ENTRIES = 4096    # (sender, destination) next hops the network remembers beyond a segment


class Host(Protocol):
    """What the network needs from a participant (IKE peers, test doubles)."""
    name: str

    def receive(self, dgram: Datagram, now: float) -> Output: ...
    def on_timer(self, now: float) -> Output: ...
    def next_timer(self) -> float | None: ...
    # optional: close() -- the run is over (Network.close); a host parts its own reference cycles


@dataclass
class _Segment:
    name: str
    impairment: Impairment
    addresses: dict[str, "_Port"]
    mtu: int = DEFAULT_MTU

    def __post_init__(self) -> None:
        # a perfect link draws nothing from the rng: every packet arrives once, after this delay
        self.steady = self.impairment.delay if self.impairment.perfect else None
        # the same ports keyed by their 4 address bytes: a packet's destination is looked up as it
        # is on the wire, without making its text per hop
        self.packed: dict[bytes, _Port] = {}


@dataclass(eq=False)
class _Port:
    info: Attachment
    seg: _Segment
    host: Host | None = None
    nat: Nat | None = None
    peer: "_Port | None" = None  # the other interface of a NAT
    timer: Timer | None = None   # a host's one clock entry, at the time its next_timer() asks for


class Network(IpLayer):
    """Segments, hosts and NAT devices on one virtual clock; deterministic for a given seed."""

    def __init__(self, seed: int = 0):
        self.clock = VirtualClock()
        self.rng = random.Random(seed)
        self.on_hop: list[Callable[[HopRecord], None]] = []
        self.on_hop_values: list[Callable[..., None]] = []
        """Like on_hop, given the record's values positionally in HopRecord's field order instead
        of a HopRecord (a listener that keeps its own step need not have one built per hop)."""
        self.on_event: list[Callable[[Event], None]] = []
        self.on_events: list[Callable[[tuple[Event, ...], list[int | None]], None]] = []
        """Once per batch (one host output, or a NAT's expiries): the events and, for each, the id of
        the packet it belongs to (None: no packet)."""
        self.on_nat_change: list[Callable[[str, float, tuple[MappingRow, ...]], None]] = []
        self._segments: dict[str, _Segment] = {}
        self._hosts: dict[str, _Port] = {}
        self._nats: dict[str, tuple[_Port, _Port]] = {}
        self._routers: list[tuple[_Port, _Port]] = []   # NATs of kind 'none'
        self._route_cache: dict[tuple[str, str], _Port | None] = {}
        # (sender, destination's 4 bytes) -> _next_hop's answer, for what is not on the sender's segment
        self._hops: dict[tuple[_Port, bytes], tuple[_Port | None, str | None]] = {}
        self._spins: dict[str, tuple[float, int]] = {}
        self._nat_wake: dict[str, Timer] = {}
        self._nat_version: dict[str, int] = {}
        self._seq = 0
        self._packets = 0   # the last packet id given out
        self._off: set[str] = set()   # hosts switched off (lab actions)
        self._fragments: dict[int, tuple[int, int, int]] = {}   # piece id -> (original id, number, count)
        self._reassembly: dict[str, Reassembler] = {}           # per host: its kernel's reassembly queue
        self._pmtu: dict[str, dict[str, int]] = {}              # per host: destination -> path MTU learnt
        self._held: dict[tuple[str, bytes], tuple] = {}         # fragments a NAT holds for their first

    # ----------------------------------------------------------------- building the topology
    def add_segment(self, name: str, impairment: Impairment | None = None, mtu: int = DEFAULT_MTU) -> None:
        """A link; `mtu` is the largest IPv4 packet it carries (RFC 791: at least 68)."""
        if not isinstance(name, str) or not name or name in self._segments:
            raise ConfigError(f"segment name {name!r} must be a new non-empty string "
                              f"(have: {', '.join(self._segments) or 'none'})")
        if impairment is not None and not isinstance(impairment, Impairment):
            raise ConfigError("impairment must be an Impairment")
        if isinstance(mtu, bool) or not isinstance(mtu, int) or not MIN_MTU <= mtu <= MAX_MTU:
            raise ConfigError(f"MTU of segment {name!r} must be a whole number {MIN_MTU}..{MAX_MTU}, not {mtu!r}")
        self._segments[name] = _Segment(name, impairment or PERFECT, {}, mtu)

    def _segment(self, name: str) -> _Segment:
        try:
            return self._segments[name]
        except KeyError:
            raise ConfigError(f"unknown segment {name!r}; segments: "
                              f"{', '.join(self._segments) or 'none'}") from None

    def _attach(self, port: _Port) -> _Port:
        seg = port.seg
        if port.info.address in seg.addresses:
            other = seg.addresses[port.info.address].info.device
            raise ConfigError(f"address {port.info.address} is already used by {other} "
                              f"on segment {seg.name!r}")
        seg.addresses[port.info.address] = port
        seg.packed[inet_aton(port.info.address)] = port   # a canonical dotted quad (check_ipv4)
        self._route_cache.clear()
        self._hops.clear()
        return port

    def _new_device(self, name: object) -> None:
        if not isinstance(name, str) or not name or name in self._hosts or name in self._nats:
            raise ConfigError(f"device name {name!r} must be a new non-empty string")

    def add_host(self, host: Host, segment: str, address: str, gateway: str | None = None) -> None:
        """Attach a host; `gateway` is where it sends traffic for other segments."""
        self._new_device(getattr(host, "name", None))
        gw = check_ipv4(gateway) if gateway is not None else None
        port = self._attach(_Port(Attachment("host", host.name, segment, check_ipv4(address), gw),
                                  self._segment(segment), host=host))
        self._hosts[host.name] = port
        for inside, _ in self._nats.values():
            if inside.info.segment == segment:
                self._default_static_binding(inside.nat, port.info.address, self.clock.now)
        self._sync_timer(host.name)

    def add_nat(self, nat: Nat, inside_segment: str, inside_address: str, outside_segment: str,
                gateway: str | None = None) -> None:
        """Attach a NAT between two segments; its outside address(es) come from its config."""
        self._new_device(nat.name)
        if inside_segment == outside_segment:
            raise ConfigError("a NAT needs two different segments")
        self._segment(inside_segment), self._segment(outside_segment)
        gw = check_ipv4(gateway) if gateway is not None else None
        inside_address = check_ipv4(inside_address)
        outside_ips = nat.outside_addresses() or (nat.config.public_ip,)
        outs = [_Port(Attachment("nat-outside", nat.name, outside_segment, ip, gw),
                      self._segments[outside_segment], nat=nat) for ip in outside_ips]
        taken = [ip for ip in outside_ips if ip in self._segments[outside_segment].addresses]
        if taken or inside_address in self._segments[inside_segment].addresses:
            raise ConfigError(f"address {taken[0] if taken else inside_address} is already used "
                              f"on segment {outside_segment if taken else inside_segment!r}")
        inside = self._attach(_Port(Attachment("nat-inside", nat.name, inside_segment, inside_address, None),
                                    self._segments[inside_segment], nat=nat))
        for port in outs:
            port.peer = inside
            self._attach(port)
        inside.peer = outs[0]
        self._nats[nat.name] = (inside, outs[0])
        self._nat_version[nat.name] = nat.version
        if nat.config.kind == "none":
            self._routers.append((inside, outs[0]))
        for host in self._hosts.values():
            if host.info.segment == inside_segment:
                self._default_static_binding(nat, host.info.address, self.clock.now)
        self._schedule_expiry(nat)

    @staticmethod
    def _default_static_binding(nat: Nat, address: str, now: float) -> None:
        """A static NAT without a static_map maps the (single) inside host to its public_ip."""
        if nat.config.kind == "static" and not nat.config.static_map \
                and not any(r.kind == "static" for r in nat.table(now)):
            nat.bind_static(address)

    def topology(self) -> tuple[Attachment, ...]:
        return tuple([p.info for seg in self._segments.values() for p in seg.addresses.values()])

    def host(self, name: str) -> Host:
        return self._hosts[name].host

    def nat(self, name: str) -> Nat:
        return self._nats[name][0].nat

    def address_of(self, name: str) -> str:
        return self._hosts[name].info.address

    # ----------------------------------------------------------------- driving hosts
    def deliver(self, output: Output, sender: str, cause: int | None = None) -> None:
        """Record a host's events and put its datagrams on its segment, each with a new packet id.

        `cause` is the id of the packet whose delivery produced `output` (None for a timer); every
        event is told which packet it belongs to (see `event_owners`)."""
        port = self._hosts.get(sender)
        if port is None:
            raise ConfigError(f"unknown host {sender!r}; hosts: {', '.join(self._hosts) or 'none'}")
        self._send_out(port, output, cause)

    def _send_out(self, port: _Port, output: Output, cause: int | None) -> None:
        """`deliver` for the host on `port` (the network's own callers have its port at hand)."""
        sender = port.info.device
        dgrams = output.datagrams
        first = self._packets + 1
        self._packets += len(dgrams)
        if output.events:
            self._emit(output.events, event_owners(output, first, cause))
        learnt = self._pmtu.get(sender) if self._pmtu else None   # no lookup until an ICMP 3/4 taught anything
        for pid, dgram in enumerate(dgrams, first):
            try:
                packet = encode_datagram(dgram)
            except (ValueError, OverflowError) as exc:
                raise ConfigError(f"{sender} sent a datagram that cannot be encoded: {exc}") from None
            mtu = port.seg.mtu   # path_mtu(), without a call per datagram
            if learnt:
                mtu = min(mtu, learnt.get(dgram.dst.ip, mtu))
            if len(packet) <= mtu:
                self._transmit(port, packet, sender, None, (), 0, dgram.label, "", pid, None, True)
                continue
            # the sender's own IP layer fragments what does not fit, without DF (Linux, IP_PMTUDISC_WANT)
            for piece, ident in self._pieces(fragment(packet, mtu), pid):
                self._transmit(port, piece, sender, None, (), 0, dgram.label,
                               f"fragmented by {sender} for MTU {mtu}", ident, None)

    def _pieces(self, pieces: list[bytes], pid: int) -> list[tuple[bytes, int]]:
        """Give each fragment of packet `pid` an id of its own, remembering whose piece it is."""
        root = self._fragments.get(pid, (pid,))[0]
        out = []
        for number, piece in enumerate(pieces, 1):
            self._packets += 1
            self._fragments[self._packets] = (root, number, len(pieces))
            out.append((piece, self._packets))
        return out

    def _emit(self, events: tuple[Event, ...], packet_ids: list[int | None]) -> None:
        for cb in self.on_event:
            for event in events:
                cb(event)
        for batch in self.on_events:
            batch(events, packet_ids)

    def start(self, host_name: str, fn: Callable[[float], Output]) -> None:
        """Call fn(now) -- e.g. `peer.start` -- and deliver what it returns."""
        self.deliver(fn(self.clock.now), host_name)
        self._sync_timer(host_name)

    def run(self, until: float, max_steps: int = 10_000_000) -> None:
        """Advance virtual time to `until`, delivering packets and firing timers in order
        (ConfigError after `max_steps` clock callbacks: a run's work is bounded)."""
        self.clock.run_until(until, max_steps)

    def close(self) -> None:
        """The run is over: drop the pending timers and the callbacks, whose closures and bound
        methods point back at the network, unpair the NATs' ports, part each port from its
        segment and close each host that can be closed (an IKE peer's SAs point at each other), so
        reference counting frees the network and its hosts at once instead of leaving cycles to
        the garbage collector."""
        for port in self._hosts.values():
            close = getattr(port.host, "close", None)     # optional: test doubles have none
            if close is not None:
                close()
            port.timer = None
        self.clock = VirtualClock(self.clock.now)
        self._nat_wake.clear()
        for hooks in (self.on_hop, self.on_hop_values, self.on_event, self.on_events, self.on_nat_change):
            hooks.clear()
        for inside, outside in self._nats.values():
            inside.peer = outside.peer = None
        for segment in self._segments.values():
            for port in segment.addresses.values():
                port.seg = None                  # a port and its segment point at each other

    # ----------------------------------------------------------------- lab actions
    def flush_nat(self, name: str) -> None:
        """The NAT `name` forgets every mapping traffic made (see Nat.flush)."""
        nat, now = self.nat(name), self.clock.now
        rows = nat.flush(now)
        self._emit((NatMappingsFlushed(now, name, tuple(rows)),), [None])
        self._nat_changed(nat, now)

    def switch_off(self, name: str) -> None:
        """Host `name` is off: packets to it are dropped (HOST_DOWN), it sends nothing, its timers stop."""
        self._hosts[name]  # noqa: B018 (KeyError for an unknown host)
        self._off.add(name)
        self._emit((HostPower(self.clock.now, name, on=False),), [None])
        self._sync_timer(name)

    def switch_on(self, name: str, restart: Callable[[float], None]) -> None:
        """Host `name` is on again; `restart(now)` gives it its fresh state (a reboot)."""
        self._off.discard(name)
        restart(self.clock.now)
        self._emit((HostPower(self.clock.now, name, on=True),), [None])
        self._sync_timer(name)

    def _sync_timer(self, name: str) -> None:
        """Keep exactly one clock entry per host, at the time its next_timer() asks for."""
        port = self._hosts[name]
        t = None if name in self._off else port.host.next_timer()
        current = port.timer
        if t is not None:
            if type(t) is not float:
                t = float(t)
            now = self.clock.now
            if t < now:   # max(t, now) without a call: a timer already due fires now
                t = now
            if current is not None and not current.cancelled:
                if current.time == t:
                    return
                if t > current.time:    # the usual move (a host's send pushed a keepalive on): no new entry
                    self.clock.move_later(current, t)
                    return
        if current is not None:
            current.cancel()
            port.timer = None
        if t is not None:
            port.timer = self.clock.call_at(t, self._fire_timer, name)

    def _fire_timer(self, now: float, name: str) -> None:
        port = self._hosts[name]
        port.timer = None
        if name in self._off:
            return
        host = port.host
        due = host.next_timer()
        if due is not None and due <= now:
            last, count = self._spins.get(name, (None, 0))
            count = count + 1 if last == now else 1
            if count > MAX_TIMER_SPINS:
                raise ConfigError(f"host {name} keeps asking for a timer at t={now}: its on_timer "
                                  "never moves next_timer() forward")
            self._spins[name] = (now, count)
            self._send_out(port, host.on_timer(now), None)
        self._sync_timer(name)

    # ----------------------------------------------------------------- moving packets
    def _behind_router(self, segment: str, ip: str, depth: int = 0) -> _Port | None:
        """The plain router on `segment` whose inside (or beyond) holds `ip`."""
        for inside, outside in self._routers:
            if outside.info.segment != segment or depth > MAX_HOPS:
                continue
            inner = inside.info.segment
            if ip in self._segments[inner].addresses or self._behind_router(inner, ip, depth + 1):
                return outside
        return None

    def _next_hop(self, seg: _Segment, dst: str, sender: _Port) -> tuple[_Port | None, str | None]:
        port = seg.addresses.get(dst)
        if port is not None:
            return port, None
        key = (seg.name, dst)
        if key not in self._route_cache:
            self._route_cache[key] = self._behind_router(seg.name, dst)
        if self._route_cache[key] is not None:
            return self._route_cache[key], None
        gw = sender.info.gateway
        if gw is None:
            return None, (f"no route to {dst}: nothing on segment {seg.name!r} has that address "
                          f"and {sender.info.device} has no gateway")
        port = seg.addresses.get(gw)
        if port is None or port is sender:
            return None, f"gateway {gw} of {sender.info.device} is not reachable on segment {seg.name!r}"
        return port, None

    def _record(self, time: float, sent: float, sender: _Port, receiver: _Port | None, packet: bytes,
                before: bytes | None, changes: tuple[FieldChange, ...], dropped: str | None,
                src_host: str, note: str, label: str, pid: int, copy_of: int | None,
                drop_code: Reason | None = None) -> None:
        self._seq += 1
        piece = self._fragments.get(pid) if self._fragments else None   # no lookup while nothing was fragmented
        info = sender.info
        if receiver is None:
            direction, dst = _DIRECTIONS["host", info.kind], None
        else:
            direction, dst = _DIRECTIONS[receiver.info.kind, info.kind], receiver.info.device
        values = (time, info.segment, info.device, direction, packet, before, changes, dropped,
                  src_host, dst, self._seq, sent, note, label, drop_code, pid, copy_of,
                  piece[0] if piece else None, piece[1:] if piece else ())
        for cb in self.on_hop_values:
            cb(*values)
        if self.on_hop:
            rec = _hop_record(*values)
            for cb in self.on_hop:
                cb(rec)

    def _transmit(self, sender: _Port, packet: bytes, src_host: str, before: bytes | None,
                  changes: tuple[FieldChange, ...], hops: int, label: str, why: str,
                  pid: int, copy_of: int | None, well_formed: bool = False) -> None:
        """Put packet `pid` on the sender's segment; a duplicating link makes a copy with a new id.
        `well_formed`: the network encoded the packet whole, and any NAT on its way kept it so
        (nat.Translation.well_formed): the host it reaches gets it without a second check."""
        now = self.clock.now
        seg = sender.seg
        dst = packet[16:20]
        receiver, reason = seg.packed.get(dst), None   # on this segment: _next_hop's first answer
        if receiver is None:
            hop = self._hops.get((sender, dst))
            if hop is None:   # the answer depends on the topology alone
                hop = self._next_hop(seg, inet_ntoa(dst) if len(dst) == 4 else "?", sender)
                if len(self._hops) < ROUTE_ENTRIES:
                    self._hops[sender, dst] = hop
            receiver, reason = hop
        if receiver is None or hops > MAX_HOPS:
            # a loop ends where a real packet's TTL would run out
            code = Reason.NO_ROUTE if reason else Reason.TTL_EXPIRED
            reason = reason or f"routing loop: more than {MAX_HOPS} devices crossed"
            self._record(now, now, sender, None, packet, before, changes, reason, src_host, "", label,
                         pid, copy_of, code)
            return
        if sender.nat is not None and len(packet) > seg.mtu:   # a router's (a host's were fitted in deliver)
            self._too_big(seg, sender, packet, src_host, before, changes, hops, label, why, pid, copy_of)
            return
        if seg.steady is not None:   # a perfect link: the packet itself, with no note of the link's
            self.clock.post(now + seg.steady, self._arrive, (now, sender, receiver, packet, before, changes,
                                                             src_host, why, hops, label, pid, copy_of, well_formed))
            return
        plan = seg.impairment.plan(self.rng)
        if not plan:
            self._record(now, now, sender, receiver, packet, before, changes,
                         f"{LOST} {seg.name!r} ({seg.impairment.describe()})", src_host, "", label,
                         pid, copy_of, Reason.LINK_LOSS)
            return
        for k, (delay, note) in enumerate(plan):
            note = f"{why}; {note}" if why and note else why or note
            ident, original = pid, copy_of
            if k:   # the link's extra copy: a packet of its own
                self._packets += 1
                ident, original = self._packets, pid
                if pid in self._fragments:
                    self._fragments[ident] = self._fragments[pid]
            # a tuple on the clock's heap, no Timer: an arrival is never cancelled
            self.clock.post(now + delay, self._arrive, (now, sender, receiver, packet, before, changes,
                                                        src_host, note, hops, label, ident, original, well_formed))

    def _arrive(self, t: float, sent: float, sender: _Port, receiver: _Port, packet: bytes,
                before: bytes | None, changes: tuple[FieldChange, ...], src_host: str, note: str,
                hops: int, label: str, pid: int, copy_of: int | None, well_formed: bool) -> None:
        host = receiver.host
        if host is not None:
            name = receiver.info.device
            # every packet on a segment has a whole IPv4 header (the network built or rewrote it), so
            # is_fragment's test (MF or an offset, RFC 791 §3.1) is read in place, no call per hop
            if name in self._off or packet[6] & 0x3F or packet[7] or packet[9] == ICMP_PROTO:
                args = (t, sent, sender, receiver, packet, before, changes)
                if name in self._off:
                    self._record(*args, f"{name} is switched off", src_host, note, label, pid, copy_of,
                                 Reason.HOST_DOWN)
                    return
                if self._ip_layer(args, src_host, note, label, pid, copy_of):
                    return
            if well_formed:   # the network's own encoding: read, not checked again
                dgram = datagram_of(packet)
            else:
                try:
                    dgram = decode_datagram(packet)
                except DecodeError as exc:
                    self._record(t, sent, sender, receiver, packet, before, changes,
                                 f"{name} cannot decode the packet: {exc}", src_host, note, label, pid, copy_of,
                                 decode_drop_code(packet))
                    return
            self._record(t, sent, sender, receiver, packet, before, changes, None, src_host, note, label, pid,
                         copy_of)
            self._send_out(receiver, host.receive(dgram, t), pid)
            self._sync_timer(name)
            return
        args = (t, sent, sender, receiver, packet, before, changes)
        nat = receiver.nat
        outbound = receiver.info.kind == "nat-inside"   # else it came to an outside address
        tr = nat.outbound(packet, t) if outbound else nat.inbound(packet, t)
        held = tr.packet is None and tr.drop_reason is None
        said = tr.note if held else ""
        self._record(*args, tr.drop_reason, src_host, f"{note}; {said}" if note and said else note or said,
                     label, pid, copy_of, tr.drop_code)
        name = nat.name
        # the NAT expired what was due when it translated: unless its table changed or its wake-up
        # already went, _nat_changed would find nothing to say and nothing to reschedule
        if nat.version != self._nat_version[name] or name not in self._nat_wake:
            self._nat_changed(nat, t)
        if held:     # a fragment waiting for its first (net/nat_fragments.py): remembered until released
            if len(self._held) >= 4 * PMTU_ENTRIES:
                del self._held[next(iter(self._held))]
            self._held[(name, packet)] = (src_host, hops, label, pid, copy_of)
        if tr.packet is not None:
            self._transmit(receiver.peer, tr.packet, src_host, packet, tr.changes, hops + 1, label, tr.note,
                           pid, copy_of, well_formed and tr.well_formed)
        for before, later in tr.released:
            kept = self._held.pop((name, before), None)
            if kept is not None and later.packet is not None:
                src, h, lab, ident, original = kept
                self._transmit(receiver.peer, later.packet, src, before, later.changes, h + 1, lab,
                               "held until its first fragment came", ident, original)

    # ----------------------------------------------------------------- NAT tables on the clock
    def _nat_changed(self, nat: Nat, now: float) -> None:
        expired = nat.expire(now)
        if expired:
            self._emit(tuple([NatMappingExpired(now, nat.name, row) for row in expired]), [None] * len(expired))
        if nat.version != self._nat_version[nat.name]:
            self._nat_version[nat.name] = nat.version
            if self.on_nat_change:
                rows = nat.table(now)
                for cb in self.on_nat_change:
                    cb(nat.name, now, rows)
        self._schedule_expiry(nat)

    def _schedule_expiry(self, nat: Nat) -> None:
        t = nat.next_expiry()
        current = self._nat_wake.get(nat.name)
        if t is None or (current is not None and not current.cancelled and current.time <= t):
            return
        if current is not None:
            current.cancel()
        self._nat_wake[nat.name] = self.clock.call_at(max(t, self.clock.now), self._nat_tick, nat)

    def _nat_tick(self, now: float, nat: Nat) -> None:
        self._nat_wake.pop(nat.name, None)
        self._nat_changed(nat, now)


#: events in which a host announces a datagram it sends: one per datagram, in sending order
SENDING_EVENTS = ("MessageSent", "DataSent", "KeepaliveSent", "Retransmitted")


def event_owners(output: Output, first_id: int, cause: int | None) -> list[int | None]:
    """The packet each event of `output` belongs to, whose datagrams get ids from `first_id` on.

    A sending event belongs to the datagram it announces: hosts emit one per datagram, in the
    order they send, so the n-th sending event goes with the next datagram it can describe. Any
    other event belongs to `cause`, the packet whose delivery produced the output (None when a
    timer did)."""
    events, dgrams, nxt = output.events, output.datagrams, 0
    owners: list[int | None] = [cause] * len(events)
    if not dgrams:   # nothing sent: every event belongs to the cause
        return owners
    count = len(dgrams)
    for at, event in enumerate(events):
        kind = type(event).__name__   # Event.kind, without a property call per event
        if kind not in SENDING_EVENTS:
            continue
        # the label of the datagram it can describe: a keepalive's exactly; any other event's own
        # label, a datagram that label begins ("MM5 (fragment 1/2)"), or any when it has none
        keepalive = kind == "KeepaliveSent"
        # DataSent names no label: it describes whichever datagram comes next
        wanted = "keepalive" if keepalive else None if kind == "DataSent" else event.label
        for i in range(nxt, count):
            label = dgrams[i].label
            if label == wanted or not keepalive and (wanted is None or label.startswith(f"{wanted} (")):
                owners[at], nxt = first_id + i, i + 1
                break
    return owners


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
_hop_record = builder(HopRecord)   # every field in order, one call: a HopRecord per packet per segment


def _direction_of(receiver: str, sender: str) -> str:
    """Towards or out of a NAT's outside = 'outbound'; the reverse = 'inbound' (by interface kinds)."""
    if receiver == "nat-inside" or (receiver == "host" and sender == "nat-outside"):
        return "outbound"
    if receiver == "nat-outside" or (receiver == "host" and sender == "nat-inside"):
        return "inbound"
    return "local"


#: (receiver kind, sender kind) -> direction, for every pair of interface kinds (a receiver of None is "host")
_DIRECTIONS = {(r, s): _direction_of(r, s) for r in _KINDS for s in _KINDS}
