"""IKE states and the tables that decide which message is legal when (IKEv1: RFC 2409 §5, §5.5, §5.7;
IKEv2: RFC 7296 §1.2-§1.4).

Theory of operation
-------------------
Rule 1: every decision of whether a message may be processed lives in this file, as data: the
states and the messages (named in `state_names.py`), one `ExchangeTable` per exchange family (who
begins where, how messages are told apart, what each message is answered with, the transitions),
which exchange families an ISAKMP SA admits in which state, which notifications are believed when,
and the port rule after the float. Main Mode, Quick Mode and Informational code ask the small
query functions below before they touch a message; they never keep their own idea of "what comes
next", and they emit their events themselves. A refusal is a `ProtocolError` (reported as an
UNEXPECTED_MESSAGE drop).

Rule 2: a table is data (dicts and frozensets) and a second protocol's tables sit beside these:
IKEv2 has its own `State2`/`Msg2` enums and `ExchangeTable`s, listed in `TABLES`, and the same
queries (`advance`, `expected`, `classify`, `opening_state`, `answer_to`, `dot`) serve it. IKEv2
tells messages apart by exchange type and the R flag (`classify_v2`); its message IDs (window 1,
§2.3) and the cached answer to a repeated request (§2.1) are decided beside the table, and
IKE_SA_INIT answers carrying COOKIE or INVALID_KE_PAYLOAD keep `I_INIT_SENT` (sent again, §2.6/§1.2).

Rule 3: failing and deleting are decisions, never table moves: any state can become `FAILED`
(refusal, authentication failure, giving up) or `DELETED` (a Delete payload), and neither is in
`TRANSITIONS`.

Repeats are decided by bytes, with the table saying what they get: an exact repeat of the last
message accepted is answered again with the same bytes it was answered with (nothing, for a
message that ends its exchange: `answer_to` is None), and a repeat of a rejected one is dropped
again (`Repeat`).
"""
from __future__ import annotations

from ..addressing import Endpoint
from ..errors import ProtocolError
from ..reasons import Reason
from ..wire.ikev2_numbers import Exchange
from ..wire.numbers import ExchangeType, NotifyType, PayloadType, Port
# the words the tables are written in; importable from here, where the decisions are
from .state_names import (ExchangeTable, Family, Msg, Msg2, Repeat, Role, Shape, State,  # noqa: F401
                          State2, TableEnum)  # noqa: F401


MAIN_MODE = ExchangeTable(
    protocol="IKEv1", name="Main Mode", rfc="RFC 2409 §5",
    begins={Role.INITIATOR: State.I_START, Role.RESPONDER: State.R_EXPECT_MM1},
    shapes={(Role.INITIATOR, Shape.SA_FIRST): Msg.MM1, (Role.RESPONDER, Shape.SA_FIRST): Msg.MM2,
            (Role.INITIATOR, Shape.KE_FIRST): Msg.MM3, (Role.RESPONDER, Shape.KE_FIRST): Msg.MM4,
            (Role.INITIATOR, Shape.ENCRYPTED): Msg.MM5, (Role.RESPONDER, Shape.ENCRYPTED): Msg.MM6},
    answers={Msg.MM1: Msg.MM2, Msg.MM2: Msg.MM3, Msg.MM3: Msg.MM4, Msg.MM4: Msg.MM5, Msg.MM5: Msg.MM6,
             Msg.MM6: None},
    transitions={
        (State.I_START, Msg.START): State.I_EXPECT_MM2,
        (State.I_EXPECT_MM2, Msg.MM2): State.I_EXPECT_MM4,
        (State.I_EXPECT_MM4, Msg.MM4): State.I_EXPECT_MM6,
        (State.I_EXPECT_MM6, Msg.MM6): State.ESTABLISHED,
        (State.R_EXPECT_MM1, Msg.MM1): State.R_EXPECT_MM3,
        (State.R_EXPECT_MM3, Msg.MM3): State.R_EXPECT_MM5,
        (State.R_EXPECT_MM5, Msg.MM5): State.ESTABLISHED,
    })

