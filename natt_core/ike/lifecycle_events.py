"""Typed events of an SA's life after it is up: rekeys begun and done, expiries (RFC 2409 §4.5,
RFC 2407 §4.5). A view draws them by `kind`; the SA they concern is `sa` (the ISAKMP cookies
"icookie:rcookie" for phase 1, "spi_in/spi_out" in hex for phase 2, as this peer sees them)."""
from __future__ import annotations

from dataclasses import dataclass

from ..output import Event
from ..reasons import Reason


@dataclass(frozen=True)
class SaRekeyStarted(Event):
    """The soft lifetime passed: a new exchange begins while the old SA still carries traffic."""
    phase: int
    sa: str
    why: str

    def describe(self) -> str:
        what = "Main Mode" if self.phase == 1 else "Quick Mode"
        return f"{self.peer}: rekeys phase-{self.phase} SA {self.sa} with a new {what} ({self.why})"


@dataclass(frozen=True)
class SaRekeyed(Event):
    """A new SA took over from an old one (make-before-break); the old is deleted afterwards."""
    phase: int
    old: str
    new: str
    lifetime: str = ""   #: the new SA's limits, e.g. "60 s, 500 KB"

    def describe(self) -> str:
        life = f" (lifetime {self.lifetime})" if self.lifetime else ""
        moved = "the IPsec SAs move to" if self.phase == 1 else "traffic moves to"
        return f"{self.peer}: phase-{self.phase} SA {self.old} replaced — {moved} {self.new}{life}"


@dataclass(frozen=True)
class SaExpired(Event):
    """An SA reached its hard lifetime (seconds or kilobytes) without a successor: it is cleared."""
    phase: int
    sa: str
    limit: str           #: "seconds" or "kilobytes"
    lifetime: str
    code: Reason

    def describe(self) -> str:
        return (f"{self.peer}: phase-{self.phase} SA {self.sa} expired ({self.limit} limit of {self.lifetime}) "
                "and is cleared")


@dataclass(frozen=True)
class LifetimeAdopted(Event):
    """The responder chose a shorter lifetime (RESPONDER-LIFETIME, RFC 2407 §4.6.3.1) and we take it."""
    phase: int
    offered: str
    adopted: str

    def describe(self) -> str:
        return f"{self.peer}: the responder shortened the phase-{self.phase} lifetime from {self.offered} to {self.adopted}"
