"""Typed events a peer reports at every step (what a lesson tells in plain words).

Events are facts, never commands: the lab records them in the trace and the views turn
`describe()` into the narrative. A protocol refusal is an event with a reason, not an exception.
Every drop, refusal and failure carries a `code` (natt_core.reasons.Reason) beside its sentence:
the sentence is for people, the code is what anything downstream decides on.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..output import Event
from ..reasons import Reason
from ..net.records import fast_init_all


@dataclass(frozen=True)
class MessageSent(Event):
    """An IKE message left this peer (label like 'MM3', payload names in order)."""
    label: str
    payloads: tuple[str, ...]
    dst: str
    encrypted: bool = False
    retransmission: int = 0

    def describe(self) -> str:
        again = f" (retransmission {self.retransmission})" if self.retransmission else ""
        lock = "encrypted " if self.encrypted else ""
        return f"{self.peer} sends {lock}{self.label} [{', '.join(self.payloads)}] to {self.dst}{again}"


@dataclass(frozen=True)
class MessageReceived(Event):
    label: str
    payloads: tuple[str, ...]
    src: str

    def describe(self) -> str:
        return f"{self.peer} accepts {self.label} [{', '.join(self.payloads)}] from {self.src}"


@dataclass(frozen=True)
class VendorIdsSeen(Event):
    vids: tuple[str, ...]
    nat_t: str | None  #: the version both sides speak, or None

    def describe(self) -> str:
        seen = ", ".join(self.vids) or "no Vendor IDs"
        chosen = f"NAT-T {self.nat_t} will be used" if self.nat_t else "no common NAT-T version: NAT-T off"
        return f"{self.peer} sees {seen}; {chosen}"


@dataclass(frozen=True)
class NatDetected(Event):
    """The NAT-D verdict (RFC 3947 §3.2), with the hashes that were compared."""
    self_behind_nat: bool
    peer_behind_nat: bool
    local: str           #: our address and port as we know them
    peer_seen: str       #: the peer's address and port as the packet carried them
    expected_self: str   #: hex of HASH(our local address)
    received_dest: str   #: hex of the peer's first NAT-D (its view of our address)
    expected_peer: str   #: hex of HASH(source address seen)
    received_sources: tuple[str, ...]

    def describe(self) -> str:
        if not (self.self_behind_nat or self.peer_behind_nat):
            return f"{self.peer}: NAT-D hashes match — no NAT between the peers"
        sides = []
        if self.self_behind_nat:
            sides.append("this side is behind a NAT (the peer saw another address/port than "
                         f"{self.local})")
        if self.peer_behind_nat:
            sides.append(f"the peer is behind a NAT (it says it is not {self.peer_seen})")
        return f"{self.peer}: NAT detected — " + "; ".join(sides)


@dataclass(frozen=True)
class Floated(Event):
    """IKE moved from UDP 500 to 4500 (RFC 3947 §4)."""
    local_port: int
    remote: str

    def describe(self) -> str:
        return f"{self.peer} floats to UDP {self.local_port} → {self.remote}; IKE now carries the non-ESP marker"


@dataclass(frozen=True)
class Phase1Established(Event):
    cookies: str
    remote: str
    nat_t: str | None
    dh_group: int
    cipher: str
    hash: str

    def describe(self) -> str:
        return (f"{self.peer}: ISAKMP SA {self.cookies} established with {self.remote} "
                f"({self.cipher}, {self.hash}, DH group {self.dh_group})")


@dataclass(frozen=True)
class Phase2Established(Event):
    spi_in: str
    spi_out: str
    protocol: str          #: "esp" or "ah"
    mode: str              #: "tunnel", "transport", "udp-tunnel", "udp-transport"
    encapsulation: int     #: the wire value (1, 2, 3, 4, 61443, 61444)
    remote: str
    nat_oa: tuple[str, ...] = ()

    def describe(self) -> str:
        oa = f", NAT-OA {' / '.join(self.nat_oa)}" if self.nat_oa else ""
        return (f"{self.peer}: IPsec SA up — {self.protocol.upper()} {self.mode} (encapsulation "
                f"{self.encapsulation}), SPI in {self.spi_in}, out {self.spi_out}{oa}")


@dataclass(frozen=True)
class Refused(Event):
    """This peer refused to go on (policy, no proposal chosen, the Windows NAT rule)."""
    reason: str
    code: Reason
    phase: int = 1

    def describe(self) -> str:
        return f"{self.peer} refuses: {self.reason}"


@dataclass(frozen=True)
class PeerRefused(Event):
    """The peer told us it refused (a Notification such as NO-PROPOSAL-CHOSEN)."""
    reason: str
    code: Reason

    def describe(self) -> str:
        return f"{self.peer} is told: {self.reason}"


@dataclass(frozen=True)
class AuthenticationFailed(Event):
    reason: str
    code: Reason = Reason.AUTH_FAILED

    def describe(self) -> str:
        return f"{self.peer}: authentication failed — {self.reason}"


@dataclass(frozen=True)
class NegotiationFailed(Event):
    """The final word on a negotiation this peer started: it has ended and will not be retried."""
    what: str
    reason: str
    code: Reason

    def describe(self) -> str:
        return f"{self.peer}: {self.what} failed — {self.reason}"


@dataclass(frozen=True)
class PacketDropped(Event):
    """A datagram this peer would not accept, and exactly why."""
    reason: str
    code: Reason
    layer: str = "IKE"
    spi: str | None = None   #: the IPsec SA (8 hex digits) a data-plane drop concerns

    def describe(self) -> str:
        article = "an" if self.layer[:1] in "AEIO" else "a"
        return f"{self.peer} drops {article} {self.layer} packet: {self.reason}"


@dataclass(frozen=True)
class Retransmitted(Event):
    label: str
    attempt: int

    def describe(self) -> str:
        return f"{self.peer} retransmits {self.label} (attempt {self.attempt})"


@dataclass(frozen=True)
class GaveUp(Event):
    label: str
    attempts: int
    code: Reason = Reason.GAVE_UP

    def describe(self) -> str:
        return f"{self.peer} gives up waiting for the answer to {self.label} after {self.attempts} tries"


@dataclass(frozen=True)
class HalfOpenForgotten(Event):
    """A responder SA that never authenticated was idle for the half-open timeout: it is gone,
    timers and all (strongSwan's charon.half_open_timeout)."""
    cookies: str
    state: str
    src: str
    idle: float

    def describe(self) -> str:
        return (f"{self.peer} forgets the unauthenticated ISAKMP SA {self.cookies} from {self.src} "
                f"({self.state}) after {self.idle:g} s without progress")


@dataclass(frozen=True)
class KeepaliveSent(Event):
    dst: str

    def describe(self) -> str:
        return f"{self.peer} sends a NAT keepalive (0xFF) to {self.dst}"


@dataclass(frozen=True)
class KeepaliveReceived(Event):
    src: str

    def describe(self) -> str:
        return f"{self.peer} receives a NAT keepalive from {self.src} and ignores it"


@dataclass(frozen=True)
class DataSent(Event):
    spi: str
    inner: str
    size: int

    def describe(self) -> str:
        return f"{self.peer} protects {self.inner} ({self.size} bytes) with SPI {self.spi}"


@dataclass(frozen=True)
class DataReceived(Event):
    spi: str
    inner: str
    payload: bytes
    checksum_fixup: str | None = None  #: what the RFC 3948 §3.1.2 fix-up did, if anything

    def describe(self) -> str:
        fix = f"; {self.checksum_fixup}" if self.checksum_fixup else ""
        return f"{self.peer} decrypts {self.inner} ({len(self.payload)} bytes) from SPI {self.spi}{fix}"


@dataclass(frozen=True)
class SaDeleted(Event):
    what: str
    by_peer: bool
    #: why, when it was not a Delete payload: DPD_PEER_DEAD, INITIAL_CONTACT (None: a Delete)
    code: Reason | None = None
    phase: int = 0       #: 1: an ISAKMP SA, 2: an IPsec SA pair
    sa: str = ""         #: its name: "icookie:rcookie" or "spi_in/spi_out" in hex

    def describe(self) -> str:
        who = "the peer deleted" if self.by_peer else "deletes"
        why = {Reason.DPD_PEER_DEAD: " (dead peer)", Reason.INITIAL_CONTACT: " (replaced after INITIAL-CONTACT)"}
        return f"{self.peer}: {who} {self.what}{why.get(self.code, '')}"


# --- IKEv2 (RFC 7296) ------------------------------------------------------------------------

@dataclass(frozen=True)
class InitRetried(Event):
    """IKE_SA_INIT sent again as the responder asked: with its COOKIE, or in another DH group."""
    why: str
    code: Reason

    def describe(self) -> str:
        return f"{self.peer} sends IKE_SA_INIT again: {self.why}"


@dataclass(frozen=True)
class IkeSaEstablished(Event):
    spis: str
    remote: str
    encr: str
    prf: str
    dh_group: int
    floated: bool

    def describe(self) -> str:
        port = " on UDP 4500" if self.floated else ""
        return f"{self.peer}: IKE SA {self.spis} established with {self.remote}{port} ({self.encr}, PRF {self.prf}, DH group {self.dh_group})"


@dataclass(frozen=True)
class ChildSaEstablished(Phase2Established):
    """IKEv2's CHILD_SA; a Phase2Established (encapsulation 0: IKEv2 negotiates none, §2.23),
    so whatever starts traffic on an IPsec SA starts it here too."""
    ts_local: tuple[str, ...] = ()
    ts_remote: tuple[str, ...] = ()

    def describe(self) -> str:
        return (f"{self.peer}: CHILD_SA up — ESP {self.mode}, SPI in {self.spi_in}, out {self.spi_out}, "
                f"TS {', '.join(self.ts_local)} ⇄ {', '.join(self.ts_remote)}")


@dataclass(frozen=True)
class RemoteFollowed(Event):
    """The peer's address/port changed and a new authenticated message came from the new one: IKEv2
    §2.23; IKEv1 RFC 3947 §7 "recovering from the expiring NAT mappings" (Quick Mode, Informational
    incl. DPD, ESP-in-UDP). `via` names the message that moved it."""
    old: str
    new: str
    via: str = ""

    def describe(self) -> str:
        by = f" (an authenticated {self.via} came from there)" if self.via else ""
        return f"{self.peer}: remote endpoint changed from {self.old} to {self.new}{by}"


@dataclass(frozen=True)
class LivenessChecked(Event):
    remote: str

    def describe(self) -> str:
        return f"{self.peer}: the peer at {self.remote} answered the liveness check"


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