#: Aggressive Mode with pre-shared keys (RFC 2409 §5.4) and NAT-T (RFC 3947 §4): three messages
#: where Main Mode needs six, so the identities and HASH_R travel in the clear. AM1 and AM2 are
#: plain and start with SA; AM3 (NAT-D, NAT-D, HASH_I) is encrypted, as RFC 3947 §4 draws it
#: (HDR*) and strongSwan requires (message.c: HASH must be encrypted in an AGGRESSIVE request).
AGGRESSIVE_MODE = ExchangeTable(
    protocol="IKEv1", name="Aggressive Mode", rfc="RFC 2409 §5.4",
    begins={Role.INITIATOR: State.I_AM_START, Role.RESPONDER: State.R_EXPECT_AM1},
    shapes={(Role.INITIATOR, Shape.SA_FIRST): Msg.AM1, (Role.RESPONDER, Shape.SA_FIRST): Msg.AM2,
            (Role.INITIATOR, Shape.ENCRYPTED): Msg.AM3},
    answers={Msg.AM1: Msg.AM2, Msg.AM2: Msg.AM3, Msg.AM3: None},
    transitions={
        (State.I_AM_START, Msg.START): State.I_EXPECT_AM2,
        (State.I_EXPECT_AM2, Msg.AM2): State.ESTABLISHED,
        (State.R_EXPECT_AM1, Msg.AM1): State.R_EXPECT_AM3,
        (State.R_EXPECT_AM3, Msg.AM3): State.ESTABLISHED,
    })

#: Quick Mode messages are all encrypted and start with HASH: they are told apart by who sent them
#: and whether their Message ID opens a new exchange.
QUICK_MODE = ExchangeTable(
    protocol="IKEv1", name="Quick Mode", rfc="RFC 2409 §5.5",
    begins={Role.INITIATOR: State.QI_START, Role.RESPONDER: State.QR_EXPECT_QM1},
    shapes={(Role.INITIATOR, Shape.NEW_ID): Msg.QM1, (Role.RESPONDER, Shape.KNOWN_ID): Msg.QM2,
            (Role.INITIATOR, Shape.KNOWN_ID): Msg.QM3},
    answers={Msg.QM1: Msg.QM2, Msg.QM2: Msg.QM3, Msg.QM3: None},
    transitions={
        (State.QI_START, Msg.START): State.QI_EXPECT_QM2,
        (State.QI_EXPECT_QM2, Msg.QM2): State.QM_DONE,
        (State.QR_EXPECT_QM1, Msg.QM1): State.QR_EXPECT_QM3,
        (State.QR_EXPECT_QM3, Msg.QM3): State.QM_DONE,
    })


# ---------------------------------------------------------------------------------------- IKEv2

#: IKEv2's "shape" is the exchange type in the header; who sent it is the exchange's role, read
#: from the R flag (a request comes from the exchange's initiator, §3.1).
IKEV2_SA_SETUP = ExchangeTable(
    protocol="IKEv2", name="IKE_SA_INIT + IKE_AUTH", rfc="RFC 7296 §1.2",
    begins={Role.INITIATOR: State2.I_START, Role.RESPONDER: State2.R_START},
    shapes={(Role.INITIATOR, Exchange.IKE_SA_INIT): Msg2.INIT_REQ,
            (Role.RESPONDER, Exchange.IKE_SA_INIT): Msg2.INIT_RESP,
            (Role.INITIATOR, Exchange.IKE_AUTH): Msg2.AUTH_REQ,
            (Role.RESPONDER, Exchange.IKE_AUTH): Msg2.AUTH_RESP},
    answers={Msg2.INIT_REQ: Msg2.INIT_RESP, Msg2.INIT_RESP: Msg2.AUTH_REQ, Msg2.AUTH_REQ: Msg2.AUTH_RESP,
             Msg2.AUTH_RESP: None},
    transitions={
        (State2.I_START, Msg2.START): State2.I_INIT_SENT,
        (State2.I_INIT_SENT, Msg2.INIT_RESP): State2.I_AUTH_SENT,
        (State2.I_AUTH_SENT, Msg2.AUTH_RESP): State2.ESTABLISHED,
        (State2.R_START, Msg2.INIT_REQ): State2.R_INIT_DONE,
        (State2.R_INIT_DONE, Msg2.AUTH_REQ): State2.ESTABLISHED,
    })

