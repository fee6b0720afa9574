"""Typed events of an ISAKMP SA's life after it is up: dead peer detection (RFC 3706), INITIAL-CONTACT
(RFC 2407 §4.6.3.3), and status notifications taken as status, not refusal (RFC 2408 §3.14.1).

With `RemoteFollowed` (the peer's new NAT port), `LivenessChecked` (an R-U-THERE answered) and
`SaDeleted` (with its `code`) from `events`, these are what a "tunnel over time" view shows.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..output import Event
from ..reasons import Reason


@dataclass(frozen=True)
class DeadPeerDetected(Event):
    """No answer to R-U-THERE for `dpd_timeout` seconds: the peer is taken for dead and every SA
    with it is cleared (libreswan dpdaction=clear, strongSwan dpdaction=clear)."""
    remote: str
    cookies: str
    probes: int           #: R-U-THEREs sent without an answer
    silent_for: float     #: seconds since anything authenticated came from the peer
    code: Reason = Reason.DPD_PEER_DEAD

    def describe(self) -> str:
        return (f"{self.peer}: dead peer {self.remote} — {self.probes} R-U-THERE unanswered, nothing heard for "
                f"{self.silent_for:g} s; its ISAKMP SA {self.cookies} and IPsec SAs are cleared (RFC 3706)")


@dataclass(frozen=True)
class DpdNotNegotiated(Event):
    """DPD is configured here but the peer did not announce the DPD Vendor ID in Main Mode, so no
    R-U-THERE is ever sent to it (RFC 3706 §5.1; libreswan says the same in its log)."""
    remote: str

    def describe(self) -> str:
        return (f"{self.peer}: DPD is configured, but {self.remote} sent no DPD Vendor ID (RFC 3706 §5.1): "
                "a dead peer will not be detected by IKE")


@dataclass(frozen=True)
class InitialContactReceived(Event):
    """An authenticated INITIAL-CONTACT: the peer holds no other SA with us, so the SAs of its earlier
    connection (a reboot, a lost link) are deleted instead of piling up."""
    identity: str
    replaced: tuple[str, ...]    #: the cookies of the ISAKMP SAs it replaced
    code: Reason = Reason.INITIAL_CONTACT

    def describe(self) -> str:
        if not self.replaced:
            return f"{self.peer}: INITIAL-CONTACT from {self.identity}: no earlier SA of it to replace"
        return (f"{self.peer}: INITIAL-CONTACT from {self.identity}: deletes {len(self.replaced)} earlier "
                f"ISAKMP SA(s) of it ({', '.join(self.replaced)}) and their IPsec SAs")


@dataclass(frozen=True)
class StatusNotifyReceived(Event):
    """A notification of a status type (16384 and above, RFC 2408 §3.14.1): noted, never a refusal."""
    notify: str
    exchange: str        #: "Main Mode", "Quick Mode", "Informational"

    def describe(self) -> str:
        return f"{self.peer}: status notification {self.notify} in {self.exchange} noted (not an error)"
