"""NAT devices that rewrite real IPv4 packets (RFC 3022, RFC 4787, RFC 3715 §2).

A `Nat` gets the bytes a wire would carry and returns the bytes it would send on, plus every field
it changed, so a lesson can point at the exact bytes (addresses, ports and both checksums, fixed
with the RFC 1624 incremental update). It models what breaks IPsec:

* NAPT multiplexes on ports; ESP (IP protocol 50) and AH (51) have none (RFC 3715 §2.2 (i)), so
  inbound ESP needs a guess: one fixed inside host, an SPI guess, or an "IPsec helper".
* Mappings time out when idle (RFC 3715 §2.2 (j), RFC 4787 REQ-5/REQ-6), which is why NAT-T sends
  keepalives; filtering (RFC 4787 §5) decides who may answer through a mapping.
* "IPsec helpers" seen in home and office routers break the second client behind the same NAT:

  - 'static-port-500' never translates source port 500 (RFC 3715 §2.3 (n)), for IKE peers that
    insist on it. A state is then (public:500, remote ip, remote port) and nothing else, so while
    one inside host holds it, a second inside host's IKE from port 500 to the same peer is
    *refused* -- dropped at the NAT with a reason -- until the first host's state idles out. This
    is what such routers do (a static-port outbound rule allows one IKE negotiation per peer at
    a time; later attempts fail until the earlier state expires, about a minute); the other
    conceivable behaviour, handing the peer's replies to the newest host, would let both
    clients recover by retransmission and teach nothing true. NAT-T does not escape it: the
    float to 4500 happens only at MM5, after MM1-MM4 have crossed port 500.
  - 'esp-last-client' sends all inbound ESP (IP protocol 50) from a peer to the inside host that
    last spoke IKE or ESP to it, whatever the SPI: when a second client connects, the first
    client's ESP goes to the second. UDP-encapsulated ESP (RFC 3948) travels in ordinary UDP
    4500 mappings with a port per client, so NAT-T peers escape this helper once they float.

TCP is translated like UDP (ports and a pseudo-header checksum) with its own idle timeout; there
is no TCP state machine. Other protocols pass a plain router or a 1:1 NAT and are dropped by NAPT.
"""
from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field, replace

from ..addressing import Endpoint, check_ipv4
from ..errors import ConfigError, DecodeError
from ..reasons import Reason
from ..wire.ip import plain_udp
from ..wire.numbers import IPProto, Port, label
from .nat_config import BEHAVIOURS, FRAGMENT_MODES, HELPERS, IPSEC_MODES, KINDS, PORT_ALLOCATIONS, Forward, NatConfig
from .records import builder, fast_init_all
from .nat_fragments import NatFragments
from .rewrite import FieldChange, PacketFields, Rewrite, parse_packet, rewrite

_FLOW_KINDS = ("dynamic", "forward")   #: mappings whose UDP flows a NAPT remembers (see Nat._flows)
PROTO_NAMES = {IPProto.UDP: "udp", IPProto.TCP: "tcp", IPProto.ESP: "esp", IPProto.AH: "ah"}
RECENT_LIMIT = 4096  # expired/stolen mappings remembered for drop reasons
FLOW_ENTRIES = 4096  # UDP flows a NAPT remembers the translation of, per direction


def fmt_time(t: float) -> str:
    """35.0 -> '35.0', 35.25 -> '35.25' (milliseconds at most)."""
    text = f"{t:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass(frozen=True)
class MappingRow:
    """One line of the NAT table as a lesson shows it."""
    proto: str          # "udp" | "tcp" | "esp" | "ah" | "ip" (1:1 static)
    inside: str
    outside: str
    remote: str | None  # remote the mapping is bound to (address-/port-dependent mapping, ESP)
    expires: float | None
    kind: str           # "dynamic" | "forward" | "static" | "esp-spi" | "esp-last-client" | "static-port-500"
    spi: int | None = None
    allowed: tuple[str, ...] = ()
    """Remotes the filter lets back in (empty with endpoint-independent filtering)."""