#: Exchanges of an established IKE SA; either side may begin one (§1.3, §1.4). Deleting the IKE SA
#: is a local decision that waits for the peer's (empty) INFORMATIONAL response.
IKEV2_ESTABLISHED = ExchangeTable(
    protocol="IKEv2", name="CREATE_CHILD_SA + INFORMATIONAL", rfc="RFC 7296 §1.3-§1.4",
    begins={Role.INITIATOR: State2.ESTABLISHED, Role.RESPONDER: State2.ESTABLISHED},
    shapes={(Role.INITIATOR, Exchange.CREATE_CHILD_SA): Msg2.CHILD_REQ,
            (Role.RESPONDER, Exchange.CREATE_CHILD_SA): Msg2.CHILD_RESP,
            (Role.INITIATOR, Exchange.INFORMATIONAL): Msg2.INFO_REQ,
            (Role.RESPONDER, Exchange.INFORMATIONAL): Msg2.INFO_RESP},
    answers={Msg2.CHILD_REQ: Msg2.CHILD_RESP, Msg2.CHILD_RESP: None, Msg2.INFO_REQ: Msg2.INFO_RESP,
             Msg2.INFO_RESP: None},
    transitions={
        (State2.ESTABLISHED, Msg2.CHILD_REQ): State2.ESTABLISHED,
        (State2.ESTABLISHED, Msg2.CHILD_RESP): State2.ESTABLISHED,
        (State2.ESTABLISHED, Msg2.INFO_REQ): State2.ESTABLISHED,
        (State2.ESTABLISHED, Msg2.INFO_RESP): State2.ESTABLISHED,
        (State2.ESTABLISHED, Msg2.DELETE): State2.DELETING,
        (State2.DELETING, Msg2.INFO_RESP): State2.DELETED,
        (State2.DELETING, Msg2.INFO_REQ): State2.DELETING,
    })

#: Terminal IKEv2 states: nothing more is accepted.
END_STATES2 = frozenset({State2.FAILED, State2.DELETED})

#: Every exchange table, grouped by protocol.
TABLES: dict[str, tuple[ExchangeTable, ...]] = {"IKEv1": (MAIN_MODE, AGGRESSIVE_MODE, QUICK_MODE),
                                                "IKEv2": (IKEV2_SA_SETUP, IKEV2_ESTABLISHED)}

#: (state, message) -> next state, over every table. Anything missing is refused with ProtocolError.
TRANSITIONS: dict[tuple[State, Msg], State] = {
    key: nxt for tables in TABLES.values() for table in tables for key, nxt in table.transitions.items()}

#: A table move that starts another exchange at once: the initiator begins Quick Mode as soon as
#: MM6 (or AM2, whose HASH_R it verified before sending AM3) authenticates the responder (RFC 2409 §5.5).
STARTS_NEXT: dict[tuple[State, Msg], ExchangeTable] = {(State.I_EXPECT_MM6, Msg.MM6): QUICK_MODE,
                                                       (State.I_EXPECT_AM2, Msg.AM2): QUICK_MODE}

#: The phase-1 exchange families and their tables: which one a header's exchange type opens.
PHASE1_TABLES: dict[Family, ExchangeTable] = {Family.MAIN_MODE: MAIN_MODE, Family.AGGRESSIVE_MODE: AGGRESSIVE_MODE}

#: Terminal states: nothing more is accepted.
END_STATES = frozenset({State.FAILED, State.DELETED})

#: States in which encrypted Informational exchanges (delete, notify) are accepted: phase-1 keys exist.
INFORMATIONAL_STATES = frozenset({State.I_EXPECT_MM6, State.R_EXPECT_MM5, State.R_EXPECT_AM3, State.ESTABLISHED})

