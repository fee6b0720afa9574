"""The phases of an L2TP/IPsec connection, and which step of a run belongs to which.

IKE (Main and Quick Mode) first; then, inside ESP, the L2TP control connection (SCCRQ, SCCRP,
SCCCN, HELLO, StopCCN: RFC 2661 §6) builds the tunnel and ICRQ/ICRP/ICCN/CDN the session; then the
PPP frames the call carries: LCP (RFC 1661), authentication (PAP/CHAP/MS-CHAPv2), IPCP (RFC 1332)
and IP, the client's ping. A step's phase is read from its decrypted bytes (`decrypt.open_step`,
with the run's own keys); a ZLB acknowledgement belongs to the phase of what it acknowledges.
"""
from __future__ import annotations

from dataclasses import dataclass

from natt_core.errors import NattError
from natt_core.l2tp.data import decode_data, is_data
from natt_core.lab.trace import Trace
from natt_core.wire.l2tp import MessageType
from natt_core.wire.ppp import Proto, decode_frame

from .decrypt import open_step
from .steps import Journey, journeys
from .vpn_layers import inner_l2tp

#: the VPN's phases, in the order a connection goes through them
PHASES = ("IKE", "L2TP tunnel", "L2TP session", "PPP LCP", "authentication", "IPCP", "ping")
#: what else a run sends: NAT keepalives, and ESP nobody could open
OTHER = "other"
_TUNNEL = {MessageType.SCCRQ, MessageType.SCCRP, MessageType.SCCCN, MessageType.STOPCCN, MessageType.HELLO}
_PPP_PHASE = {Proto.LCP: "PPP LCP", Proto.PAP: "authentication", Proto.CHAP: "authentication",
              Proto.IPCP: "IPCP", Proto.IPV4: "ping"}


@dataclass(frozen=True)
class Phase:
    name: str
    steps: tuple[int, ...]          #: 1-based step numbers, in order

    @property
    def first(self) -> int:
        return self.steps[0]


def _message_type(l2tp: bytes) -> MessageType | None:
    """A control message's type (its first AVP, RFC 2661 §4.4.1); None for a ZLB."""
    if len(l2tp) < 20:
        return None
    try:
        return MessageType(int.from_bytes(l2tp[18:20], "big"))
    except ValueError:
        return None


def step_phase(trace: Trace, j: Journey, previous: str | None = None) -> str:
    """The phase this step belongs to; a ZLB acknowledgement belongs to the phase it acknowledges."""
    if j.label.startswith(("MM", "QM", "AM", "IKE", "INFORMATIONAL", "CREATE_CHILD")) or j.label in ("Informational",):
        return "IKE"
    if "ESP" not in j.label:
        return OTHER
    opened = open_step(trace, j)
    l2tp = inner_l2tp(opened.plaintext) if opened else None
    if l2tp is None:
        return OTHER
    if is_data(l2tp):
        try:
            frame = decode_frame(decode_data(l2tp)[2])
        except NattError:
            return OTHER
        return _PPP_PHASE.get(frame.protocol, "PPP LCP")
    kind = _message_type(l2tp)
    if kind is None:
        return previous if previous in ("L2TP tunnel", "L2TP session") else "L2TP tunnel"
    return "L2TP tunnel" if kind in _TUNNEL else "L2TP session"


def phases(trace: Trace) -> tuple[Phase, ...]:
    """Every phase the run reached, in PHASES order, with its steps (computed once per trace)."""
    def build(t: Trace) -> tuple[Phase, ...]:
        by: dict[str, list[int]] = {}
        previous = None                    # the last L2TP control phase: what a ZLB acknowledges
        for j in journeys(t):
            name = step_phase(t, j, previous)
            if name in ("L2TP tunnel", "L2TP session"):
                previous = name
            by.setdefault(name, []).append(j.index)
        order = (*PHASES, OTHER)
        return tuple(Phase(n, tuple(by[n])) for n in order if n in by)
    return trace.memo("natt_view.vpn_layers.phases", build)


def phase_of_step(trace: Trace, index: int) -> str:
    return next((p.name for p in phases(trace) if index in p.steps), OTHER)



__all__ = ["OTHER", "PHASES", "Phase", "phase_of_step", "phases", "step_phase"]
