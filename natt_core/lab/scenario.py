"""A Scenario is plain data; `run()` builds the virtual network from it and returns a Trace.

Topology (default addresses from the lab in the seed texts; every one can be changed):

    client-lan 192.168.11.0/24 ── nat ── internet 192.168.1.0/24 ── [server-nat ── server-lan 10.0.0.0/24]
    (double NAT: client-lan ── nat ── carrier 10.64.0.0/24 ── cgnat ── internet)

"the NAT" in front of the clients is configurable (napt, static 1:1, or none = a plain router);
"the second NAT" (`nat2`) is the server's NAT (server-nat, both-nat: static forwards of UDP 500
and 4500 by default, RFC 3947 §4 / RFC 3948 §2.1 ports) or the carrier NAT (double-nat).

Validation has two stages. A field on its own (an address, a port, a choice) is checked when the
dataclass is built; combinations (a helper on a 1:1 NAT, two devices with one address) are
checked by `Scenario.validate()`, which `run()` and `settings.apply_settings` call once all
settings are in, so the order of `--set` lines never matters. Every error is a `FieldError`
(a ConfigError) naming the setting, so a form can show it beside that field.
"""
from __future__ import annotations

import gc
import ipaddress
import random
import re
import threading
from socket import inet_aton, inet_ntoa
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from ..addressing import Endpoint
from ..errors import ConfigError
from ..ike.factory import make_peer
from ..ike.lifetimes import rekeys_in
from ..ike.policy import PeerPolicy
from ..net.impair import Impairment
from ..net.nat import Forward, Nat, NatConfig
from ..net.fragments import MAX_MTU, MIN_MTU
from ..net.nat_config import BEHAVIOURS, FRAGMENT_MODES, HELPERS, IPSEC_MODES, KINDS, PORT_ALLOCATIONS
from ..net.network import Network
from ..wire.l2tp import MessageType
from ..wire.numbers import IPProto, Port
from ..ipsec.spd import Spd, keying_for
from ..ppp.endpoint import PppPolicy
from .apps import L2tpHost, Send
from .recorder import Recorder
from .schedule import Action, schedule
from .trace import Trace

CLIENT_BASE = ipaddress.IPv4Address("192.168.11.0") + 19   # client1 = 192.168.11.20
NAT_INSIDE, NAT_PUBLIC = "192.168.11.1", "192.168.1.30"
SERVER_PUBLIC, SERVER_PRIVATE = "192.168.1.10", "10.0.0.10"
SERVER_NAT_INSIDE, SERVER_NAT_PUBLIC = "10.0.0.1", "192.168.1.40"
CARRIER_NAT_OUTSIDE, CGNAT_INSIDE = "10.64.0.30", "10.64.0.1"
TOPOLOGIES = ("client-nat", "server-nat", "both-nat", "double-nat")
MAX_CLIENTS = 1000
SENDERS = ("client", "server")
#: A run's work is bounded, so no setting can make the app run forever or grow without bound.
#: Keepalives are the one periodic sender: RFC 3948 §4 suggests 20 s; below a second is no lesson.
MIN_KEEPALIVE = 1.0
MAX_RUN_PACKETS = 250_000     #: packets leaving a segment (hops) in one run
MAX_RUN_EVENTS = 500_000      #: peer and network events in one run
MAX_RUN_STEPS = 2_000_000     #: virtual-clock callbacks in one run
HOPS_PER_KEEPALIVE = 3        #: segments a keepalive crosses at most (client-lan, carrier, internet)
MAX_RUN_REKEYS = 600          #: rekeys (phase 1 and 2, every client) one run may make