#: The ISAKMP SA states in which `delete()` deletes an SA and announces it with Delete payloads
#: (RFC 2409 §5.7): only an authenticated SA can carry them; one still negotiating is left alone.
DELETE_SENT_IN = frozenset({State.ESTABLISHED})

#: (exchange type, encrypted) -> family. Plain Quick Mode, and anything else, is not spoken here.
FAMILIES: dict[tuple[int, bool], Family] = {
    (ExchangeType.MAIN_MODE, False): Family.MAIN_MODE,
    (ExchangeType.MAIN_MODE, True): Family.MAIN_MODE,
    (ExchangeType.AGGRESSIVE, False): Family.AGGRESSIVE_MODE,
    (ExchangeType.AGGRESSIVE, True): Family.AGGRESSIVE_MODE,
    (ExchangeType.QUICK_MODE, True): Family.QUICK_MODE,
    (ExchangeType.INFORMATIONAL, True): Family.INFORMATIONAL,
    (ExchangeType.INFORMATIONAL, False): Family.PLAIN_INFORMATIONAL,
}

#: The ISAKMP SA states in which each family is processed at all, and the refusal otherwise.
#: Main Mode stays admitted after ESTABLISHED so a repeated MM5/MM6 is still answered (or not).
ADMITTED_IN: dict[Family, tuple[frozenset[State], str, str]] = {
    Family.MAIN_MODE: (frozenset(State) - END_STATES, "MM", "this ISAKMP SA has ended ({why})"),
    Family.AGGRESSIVE_MODE: (frozenset(State) - END_STATES, "AM", "this ISAKMP SA has ended ({why})"),
    Family.QUICK_MODE: (frozenset({State.ESTABLISHED}), "QM", "Quick Mode before phase 1 is established"),
    Family.INFORMATIONAL: (INFORMATIONAL_STATES, "Informational", "encrypted Informational before keys exist"),
    Family.PLAIN_INFORMATIONAL: (frozenset(State), "Informational", ""),
}
#: ... and what an ended SA says instead: its keys existed, so "before keys exist" would blame the
#: wrong thing (a peer's Delete crossing our own is the usual case)
ENDED_REFUSAL: dict[Family, str] = {
    Family.INFORMATIONAL: "encrypted Informational for an ISAKMP SA that has already ended ({why}): "
                          "it crossed our own Delete or failure, and is ignored",
}

#: Our own initiated ISAKMP SA is found by its initiator cookie alone in these cases: MM2 tells us
#: the responder's cookie while we wait for it, and a responder may complain (Informational)
#: before we ever learned its cookie.
LEARNS_RESPONDER_COOKIE = frozenset({State.I_EXPECT_MM2, State.I_EXPECT_AM2})
FOUND_BY_INITIATOR_COOKIE = frozenset({Family.INFORMATIONAL, Family.PLAIN_INFORMATIONAL})

#: RFC 3947 §4: once an SA floated to 4500, IKE arriving on these ports is discarded.
DISCARDED_AFTER_FLOAT = frozenset({Port.IKE})

#: RFC 2408 §3.14.1: notify types below this are errors; status types are never acted on unauthenticated.
FIRST_STATUS_NOTIFY = 16384

#: Notifications that end an exchange in a state. Unencrypted ones are believed only where nothing
#: better can be known: NO-PROPOSAL-CHOSEN answering MM1 or AM1, before any key exists; and a
#: refusal of Aggressive Mode itself answering AM1 (INVALID-EXCHANGE-TYPE, RFC 2408 §3.14.1, or
#: strongSwan's AUTHENTICATION-FAILED when Aggressive Mode PSK is not allowed: aggressive_mode.c).
ENDS_EXCHANGE: dict[bool, frozenset[tuple[State, NotifyType]]] = {
    False: frozenset({(State.I_EXPECT_MM2, NotifyType.NO_PROPOSAL_CHOSEN),
                      (State.I_EXPECT_AM2, NotifyType.NO_PROPOSAL_CHOSEN),
                      (State.I_EXPECT_AM2, NotifyType.INVALID_EXCHANGE_TYPE),
                      (State.I_EXPECT_AM2, NotifyType.AUTHENTICATION_FAILED)}),   # unauthenticated
    True: frozenset({(State.QI_EXPECT_QM2, NotifyType.NO_PROPOSAL_CHOSEN)}),   # under the ISAKMP SA
}

