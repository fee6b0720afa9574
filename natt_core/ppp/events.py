"""What a PPP endpoint reports: frozen dataclasses with `describe()` for people and `code` for decisions."""
from __future__ import annotations

from dataclasses import dataclass

from ..reasons import Reason
from ..net.records import fast_init_all


@dataclass(frozen=True)
class StateReached:
    """A control protocol (LCP, IPCP) reached a state, or the link entered a phase (RFC 1661 §3.2)."""
    layer: str
    state: str

    def describe(self) -> str:
        return f"{self.layer} {self.state}"


@dataclass(frozen=True)
class AuthSucceeded:
    method: str
    user: str

    def describe(self) -> str:
        return f"{self.method} authentication of {self.user!r} succeeded"


@dataclass(frozen=True)
class AuthFailed:
    method: str
    user: str
    reason: str
    code: Reason

    def describe(self) -> str:
        return f"{self.method} authentication of {self.user!r} failed: {self.reason}"


@dataclass(frozen=True)
class AddressAssigned:
    """IPCP opened: our address, the peer's, and the DNS servers learnt (client) or handed out (server)."""
    address: str
    peer_address: str
    dns: tuple[str, ...]

    def describe(self) -> str:
        dns = f", DNS {', '.join(self.dns)}" if self.dns else ""
        return f"IPCP: address {self.address}, peer {self.peer_address}{dns}"


@dataclass(frozen=True)
class LinkFailed:
    """The link went down for good: which layer and why."""
    layer: str
    reason: str
    code: Reason

    def describe(self) -> str:
        return f"PPP failed in {self.layer}: {self.reason}"


@dataclass(frozen=True)
class EchoReplied:
    identifier: int
    magic: int

    def describe(self) -> str:
        return f"LCP Echo-Reply {self.identifier} (magic 0x{self.magic:08x})"


@dataclass(frozen=True)
class IpReceived:
    packet: bytes

    def describe(self) -> str:
        return f"IPv4 packet of {len(self.packet)} bytes through PPP"


@dataclass(frozen=True)
class FrameDropped:
    reason: str
    code: Reason

    def describe(self) -> str:
        return f"PPP frame dropped: {self.reason}"


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
