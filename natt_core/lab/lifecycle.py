"""SA generations: every ISAKMP and IPsec SA a peer held in a run, when it came and how it ended.

Read from the peers' typed events (Phase1Established, Phase2Established, SaRekeyed, SaDeleted,
SaExpired; ike/lifecycle_events.py), so report.json and the "tunnel over time" view tell the
same story from the same facts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass
class Generation:
    peer: str
    phase: int                  #: 1: ISAKMP SA, 2: IPsec SA pair
    sa: str                     #: "icookie:rcookie" or "spi_in/spi_out" (hex), as this peer names it
    number: int                 #: 1, 2, ... per peer and phase, in the order they came up
    start: float
    end: float | None = None    #: deleted, expired or cleared; None: alive when the run ended
    ended: str | None = None    #: "deleted", "deleted by the peer", "expired (seconds)", ...
    successor: str | None = None
    replaced_at: float | None = None

    def as_dict(self) -> dict:
        return {"generation": self.number, "sa": self.sa, "start": round(self.start, 3),
                "end": None if self.end is None else round(self.end, 3), "ended": self.ended,
                "replaced_by": self.successor,
                "replaced_at": None if self.replaced_at is None else round(self.replaced_at, 3)}


Record = tuple[float, str, str, dict]    #: (time, peer, event kind, its fields)


def generations(records: Iterable[Record]) -> list[Generation]:
    """Every SA generation, in the order they came up."""
    out: list[Generation] = []
    live: dict[tuple[str, int, str], Generation] = {}
    counts: dict[tuple[str, int], int] = {}

    def begin(time: float, peer: str, phase: int, name: str) -> None:
        counts[peer, phase] = counts.get((peer, phase), 0) + 1
        g = Generation(peer, phase, name, counts[peer, phase], time)
        live[peer, phase, name] = g
        out.append(g)

    for time, peer, kind, f in records:
        if kind == "Phase1Established":
            begin(time, peer, 1, f["cookies"])
        elif kind == "Phase2Established" and f.get("spi_in"):
            begin(time, peer, 2, f"{f['spi_in']}/{f['spi_out']}")
        elif kind == "SaRekeyed" and (g := live.get((peer, f["phase"], f["old"]))):
            g.successor, g.replaced_at = f["new"], time
        elif kind == "SaExpired" and (g := live.get((peer, f["phase"], f["sa"]))):
            g.ended = f"expired ({f['limit']})"
        elif kind == "SaDeleted" and (g := live.pop((peer, f.get("phase", 0), f.get("sa", "")), None)):
            g.end = time
            if g.ended is None:
                g.ended = "deleted by the peer" if f["by_peer"] else "deleted"
    return out


#: the events `generations` reads; every other kind it passes over
KINDS = frozenset({"Phase1Established", "Phase2Established", "SaRekeyed", "SaExpired", "SaDeleted"})


def from_events(events) -> list[Generation]:
    """Generations from the peers' Event objects (the report's input)."""
    return generations([(e.time, e.peer, e.kind, e.__dict__) for e in events if e.kind in KINDS])


def from_trace(trace) -> list[Generation]:
    """Generations from a recorded Trace (the views' input)."""
    return generations((s.time, s.peer, s.event, s.fields) for s in trace.steps if getattr(s, "kind", "") == "event")


def report_blocks(gens: list[Generation]) -> dict[str, dict]:
    """report.json's `sa_generations` of every peer that had one, grouped in one pass (a report
    with a thousand clients does not scan every client's generations for each of them)."""
    blocks: dict[str, dict] = {}
    for g in gens:
        block = blocks.get(g.peer)
        if block is None:
            block = blocks[g.peer] = {"phase1": [], "phase2": []}
        if g.phase in (1, 2):
            block["phase1" if g.phase == 1 else "phase2"].append(g.as_dict())
    return blocks