#: What a responder with another pre-shared key sends us in answer to MM5 (RFC 2408 §3.14.1), and
#: our name for an encrypted answer our keys cannot open (its keys derive from its PSK, RFC 2409 §5).
AUTH_NOTIFIES = ("AUTHENTICATION-FAILED", "INVALID-HASH-INFORMATION", "PAYLOAD-MALFORMED")
UNREADABLE = "an encrypted message that does not decrypt under our keys"
AUTH_COMPLAINTS = AUTH_NOTIFIES + (UNREADABLE,)
#: Such complaints are evidence, not proof: kept while waiting in this state, and reported as the
#: likely cause only when the retransmissions of the message sent from it give up.
AUTH_EVIDENCE_STATE = State.I_EXPECT_MM6
AUTH_EVIDENCE_GIVE_UP = Msg.MM5


#: Limits against floods and spoofing (who may open state, what is answered where, who moves the peer).
#: A responder SA is half-open from MM1 until it authenticates, and counts against the half-open
#: limits (in total and per source address) until then or until it is forgotten: a failed one
#: still holds memory. Answers sent before the peer has shown it receives at the address it claims (MM3 echoes our
#: cookie) are sent once and never retransmitted, as libreswan's pluto does for MAIN_R1: a forged
#: MM1 gets one packet, and a lost MM2 is recovered by the initiator's MM1 retransmission, which is
#: answered again with the same bytes.
#: AM2 likewise, as libreswan's pluto does for AGGR_R1 (answered again only on a duplicate AM1):
#: a forged AM1 already costs the responder a DH computation, it should not cost ten answers too.
SENT_ONCE = frozenset({Msg.MM2, Msg.AM2})

#: Why an exchange ended, when an unauthenticated notification ends it (ENDS_EXCHANGE), and its code.
ENDED_BY_NOTIFY: dict[NotifyType, tuple[str, Reason]] = {
    NotifyType.NO_PROPOSAL_CHOSEN: ("the responder chose none of our phase-1 proposals (NO-PROPOSAL-CHOSEN)",
                                    Reason.NO_PROPOSAL),
    NotifyType.INVALID_EXCHANGE_TYPE: ("the responder does not accept Aggressive Mode (INVALID-EXCHANGE-TYPE "
                                       "answering AM1)", Reason.AGGRESSIVE_MODE_REFUSED),
    NotifyType.AUTHENTICATION_FAILED: ("the responder refused Aggressive Mode before any key existed "
                                       "(AUTHENTICATION-FAILED answering AM1: strongSwan's answer when no "
                                       "connection allows Aggressive Mode with a pre-shared key)",
                                       Reason.AGGRESSIVE_MODE_REFUSED),
}


# ---------------------------------------------------------------------------------------- queries

def advance(state: State, msg: Msg) -> State:
    """The next state, or ProtocolError when the table has no such transition."""
    try:
        return TRANSITIONS[(state, msg)]
    except KeyError:
        raise ProtocolError(state.value, msg.value, f"{msg.value} is not expected in state {state.value}") from None


def _expected_by_state() -> dict[State, tuple[Msg, ...]]:
    by: dict[State, list[Msg]] = {}
    for s, m in TRANSITIONS:
        by.setdefault(s, []).append(m)
    return {s: tuple(ms) for s, ms in by.items()}


#: `expected` for every state, read off TRANSITIONS once (MM1 and QM1 ask it on every arrival)
_EXPECTED = _expected_by_state()


def expected(state: State) -> tuple[Msg, ...]:
    """The messages a state accepts (for error messages and diagrams)."""
    return _EXPECTED.get(state, ())