@dataclass(frozen=True)
class Translation:
    packet: bytes | None
    changes: tuple[FieldChange, ...] = ()
    drop_reason: str | None = None
    mapping: MappingRow | None = None
    note: str = ""
    """Why the device chose this inside host when the packet itself could not say (helpers)."""
    drop_code: Reason | None = None
    """The code beside `drop_reason` (natt_core.reasons)."""
    released: tuple = ()
    """Fragments held back until this one (their first) came: (bytes as held, Translation) each."""
    well_formed: bool = field(default=False, compare=False, repr=False)
    """`packet` is the packet given, or it with addresses, ports and checksums rewritten by RFC 1624
    (net/rewrite.py): well-formed when the packet given was, so the network need not check it again."""


class _Through(Translation):
    """A Translation through a mapping whose table row is made when first read: the network never
    reads it, and each packet moves the mapping's expiry, so an eager row would be a new object per
    packet. `mapping` holds (the _Mapping, its expiry then, its number of remotes then) until read;
    the row shows those, as an eager one would have."""
    __qualname__ = "Translation"   # the same repr as the eager one

    @property
    def mapping(self) -> MappingRow:
        own = self.__dict__
        got = own["mapping"]
        if type(got) is tuple:
            m, expires, remotes = got
            row = m.row()
            if row.expires != expires or len(row.allowed) != remotes:   # the mapping moved on since
                row = _mapping_row(row.proto, row.inside, row.outside, row.remote, expires, row.kind, row.spi,
                                   row.allowed[:remotes])
            own["mapping"] = got = row
        return got


def _drop(reason: str, code: Reason, mapping: MappingRow | None = None) -> Translation:
    return Translation(None, (), reason, mapping, drop_code=code)


def decode_drop_code(packet: bytes) -> Reason:
    """Why bytes that do not parse are dropped: a fragment (MF set or an offset, RFC 791 §3.1), or malformed."""
    if len(packet) >= 8 and int.from_bytes(packet[6:8], "big") & 0x3FFF:
        return Reason.FRAGMENT_DROPPED
    return Reason.MALFORMED


@dataclass(eq=False)
class _Mapping:
    id: int
    proto: int
    inside: Endpoint
    outside: Endpoint
    kind: str
    remote: str | None = None
    timeout: float | None = None
    expires: float | None = None
    in_key: tuple | None = None
    out_key: tuple | None = None
    spi: int | None = None
    permits: dict = field(default_factory=dict)  # insertion-ordered set of filter keys
    alive: bool = True
    _row: MappingRow | None = None

    _allowed: tuple[str, ...] | None = None
    _shown: tuple[str, str] | None = None
    """inside and outside as the table shows them: they never change, the expiry does at every packet"""
    rewrites: dict = field(default_factory=dict, repr=False)
    """"source" / "destination" -> the Rewrite its packets had last: the next packet of the flow
    changes the same bytes to the same values (net/rewrite.py)"""

    def refresh(self, now: float) -> None:
        if self.timeout is not None:
            self.expires = now + self.timeout
            self._row = None

    def permit(self, key: object) -> None:
        if key is not None and key not in self.permits:
            self.permits[key] = None
            self._row = self._allowed = None

    def row(self) -> MappingRow:
        """The table line; rebuilt after a refresh (the expiry moved), the rest kept."""
        if self._row is None:
            if self._allowed is None:
                self._allowed = tuple([k if isinstance(k, str) else f"{k[0]}:{k[1]}" for k in self.permits])
            shown = self._shown
            if shown is None:
                shown = self._shown = (str(self.inside), str(self.outside))
            row = self._row = _mapping_row(PROTO_NAMES.get(self.proto, "ip"), shown[0], shown[1], self.remote,
                                           self.expires, self.kind, self.spi, self._allowed)
            return row
        return self._row


