"""NAT devices that rewrite real IPv4 packets (RFC 3022, RFC 4787, RFC 3715 §2).

A `Nat` gets the bytes a wire would carry and returns the bytes it would send on, plus every field
it changed, so a lesson can point at the exact bytes (addresses, ports and both checksums, fixed
with the RFC 1624 incremental update). It models what breaks IPsec:

* NAPT multiplexes on ports; ESP (IP protocol 50) and AH (51) have none (RFC 3715 §2.2 (i)), so
  inbound ESP needs a guess: one fixed inside host, an SPI guess, or an "IPsec helper".
* Mappings time out when idle (RFC 3715 §2.2 (j), RFC 4787 REQ-5/REQ-6), which is why NAT-T sends
  keepalives; filtering (RFC 4787 §5) decides who may answer through a mapping.
* Helpers that keep source port 500 (RFC 3715 §2.3 (n)) or route ESP to the last client break the
  second client behind the same NAT.

TCP is translated like UDP (ports and a pseudo-header checksum) with its own idle timeout; there
is no TCP state machine. Other protocols pass a plain router or a 1:1 NAT and are dropped by NAPT.
"""
from __future__ import annotations

import heapq
import ipaddress
import math
import random
from dataclasses import dataclass, field

from ..addressing import Endpoint, check_ipv4, check_port
from ..errors import ConfigError, DecodeError
from ..wire.ip import (IPV4_HEADER_LEN, OFF_DPORT, OFF_IP_CHECKSUM, OFF_IP_DST, OFF_IP_SRC,
                       OFF_SPORT, OFF_TCP_CHECKSUM, OFF_UDP_CHECKSUM, decode_ipv4_header,
                       decode_udp, incremental_update)
from ..wire.numbers import IPProto, Port, label

KINDS = ("napt", "static", "none")
PORT_ALLOCATIONS = ("preserve", "sequential", "random")
BEHAVIOURS = ("endpoint-independent", "address-dependent", "address-and-port-dependent")
IPSEC_MODES = ("drop", "address-only", "spi-track")
HELPERS = ("none", "static-port-500", "esp-last-client")
PROTO_NAMES = {IPProto.UDP: "udp", IPProto.TCP: "tcp", IPProto.ESP: "esp", IPProto.AH: "ah"}
RECENT_LIMIT = 4096  # expired/stolen mappings remembered for drop reasons


def _choice(what: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"NAT {what} {value!r} is not one of: {', '.join(choices)}")


def _seconds(what: str, value: object) -> None:
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
            or value <= 0):
        raise ConfigError(f"NAT {what} must be a positive number of seconds, got {value!r}")


def fmt_time(t: float) -> str:
    """35.0 -> '35.0', 35.25 -> '35.25' (milliseconds at most)."""
    text = f"{t:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


@dataclass(frozen=True)
class Forward:
    """A static port forward: outside traffic to public_port goes to `inside` (e.g. UDP 500/4500)."""
    proto: int
    public_port: int
    inside: Endpoint

    def __post_init__(self) -> None:
        if self.proto not in (IPProto.UDP, IPProto.TCP):
            raise ConfigError(f"forward protocol {self.proto!r} is not one of: 17 (UDP), 6 (TCP)")
        if check_port(self.public_port) == 0 or not isinstance(self.inside, Endpoint) \
                or self.inside.port == 0:
            raise ConfigError("a forward needs a public port 1..65535 and an inside Endpoint with a port")