def family_of(exchange: int, encrypted: bool) -> Family | None:
    """Which exchange family a header names (None: not spoken here)."""
    return FAMILIES.get((exchange, encrypted))


#: the (family, state) pairs `admit` lets through, read off ADMITTED_IN and ENDED_REFUSAL once: the
#: receive path looks a message up here and calls `admit` (which says why not) only for a refusal
ADMITS: frozenset[tuple[Family, State]] = frozenset(
    (family, state) for family, (states, _, _) in ADMITTED_IN.items() for state in states
    if not (state in END_STATES and family in ENDED_REFUSAL))


def admit(family: Family, state: State, why: str = "") -> None:
    """Refuse (ProtocolError) a family's message in an ISAKMP SA state that does not admit it."""
    states, label, refusal = ADMITTED_IN[family]
    if state in END_STATES and family in ENDED_REFUSAL:
        raise ProtocolError(state.value, label, ENDED_REFUSAL[family].format(why=why or state.value))
    if state not in states:
        raise ProtocolError(state.value, label, refusal.format(why=why or state.value))


def main_mode_shape(encrypted: bool, first_payload: int) -> Shape | None:
    """What a Main Mode message looks like from its header."""
    if encrypted:
        return Shape.ENCRYPTED
    return _PLAIN_SHAPES.get(first_payload)


_PLAIN_SHAPES = {PayloadType.SA: Shape.SA_FIRST, PayloadType.KE: Shape.KE_FIRST}


def phase1_table(family: Family | None) -> ExchangeTable | None:
    """The phase-1 exchange table of a family (Main or Aggressive Mode); None for the others."""
    return PHASE1_TABLES.get(family)


def _opens_phase1() -> dict[tuple[Family, Shape], State]:
    out: dict[tuple[Family, Shape], State] = {}
    for family, table in PHASE1_TABLES.items():
        opens = opening_state(table, Role.RESPONDER)
        for shape in (Shape.ENCRYPTED, *_PLAIN_SHAPES.values()):
            if opens is not None and classify(table, Role.INITIATOR, shape) in expected(opens):
                out[(family, shape)] = opens
    return out


def opens_phase1(family: Family | None, encrypted: bool, first_payload: int) -> State | None:
    """Where a message with a zero responder cookie opens a responder's phase-1 SA: the opening
    state of its family's table, when it is that table's first message (MM1, AM1); else None.
    Read off `_OPENS_PHASE1`, worked out from the tables once (every MM1 asks)."""
    return _OPENS_PHASE1.get((family, main_mode_shape(encrypted, first_payload)))


def phase1_name(state: State) -> str:
    """Which phase-1 exchange an SA waiting in this state is in ("Main Mode", "Aggressive Mode")."""
    return next((t.name for t in PHASE1_TABLES.values() if any(s is state for s, _ in t.transitions)),
                MAIN_MODE.name)


def ended_by_notify(notify_type: int) -> tuple[str, Reason]:
    """Why an exchange ended that an unauthenticated notification ended (see ENDS_EXCHANGE)."""
    return ENDED_BY_NOTIFY.get(notify_type, (f"the responder refused ({notify_type})", Reason.PEER_REFUSED))


def classify(table: ExchangeTable, sender: Role, shape: Shape | None) -> Msg | None:
    """Which message this is, from who sent it and what it looks like (None: none of this table's)."""
    return table.shapes.get((sender, shape))


def classify_main_mode(sender: Role, encrypted: bool, first_payload: int) -> Msg | None:
    """Which Main Mode message this is, from who sent it and what it starts with."""
    return classify(MAIN_MODE, sender, main_mode_shape(encrypted, first_payload))


def _v2_messages() -> dict[tuple[Role, int], Msg2]:
    out: dict[tuple[Role, int], Msg2] = {}
    for table in TABLES["IKEv2"]:
        for key, msg in table.shapes.items():
            out.setdefault(key, msg)     # the first table that classifies it, as `classify` asked in turn
    return out


