"""A two-peer harness: real IPv4 bytes between two sans-IO peers, with an optional address rewrite.

`Pair` plays the network for engine tests: every datagram is encoded to IPv4 bytes and decoded
again on arrival, a `rewrite` function may translate it on the way (a minimal NAPT for the
engine tests; the lab's real NAT has tests of its own), and `drop`/`duplicate` hooks let a test
lose or repeat chosen packets.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from natt_core.addressing import Datagram, Endpoint
from natt_core.ike.peer import Peer
from natt_core.ike.policy import PeerPolicy
from natt_core.wire.ip import decode_datagram, encode_datagram

CLIENT_IP = "192.168.11.20"     # behind the NAT (seed 004's lab)
NAT_IP = "192.168.1.30"         # the NAT's outside address
SERVER_IP = "192.168.1.10"
SERVER_PRIVATE = "10.0.0.10"    # a server behind its own NAT
SERVER_NAT_IP = "192.168.1.40"

#: L2TP packets of one client's call when nothing is lost: the control ladder (RFC 2661 §5.8, §7.2:
#: SCCRQ, SCCRP, SCCCN, ICRQ, ZLB, ICRP, ICCN, ZLB) and the PPP frames in data messages that bring
#: the link up (LCP, MS-CHAPv2, IPCP: 15) and the client's ping and its reply (2). A reliably
#: delivered HELLO adds itself and its ZLB.
L2TP_CONTROL, PPP_FRAMES = 8, 17
L2TP_CALL = L2TP_CONTROL + PPP_FRAMES


def napt(inside: str, outside: str, port_offset: int = 61000):
    """Rewrite inside:port <-> outside:(port+offset); ESP/AH get only the address rewritten."""
    def fn(d: Datagram) -> Datagram:
        if d.src.ip == inside:
            port = d.src.port + port_offset if d.src.port else 0
            return replace(d, src=Endpoint(outside, port))
        if d.dst.ip == outside:
            port = d.dst.port - port_offset if d.dst.port else 0
            return replace(d, dst=Endpoint(inside, port))
        return d
    return fn


def forward(public: str, inside: str):
    """A server behind NAT with static forwards: public:any <-> inside:same port."""
    def fn(d: Datagram) -> Datagram:
        if d.src.ip == inside:
            return replace(d, src=Endpoint(public, d.src.port))
        if d.dst.ip == public:
            return replace(d, dst=Endpoint(inside, d.dst.port))
        return d
    return fn


@dataclass
class Pair:
    client: Peer
    server: Peer
    rewrites: list = field(default_factory=list)
    now: float = 0.0
    events: list = field(default_factory=list)
    wire: list = field(default_factory=list)      #: (time, datagram as delivered)
    drop: object = None                           #: fn(Datagram) -> bool
    step: float = 0.005

    def _route(self, d: Datagram) -> tuple[Peer, Datagram] | None:
        for fn in self.rewrites:
            d = fn(d)
        d = replace(decode_datagram(encode_datagram(d)), label=d.label)   # real bytes on the wire
        for peer in (self.client, self.server):
            if d.dst.ip == peer.address:
                return peer, d
        return None

    def feed(self, datagrams) -> None:
        queue = list(datagrams)
        while queue:
            d = queue.pop(0)
            self.now += self.step
            if self.drop and self.drop(d):
                continue
            routed = self._route(d)
            if routed is None:
                continue
            peer, d = routed
            self.wire.append((self.now, d))
            out = peer.receive(d, self.now)
            self.events += out.events
            queue += out.datagrams

    def take(self, out) -> None:
        self.events += out.events
        self.feed(out.datagrams)

    def connect(self) -> "Pair":
        target = self.server_public
        self.take(self.client.connect(target, self.now))
        return self

    @property
    def server_public(self) -> str:
        for fn in self.rewrites:
            if getattr(fn, "public", None):
                return fn.public
        return self.server.address

    def advance(self, seconds: float) -> None:
        end = self.now + seconds
        while True:
            due = [t for t in (self.client.next_timer(), self.server.next_timer()) if t is not None and t <= end]
            if not due:
                break
            self.now = max(self.now, min(due))
            for peer in (self.client, self.server):
                t = peer.next_timer()
                if t is not None and t <= self.now:
                    self.take(peer.on_timer(self.now))
        self.now = end

    def of(self, kind: str, peer: str | None = None) -> list:
        return [e for e in self.events if e.kind == kind and (peer is None or e.peer == peer)]

    def clone(self) -> "Pair":
        return copy.deepcopy(self)


def make_pair(client_policy: PeerPolicy | None = None, server_policy: PeerPolicy | None = None, *,
              client_nat: bool = False, server_nat: bool = False, seed: int = 1) -> Pair:
    server_ip = SERVER_PRIVATE if server_nat else SERVER_IP
    client = Peer("client", CLIENT_IP, client_policy or PeerPolicy(), rng=seed)
    server = Peer("server", server_ip, server_policy or PeerPolicy(), rng=seed + 1000)
    rewrites = []
    if client_nat:
        rewrites.append(napt(CLIENT_IP, NAT_IP))
    if server_nat:
        fwd = forward(SERVER_NAT_IP, SERVER_PRIVATE)
        fwd.public = SERVER_NAT_IP
        rewrites.append(fwd)
    return Pair(client, server, rewrites)