class Nat(NatFragments):
    """One NAT device: `outbound` (inside -> outside) and `inbound` translate or drop packets."""

    def __init__(self, config: NatConfig, rng: random.Random):
        if not isinstance(config, NatConfig):
            raise ConfigError(f"Nat needs a NatConfig, got {type(config).__name__}")
        self.config = config
        self.name = config.name
        self.rng = rng
        self.version = 0
        """Bumped whenever a mapping appears, disappears or changes owner."""
        self._ids = 0
        self._live: dict[int, _Mapping] = {}
        self._inside: dict[tuple, _Mapping] = {}
        self._outside: dict[tuple, _Mapping] = {}
        self._recent: dict[tuple, tuple[str, Reason]] = {}  #: out_key -> (why it went, its code)
        self._heap: list[tuple[float, int, _Mapping]] = []
        self._pending: list[MappingRow] = []
        self._next_port: dict[int, int] = {}
        self._last_sender: dict[tuple[int, str], tuple[str, float]] = {}
        self._static_in: dict[str, str] = {}
        self._static_out: dict[str, str] = {}
        self._static_rows: dict[str, _Mapping] = {}
        # per direction, a UDP flow's addresses and ports as on the wire (bytes 12..23) -> (its mapping,
        # its Rewrite): while that mapping lives, the lookups find it again for every packet of the flow
        # (a live mapping's keys are never given to another), so a later packet is translated as the
        # first was without being parsed and looked up again
        self._flows: tuple[dict, dict] = ({}, {})   #: (inbound, outbound)
        self._last_rewrite: tuple[_Mapping, Rewrite] | None = None   #: what _rewrite used last, for _flows
        NatFragments.__init__(self)
        for f in config.forwards:
            outside = Endpoint(config.public_ip, f.public_port)
            self._add(_Mapping(0, f.proto, f.inside, outside, "forward",
                               in_key=(f.proto, f.inside.ip, f.inside.port),
                               out_key=(f.proto, f.public_port)))
        for inside_ip, public_ip in config.static_map:
            self.bind_static(inside_ip, public_ip)

    # ----------------------------------------------------------------- table bookkeeping
    def _add(self, m: _Mapping, now: float | None = None) -> _Mapping:
        self._ids += 1
        m.id = self._ids
        self._live[m.id] = m
        if m.in_key is not None:
            self._inside[m.in_key] = m
        if m.out_key is not None:
            self._outside[m.out_key] = m
            self._recent.pop(m.out_key, None)
        if m.timeout is not None and now is not None:
            m.refresh(now)
            heapq.heappush(self._heap, (m.expires, m.id, m))
        self.version += 1
        return m

    def _remove(self, m: _Mapping, note: str, code: Reason = Reason.NAT_NO_MAPPING) -> None:
        m.alive = False
        del self._live[m.id]
        if m.in_key is not None and self._inside.get(m.in_key) is m:
            del self._inside[m.in_key]
        if m.out_key is not None and self._outside.get(m.out_key) is m:
            del self._outside[m.out_key]
            self._recent[m.out_key] = (note, code)
            if len(self._recent) > RECENT_LIMIT:
                del self._recent[next(iter(self._recent))]
        self.version += 1

    def _expire_due(self, now: float) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, _, m = heapq.heappop(heap)
            if not m.alive or m.expires is None:
                continue
            if m.expires <= now:
                self._remove(m, f"mapping for {m.inside} expired at t={fmt_time(m.expires)}s",
                             Reason.NAT_MAPPING_EXPIRED)
                self._pending.append(m.row())
            else:  # refreshed since it was queued: queue it again at its real expiry
                heapq.heappush(heap, (m.expires, m.id, m))

    def flush(self, now: float) -> list[MappingRow]:
        """Forget every mapping made by traffic at once, as a reboot or a "clear NAT table" does;
        forwards and 1:1 pairs are configuration and stay. Later packets for them are dropped with
        NAT_MAPPING_FLUSHED, and the next packet out gets a new mapping (usually a new port)."""
        gone = [m for m in self._live.values() if m.kind not in ("forward", "static")]
        for m in gone:
            self._remove(m, f"the NAT flushed its mappings at t={fmt_time(now)}s", Reason.NAT_MAPPING_FLUSHED)
        self._last_sender.clear()
        return [m.row() for m in gone]

    def next_expiry(self) -> float | None:
        """Earliest time a mapping may expire (may be early after a refresh; never late)."""
        while self._heap and not self._heap[0][2].alive:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def expire(self, now: float) -> list[MappingRow]:
        """Remove and return mappings that expired by `now` (including ones found lazily)."""
        self._expire_due(now)
        out, self._pending = self._pending, []
        return out

    def table(self, now: float) -> tuple[MappingRow, ...]:
        """Live mappings in the order they were created."""
        self._expire_due(now)
        return tuple([m.row() for m in self._live.values()])

    def outside_addresses(self) -> tuple[str, ...]:
        """Addresses this device answers for on its outside segment."""
        if self.config.kind == "none":
            return ()
        extra = tuple([p for p in self._static_in if p != self.config.public_ip])
        return (self.config.public_ip,) + extra

    def bind_static(self, inside_ip: str, public_ip: str | None = None) -> None:
        """Add a 1:1 pair (kind 'static'); without a static_map the first inside host gets public_ip."""
        inside_ip, public_ip = check_ipv4(inside_ip), check_ipv4(public_ip or self.config.public_ip)
        if self.config.kind != "static":
            raise ConfigError("bind_static needs kind 'static'")
        if inside_ip in self._static_out or public_ip in self._static_in:
            raise ConfigError(f"{inside_ip} or {public_ip} is already in a static pair")
        self._static_out[inside_ip], self._static_in[public_ip] = public_ip, inside_ip
        self._static_rows[inside_ip] = self._add(
            _Mapping(0, 0, Endpoint(inside_ip), Endpoint(public_ip), "static"))

    # ----------------------------------------------------------------- entry points
    def outbound(self, packet: bytes, now: float) -> Translation:
        """A packet from inside, on its way out."""
        return self._translate(packet, now, True)

    def inbound(self, packet: bytes, now: float) -> Translation:
        """A packet from outside, addressed to one of this device's outside addresses."""
        return self._translate(packet, now, False)

    def _translate(self, packet: bytes, now: float, outbound: bool) -> Translation:
        if self._heap and self._heap[0][0] <= now:
            self._expire_due(now)
        if len(packet) >= 8 and (packet[6] & 0x3F or packet[7]):   # is_fragment, read in place: every packet
            return self._fragment(packet, now, outbound)
        flows = self._flows[outbound]
        flow = flows.get(packet[12:24])
        if flow is not None and flow[0].alive and plain_udp(packet):
            # what _napt_out/_napt_in decided for the flow's first packet: the same mapping, refreshed
            # as they refresh it, and the same bytes to splice
            m, plan = flow
            if m.timeout is not None and (outbound or self.config.inbound_refresh):
                m.expires, m._row = now + m.timeout, None
            out, changes = plan.apply(packet)
            return _through(out, changes, None, (m, m.expires, len(m.permits)), "", None, (), True)
        try:
            p = parse_packet(packet)
        except DecodeError as exc:
            return _drop(str(exc), decode_drop_code(packet))
        if p.proto == IPProto.UDP and self.config.kind == "napt":   # most packets: what _translate_fields decides
            self._last_rewrite = None
            tr = self._napt_out(packet, p, now) if outbound else self._napt_in(packet, p, now)
            last = self._last_rewrite
            # a flow is remembered only without helpers (theirs look at more than the mapping) and
            # when its key is what plain_udp says it is
            if last is not None and last[0].kind in _FLOW_KINDS and self.config.helper == "none" \
                    and plain_udp(packet):
                if len(flows) >= FLOW_ENTRIES:
                    flows.clear()
                flows[packet[12:24]] = last
            return tr
        return self._translate_fields(packet, p, now, outbound)

    def _translate_fields(self, packet: bytes, p: PacketFields, now: float, outbound: bool) -> Translation:
        cfg = self.config
        proto = p.proto
        mode = None if proto == IPProto.UDP else cfg.esp if proto == IPProto.ESP else cfg.ah if proto == IPProto.AH \
            else None
        if mode == "drop":
            name = label(IPProto, p.proto)
            return _drop(f"{name} (IP protocol {p.proto}) dropped: this device does not pass {name} "
                         f"({name.lower()}='drop')", Reason.NAT_UNSUPPORTED_PROTOCOL)
        if cfg.kind == "none":
            return Translation(packet, well_formed=True)
        if cfg.kind == "static":
            return self._static(packet, p, outbound)
        if p.proto in (IPProto.UDP, IPProto.TCP):
            return self._napt_out(packet, p, now) if outbound else self._napt_in(packet, p, now)
        if mode is not None:
            return self._ipsec_out(packet, p, now) if outbound else self._ipsec_in(packet, p, now, mode)
        return _drop(f"{p.describe()}: IP protocol {p.proto} has no ports; this NAPT translates only UDP, TCP, "
                     "ESP and AH", Reason.NAT_UNSUPPORTED_PROTOCOL)

    def _rewrite(self, packet: bytes, proto: int, which: str, ip: str,
                 port: int | None, m: _Mapping | None) -> Translation:
        if m is None:
            out, changes = rewrite(packet, proto, which, ip, port)
            return _translation(out, changes, None, None, "", None, (), True)
        plan = m.rewrites.get(which)
        if plan is None or not plan.fits(packet, proto, ip, port):
            plan = m.rewrites[which] = Rewrite(packet, proto, which, ip, port)
        self._last_rewrite = (m, plan)
        out, changes = plan.apply(packet)
        return _through(out, changes, None, (m, m.expires, len(m.permits)), "", None, (), True)

    # ----------------------------------------------------------------- 1:1 static
    def _static(self, packet: bytes, p: PacketFields, outbound: bool) -> Translation:
        if outbound:
            if not self._static_out and not self.config.static_map:
                self.bind_static(p.src)
            public = self._static_out.get(p.src)
            if public is None:
                return _drop(f"{p.describe()}: no static mapping for inside host {p.src}", Reason.NAT_NO_MAPPING)
            return self._rewrite(packet, p.proto, "source", public, None, self._static_rows[p.src])
        inside = self._static_in.get(p.dst)
        if inside is None:
            return _drop(f"no static mapping for {p.describe()}", Reason.NAT_NO_MAPPING)
        return self._rewrite(packet, p.proto, "destination", inside, None, self._static_rows[inside])

    # ----------------------------------------------------------------- NAPT for UDP/TCP
    def _filter_key(self, ip: str, port: int) -> object:
        f = self.config.filtering
        return None if f == BEHAVIOURS[0] else ip if f == BEHAVIOURS[1] else (ip, port)

    def _napt_out(self, packet: bytes, p: PacketFields, now: float) -> Translation:
        cfg = self.config
        key = (p.proto, p.src, p.sport)
        m = self._inside.get(key)  # a forward owns its inside endpoint
        if cfg.helper == "static-port-500" and (m is None or m.kind != "forward") and self._is_helper_500(p, p.sport):
            return self._static_500_out(packet, p, now)
        if m is None or m.kind != "forward":
            remote = (() if cfg.mapping == BEHAVIOURS[0] else (p.dst,) if cfg.mapping == BEHAVIOURS[1]
                      else (p.dst, p.dport))
            if remote:   # else (endpoint-independent) the key is the one just looked up
                key += remote
                m = self._inside.get(key)
            if m is None:
                port = self._allocate(p, now)
                if port is None:
                    lo, hi = cfg.port_range
                    return _drop(f"{p.describe()}: no free public port in {lo}-{hi}", Reason.NAT_NO_FREE_PORT)
                timeout = cfg.udp_timeout if p.proto == IPProto.UDP else cfg.tcp_timeout
                m = self._add(_Mapping(0, p.proto, Endpoint(p.src, p.sport),
                                       Endpoint(cfg.public_ip, port), "dynamic",
                                       remote=":".join(map(str, remote)) or None, timeout=timeout,
                                       in_key=key, out_key=(p.proto, port)), now)
            elif m.timeout is not None:   # m.refresh(now), inline: every packet of a flow
                m.expires, m._row = now + m.timeout, None
            key = self._filter_key(p.dst, p.dport)
            if key is not None and key not in m.permits:   # a new remote: m.permit
                m.permit(key)
            if p.proto == IPProto.UDP and Port.IKE in (p.sport, p.dport):
                self._note_ipsec_client(p.dst, p.src, now)
        return self._rewrite(packet, p.proto, "source", cfg.public_ip, m.outside.port, m)

    # ----------------------------------------------------------------- helper "static-port-500"
    def _is_helper_500(self, p: PacketFields, port: int) -> bool:
        return self.config.helper == "static-port-500" and p.proto == IPProto.UDP and port == Port.IKE

    def _static_500_out(self, packet: bytes, p: PacketFields, now: float) -> Translation:
        """UDP from inside port 500 leaves from public port 500, one state per remote endpoint.

        The public side of such a state is (public ip, 500, remote ip, remote port) and nothing else
        tells two inside hosts apart, so while one host holds it a second host's IKE to the same
        peer is refused -- until the state idles out (see the module docstring).
        """
        cfg = self.config
        key = (IPProto.UDP, p.src, Port.IKE, p.dst, p.dport)
        m = self._inside.get(key)
        if m is None:
            out_key = (IPProto.UDP, Port.IKE, p.dst, p.dport)
            owner = self._outside.get(out_key)
            if owner is not None:
                return _drop((
                    f"{p.describe()}: static-port-500 helper: this NAT never translates source port 500, "
                    f"and {cfg.public_ip}:500 <-> {p.dst}:{p.dport} is held by {owner.inside} until its "
                    f"state idles out (t={fmt_time(owner.expires)}s, {fmt_time(cfg.udp_timeout)} s after "
                    f"its last packet), so a second inside host cannot reach that peer from port 500 "
                    f"(RFC 3715 §2.3 (n))"), Reason.NAT_PORT_TAKEN, owner.row())
            ike = int(Port.IKE)
            m = self._add(_Mapping(0, IPProto.UDP, Endpoint(p.src, ike), Endpoint(cfg.public_ip, ike),
                                   "static-port-500", remote=f"{p.dst}:{p.dport}", timeout=cfg.udp_timeout,
                                   in_key=key, out_key=out_key), now)
        else:
            m.refresh(now)
        return self._rewrite(packet, p.proto, "source", cfg.public_ip, int(Port.IKE), m)

    # ----------------------------------------------------------------- port allocation
    def _allocate(self, p: PacketFields, now: float) -> int | None:
        """A free public port for a new mapping, by the configured policy."""
        cfg = self.config
        used = self._outside
        if cfg.port_allocation == "preserve" and (p.proto, p.sport) not in used:
            return p.sport
        lo, hi = cfg.port_range
        if cfg.port_allocation == "random":
            for _ in range(16):
                port = self.rng.randint(lo, hi)
                if (p.proto, port) not in used:
                    return port
        start = self._next_port.get(p.proto, lo)
        span = hi - lo + 1
        for i in range(span):
            port = lo + (start - lo + i) % span
            if (p.proto, port) not in used:
                self._next_port[p.proto] = port + 1 if port < hi else lo
                return port
        return None

    def _napt_in(self, packet: bytes, p: PacketFields, now: float) -> Translation:
        cfg = self.config
        key = (p.proto, p.dport)
        if cfg.helper == "static-port-500" and self._is_helper_500(p, p.dport):
            key = (p.proto, p.dport, p.src, p.sport)  # one state per remote endpoint
        m = self._outside.get(key) if p.dst == cfg.public_ip else None
        if m is None:
            recent = self._recent.get(key) if p.dst == cfg.public_ip else None
            why = f" ({recent[0]})" if recent else ": nothing inside has sent from this public port"
            return _drop(f"no mapping for {p.describe()}{why}", recent[1] if recent else Reason.NAT_NO_MAPPING)
        if m.kind == "static-port-500" and cfg.inbound_refresh:
            m.refresh(now)
        if m.kind == "dynamic":
            key = self._filter_key(p.src, p.sport)
            if key is not None and key not in m.permits:
                shown = ", ".join(m.row().allowed[:3]) + (" ..." if len(m.permits) > 3 else "")
                return _drop(f"filtered: {p.describe()} belongs to {m.inside}, which has only sent to {shown} "
                             f"({cfg.filtering} filtering)", Reason.FILTERED, m.row())
            if cfg.inbound_refresh:
                m.refresh(now)
        return self._rewrite(packet, p.proto, "destination", m.inside.ip, m.inside.port, m)

    # ----------------------------------------------------------------- ESP and AH under NAPT
    def _note_ipsec_client(self, remote: str, inside: str, now: float) -> None:
        """Helper 'esp-last-client': remember who last spoke IKE or ESP to this remote."""
        if self.config.helper != "esp-last-client":
            return
        key = (IPProto.ESP, "last", remote)
        old = self._inside.get(key)
        if old is not None and old.inside.ip == inside:
            return
        if old is not None:
            self._remove(old, f"helper now sends ESP from {remote} to {inside}")
        self._add(_Mapping(0, IPProto.ESP, Endpoint(inside), Endpoint(self.config.public_ip),
                           "esp-last-client", remote=remote, in_key=key))

    def _ipsec_out(self, packet: bytes, p: PacketFields, now: float) -> Translation:
        """Basic NAT: only the source address changes (ESP/AH have no ports and no pseudo-header)."""
        self._last_sender[(p.proto, p.dst)] = (p.src, now)
        if p.proto == IPProto.ESP:
            self._note_ipsec_client(p.dst, p.src, now)
        return self._rewrite(packet, p.proto, "source", self.config.public_ip, None, None)

    def _ipsec_in(self, packet: bytes, p: PacketFields, now: float, mode: str) -> Translation:
        cfg = self.config
        name = label(IPProto, p.proto)
        if p.dst != cfg.public_ip:
            return _drop(f"no mapping for {p.describe()}", Reason.NAT_NO_MAPPING)
        if p.proto == IPProto.ESP and cfg.helper == "esp-last-client":
            m = self._inside.get((IPProto.ESP, "last", p.src))
            if m is not None:  # whatever the SPI says
                tr = self._rewrite(packet, p.proto, "destination", m.inside.ip, None, m)
                return replace(tr, note=f"esp-last-client helper: all ESP from {p.src} goes to {m.inside.ip}, "
                                        f"the inside host that last sent IKE or ESP to it, whatever the SPI")
        if mode == "spi-track":
            m = self._outside.get((p.proto, "spi", p.src, p.spi))
            if m is not None:
                m.refresh(now)
                return self._rewrite(packet, p.proto, "destination", m.inside.ip, None, m)
            guess = self._last_sender.get((p.proto, p.src))
            if guess is not None and now - guess[1] < cfg.udp_timeout:
                m = self._add(_Mapping(0, p.proto, Endpoint(guess[0]), Endpoint(cfg.public_ip),
                                       f"{name.lower()}-spi", remote=p.src, timeout=cfg.udp_timeout,
                                       out_key=(p.proto, "spi", p.src, p.spi), spi=p.spi), now)
                return self._rewrite(packet, p.proto, "destination", m.inside.ip, None, m)
        if cfg.esp_host is not None:
            return self._rewrite(packet, p.proto, "destination", cfg.esp_host, None, None)
        recent = self._recent.get((p.proto, "spi", p.src, p.spi))
        why = (f" ({recent[0]})" if recent else f": {name} has no ports to translate, the SPI is not "
               f"known and no inside host is set to receive {name}")
        return _drop(f"no mapping for {p.describe()}{why}", recent[1] if recent else Reason.NAT_NO_MAPPING)


__all__ = ["BEHAVIOURS", "FRAGMENT_MODES", "HELPERS", "IPSEC_MODES", "KINDS", "PORT_ALLOCATIONS", "FieldChange", "Forward",
           "MappingRow", "Nat", "NatConfig", "Translation", "decode_drop_code", "fmt_time", "parse_packet"]


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
_translation = builder(Translation)
_through = builder(_Through)   # the same fields; `mapping` holds what makes the row until it is read
_mapping_row = builder(MappingRow)   # every field in order, one call: one per translated packet
