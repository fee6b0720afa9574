"""The fragment story of a run: which IKE message was too big, how it was split, and who dropped what.

Everything comes from the trace: a hop's `fragment` / `fragment_of` (IP fragments the network
made) and the `(IKE fragment k/n)` labels and `IkeFragmentsSent` events of IKEv1 fragmentation.
"""
from __future__ import annotations

from dataclasses import dataclass

from natt_core.lab.trace import Trace

from .steps import journeys

IKE_MARK = " (IKE fragment "


@dataclass(frozen=True)
class BigMessage:
    """The first time one IKE message left its sender in pieces."""
    label: str            #: e.g. "MM5"
    sender: str
    size: int             #: bytes of the whole IP datagram (IP fragments) or IKE message (IKE fragments)
    pieces: int
    how: str              #: "ip" (the IP layer split it) or "ike" (the IKE daemon did)
    first_step: int       #: the lesson step of its first piece
    dropped: int          #: pieces dropped on the way
    dropped_by: str | None
    drop_code: str | None

    def sentence(self) -> str:
        if self.how == "ip":
            said = (f"**{self.label}** from {self.sender} ({self.size} bytes) did not fit the link, so the IP "
                    f"layer sent it as **{self.pieces} IP fragments** (step {self.first_step}).")
        else:
            said = (f"**{self.label}** from {self.sender} ({self.size} bytes) went as **{self.pieces} IKE "
                    f"fragments** (payload 132), each a whole UDP datagram that fits (step {self.first_step}).")
        if self.dropped:
            said += (f" {self.dropped} of the pieces were dropped by **{self.dropped_by}** "
                     f"(`{self.drop_code}`), so the receiver never had the whole message.")
        return said


def big_messages(trace: Trace) -> tuple[BigMessage, ...]:
    """Each IKE message that left in pieces, once (its first sending), in the order they appeared."""
    sizes = {(e.peer, e.fields.get("label")): e.fields.get("size") for e in trace.events
             if e.event == "IkeFragmentsSent"}
    groups: dict[tuple, list] = {}
    for j in journeys(trace):
        first = j.first
        if first.fragment_of is not None and first.fragment:
            key = ("ip", first.fragment_of)
        elif IKE_MARK in j.label:
            key = ("ike", j.sender, j.label.split(IKE_MARK)[0], j.time)
        else:
            continue
        groups.setdefault(key, []).append(j)
    out: list[BigMessage] = []
    seen: set[tuple[str, str, str]] = set()
    for key, parts in groups.items():
        how = key[0]
        label = parts[0].label.split(IKE_MARK)[0]
        if (how, parts[0].sender, label) in seen:
            continue                                  # a retransmission of a message already told
        seen.add((how, parts[0].sender, label))
        drops = [j for j in parts if j.dropped]
        if how == "ip":
            size = 20 + sum(len(j.first.packet) - 20 for j in parts)
        else:
            size = sizes.get((parts[0].sender, label)) or sum(len(j.first.packet) for j in parts)
        out.append(BigMessage(label, parts[0].sender, size, len(parts), how, parts[0].index, len(drops),
                              drops[0].last.dst_host or drops[0].last.segment if drops else None,
                              drops[0].last.drop_code if drops else None))
    return tuple(out)