#: (sender, exchange type) -> the IKEv2 message: every IKEv2 table's `classify`, read once
_V2_MESSAGES = _v2_messages()
_INITIATOR, _RESPONDER = Role.INITIATOR, Role.RESPONDER


def classify_v2(exchange: int, response: bool) -> Msg2 | None:
    """Which IKEv2 message this is, from the exchange type and the R flag; None if not spoken here."""
    return _V2_MESSAGES.get((_RESPONDER if response else _INITIATOR, exchange))


def opening_state(table: ExchangeTable, receiver: Role) -> State | None:
    """Where a received message may open a new exchange of this table: the receiver's first state,
    if that state waits for a wire message (the initiator's begins by a local START instead)."""
    first = table.begins[receiver]
    return None if Msg.START in expected(first) else first


#: (family, shape) -> the responder state a phase-1 message of that look opens (`opens_phase1`)
_OPENS_PHASE1 = _opens_phase1()
#: `opening_state(QUICK_MODE, role)` for each role, read once (every new Quick Mode asks)
OPENS_QUICK_MODE: dict[Role, State | None] = {role: opening_state(QUICK_MODE, role) for role in Role}


def _answers() -> dict:
    out: dict = {}
    for tables in TABLES.values():
        for table in tables:
            for msg, answer in table.answers.items():
                out.setdefault(msg, answer)     # the first table that answers it, as before
    return out


#: every table's answers in one dict, read once (asked after every accepted message)
_ANSWERS = _answers()


def answer_to(msg: Msg) -> Msg | None:
    """What a message is answered with; None when it ends its exchange (a repeat gets nothing)."""
    return _ANSWERS.get(msg)


def repeat(message: bytes, accepted: bytes, rejected: bytes = b"") -> Repeat | None:
    """Whether a message repeats, byte for byte, the last one accepted or the last one rejected."""
    if message == accepted:
        return Repeat.ANSWER_AGAIN
    if rejected and message == rejected:
        return Repeat.DROP_AGAIN
    return None


def starts_next(state: State, msg: Msg) -> ExchangeTable | None:
    """The exchange a table move starts at once, if any."""
    return STARTS_NEXT.get((state, msg))


#: (family, receiving role, shape) -> the message it is: `classify` keyed by the receiver, read off
#: the IKEv1 tables once, so an arrival is classified in one lookup. Where it leads is asked of
#: TRANSITIONS itself (`advance`'s table), and what it starts of STARTS_NEXT, at the time.
RECEIVED: dict[tuple[Family, Role, Shape], Msg] = {
    (family, sender.other, shape): msg
    for family, table in ((Family.MAIN_MODE, MAIN_MODE), (Family.AGGRESSIVE_MODE, AGGRESSIVE_MODE),
                          (Family.QUICK_MODE, QUICK_MODE))
    for (sender, shape), msg in table.shapes.items()}

#: the messages that end their exchange (`answer_to` is None): a repeat of one gets nothing
LAST_MESSAGES = frozenset(msg for msg, answer in _ANSWERS.items() if answer is None)


def sends_delete(state: State) -> bool:
    """Whether `delete()` deletes an ISAKMP SA in this state, telling the peer with Delete payloads."""
    return state in DELETE_SENT_IN


def wrong_port_after_float(floated: bool, port: int) -> bool:
    """RFC 3947 §4: IKE for a floated SA that still arrives on port 500 is discarded."""
    return floated and port in DISCARDED_AFTER_FLOAT


def learns_responder_cookie(state: State, rcookie_given: bool) -> bool:
    """Whether a message naming our initiator cookie tells us the responder's cookie now (MM2)."""
    return rcookie_given and state in LEARNS_RESPONDER_COOKIE


def found_by_initiator_cookie(family: Family | None) -> bool:
    """Whether a message naming our initiator cookie and unknown responder cookie still belongs to our SA."""
    return family in FOUND_BY_INITIATOR_COOKIE


