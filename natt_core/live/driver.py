"""Our sans-IO peer on real UDP sockets: the engine is unchanged, only delivery and the clock are real.

The peer gets two sockets on its own address, UDP 500 and UDP 4500 (RFC 3947 §4). A datagram
that arrives becomes a `Datagram` whose source is what the kernel reports (the NAT's public
address and port when a NAT is on the path), whose destination is our address and the socket's
port, and whose payload is the UDP payload exactly as received — on 4500 it still begins with
the non-ESP marker or an ESP SPI, and the peer demultiplexes it (RFC 3948 §2). Whatever the
peer returns leaves from the socket matching its source port; ESP-in-UDP and keepalives ask for
UDP checksum 0 (RFC 3948 §2.1, §2.3), which Linux sends with SO_NO_CHECK. Raw ESP/AH (IP
protocols 50/51) are not carried here: with a NAT on the path, ESP is always UDP-encapsulated.
The clock is `time.monotonic()` measured from the driver's start.
"""
from __future__ import annotations

import selectors
import socket
import time
from typing import Callable, Mapping

from ..addressing import Datagram, Endpoint
from ..ike.peer import Peer
from ..output import Output
from ..wire.numbers import IPProto, Port

SO_NO_CHECK = 11   #: Linux <asm-generic/socket.h>: send UDP over IPv4 with checksum 0


class LiveDriver:
    """Runs one `Peer` over real sockets; `events` and `wire` record what happened, with times."""

    def __init__(self, peer: Peer, sockets: Mapping[int, socket.socket], clock: Callable[[], float] = time.monotonic):
        self.peer = peer
        self.sockets = dict(sockets)
        self._clock = clock
        self._t0 = clock()
        self.events: list = []
        self.wire: list[tuple[float, str, Datagram]] = []     #: (time, "in" | "out", datagram)
        self.not_carried: list[Datagram] = []                 #: what a UDP-only driver cannot send
        self._selector = selectors.DefaultSelector()
        for port, sock in self.sockets.items():
            sock.setblocking(False)
            self._selector.register(sock, selectors.EVENT_READ, port)

    @classmethod
    def bind(cls, peer: Peer, make_socket: Callable[[str, int], socket.socket], **kw) -> "LiveDriver":
        """A driver with fresh sockets on the peer's address, UDP 500 and 4500."""
        sockets = {}
        try:
            for port in (Port.IKE, Port.NAT_T):
                sockets[int(port)] = make_socket(peer.address, int(port))
        except BaseException:
            for s in sockets.values():
                s.close()
            raise
        return cls(peer, sockets, **kw)

    def __enter__(self) -> "LiveDriver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._selector.close()
        for sock in self.sockets.values():
            sock.close()

    def now(self) -> float:
        return self._clock() - self._t0

    # ------------------------------------------------------------------ the peer's API, live
    def connect(self, remote_ip: str) -> None:
        self._take(self.peer.connect(remote_ip, self.now()))

    def send_udp(self, payload: bytes, **kw) -> None:
        self._take(self.peer.send_udp(payload, self.now(), **kw))

    def delete(self) -> None:
        self._take(self.peer.delete(self.now()))

    # ------------------------------------------------------------------ delivery
    def _take(self, out: Output) -> None:
        self.events += out.events
        for d in out.datagrams:
            self._transmit(d)

    def _transmit(self, d: Datagram) -> None:
        sock = self.sockets.get(d.src.port)
        if d.proto != IPProto.UDP or sock is None:
            self.not_carried.append(d)
            return
        if d.zero_udp_checksum:
            sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 1)
        try:
            sock.sendto(d.payload, (d.dst.ip, d.dst.port))
        finally:
            if d.zero_udp_checksum:
                sock.setsockopt(socket.SOL_SOCKET, SO_NO_CHECK, 0)
        self.wire.append((self.now(), "out", d))

    def poll(self, timeout: float) -> None:
        """Wait up to `timeout` s (less if a peer timer is due), deliver what arrived, fire due timers."""
        due = self.peer.next_timer()
        if due is not None:
            timeout = max(0.0, min(timeout, due - self.now()))
        for key, _ in self._selector.select(timeout):
            port, sock = key.data, key.fileobj
            while True:
                try:
                    payload, (ip, sport) = sock.recvfrom(65535)
                except (BlockingIOError, InterruptedError):
                    break
                d = Datagram(Endpoint(ip, sport), Endpoint(self.peer.address, port), IPProto.UDP, payload)
                self.wire.append((self.now(), "in", d))
                self._take(self.peer.receive(d, self.now()))
        due = self.peer.next_timer()
        if due is not None and due <= self.now():
            self._take(self.peer.on_timer(self.now()))

    def run_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Drive the peer until `predicate()` holds or `timeout` seconds pass; returns the predicate."""
        end = self.now() + timeout
        while not predicate():
            left = end - self.now()
            if left <= 0:
                return False
            self.poll(min(left, 0.05))
        return True

    def run_for(self, seconds: float) -> None:
        self.run_until(lambda: False, seconds)

    # ------------------------------------------------------------------ views
    def of(self, kind: str) -> list:
        return [e for e in self.events if e.kind == kind]

    def first(self, kind: str):
        found = self.of(kind)
        return found[0] if found else None
