"""A Scenario is plain data; `run()` builds the virtual network from it and returns a Trace.

Topology (addresses from the lab in the seed texts):

    client-lan 192.168.11.0/24 ── nat ── internet 192.168.1.0/24 ── [server-nat ── server-lan 10.0.0.0/24]
    (double NAT: client-lan ── nat ── carrier 10.64.0.0/24 ── cgnat ── internet)

"the NAT" in front of the clients is configurable (napt, static 1:1, or none = a plain router);
a server behind NAT sits behind a NAPT with static forwards of UDP 500 and 4500.
"""
from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field, replace

from ..addressing import Endpoint
from ..errors import ConfigError
from ..ike.peer import Peer
from ..ike.policy import PeerPolicy
from ..net.impair import Impairment
from ..net.nat import Forward, Nat, NatConfig
from ..net.network import Network
from ..wire.numbers import IPProto, Port
from .apps import L2tpHost, Send
from .recorder import Recorder
from .trace import Trace

CLIENT_BASE = ipaddress.IPv4Address("192.168.11.0") + 19   # client1 = 192.168.11.20
NAT_INSIDE, NAT_PUBLIC = "192.168.11.1", "192.168.1.30"
SERVER_PUBLIC, SERVER_PRIVATE = "192.168.1.10", "10.0.0.10"
SERVER_NAT_INSIDE, SERVER_NAT_PUBLIC = "10.0.0.1", "192.168.1.40"
CARRIER_NAT_OUTSIDE, CGNAT_INSIDE = "10.64.0.30", "10.64.0.1"
TOPOLOGIES = ("client-nat", "server-nat", "both-nat", "double-nat")
MAX_CLIENTS = 1000


@dataclass(frozen=True)
class NatSettings:
    """The client-side NAT ("the NAT" of a lesson)."""
    kind: str = "napt"
    port_allocation: str = "random"
    mapping: str = "endpoint-independent"
    filtering: str = "address-and-port-dependent"
    timeout: float = 120.0
    helper: str = "none"
    esp: str = "address-only"
    ah: str = "address-only"


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

    def __post_init__(self) -> None:
        if self.topology not in TOPOLOGIES:
            raise ConfigError(f"unknown topology {self.topology!r}; choose one of {', '.join(TOPOLOGIES)}")
        if not isinstance(self.clients, int) or not 1 <= self.clients <= MAX_CLIENTS:
            raise ConfigError(f"clients must be 1..{MAX_CLIENTS}, not {self.clients!r}")
        if not (isinstance(self.duration, (int, float)) and 0 < self.duration <= 86400):
            raise ConfigError(f"duration must be 0..86400 virtual seconds, not {self.duration!r}")

    def with_(self, **changes) -> "Scenario":
        return replace(self, **changes)

    @property
    def peer_names(self) -> tuple[str, ...]:
        clients = ("client",) if self.clients == 1 else tuple(f"client{i}" for i in range(1, self.clients + 1))
        return clients + ("server",)

    @property
    def server_behind_nat(self) -> bool:
        return self.topology in ("server-nat", "both-nat")

    def client_address(self, index: int) -> str:
        return str(CLIENT_BASE + index)


def build(s: Scenario) -> tuple[Network, dict[str, L2tpHost]]:
    """The network of a scenario, with its hosts attached and ready to run."""
    net = Network(seed=s.seed)
    rng = random.Random(s.seed)
    link = Impairment(loss=s.loss, duplicate=s.duplicate, reorder=s.reorder)
    net.add_segment("client-lan", link)
    net.add_segment("internet", link)
    client_nat_kind = "none" if s.topology == "server-nat" else s.nat.kind
    n = s.nat
    outside_segment = "internet"
    if s.topology == "double-nat":
        net.add_segment("carrier", link)
        outside_segment = "carrier"
        net.add_nat(Nat(NatConfig(name="cgnat", public_ip=NAT_PUBLIC, udp_timeout=n.timeout), random.Random(rng.random())),
                    "carrier", CGNAT_INSIDE, "internet")
    public = CARRIER_NAT_OUTSIDE if s.topology == "double-nat" else NAT_PUBLIC
    cfg = NatConfig(name="nat", public_ip=public, kind=client_nat_kind, port_allocation=n.port_allocation,
                    mapping=n.mapping, filtering=n.filtering, udp_timeout=n.timeout, helper=n.helper,
                    esp=n.esp, ah=n.ah)
    net.add_nat(Nat(cfg, random.Random(rng.random())), "client-lan", NAT_INSIDE, outside_segment,
                gateway=CGNAT_INSIDE if s.topology == "double-nat" else None)
    server_ip, server_target = SERVER_PUBLIC, SERVER_PUBLIC
    if s.server_behind_nat:
        net.add_segment("server-lan", link)
        server_ip, server_target = SERVER_PRIVATE, SERVER_NAT_PUBLIC
        forwards = tuple(Forward(IPProto.UDP, p, Endpoint(SERVER_PRIVATE, p)) for p in (Port.IKE, Port.NAT_T))
        server_nat = NatConfig(name="server-nat", public_ip=SERVER_NAT_PUBLIC, forwards=forwards,
                               udp_timeout=n.timeout, esp_host=SERVER_PRIVATE)
        net.add_nat(Nat(server_nat, random.Random(rng.random())), "server-lan", SERVER_NAT_INSIDE, "internet")
    hosts: dict[str, L2tpHost] = {}
    names = s.peer_names
    for i, name in enumerate(names[:-1]):
        peer = Peer(name, s.client_address(i + 1), s.client, rng=random.Random(rng.random()))
        host = L2tpHost(peer, "client", server_target, start_at=0.002 * i,
                        sends=tuple(x for x in s.sends if x.sender == "client"))
        net.add_host(host, "client-lan", peer.address, gateway=NAT_INSIDE)
        hosts[name] = host
    server = Peer("server", server_ip, s.server, rng=random.Random(rng.random()))
    hosts["server"] = L2tpHost(server, "server", sends=tuple(x for x in s.sends if x.sender == "server"))
    net.add_host(hosts["server"], "server-lan" if s.server_behind_nat else "internet", server_ip,
                 gateway=SERVER_NAT_INSIDE if s.server_behind_nat else None)
    return net, hosts


def run(s: Scenario, snapshots: bool | None = None) -> Trace:
    """Run a scenario to its duration and return its Trace."""
    net, hosts = build(s)
    recorder = Recorder(net, hosts, snapshots=s.clients <= 20 if snapshots is None else snapshots)
    net.run(s.duration)
    return recorder.finish(s)