def is_status(notify_type: int) -> bool:
    """RFC 2408 §3.14.1: 16384 and above is a status (DPD, INITIAL-CONTACT, RESPONDER-LIFETIME,
    CONNECTED), never a refusal; below it, an error."""
    return notify_type >= FIRST_STATUS_NOTIFY


def plain_notify_noted(notify_type: int) -> bool:
    """An unauthenticated error notification is noted and reported; a status one is ignored."""
    return notify_type < FIRST_STATUS_NOTIFY


def notify_ends(state: State, notify_type: int, authenticated: bool) -> bool:
    """Whether this notification ends an exchange waiting in this state."""
    return (state, notify_type) in ENDS_EXCHANGE[authenticated]


def unreadable_is_evidence(state: State, family: Family | None) -> bool:
    """An encrypted Informational our keys cannot open, answering MM5, hints at another PSK."""
    return state is AUTH_EVIDENCE_STATE and family is Family.INFORMATIONAL


def repeat_is_evidence(role: Role, state: State) -> bool:
    """A repeat of MM4 while we wait for MM6: the responder never accepted our MM5, which it cannot
    decrypt when its pre-shared key differs (RFC 2409 §5: the keys derive from it); Windows and racoon
    re-send MM4 then instead of answering."""
    return role is Role.INITIATOR and state is AUTH_EVIDENCE_STATE


def complaint_explains_give_up(label: str, complaint: str | None) -> bool:
    """Whether a kept complaint explains giving up on the message with this label."""
    return label == AUTH_EVIDENCE_GIVE_UP.value and complaint in AUTH_COMPLAINTS


def half_open_refusal(total: int, from_source: int, limit: int, per_source: int) -> tuple[str, Reason] | None:
    """Why a new MM1 may not open a half-open SA now (None: it may). Nothing is kept and nothing
    answered for a refused one, so a flood costs no state and reflects nothing."""
    if total >= limit:
        return f"{total} half-open ISAKMP SAs already (the limit is {limit}): MM1 not answered", Reason.HALF_OPEN_LIMIT
    if from_source >= per_source:
        return (f"{from_source} half-open ISAKMP SAs from this address already (the limit is {per_source}): "
                "MM1 not answered", Reason.HALF_OPEN_SOURCE_LIMIT)
    return None


def retransmitted(msg: Msg) -> bool:
    """Whether we retransmit this message while waiting for its answer (SENT_ONCE: never)."""
    return msg not in SENT_ONCE


def forgotten_when_idle(role: Role, authenticated: bool) -> bool:
    """A responder SA that never authenticated is forgotten once idle for the half-open timeout."""
    return role is Role.RESPONDER and not authenticated


def repeat_answered_at(src: Endpoint, original: Endpoint | None, peer_ips: frozenset[str] | set[str]) -> Endpoint | None:
    """Where an exact repeat of the last accepted message is answered (None: nowhere, it is dropped).

    Only at an address this exchange has come from: the original's, or another port of an IP
    the exchange's accepted messages came from (the initiator's retransmission through its NAT,
    or the genuine copy of a message a forged copy overtook). A copy sent from anywhere else is
    not answered: a repeat never moves the SA and never reflects an answer to a third party."""
    if src == original:
        return original
    return src if src.ip in peer_ips else None


def follows_peer(floated: bool, self_behind_nat: bool, peer_behind_nat: bool = True, initiator: bool = True) -> bool:
    """RFC 3947 §7 / RFC 3948: once NAT-T is in use the side that is not behind a NAT follows the
    address of the latest new authenticated message of a peer behind a NAT; the side behind a
    dynamic NAT never changes it. A responder behind a NAT is taken to sit behind a static one
    (port forwards: nothing could reach it otherwise) and follows too, as strongSwan's
    ike_sa.c update_hosts does ("only update other's address if we are behind a static NAT,
    which we assume is the case if we are not initiator")."""
    return floated and peer_behind_nat and (not self_behind_nat or not initiator)


if __name__ == "__main__":   # python -m natt_core.ike.states  prints the DOT text docs/ENGINE.md carries
    from .state_diagram import diagrams
    print(diagrams(), end="")
