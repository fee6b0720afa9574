"""The vocabulary of the IKE state tables: roles, states, messages, message shapes, exchange
families, what a repeat gets, and the `ExchangeTable` record (IKEv1: RFC 2409 §5, §5.5;
IKEv2: RFC 7296 §1.2-§1.4).

These are names only. Every decision written with them -- the tables themselves and the
queries on them -- lives in `ike/states.py`, which re-exports these names.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Mapping


class TableEnum(Enum):
    """An Enum whose members hash by identity, as they compare: the tables below are dicts and
    frozensets keyed by members, and Enum's own `__hash__` is a Python call on every lookup."""
    __hash__ = object.__hash__


class Role(str, Enum):
    """Who began an exchange. The value is what JSON, traces and SA rows show."""
    INITIATOR = "initiator"
    RESPONDER = "responder"

    def __str__(self) -> str:
        return self.value

    @property
    def other(self) -> "Role":
        return Role.RESPONDER if self is Role.INITIATOR else Role.INITIATOR


class State(TableEnum):
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
    #: Aggressive Mode initiator: nothing sent yet
    I_AM_START = "I_AM_START"
    #: sent AM1 (SA, KE, Ni, IDii, VIDs); waiting for SA, KE, Nr, IDir, NAT-D, HASH_R (AM2)
    I_EXPECT_AM2 = "I_EXPECT_AM2"
    #: Aggressive Mode responder: waiting for AM1
    R_EXPECT_AM1 = "R_EXPECT_AM1"
    #: sent AM2; waiting for the encrypted NAT-D, HASH_I (AM3), on 4500 if a NAT was found
    R_EXPECT_AM3 = "R_EXPECT_AM3"
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


class Msg(TableEnum):
    """The messages of Main Mode, Aggressive Mode and Quick Mode, as the receiver classifies them."""
    START = "start"   #: the local decision to begin (not a wire message)
    MM1 = "MM1"
    MM2 = "MM2"
    MM3 = "MM3"
    MM4 = "MM4"
    MM5 = "MM5"
    MM6 = "MM6"
    AM1 = "AM1"
    AM2 = "AM2"
    AM3 = "AM3"
    QM1 = "QM1"
    QM2 = "QM2"
    QM3 = "QM3"


class Shape(TableEnum):
    """What the receiver can see of a message before reading it: all that classification may use."""
    SA_FIRST = "plain, starts with SA"
    KE_FIRST = "plain, starts with KE"
    ENCRYPTED = "encrypted"
    NEW_ID = "encrypted, a Message ID we do not know"
    KNOWN_ID = "encrypted, a Message ID we know"


class Family(TableEnum):
    """The exchange an ISAKMP header names, as far as this engine speaks it."""
    MAIN_MODE = "Main Mode"
    AGGRESSIVE_MODE = "Aggressive Mode"
    QUICK_MODE = "Quick Mode"
    INFORMATIONAL = "Informational"              #: encrypted under the ISAKMP SA (RFC 2409 §5.7)
    PLAIN_INFORMATIONAL = "plain Informational"  #: unencrypted: anyone who saw the cookies could send it


class Repeat(TableEnum):
    """What an exact repeat of an earlier message gets."""
    ANSWER_AGAIN = "answered again with the same bytes (nothing if the message ended its exchange)"
    DROP_AGAIN = "dropped again, as the original was"


@dataclass(frozen=True)
class ExchangeTable:
    """One exchange family's rules, as data."""
    protocol: str
    name: str
    rfc: str
    #: the state each role's side of an exchange begins in
    begins: Mapping[Role, State]
    #: (who sent it, what it looks like) -> which message it is
    shapes: Mapping[tuple[Role, Shape], Msg]
    #: what each message is answered with; None: it ends the exchange and a repeat gets nothing
    answers: Mapping[Msg, Msg | None]
    #: (state, message) -> next state; anything missing is refused with ProtocolError
    transitions: Mapping[tuple[State, Msg], State]

    def sender(self, msg: Msg) -> Role | None:
        """Who sends a wire message (None for START, the local decision)."""
        return next((role for (role, _), m in self.shapes.items() if m is msg), None)


# ---------------------------------------------------------------------------------------- IKEv2

class State2(TableEnum):
    """Where an IKEv2 SA stands (RFC 7296 §1.2-§1.4), named after what it waits for."""
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


class Msg2(TableEnum):
    """IKEv2 messages as the receiver classifies them: exchange type and the R flag (§3.1)."""
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
