"""Hosts of the lab: an IKE peer plus the L2TP application that rides on it.

The client starts Main Mode at its start time and, once its IPsec SA is up, sends an L2TP SCCRQ;
the server answers every SCCRQ with an SCCRP on the SA it came from. Scheduled sends (e.g. an
L2TP HELLO after ten idle minutes) test whether the NAT mapping is still there.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import DecodeError
from ..ike.events import DataReceived, Phase2Established
from ..ike.peer import Peer
from ..output import Output
from ..wire.l2tp import MessageType, control_message, decode_control


@dataclass(frozen=True)
class Send:
    """Send one L2TP control message at a virtual time (seconds after the start)."""
    at: float
    sender: str          #: "client" (every client) or "server" (to every client SA)
    message: str = "HELLO"


class L2tpHost:
    """A network host: the sans-IO IKE peer with an L2TP client or server on top."""

    def __init__(self, peer: Peer, role: str, server_ip: str | None = None, start_at: float = 0.0,
                 sends: tuple[Send, ...] = ()):
        self.peer = peer
        self.role = role
        self.server_ip = server_ip
        self._agenda = sorted([(start_at, "connect", None)] if role == "client" else [])
        self._agenda += sorted((s.at, "send", s.message) for s in sends)
        self._agenda.sort(key=lambda item: item[0])
        self.sent = 0

    @property
    def name(self) -> str:
        return self.peer.name

    def next_timer(self) -> float | None:
        times = [t for t in (self.peer.next_timer(), self._agenda[0][0] if self._agenda else None) if t is not None]
        return min(times) if times else None

    def on_timer(self, now: float) -> Output:
        out = Output()
        while self._agenda and self._agenda[0][0] <= now:
            _, action, message = self._agenda.pop(0)
            if action == "connect":
                out += self._react(self.peer.connect(self.server_ip, now), now)
            else:
                out += self._send_all(MessageType[message], now)
        t = self.peer.next_timer()
        if t is not None and t <= now:
            out += self._react(self.peer.on_timer(now), now)
        return out

    def receive(self, dgram, now: float) -> Output:
        return self._react(self.peer.receive(dgram, now), now)

    def _send_all(self, kind: MessageType, now: float) -> Output:
        out = Output()
        for sa in self.peer.sas.values():
            for child in sa.children[-1:]:
                out += self.peer.send_udp(control_message(kind, host_name=self.name), now, child=child)
        return out

    def _react(self, out: Output, now: float) -> Output:
        extra = Output()
        for event in out.events:
            if isinstance(event, Phase2Established) and self.role == "client":
                extra += self.peer.send_udp(control_message(MessageType.SCCRQ, host_name=self.name), now)
            elif isinstance(event, DataReceived) and self.role == "server":
                try:
                    message = decode_control(event.payload)
                except DecodeError:
                    continue
                child = self.peer.children.get(int(event.spi, 16))
                if message.kind == MessageType.SCCRQ and child is not None:
                    extra += self.peer.send_udp(control_message(MessageType.SCCRP, host_name=self.name),
                                                now, child=child)
        return out + extra