class FieldError(ConfigError):
    """A ConfigError about one named setting (`field`, e.g. "nat2.helper"), message first."""

    def __init__(self, field_name: str, message: str, text: str | None = None):
        self.field = field_name
        self.reason = message
        super().__init__(text or f"{field_name}: {message}")


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
#: a dotted quad exactly as ipaddress writes it (no leading zeros, ASCII digits): taken as it is
_CANONICAL = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _ip(field_name: str, text: object) -> str:
    if type(text) is str and _CANONICAL.fullmatch(text):
        return text
    try:
        return str(ipaddress.IPv4Address(text))
    except (ipaddress.AddressValueError, ValueError, TypeError):
        raise FieldError(field_name, f"{text!r} is not an IPv4 address (four numbers 0-255, e.g. 192.0.2.7)") from None


_SLASH_24 = 0xFFFFFF00


def _number(ip: str) -> int:
    """An address already checked by `_ip` (canonical dotted IPv4) as a number."""
    return int.from_bytes(inet_aton(ip), "big")


def _dotted(number: int) -> str:
    return inet_ntoa(number.to_bytes(4, "big"))


def _pick(field_name: str, value: object, choices: tuple) -> None:
    if value not in choices:
        raise FieldError(field_name, f"{value!r} is not one of: {', '.join(map(str, choices))}")


@dataclass(frozen=True)
class Addresses:
    """Where each box sits. `client` is client 1; client N is `client` + N - 1."""
    client: str = str(CLIENT_BASE + 1)
    nat_public: str = NAT_PUBLIC                #: the client NAT's public address (the carrier NAT's in double-nat)
    server: str = SERVER_PUBLIC                 #: the server's address when it is not behind a NAT
    server_private: str = SERVER_PRIVATE        #: the server's own address behind its NAT
    server_nat_public: str = SERVER_NAT_PUBLIC  #: the address the server's NAT publishes

    def __post_init__(self) -> None:
        for name in ("client", "nat_public", "server", "server_private", "server_nat_public"):
            object.__setattr__(self, name, _ip(f"address.{name}", getattr(self, name)))


