"""A peer that speaks IKEv1 and IKEv2 side by side, as strongSwan does with `version = 0`.

Each message goes to the engine of its version (the header's version byte, RFC 7296 §3.1 /
RFC 2408 §3.1); ESP goes to whichever engine owns its SPI. It initiates with IKEv2. The SA
tables read as one, so the lab, its report and its views treat it like any other peer.
"""
from __future__ import annotations

import random
from collections import ChainMap

from ..addressing import Datagram
from ..output import Output
from ..wire.numbers import IPProto, Port
from ..wire.udp_encap import NON_ESP_MARKER, KEEPALIVE
from .peer import Peer
from .policy import PeerPolicy
from .v2.peer import Peer2


class DualPeer:
    def __init__(self, name: str, address: str, policy: PeerPolicy, rng: random.Random | int = 0):
        rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        self.name, self.policy = name, policy
        self.v1 = Peer(name, address, policy, rng=random.Random(rng.random()))
        self.v2 = Peer2(name, address, policy, rng=random.Random(rng.random()))
        self.address = self.v1.address

    # the SA tables of both engines, read as one
    @property
    def sas(self):
        return ChainMap(self.v2.sas, self.v1.sas)

    @property
    def children(self):
        return ChainMap(self.v2.children, self.v1.children)

    def _engine_for(self, dgram: Datagram):
        """IKE by its version byte, ESP by the engine that knows the SPI (IKEv2 otherwise)."""
        data = dgram.payload
        if dgram.proto == IPProto.UDP and dgram.dst.port == Port.NAT_T:
            if data == KEEPALIVE:
                return self.v2 if self.v2.sas else self.v1
            if data[:4] == NON_ESP_MARKER:
                data = data[4:]
            else:
                spi = int.from_bytes(data[:4], "big")
                return self.v1 if spi in self.v1.children else self.v2
        elif dgram.proto != IPProto.UDP:
            spi = int.from_bytes(data[:4], "big") if dgram.proto == IPProto.ESP else int.from_bytes(data[4:8], "big")
            return self.v1 if spi in self.v1.children else self.v2
        return self.v1 if len(data) > 17 and data[17] >> 4 == 1 else self.v2

    def connect(self, remote_ip: str, now: float, remote_port: int = Port.IKE) -> Output:
        return self.v2.connect(remote_ip, now, remote_port)

    def receive(self, dgram: Datagram, now: float) -> Output:
        return self._engine_for(dgram).receive(dgram, now)

    def close(self) -> None:
        self.v1.close()
        self.v2.close()

    def next_timer(self) -> float | None:
        times = [t for t in (self.v1.next_timer(), self.v2.next_timer()) if t is not None]
        return min(times) if times else None

    def on_timer(self, now: float) -> Output:
        out = Output()
        for engine in (self.v1, self.v2):
            t = engine.next_timer()
            if t is not None and t <= now + 1e-9:
                out += engine.on_timer(now)
        return out

    def send_udp(self, payload: bytes, now: float, *, child=None, **kw) -> Output:
        engine = self.v2 if child is None and self.v2.latest_child() else self.v1
        if child is not None:
            engine = self.v2 if child.spi_in in self.v2.children else self.v1
        return engine.send_udp(payload, now, child=child, **kw)

    def delete(self, now: float) -> Output:
        return self.v1.delete(now) + self.v2.delete(now)

    def isakmp_rows(self):
        return self.v1.isakmp_rows() + self.v2.isakmp_rows()

    def ipsec_rows(self):
        return self.v1.ipsec_rows() + self.v2.ipsec_rows()
