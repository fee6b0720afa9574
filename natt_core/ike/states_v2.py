"""IKEv2 states and the one table that decides which message is legal when (RFC 7296 §1.2-§1.4).

Same rules as `natt_core.ike.states` (IKEv1), to be merged into it: everything that decides
whether a message may be processed lives here, and the exchanges ask `advance()` before they
touch a message. Initiator states start with `I_`, responder states with `R_`.

Decided next to the table, because they are not transitions:
- a request whose bytes equal the last one answered is a retransmission: it gets the cached
  response again, byte for byte (§2.1), and the state does not move;
- message IDs: a request must carry the next expected ID, a response the ID of our pending
  request (window 1, §2.3); anything else is dropped with a reason code;
- IKE_SA_INIT answers that carry COOKIE or INVALID_KE_PAYLOAD keep `I_INIT_SENT` (the request is
  sent again, changed as the notify asks, §2.6 / §1.2).
"""
from __future__ import annotations

from enum import Enum

from ..errors import ProtocolError


class State2(Enum):
    """Where an IKEv2 SA stands, named after what it waits for."""
    #: initiator: nothing sent yet
    I_START = "I_START"
    #: sent IKE_SA_INIT (SA, KE, Ni, NAT-D notifies); waiting for the response
    I_INIT_SENT = "I_INIT_SENT"
    #: sent IKE_AUTH (IDi, AUTH, SAi2, TSi, TSr), on 4500 if a NAT was found; waiting for it
    I_AUTH_SENT = "I_AUTH_SENT"
    #: responder: waiting for IKE_SA_INIT
    R_START = "R_START"
    #: answered IKE_SA_INIT; waiting for IKE_AUTH
    R_INIT_DONE = "R_INIT_DONE"
    #: the IKE SA is authenticated (and its first CHILD_SA installed, unless refused)
    ESTABLISHED = "ESTABLISHED"
    #: we sent a Delete for the IKE SA; waiting for the (empty) response
    DELETING = "DELETING"
    FAILED = "FAILED"
    DELETED = "DELETED"


class Msg2(Enum):
    """IKEv2 messages as the receiver classifies them (exchange + request/response)."""
    START = "start"
    INIT_REQ = "IKE_SA_INIT request"
    INIT_RESP = "IKE_SA_INIT response"
    AUTH_REQ = "IKE_AUTH request"
    AUTH_RESP = "IKE_AUTH response"
    CHILD_REQ = "CREATE_CHILD_SA request"
    CHILD_RESP = "CREATE_CHILD_SA response"
    INFO_REQ = "INFORMATIONAL request"
    INFO_RESP = "INFORMATIONAL response"
    DELETE = "delete"     #: the local decision to delete the IKE SA


#: (state, message) -> next state. Anything missing is refused with ProtocolError.
TRANSITIONS: dict[tuple[State2, Msg2], State2] = {
    (State2.I_START, Msg2.START): State2.I_INIT_SENT,
    (State2.I_INIT_SENT, Msg2.INIT_RESP): State2.I_AUTH_SENT,
    (State2.I_AUTH_SENT, Msg2.AUTH_RESP): State2.ESTABLISHED,
    (State2.R_START, Msg2.INIT_REQ): State2.R_INIT_DONE,
    (State2.R_INIT_DONE, Msg2.AUTH_REQ): State2.ESTABLISHED,
    (State2.ESTABLISHED, Msg2.CHILD_REQ): State2.ESTABLISHED,
    (State2.ESTABLISHED, Msg2.CHILD_RESP): State2.ESTABLISHED,
    (State2.ESTABLISHED, Msg2.INFO_REQ): State2.ESTABLISHED,
    (State2.ESTABLISHED, Msg2.INFO_RESP): State2.ESTABLISHED,
    (State2.ESTABLISHED, Msg2.DELETE): State2.DELETING,
    (State2.DELETING, Msg2.INFO_RESP): State2.DELETED,
    (State2.DELETING, Msg2.INFO_REQ): State2.DELETING,
}

#: Terminal states: nothing more is accepted.
END_STATES2 = frozenset({State2.FAILED, State2.DELETED})


def advance(state: State2, msg: Msg2) -> State2:
    """The next state, or ProtocolError when the table has no such transition."""
    try:
        return TRANSITIONS[(state, msg)]
    except KeyError:
        raise ProtocolError(state.value, msg.value, f"{msg.value} is not expected in state {state.value}") from None


def expected(state: State2) -> tuple[Msg2, ...]:
    return tuple(m for (s, m) in TRANSITIONS if s is state)


def classify(exchange: int, response: bool) -> Msg2 | None:
    """Which message this is, from the exchange type and the R flag; None if not handled."""
    from ..wire.ikev2_numbers import Exchange
    table = {Exchange.IKE_SA_INIT: (Msg2.INIT_REQ, Msg2.INIT_RESP), Exchange.IKE_AUTH: (Msg2.AUTH_REQ, Msg2.AUTH_RESP),
             Exchange.CREATE_CHILD_SA: (Msg2.CHILD_REQ, Msg2.CHILD_RESP),
             Exchange.INFORMATIONAL: (Msg2.INFO_REQ, Msg2.INFO_RESP)}
    pair = table.get(exchange)
    return pair[response] if pair else None