@dataclass(frozen=True)
class NatSettings:
    """One NAT device as a lesson configures it (RFC 4787 terms; helpers: RFC 3715 §2.3)."""
    kind: str = "napt"
    port_allocation: str = "random"
    mapping: str = "endpoint-independent"
    filtering: str = "address-and-port-dependent"
    timeout: float = 120.0
    helper: str = "none"
    esp: str = "address-only"
    ah: str = "address-only"
    #: IPv4 fragments: pass, drop or first-only (net/nat_fragments.py)
    fragments: str = "pass"

    def check(self, prefix: str) -> None:
        """Each field on its own; `prefix` ("nat" or "nat2") names the device in the error."""
        for name, choices in (("kind", KINDS), ("port_allocation", PORT_ALLOCATIONS), ("mapping", BEHAVIOURS),
                              ("filtering", BEHAVIOURS), ("helper", HELPERS), ("esp", IPSEC_MODES),
                              ("ah", IPSEC_MODES), ("fragments", FRAGMENT_MODES)):
            _pick(f"{prefix}.{name}", getattr(self, name), choices)
        t = self.timeout
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < float("inf"):
            raise FieldError(f"{prefix}.timeout", f"must be a positive number of seconds, not {t!r}")
        if self.helper != "none" and self.kind != "napt":
            raise FieldError(f"{prefix}.helper", f"an IPsec helper ({self.helper}) needs kind 'napt', "
                             f"this NAT is '{self.kind}'")
        if self.helper == "esp-last-client" and self.esp == "drop":
            raise FieldError(f"{prefix}.helper", "helper 'esp-last-client' cannot work when the NAT drops ESP")


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    story: str
    topology: str = "client-nat"
    clients: int = 1
    client: PeerPolicy = field(default_factory=PeerPolicy)
    server: PeerPolicy = field(default_factory=PeerPolicy)
    nat: NatSettings = field(default_factory=NatSettings)
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    sends: tuple[Send, ...] = ()
    duration: float = 60.0
    seed: int = 1
    addresses: Addresses = field(default_factory=Addresses)
    #: the server's NAT (server-nat, both-nat) or the carrier NAT (double-nat);
    #: None = a default NAPT whose timeout follows `nat.timeout`
    nat2: NatSettings | None = None
    #: UDP ports the server's NAT forwards to the server (napt only; a 1:1 NAT passes every port)
    server_forwards: tuple[int, ...] = (Port.IKE, Port.NAT_T)
    #: PPP over the L2TP call: the client's credentials, the server's users and address pool
    ppp: PppPolicy = field(default_factory=PppPolicy)
    #: what happens at a set time: a NAT flushes its mappings, a host is switched off or rebooted
    actions: tuple[Action, ...] = ()
    #: the largest IPv4 packet of the LANs (client-lan, server-lan); Ethernet's 1500 by default
    mtu: int = 1500
    #: the same for the segments between the NATs (internet, carrier): a PPPoE line is 1492
    #: (RFC 2516 §7); None = the same as `mtu`
    wan_mtu: int | None = None
    #: the server's PPP side where it differs (server.ppp_* keys); None: the server is set up as `ppp`
    ppp_server: PppPolicy | None = None

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise FieldError("topology", f"unknown topology {self.topology!r}; choose one of {', '.join(TOPOLOGIES)}")
        if isinstance(self.clients, bool) or not isinstance(self.clients, int) or not 1 <= self.clients <= MAX_CLIENTS:
            raise FieldError("clients", f"clients must be 1..{MAX_CLIENTS}, not {self.clients!r}")
        if not (isinstance(self.duration, (int, float)) and 0 < self.duration <= 86400):
            raise FieldError("duration", f"duration must be 0..86400 virtual seconds, not {self.duration!r}")
        for name in ("loss", "duplicate", "reorder"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
                raise FieldError(f"link.{name}", f"must be a fraction from 0 to 1, not {v!r}")
        for name, value in (("mtu", self.mtu), ("wan_mtu", self.wan_mtu)):
            if value is None and name == "wan_mtu":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not MIN_MTU <= value <= MAX_MTU:
                raise FieldError(f"link.{name}", f"must be a whole number of bytes {MIN_MTU}..{MAX_MTU} "
                                 f"(RFC 791: every link carries at least {MIN_MTU}), not {value!r}")
        ports = self.server_forwards
        if not isinstance(ports, tuple) or any(isinstance(p, bool) or not isinstance(p, int) or not 1 <= p <= 65535
                                               for p in ports):
            raise FieldError("nat2.forwards", f"ports must be whole numbers 1..65535, not {ports!r}")
        if len(set(ports)) != len(ports):
            raise FieldError("nat2.forwards", f"a port is listed twice: {', '.join(map(str, ports))}")
        for s in self.sends:
            if not isinstance(s, Send) or s.sender not in SENDERS or s.message not in MessageType.__members__:
                raise FieldError("traffic", f"a send needs a sender (client or server) and an L2TP message, not {s!r}")
            if not 0 <= s.at <= self.duration:
                raise FieldError(f"traffic.{s.sender}", f"a send at t={s.at:g} s is outside the run "
                                 f"(0..{self.duration:g} s); raise the duration or send earlier")
        for a in self.actions:
            if not isinstance(a, Action):
                raise FieldError("actions", f"an action needs a time, what and target, not {a!r}")
            if a.at > self.duration:
                raise FieldError(action_key(a), f"t={a.at:g} s is outside the run (0..{self.duration:g} s); "
                                 "raise the duration or choose an earlier time")

    @property
    def server_ppp(self) -> PppPolicy:
        """The PPP policy of the server: its users, its authentication preference, its pool."""
        return self.ppp_server or self.ppp

    def with_(self, **changes) -> "Scenario":
        return replace(self, **changes)

    @property
    def peer_names(self) -> tuple[str, ...]:
        clients = ("client",) if self.clients == 1 else tuple(f"client{i}" for i in range(1, self.clients + 1))
        return clients + ("server",)

    @property
    def nat_inside(self) -> str:
        """The client NAT's inside address: 192.168.11.1 while any client is in 192.168.11.0/24, else
        .1 of the first client's /24 (.254 when a client takes .1), so it follows the clients' subnet."""
        first = _number(self.addresses.client)
        last = first + self.clients - 1
        default = _number(NAT_INSIDE) & _SLASH_24
        if first <= default | 0xFF and last >= default:
            return NAT_INSIDE
        net = first & _SLASH_24
        gateway = net + 1
        return _dotted(gateway if not first <= gateway <= last else (net | 0xFF) - 1)

    @property
    def server_behind_nat(self) -> bool:
        return self.topology in ("server-nat", "both-nat")

    @property
    def second_nat(self) -> NatSettings:
        """The server's or carrier NAT as it will be built."""
        return self.nat2 if self.nat2 is not None else NatSettings(timeout=self.nat.timeout)

    def client_address(self, index: int) -> str:
        """Client `index` (1-based; validate() refused a range past 255.255.255.255)."""
        return _dotted(_number(self.addresses.client) + index - 1)

    def validate(self) -> "Scenario":
        """Check the combinations; returns self so it chains. FieldError names the setting."""
        self.nat.check("nat")
        if self.topology == "server-nat" and self.nat.helper != "none":
            raise FieldError("nat.helper", "with topology server-nat the clients sit behind a plain router, "
                             "which has no IPsec helper; choose topology both-nat")
        uses_nat2 = self.topology != "client-nat"
        if uses_nat2:
            self.second_nat.check("nat2")
        if uses_nat2 and self.topology != "double-nat":
            n2 = self.second_nat
            if n2.kind == "none":
                raise FieldError("nat2.kind", "the server's NAT must be 'napt' or 'static'; for no NAT in front "
                                 "of the server choose topology client-nat")
            if n2.helper == "static-port-500" and n2.kind == "napt" and Port.IKE in self.server_forwards:
                raise FieldError("nat2.helper", "helper 'static-port-500' conflicts with the forward of UDP 500 "
                                 "to the server; remove one of them")
        if self.topology == "double-nat" and self.second_nat.kind == "none":
            raise FieldError("nat2.kind", "the carrier NAT must translate ('napt' or 'static')")
        last = _number(self.addresses.client) + self.clients - 1
        if last > 0xFFFFFFFF:
            raise FieldError("clients", f"{self.clients} clients from {self.addresses.client} run past "
                             "255.255.255.255; choose a lower first client address")
        self._check_distinct(_dotted(last))
        self._check_work()
        if self.topology == "client-nat" and any(a.target == "nat2" for a in self.actions):
            raise FieldError("nat2.flush_at", "topology client-nat has no second NAT; choose server-nat, both-nat "
                             "or double-nat, or flush nat")
        return self

    def _check_work(self) -> None:
        """Refuse up front a keepalive that would flood the run (the run loop has a hard cap too)."""
        for side, senders in (("client", self.clients), ("server", 1)):
            interval = getattr(self, side).keepalive_interval
            key = f"{side}.keepalive_interval"
            if interval < MIN_KEEPALIVE:
                raise FieldError(key, f"must be at least {MIN_KEEPALIVE:g} s (RFC 3948 §4 suggests 20 s), "
                                      f"not {interval:g} s")
            delay = getattr(self, side).dpd_delay
            if delay and delay < MIN_KEEPALIVE:
                raise FieldError(f"{side}.dpd_delay", f"must be 0 (off) or at least {MIN_KEEPALIVE:g} s (real "
                                 f"stacks use 30 s), not {delay:g} s")
            packets = senders * self.duration / interval * HOPS_PER_KEEPALIVE
            if packets > MAX_RUN_PACKETS:
                raise FieldError(key, f"{interval:g} s keepalives from {senders} {side}{'s' if senders > 1 else ''} "
                                      f"over {self.duration:g} s would be about {packets:,.0f} packets, more than "
                                      f"a run may carry ({MAX_RUN_PACKETS:,}); raise the interval, shorten the "
                                      f"duration or use fewer clients")

        c = self.client
        rekeys = self.clients * rekeys_in(self.duration, c.ike_lifetime, c.ipsec_lifetime) if c.rekey else 0
        if rekeys > MAX_RUN_REKEYS:
            raise FieldError("client.ipsec_lifetime", f"{c.ipsec_lifetime} s IPsec and {c.ike_lifetime} s ISAKMP "
                             f"lifetimes over {self.duration:g} s would mean about {rekeys:,} rekeys, more than a run "
                             f"may make ({MAX_RUN_REKEYS:,}); raise the lifetimes, shorten the duration or use fewer "
                             "clients")

    def _check_distinct(self, last_client: str) -> None:
        a = self.addresses
        used: dict[str, str] = {}
        fixed = [("the client NAT's inside address", self.nat_inside), ("address.nat_public", a.nat_public)]
        if self.topology == "double-nat":
            fixed += [("the carrier network", CARRIER_NAT_OUTSIDE), ("the carrier network", CGNAT_INSIDE)]
        if self.server_behind_nat:
            fixed += [("address.server_private", a.server_private), ("address.server_nat_public", a.server_nat_public),
                      ("the server NAT's inside address", SERVER_NAT_INSIDE)]
        else:
            fixed.append(("address.server", a.server))
        for who, ip in fixed:
            if ip in used:
                name = who if who.startswith("address.") else used[ip]
                raise FieldError(name if name.startswith("address.") else "address",
                                 f"{ip} is already used by {used[ip]}; every box needs its own address")
            used[ip] = who
        first, last = _number(a.client), _number(last_client)
        for ip, who in used.items():
            if first <= _number(ip) <= last:
                span = a.client if first == last else f"{a.client}..{last_client}"
                raise FieldError("address.client", f"the client address {span} includes {ip}, already used by {who}")


def action_key(a: Action) -> str:
    """The --set key an action comes from (for messages beside the right field)."""
    verb = {"flush": "flush", "switch-off": "off", "reboot": "reboot"}[a.what]
    return f"{a.target}.{verb}_at"


def _nat_config(n: NatSettings, **kw) -> NatConfig:
    return NatConfig(kind=n.kind, port_allocation=n.port_allocation, mapping=n.mapping, filtering=n.filtering,
                     udp_timeout=n.timeout, helper=n.helper, esp=n.esp, ah=n.ah, fragments=n.fragments, **kw)


def build(s: Scenario) -> tuple[Network, dict[str, L2tpHost]]:
    """The network of a scenario, with its hosts attached and ready to run."""
    s.validate()
    a = s.addresses
    net = Network(seed=s.seed)
    rng = random.Random(s.seed)
    link = Impairment(loss=s.loss, duplicate=s.duplicate, reorder=s.reorder)
    wan_mtu = s.mtu if s.wan_mtu is None else s.wan_mtu
    net.add_segment("client-lan", link, mtu=s.mtu)
    net.add_segment("internet", link, mtu=wan_mtu)
    client_nat_kind = "none" if s.topology == "server-nat" else s.nat.kind
    outside_segment = "internet"
    if s.topology == "double-nat":
        net.add_segment("carrier", link, mtu=wan_mtu)
        outside_segment = "carrier"
        net.add_nat(Nat(_nat_config(s.second_nat, name="cgnat", public_ip=a.nat_public), random.Random(rng.random())),
                    "carrier", CGNAT_INSIDE, "internet")
    public = CARRIER_NAT_OUTSIDE if s.topology == "double-nat" else a.nat_public
    cfg = _nat_config(replace(s.nat, kind=client_nat_kind), name="nat", public_ip=public)
    nat_inside = s.nat_inside
    net.add_nat(Nat(cfg, random.Random(rng.random())), "client-lan", nat_inside, outside_segment,
                gateway=CGNAT_INSIDE if s.topology == "double-nat" else None)
    server_ip, server_target = a.server, a.server
    if s.server_behind_nat:
        n2 = s.second_nat
        net.add_segment("server-lan", link, mtu=s.mtu)
        server_ip, server_target = a.server_private, a.server_nat_public
        forwards = () if n2.kind != "napt" else tuple(
            Forward(IPProto.UDP, p, Endpoint(server_ip, p)) for p in s.server_forwards)
        server_nat = _nat_config(n2, name="server-nat", public_ip=a.server_nat_public, forwards=forwards,
                                 esp_host=server_ip)
        net.add_nat(Nat(server_nat, random.Random(rng.random())), "server-lan", SERVER_NAT_INSIDE, "internet")
    hosts: dict[str, L2tpHost] = {}
    names = s.peer_names
    for i, name in enumerate(names[:-1]):
        peer = make_peer(name, s.client_address(i + 1), s.client, rng=random.Random(rng.random()))
        host = L2tpHost(peer, "client", server_target, start_at=0.002 * i,
                        sends=tuple(x for x in s.sends if x.sender == "client"), ppp=s.ppp)
        net.add_host(host, "client-lan", peer.address, gateway=nat_inside)
        hosts[name] = host
    server = make_peer("server", server_ip, s.server, rng=random.Random(rng.random()))
    hosts["server"] = L2tpHost(server, "server", sends=tuple(x for x in s.sends if x.sender == "server"), ppp=s.server_ppp,
                               spd=Spd(keying_for(s.server.profile)))
    net.add_host(hosts["server"], "server-lan" if s.server_behind_nat else "internet", server_ip,
                 gateway=SERVER_NAT_INSIDE if s.server_behind_nat else None)
    schedule(net, hosts, s)
    return net, hosts


class RunTooLarge(ConfigError):
    """A run needed more work than any lesson does (MAX_RUN_PACKETS, MAX_RUN_EVENTS)."""


class _Budget:
    """Stops a run with a clear message past the caps on its packets and events (the recorder,
    which sees each of them anyway, counts them and calls `stop`)."""

    def __init__(self, net: Network, duration: float):
        self.net, self.duration = net, duration

    def stop(self, what: str, limit: int) -> None:
        raise RunTooLarge(f"the run stopped at t={self.net.clock.now:g} s of {self.duration:g} s: more than "
                          f"{limit:,} {what}, more than any lesson needs; shorten the duration, use fewer "
                          "clients or raise the keepalive interval")


def run(s: Scenario, snapshots: bool | None = None) -> Trace:
    """Run a scenario to its duration and return its Trace (validated first: nothing half-runs;
    bounded: a run that needs more work than MAX_RUN_* stops with RunTooLarge)."""
    with _collector_paused():
        return _run(s, snapshots)


def _run(s: Scenario, snapshots: bool | None) -> Trace:
    """The run itself, in a frame of its own: once it returns, its network and peers are garbage
    before the collector comes back, so the first collection frees them instead of scanning them
    as live objects and keeping them for an older generation to scan again."""
    net, hosts = build(s)
    try:
        recorder = Recorder(net, hosts, snapshots=s.clients <= 20 if snapshots is None else snapshots,
                            limits=(MAX_RUN_PACKETS, MAX_RUN_EVENTS), over=_Budget(net, s.duration).stop)
        net.run(s.duration, max_steps=MAX_RUN_STEPS)
        return recorder.finish(s)
    finally:
        net.close()     # no cycles through its timers and callbacks: reference counting frees the run


_pause_lock = threading.Lock()
_pauses = [0, False]   # runs going on, whether the collector was on before the first


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector while a run builds its trace.

    A run makes no cyclic garbage until it ends (its network and peers become garbage only once
    the trace is returned), but everything it keeps -- hops, events, SAs -- is scanned again by
    every full collection: at 1000 clients that was an eighth of the run and grew with its size.
    The collector comes back when the last concurrent run ends, as it was before."""
    with _pause_lock:
        if _pauses[0] == 0:
            _pauses[1] = gc.isenabled()
            gc.disable()
        _pauses[0] += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses[0] -= 1
            if _pauses[0] == 0 and _pauses[1]:
                gc.enable()
