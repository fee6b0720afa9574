"""IKEv1 states and the one table that decides which message is legal when (RFC 2409 §5, §5.5).

Theory of operation
-------------------
Rule 1: everything that decides whether a message may be processed lives in this file: the
states, the messages, and `TRANSITIONS`. Main Mode and Quick Mode code ask `advance()` before
they touch a message and never keep their own idea of "what comes next".

Rule 2: this file does not know which role a peer plays in a given exchange beyond the state
names: initiator states start with `I_`, responder states with `R_`. An ISAKMP SA (phase 1) has
one state; each Quick Mode exchange (keyed by its Message ID) has its own.

Two things are decided next to the table rather than in it, because they are not transitions:
- a message whose bytes equal the last one accepted is a retransmission: the receiver answers
  it with its last answer again and the state does not move (`natt_core.ike.peer`);
- Informational messages (delete, notify) are legal in any state once phase 1 keys exist
  (`INFORMATIONAL_STATES`), and unauthenticated notifications only before that.
"""
from __future__ import annotations

from enum import Enum

from ..errors import ProtocolError


class State(Enum):
    """Where an exchange stands, named after what it waits for."""
    #: initiator: nothing sent yet
    I_START = "I_START"
    #: sent MM1 (SA proposal, VIDs); waiting for the responder's chosen SA (MM2)
    I_EXPECT_MM2 = "I_EXPECT_MM2"
    #: sent MM3 (KE, Ni, NAT-D); waiting for KE, Nr, NAT-D (MM4)
    I_EXPECT_MM4 = "I_EXPECT_MM4"
    #: sent encrypted MM5 (IDii, HASH_I), on 4500 if a NAT was found; waiting for MM6
    I_EXPECT_MM6 = "I_EXPECT_MM6"
    #: responder: waiting for an SA proposal (MM1)
    R_EXPECT_MM1 = "R_EXPECT_MM1"
    #: sent MM2; waiting for KE, Ni, NAT-D (MM3)
    R_EXPECT_MM3 = "R_EXPECT_MM3"
    #: sent MM4; waiting for encrypted IDii, HASH_I (MM5)
    R_EXPECT_MM5 = "R_EXPECT_MM5"
    #: phase 1 complete: the ISAKMP SA is authenticated
    ESTABLISHED = "ESTABLISHED"
    #: Quick Mode initiator: nothing sent yet
    QI_START = "QI_START"
    #: sent QM1 (HASH(1), SA, Ni, IDs, NAT-OA); waiting for QM2
    QI_EXPECT_QM2 = "QI_EXPECT_QM2"
    #: Quick Mode responder: waiting for QM1
    QR_EXPECT_QM1 = "QR_EXPECT_QM1"
    #: sent QM2; waiting for HASH(3) (QM3)
    QR_EXPECT_QM3 = "QR_EXPECT_QM3"
    #: the IPsec SA pair is installed
    QM_DONE = "QM_DONE"
    #: failed (authentication, no proposal, refused by policy, gave up)
    FAILED = "FAILED"
    #: deleted by either side
    DELETED = "DELETED"


class Msg(Enum):
    """The messages of Main Mode and Quick Mode, as the receiver classifies them."""
    START = "start"   #: the local decision to begin (not a wire message)
    MM1 = "MM1"
    MM2 = "MM2"
    MM3 = "MM3"
    MM4 = "MM4"
    MM5 = "MM5"
    MM6 = "MM6"
    QM1 = "QM1"
    QM2 = "QM2"
    QM3 = "QM3"


#: (state, message) -> next state. Anything missing is refused with ProtocolError.
TRANSITIONS: dict[tuple[State, Msg], State] = {
    (State.I_START, Msg.START): State.I_EXPECT_MM2,
    (State.I_EXPECT_MM2, Msg.MM2): State.I_EXPECT_MM4,
    (State.I_EXPECT_MM4, Msg.MM4): State.I_EXPECT_MM6,
    (State.I_EXPECT_MM6, Msg.MM6): State.ESTABLISHED,
    (State.R_EXPECT_MM1, Msg.MM1): State.R_EXPECT_MM3,
    (State.R_EXPECT_MM3, Msg.MM3): State.R_EXPECT_MM5,
    (State.R_EXPECT_MM5, Msg.MM5): State.ESTABLISHED,
    (State.QI_START, Msg.START): State.QI_EXPECT_QM2,
    (State.QI_EXPECT_QM2, Msg.QM2): State.QM_DONE,
    (State.QR_EXPECT_QM1, Msg.QM1): State.QR_EXPECT_QM3,
    (State.QR_EXPECT_QM3, Msg.QM3): State.QM_DONE,
}

#: States in which encrypted Informational exchanges (delete, notify) are accepted.
INFORMATIONAL_STATES = frozenset({State.I_EXPECT_MM6, State.R_EXPECT_MM5, State.ESTABLISHED})

#: Terminal states: nothing more is accepted.
END_STATES = frozenset({State.FAILED, State.DELETED})


def advance(state: State, msg: Msg) -> State:
    """The next state, or ProtocolError when the table has no such transition."""
    try:
        return TRANSITIONS[(state, msg)]
    except KeyError:
        raise ProtocolError(state.value, msg.value, f"{msg.value} is not expected in state {state.value}") from None


def expected(state: State) -> tuple[Msg, ...]:
    """The messages a state accepts (for error messages and diagrams)."""
    return tuple(m for (s, m) in TRANSITIONS if s is state)


def classify_main_mode(from_initiator: bool, encrypted: bool, first_payload: int) -> Msg | None:
    """Which Main Mode message this is, from who sent it and what it starts with."""
    from ..wire.numbers import PayloadType
    if encrypted:
        return Msg.MM5 if from_initiator else Msg.MM6
    if first_payload == PayloadType.SA:
        return Msg.MM1 if from_initiator else Msg.MM2
    if first_payload == PayloadType.KE:
        return Msg.MM3 if from_initiator else Msg.MM4
    return None