@dataclass(frozen=True, kw_only=True)
class NatConfig:
    """How one NAT device behaves; RFC 4787 terms for mapping and filtering."""
    public_ip: str
    name: str = "nat"
    kind: str = "napt"
    static_map: tuple[tuple[str, str], ...] = ()
    """kind 'static': (inside ip, public ip) pairs; empty = the first inside host gets public_ip."""
    port_allocation: str = "random"
    port_range: tuple[int, int] = (49152, 65535)
    mapping: str = "endpoint-independent"
    filtering: str = "address-and-port-dependent"
    udp_timeout: float = 120.0
    tcp_timeout: float = 7440.0
    """RFC 5382 REQ-5: an established TCP mapping lasts at least 2 h 4 min."""
    inbound_refresh: bool = False
    """RFC 4787 REQ-6 only requires outbound packets to refresh a mapping."""
    forwards: tuple[Forward, ...] = ()
    esp: str = "address-only"
    """IP protocol 50: 'drop' both ways; 'address-only' rewrites the source outbound and sends
    inbound ESP to esp_host (else drops it); 'spi-track' binds an unseen inbound SPI to the inside
    host that last sent ESP to that remote, then remembers it (wrong with two clients)."""
    esp_host: str | None = None
    """Inside address that receives inbound ESP/AH no mapping claims ("pass to one inside host")."""
    ah: str = "address-only"
    helper: str = "none"
    """'static-port-500': UDP from inside port 500 always leaves from public port 500; the newest
    sender takes over that one mapping, so replies meant for the previous owner reach the new one.
    'esp-last-client': inbound ESP from a remote goes to the inside host that last sent IKE (UDP
    with port 500) or ESP to it, whatever the SPI."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"NAT name must be a non-empty string, got {self.name!r}")
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        set_("public_ip", check_ipv4(self.public_ip))
        for what, choices in (("kind", KINDS), ("port_allocation", PORT_ALLOCATIONS),
                              ("mapping", BEHAVIOURS), ("filtering", BEHAVIOURS),
                              ("esp", IPSEC_MODES), ("ah", IPSEC_MODES), ("helper", HELPERS)):
            _choice(what, getattr(self, what), choices)
        _seconds("udp_timeout", self.udp_timeout)
        _seconds("tcp_timeout", self.tcp_timeout)
        try:
            lo, hi = self.port_range
            pairs = tuple((check_ipv4(i), check_ipv4(p)) for i, p in self.static_map)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"NAT port_range must be (low, high) and static_map a tuple of "
                              f"(inside ip, public ip) pairs: {exc}") from None
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi <= 65535):
            raise ConfigError(f"NAT port_range {self.port_range!r} must be (low, high), "
                              "1 <= low <= high <= 65535")
        set_("port_range", (lo, hi))
        set_("static_map", pairs)
        if not isinstance(self.inbound_refresh, bool):
            raise ConfigError(f"NAT inbound_refresh must be True or False, got {self.inbound_refresh!r}")
        if pairs and self.kind != "static":
            raise ConfigError("static_map needs kind 'static'")
        if len({i for i, _ in pairs}) != len(pairs) or len({p for _, p in pairs}) != len(pairs):
            raise ConfigError("static_map must map each inside and each public address once")
        set_("forwards", tuple(self.forwards))
        if not all(isinstance(f, Forward) for f in self.forwards):
            raise ConfigError("forwards must be Forward(proto, public_port, inside) entries")
        if self.forwards and self.kind != "napt":
            raise ConfigError("forwards need kind 'napt' (static and none pass every port)")
        keys = [(f.proto, f.public_port) for f in self.forwards]
        if len(set(keys)) != len(keys):
            raise ConfigError(f"two forwards share a public port: {keys}")
        if self.esp_host is not None:
            set_("esp_host", check_ipv4(self.esp_host))
        if self.helper == "static-port-500":
            if self.kind != "napt":
                raise ConfigError("helper 'static-port-500' needs kind 'napt'")
            if (IPProto.UDP, Port.IKE) in keys:
                raise ConfigError("helper 'static-port-500' conflicts with a forward of UDP 500")
        if self.helper == "esp-last-client" and (self.kind != "napt" or self.esp == "drop"):
            raise ConfigError("helper 'esp-last-client' needs kind 'napt' and esp other than 'drop'")


@dataclass(frozen=True)
class FieldChange:
    """One rewritten header field; offset is absolute in the IPv4 packet, size in bytes."""
    name: str
    offset: int
    old: str
    new: str
    size: int = 2


@dataclass(frozen=True)
class MappingRow:
    """One line of the NAT table as a lesson shows it."""
    proto: str          # "udp" | "tcp" | "esp" | "ah" | "ip" (1:1 static)
    inside: str
    outside: str
    remote: str | None  # remote the mapping is bound to (address-/port-dependent mapping, ESP)
    expires: float | None
    kind: str           # "dynamic" | "forward" | "static" | "esp-spi" | "esp-last-client"
    spi: int | None = None
    allowed: tuple[str, ...] = ()
    """Remotes the filter lets back in (empty with endpoint-independent filtering)."""


@dataclass(frozen=True)
class Translation:
    packet: bytes | None
    changes: tuple[FieldChange, ...] = ()
    drop_reason: str | None = None
    mapping: MappingRow | None = None


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

    def refresh(self, now: float) -> None:
        if self.timeout is not None:
            self.expires = now + self.timeout
            self._row = None

    def permit(self, key: object) -> None:
        if key is not None and key not in self.permits:
            self.permits[key] = None
            self._row = None

    def row(self) -> MappingRow:
        if self._row is None:
            allowed = tuple(k if isinstance(k, str) else f"{k[0]}:{k[1]}" for k in self.permits)
            name = PROTO_NAMES.get(self.proto, "ip")
            self._row = MappingRow(name, str(self.inside), str(self.outside), self.remote,
                                   self.expires, self.kind, self.spi, allowed)
        return self._row


@dataclass(frozen=True)
class _Packet:
    proto: int
    src: str
    dst: str
    sport: int = 0
    dport: int = 0
    spi: int | None = None

    def describe(self) -> str:
        name = label(IPProto, self.proto)
        if self.proto in (IPProto.UDP, IPProto.TCP):
            return f"{name} {self.src}:{self.sport} -> {self.dst}:{self.dport}"
        spi = f" (SPI 0x{self.spi:08x})" if self.spi is not None else ""
        return f"{name} {self.src} -> {self.dst}{spi}"


def parse_packet(packet: bytes) -> _Packet:
    """The fields a NAT looks at; raises DecodeError for anything malformed."""
    ip, body = decode_ipv4_header(packet)
    base = IPV4_HEADER_LEN
    if ip.proto == IPProto.UDP:
        udp, _ = decode_udp(body, base)
        return _Packet(ip.proto, ip.src, ip.dst, udp.sport, udp.dport)
    need = {IPProto.TCP: 20, IPProto.ESP: 8, IPProto.AH: 12}.get(ip.proto, 0)
    if len(body) < need:
        raise DecodeError(label(IPProto, ip.proto), base,
                          f"truncated header: need {need} bytes, {len(body)} left")
    if ip.proto == IPProto.TCP:
        return _Packet(ip.proto, ip.src, ip.dst, int.from_bytes(body[0:2], "big"),
                       int.from_bytes(body[2:4], "big"))
    if ip.proto == IPProto.ESP:
        return _Packet(ip.proto, ip.src, ip.dst, spi=int.from_bytes(body[0:4], "big"))
    if ip.proto == IPProto.AH:
        return _Packet(ip.proto, ip.src, ip.dst, spi=int.from_bytes(body[4:8], "big"))
    return _Packet(ip.proto, ip.src, ip.dst)


class _Rewriter:
    """Edits a packet in place and keeps both checksums right (RFC 1624 eqn. 3)."""

    def __init__(self, packet: bytes, proto: int):
        self.buf = bytearray(packet)
        self.proto = proto
        self.changes: list[FieldChange] = []
        self.ip_words: list[tuple[bytes, bytes]] = []   # covered by the IPv4 header checksum
        self.l4_words: list[tuple[bytes, bytes]] = []   # covered by the UDP/TCP checksum

    def _put(self, name: str, off: int, new: bytes, shown_old: str, shown_new: str) -> bytes | None:
        old = bytes(self.buf[off:off + len(new)])
        if old == new:
            return None
        self.buf[off:off + len(new)] = new
        self.changes.append(FieldChange(name, off, shown_old, shown_new, len(new)))
        return old

    def address(self, which: str, ip: str) -> None:
        off = OFF_IP_SRC if which == "source" else OFF_IP_DST
        new = ipaddress.IPv4Address(ip).packed
        shown = str(ipaddress.IPv4Address(bytes(self.buf[off:off + 4])))
        old = self._put(f"IPv4 {which} address", off, new, shown, ip)
        if old is not None:
            self.ip_words.append((old, new))
            self.l4_words.append((old, new))  # the pseudo-header carries both addresses

    def port(self, which: str, port: int) -> None:
        off = IPV4_HEADER_LEN + (OFF_SPORT if which == "source" else OFF_DPORT)
        name = "UDP" if self.proto == IPProto.UDP else "TCP"
        new = port.to_bytes(2, "big")
        shown = str(int.from_bytes(self.buf[off:off + 2], "big"))
        old = self._put(f"{name} {which} port", off, new, shown, str(port))
        if old is not None:
            self.l4_words.append((old, new))

    def _fix(self, name: str, off: int, words: list[tuple[bytes, bytes]], udp: bool) -> None:
        old_sum = int.from_bytes(self.buf[off:off + 2], "big")
        if not words or (udp and old_sum == 0):
            return  # RFC 768: a UDP checksum of 0 means "none" and stays 0
        new_sum = incremental_update(old_sum, b"".join(o for o, _ in words),
                                     b"".join(n for _, n in words))
        if udp and new_sum == 0:
            new_sum = 0xFFFF
        self._put(name, off, new_sum.to_bytes(2, "big"), f"0x{old_sum:04x}", f"0x{new_sum:04x}")

    def finish(self) -> tuple[bytes, tuple[FieldChange, ...]]:
        self._fix("IPv4 header checksum", OFF_IP_CHECKSUM, self.ip_words, False)
        if self.proto == IPProto.UDP:
            self._fix("UDP checksum", IPV4_HEADER_LEN + OFF_UDP_CHECKSUM, self.l4_words, True)
        elif self.proto == IPProto.TCP:
            self._fix("TCP checksum", IPV4_HEADER_LEN + OFF_TCP_CHECKSUM, self.l4_words, False)
        return bytes(self.buf), tuple(self.changes)


class Nat:
    """One NAT device: `outbound` (inside -> outside) and `inbound` translate or drop packets."""

    def __init__(self, config: NatConfig, rng: random.Random):
        if not isinstance(config, NatConfig):
            raise ConfigError(f"Nat needs a NatConfig, got {type(config).__name__}")
        self.config = config
        self.rng = rng
        self.version = 0
        """Bumped whenever a mapping appears, disappears or changes owner."""
        self._ids = 0
        self._live: dict[int, _Mapping] = {}
        self._inside: dict[tuple, _Mapping] = {}
        self._outside: dict[tuple, _Mapping] = {}
        self._recent: dict[tuple, str] = {}
        self._heap: list[tuple[float, int, _Mapping]] = []
        self._pending: list[MappingRow] = []
        self._next_port: dict[int, int] = {}
        self._last_sender: dict[tuple[int, str], tuple[str, float]] = {}
        self._static_in: dict[str, str] = {}
        self._static_out: dict[str, str] = {}
        self._static_rows: dict[str, _Mapping] = {}
        for f in config.forwards:
            outside = Endpoint(config.public_ip, f.public_port)
            self._add(_Mapping(0, f.proto, f.inside, outside, "forward",
                               in_key=(f.proto, f.inside.ip, f.inside.port),
                               out_key=(f.proto, f.public_port)))
        for inside_ip, public_ip in config.static_map:
            self.bind_static(inside_ip, public_ip)

    @property
    def name(self) -> str:
        return self.config.name

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

    def _remove(self, m: _Mapping, note: str) -> None:
        m.alive = False
        del self._live[m.id]
        if m.in_key is not None and self._inside.get(m.in_key) is m:
            del self._inside[m.in_key]
        if m.out_key is not None and self._outside.get(m.out_key) is m:
            del self._outside[m.out_key]
            self._recent[m.out_key] = note
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
                self._remove(m, f"mapping for {m.inside} expired at t={fmt_time(m.expires)}s")
                self._pending.append(m.row())
            else:  # refreshed since it was queued: queue it again at its real expiry
                heapq.heappush(heap, (m.expires, m.id, m))

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
        return tuple(m.row() for m in self._live.values())

    def outside_addresses(self) -> tuple[str, ...]:
        """Addresses this device answers for on its outside segment."""
        if self.config.kind == "none":
            return ()
        extra = tuple(p for p in self._static_in if p != self.config.public_ip)
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
        return self._translate(packet, now, outbound=True)

    def inbound(self, packet: bytes, now: float) -> Translation:
        """A packet from outside, addressed to one of this device's outside addresses."""
        return self._translate(packet, now, outbound=False)

    def _translate(self, packet: bytes, now: float, outbound: bool) -> Translation:
        self._expire_due(now)
        try:
            p = parse_packet(packet)
        except DecodeError as exc:
            return Translation(None, (), str(exc))
        cfg = self.config
        mode = {IPProto.ESP: cfg.esp, IPProto.AH: cfg.ah}.get(p.proto)
        if mode == "drop":
            name = label(IPProto, p.proto)
            return Translation(None, (), f"{name} (IP protocol {p.proto}) dropped: this device does "
                               f"not pass {name} ({name.lower()}='drop')")
        if cfg.kind == "none":
            return Translation(packet)
        if cfg.kind == "static":
            return self._static(packet, p, outbound)
        if p.proto in (IPProto.UDP, IPProto.TCP):
            return self._napt_out(packet, p, now) if outbound else self._napt_in(packet, p, now)
        if mode is not None:
            return self._ipsec_out(packet, p, now) if outbound else self._ipsec_in(packet, p, now, mode)
        return Translation(None, (), f"{p.describe()}: IP protocol {p.proto} has no ports; this NAPT "
                           "translates only UDP, TCP, ESP and AH")

    def _rewrite(self, packet: bytes, proto: int, which: str, ip: str,
                 port: int | None, m: _Mapping | None) -> Translation:
        rw = _Rewriter(packet, proto)
        rw.address(which, ip)
        if port is not None:
            rw.port(which, port)
        out, changes = rw.finish()
        return Translation(out, changes, None, m.row() if m else None)

    # ----------------------------------------------------------------- 1:1 static
    def _static(self, packet: bytes, p: _Packet, outbound: bool) -> Translation:
        if outbound:
            if not self._static_out and not self.config.static_map:
                self.bind_static(p.src)
            public = self._static_out.get(p.src)
            if public is None:
                return Translation(None, (), f"{p.describe()}: no static mapping for inside host {p.src}")
            return self._rewrite(packet, p.proto, "source", public, None, self._static_rows[p.src])
        inside = self._static_in.get(p.dst)
        if inside is None:
            return Translation(None, (), f"no static mapping for {p.describe()}")
        return self._rewrite(packet, p.proto, "destination", inside, None, self._static_rows[inside])

    # ----------------------------------------------------------------- NAPT for UDP/TCP
    def _filter_key(self, ip: str, port: int) -> object:
        f = self.config.filtering
        return None if f == BEHAVIOURS[0] else ip if f == BEHAVIOURS[1] else (ip, port)

    def _napt_out(self, packet: bytes, p: _Packet, now: float) -> Translation:
        cfg = self.config
        m = self._inside.get((p.proto, p.src, p.sport))  # a forward owns its inside endpoint
        if m is None or m.kind != "forward":
            remote = (() if cfg.mapping == BEHAVIOURS[0] else (p.dst,) if cfg.mapping == BEHAVIOURS[1]
                      else (p.dst, p.dport))
            key = (p.proto, p.src, p.sport) + remote
            m = self._inside.get(key)
            if m is None:
                port = self._allocate(p, now)
                if port is None:
                    lo, hi = cfg.port_range
                    return Translation(None, (), f"{p.describe()}: no free public port in {lo}-{hi}")
                timeout = cfg.udp_timeout if p.proto == IPProto.UDP else cfg.tcp_timeout
                m = self._add(_Mapping(0, p.proto, Endpoint(p.src, p.sport),
                                       Endpoint(cfg.public_ip, port), "dynamic",
                                       remote=":".join(map(str, remote)) or None, timeout=timeout,
                                       in_key=key, out_key=(p.proto, port)), now)
            else:
                m.refresh(now)
            m.permit(self._filter_key(p.dst, p.dport))
            if p.proto == IPProto.UDP and Port.IKE in (p.sport, p.dport):
                self._note_ipsec_client(p.dst, p.src, now)
        return self._rewrite(packet, p.proto, "source", cfg.public_ip, m.outside.port, m)

    def _allocate(self, p: _Packet, now: float) -> int | None:
        """A free public port for a new mapping, by the configured policy."""
        cfg = self.config
        if cfg.helper == "static-port-500" and p.proto == IPProto.UDP and p.sport == Port.IKE:
            owner = self._outside.get((p.proto, Port.IKE))
            if owner is not None:  # the helper never rewrites port 500: the newest sender takes it
                self._remove(owner, f"public port 500 taken over by {p.src}:500 at t={fmt_time(now)}s")
            return int(Port.IKE)
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

    def _napt_in(self, packet: bytes, p: _Packet, now: float) -> Translation:
        cfg = self.config
        m = self._outside.get((p.proto, p.dport)) if p.dst == cfg.public_ip else None
        if m is None:
            recent = self._recent.get((p.proto, p.dport)) if p.dst == cfg.public_ip else None
            why = f" ({recent})" if recent else ": nothing inside has sent from this public port"
            return Translation(None, (), f"no mapping for {p.describe()}{why}")
        if m.kind == "dynamic":
            key = self._filter_key(p.src, p.sport)
            if key is not None and key not in m.permits:
                shown = ", ".join(m.row().allowed[:3]) + (" ..." if len(m.permits) > 3 else "")
                return Translation(None, (), f"filtered: {p.describe()} belongs to {m.inside}, which has "
                                   f"only sent to {shown} ({cfg.filtering} filtering)", m.row())
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

    def _ipsec_out(self, packet: bytes, p: _Packet, now: float) -> Translation:
        """Basic NAT: only the source address changes (ESP/AH have no ports and no pseudo-header)."""
        self._last_sender[(p.proto, p.dst)] = (p.src, now)
        if p.proto == IPProto.ESP:
            self._note_ipsec_client(p.dst, p.src, now)
        return self._rewrite(packet, p.proto, "source", self.config.public_ip, None, None)

    def _ipsec_in(self, packet: bytes, p: _Packet, now: float, mode: str) -> Translation:
        cfg = self.config
        name = label(IPProto, p.proto)
        if p.dst != cfg.public_ip:
            return Translation(None, (), f"no mapping for {p.describe()}")
        if p.proto == IPProto.ESP and cfg.helper == "esp-last-client":
            m = self._inside.get((IPProto.ESP, "last", p.src))
            if m is not None:  # whatever the SPI says
                return self._rewrite(packet, p.proto, "destination", m.inside.ip, None, m)
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
        why = (f" ({recent})" if recent else f": {name} has no ports to translate, the SPI is not "
               f"known and no inside host is set to receive {name}")
        return Translation(None, (), f"no mapping for {p.describe()}{why}")
