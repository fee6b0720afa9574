"""IKEv1 and IKEv2 through the same NAT, lined up: which steps of one run correspond to which of
the other, and what changed between the protocols (RFC 3947 → RFC 7296 §2.23).

The correspondence is by job, not by position: IKEv1's Vendor IDs have no IKEv2 counterpart,
its NAT-D payloads (MM3/MM4) become IKE_SA_INIT's NAT_DETECTION notifies, the float at MM5
becomes the float at IKE_AUTH, and Quick Mode's NAT-OA becomes IKE_AUTH's traffic selectors.
Step numbers come from the runs themselves (`journeys`), so a change in either engine shows.
"""
from __future__ import annotations

from dataclasses import dataclass

from natt_core.lab.trace import Trace

from .steps import Journey, journeys

#: labels of steps that are not IKE messages
DATA_LABELS = ("ESP-in-UDP", "ESP", "keepalive", "AH")


@dataclass(frozen=True)
class Topic:
    """One job both protocols do, with the step labels that do it in each."""
    name: str
    v1: tuple[str, ...]
    v2: tuple[str, ...]
    story: str


TOPICS: tuple[Topic, ...] = (
    Topic("Proposals and Vendor IDs", ("MM1", "MM2"), ("IKE_SA_INIT", "IKE_SA_INIT response"),
          "IKEv1 spends MM1/MM2 on the SA proposal and the NAT-T Vendor IDs (RFC 3947 §3.1). IKEv2 has "
          "no Vendor ID for NAT-T: it is part of the protocol, and the SA, KE and nonces all ride in "
          "IKE_SA_INIT (RFC 7296 §1.2)."),
    Topic("NAT detection", ("MM3", "MM4"), ("IKE_SA_INIT", "IKE_SA_INIT response"),
          "MM3/MM4 carry NAT-D payloads (type 20) beside KE and nonce: HASH(CKY-I | CKY-R | IP | port). "
          "IKEv2 sends the same idea as two notifies in IKE_SA_INIT, NAT_DETECTION_SOURCE_IP (16388) and "
          "NAT_DETECTION_DESTINATION_IP (16389): SHA-1(SPIi | SPIr | IP | port), always SHA-1."),
    Topic("Float to 4500 and authenticate", ("MM5", "MM6"), ("IKE_AUTH", "IKE_AUTH response"),
          "After a NAT is found, IKEv1 moves to UDP 4500 at MM5 and authenticates there; IKEv2 moves at "
          "IKE_AUTH (§2.23; an initiator may even start on 4500). Both put the non-ESP marker (four zero "
          "bytes) in front of every IKE message on 4500."),
    Topic("The IPsec SA", ("QM1", "QM2", "QM3"), ("IKE_AUTH", "IKE_AUTH response"),
          "IKEv1 needs a whole Quick Mode, with NAT-OA payloads telling the peer the original addresses "
          "for transport mode's checksum fix-up. IKEv2 sets up the first CHILD_SA inside IKE_AUTH; the "
          "traffic selectors carry those addresses instead (§2.23.1), and there is no NAT-OA."),
    Topic("ESP in UDP", ("ESP-in-UDP",), ("ESP-in-UDP",),
          "The data plane is the same in both: ESP inside UDP 4500 (RFC 3948), the SPI where IKE has "
          "its marker."),
    Topic("Keepalives", ("keepalive",), ("keepalive",),
          "The same one-byte 0xFF NAT keepalive (RFC 3948 §2.3), sent by the side behind the NAT."),
)


def ike_messages(trace: Trace) -> tuple[Journey, ...]:
    """The IKE messages of a run (no ESP, no keepalives), first tries and retransmissions alike."""
    return tuple(j for j in journeys(trace) if j.label not in DATA_LABELS)


def steps_of(trace: Trace, labels: tuple[str, ...]) -> tuple[int, ...]:
    """The 1-based step numbers of the first journey with each IKE label, and of every journey with
    a data label (ESP, keepalives); labels the run lacks are left out."""
    found: dict[str, list[int]] = {}
    for j in journeys(trace):
        if j.label in DATA_LABELS or j.label not in found:
            found.setdefault(j.label, []).append(j.index)
    return tuple(i for label in labels for i in found.get(label, ()))


@dataclass(frozen=True)
class Row:
    topic: Topic
    v1_steps: tuple[int, ...]
    v2_steps: tuple[int, ...]


def side_by_side(v1: Trace, v2: Trace) -> tuple[Row, ...]:
    """Every topic with the steps that do it in each run."""
    return tuple(Row(t, steps_of(v1, t.v1), steps_of(v2, t.v2)) for t in TOPICS)


def synced_step(rows: tuple[Row, ...], v1_step: int) -> int | None:
    """The IKEv2 step that corresponds to an IKEv1 step (None: IKEv1 has no counterpart there)."""
    for row in rows:
        if v1_step in row.v1_steps and row.v2_steps:
            at = row.v1_steps.index(v1_step)
            return row.v2_steps[min(at, len(row.v2_steps) - 1)]
    return None


def count_lines(v1: Trace, v2: Trace) -> list[dict]:
    """The table under the lesson: IKE messages, round trips and where NAT-T happens, per protocol."""
    n1, n2 = len(ike_messages(v1)), len(ike_messages(v2))
    return [
        {"": "IKE messages until traffic flows", "IKEv1 (RFC 2409 + 3947)": n1, "IKEv2 (RFC 7296)": n2},
        {"": "NAT-T announced by", "IKEv1 (RFC 2409 + 3947)": "Vendor IDs in MM1/MM2",
         "IKEv2 (RFC 7296)": "nothing: always spoken"},
        {"": "NAT detected in", "IKEv1 (RFC 2409 + 3947)": "MM3/MM4 (NAT-D payloads)",
         "IKEv2 (RFC 7296)": "IKE_SA_INIT (two notifies)"},
        {"": "moves to UDP 4500 at", "IKEv1 (RFC 2409 + 3947)": "MM5", "IKEv2 (RFC 7296)": "IKE_AUTH"},
        {"": "original addresses sent as", "IKEv1 (RFC 2409 + 3947)": "NAT-OA in Quick Mode",
         "IKEv2 (RFC 7296)": "traffic selectors"},
    ]
