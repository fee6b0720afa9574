"""The IKEv1 transition table, exhaustively and against live peers (RFC 2409 §5, §5.5; RFC 3947 §4).

Table level: every (State, Msg) pair either is in `TRANSITIONS` and `advance()` returns it, or
`advance()` refuses with ProtocolError; the paths through the table are Main Mode's three round
trips and Quick Mode's three messages, and each role only ever consumes the other role's messages.

Peer level: one handshake is recorded with a snapshot of the receiving peer taken just before
every delivery. Each snapshot — a peer in one state — is then offered every message its role can
receive. What the table allows moves the state on; an exact retransmission of the last message
accepted is answered again with the same bytes (RFC 2409 leaves retransmission to the
implementation; the engine's rule is in `natt_core.ike.states`); an IKE message on port 500 for an
SA that floated is discarded (RFC 3947 §4); anything else is a PacketDropped with a reason, and
the peer's states do not move. `receive` never raises.
"""
from __future__ import annotations

import copy
import functools
import itertools
from dataclasses import dataclass, field, fields

import pytest

from natt_core.addressing import Datagram
from natt_core.errors import ProtocolError
from natt_core.ike.peer import Peer
from natt_core.ike.states import (ADMITTED_IN, AGGRESSIVE_MODE, END_STATES, INFORMATIONAL_STATES, MAIN_MODE, QUICK_MODE, STARTS_NEXT,
                                  TABLES, TRANSITIONS, Family, Msg, Role, Shape, State, admit, advance, answer_to,
                                  classify, classify_main_mode, expected, family_of, notify_ends, opening_state,
                                  wrong_port_after_float)
from natt_core.ike.state_diagram import role_of
from natt_core.wire.ip import decode_datagram, encode_datagram
from natt_core.wire.isakmp import decode_header
from natt_core.wire.numbers import ExchangeType, NotifyType, Port
from natt_core.wire.udp_encap import NON_ESP_MARKER

from .helpers import Pair, make_pair

# ------------------------------------------------------------------------------------------ recording


@dataclass(frozen=True)
class Delivery:
    """One datagram on its way: as its sender emitted it, as it arrived, and who got it in which state."""
    time: float
    sent: Datagram
    delivered: Datagram
    receiver: str
    before: Peer       #: a deep copy of the receiver just before it got the datagram


@dataclass
class RecordingPair(Pair):
    """A Pair that keeps every delivery, with the datagram before and after the address rewrite."""
    deliveries: list = field(default_factory=list)

    def _route(self, d: Datagram):
        routed = super()._route(d)
        if routed is not None:
            peer, arrived = routed
            self.deliveries.append(Delivery(self.now, d, arrived, peer.name, copy.deepcopy(peer)))
        return routed

    def delivered(self, label: str) -> Delivery:
        found = [x for x in self.deliveries if x.delivered.label == label]
        assert len(found) == 1, f"{label} delivered {len(found)} times"
        return found[0]


def recording(pair: Pair) -> RecordingPair:
    """The same pair (same peers, same rewrites), recording from now on."""
    return RecordingPair(**{f.name: getattr(pair, f.name) for f in fields(Pair)})


def fresh(d: Datagram) -> Datagram:
    """A new Datagram from the real bytes of d (nothing shared with the recording)."""
    return decode_datagram(encode_datagram(d))


def ike_header(d: Datagram):
    payload = d.payload[len(NON_ESP_MARKER):] if d.payload.startswith(NON_ESP_MARKER) else d.payload
    return decode_header(payload)[0]


# ------------------------------------------------------------------------------------------ table level

@pytest.mark.parametrize("state, msg", list(itertools.product(State, Msg)),
                         ids=[f"{s.name}-{m.name}" for s, m in itertools.product(State, Msg)])
def test_advance_follows_the_table_or_refuses(state, msg):
    if (state, msg) in TRANSITIONS:
        assert advance(state, msg) is TRANSITIONS[(state, msg)]
        assert msg in expected(state)
    else:
        with pytest.raises(ProtocolError) as refused:
            advance(state, msg)
        assert refused.value.state == state.value and refused.value.message == msg.value
        assert msg not in expected(state)


@pytest.mark.parametrize("start, messages, end", [
    # RFC 2409 §5: the initiator sends MM1/3/5 and consumes MM2/4/6; the responder the reverse
    (State.I_START, (Msg.START, Msg.MM2, Msg.MM4, Msg.MM6), State.ESTABLISHED),
    (State.R_EXPECT_MM1, (Msg.MM1, Msg.MM3, Msg.MM5), State.ESTABLISHED),
    # RFC 2409 §5.5: QM1 and QM3 from the initiator, QM2 from the responder
    (State.QI_START, (Msg.START, Msg.QM2), State.QM_DONE),
    (State.QR_EXPECT_QM1, (Msg.QM1, Msg.QM3), State.QM_DONE),
    (State.I_AM_START, (Msg.START, Msg.AM2), State.ESTABLISHED),
    (State.R_EXPECT_AM1, (Msg.AM1, Msg.AM3), State.ESTABLISHED),
])
def test_the_four_paths_through_the_table(start, messages, end):
    state = start
    for msg in messages:
        assert expected(state) == (msg,)   # exactly one way forward at each step
        state = advance(state, msg)
    assert state is end


def test_each_role_consumes_only_the_other_roles_messages():
    from_responder = {Msg.MM2, Msg.MM4, Msg.MM6, Msg.AM2, Msg.QM2}
    from_initiator = {Msg.MM1, Msg.MM3, Msg.MM5, Msg.AM1, Msg.AM3, Msg.QM1, Msg.QM3}
    for (state, msg), nxt in ((k, v) for t in TABLES["IKEv1"] for k, v in t.transitions.items()):
        if state.name.startswith(("I_", "QI_")):
            assert msg in from_responder | {Msg.START}, (state, msg)
        elif state.name.startswith(("R_", "QR_")):
            assert msg in from_initiator, (state, msg)
        else:
            pytest.fail(f"{state} has a transition but is neither an initiator nor a responder state")
        assert nxt not in END_STATES   # failing and deleting are decisions, never table moves
    for state in END_STATES | {State.ESTABLISHED, State.QM_DONE}:
        assert expected(state) == ()


def test_ikev2_setup_takes_four_messages_and_each_role_consumes_the_others():
    """RFC 7296 §1.2: IKE_SA_INIT and IKE_AUTH, a request and a response each, set up the IKE SA."""
    from natt_core.ike.states import IKEV2_SA_SETUP, Msg2, State2, classify_v2
    from natt_core.wire.ikev2_numbers import Exchange
    for start, messages in ((State2.I_START, (Msg2.START, Msg2.INIT_RESP, Msg2.AUTH_RESP)),
                            (State2.R_START, (Msg2.INIT_REQ, Msg2.AUTH_REQ))):
        state = start
        for msg in messages:
            assert expected(state) == (msg,)
            state = advance(state, msg)
        assert state is State2.ESTABLISHED
    assert len([m for m in IKEV2_SA_SETUP.answers if m is not Msg2.START]) == 4
    assert classify_v2(Exchange.IKE_AUTH, False) is Msg2.AUTH_REQ
    assert classify_v2(Exchange.INFORMATIONAL, True) is Msg2.INFO_RESP
    assert classify_v2(99, False) is None
    with pytest.raises(ProtocolError):
        advance(State2.R_INIT_DONE, Msg2.INIT_REQ)   # a second IKE_SA_INIT on a half-open SA


# ------------------------------------------------------------------------------------------ peer level

#: what each role receives in a handshake
RECEIVES = {"server": ("MM1", "MM3", "MM5", "QM1", "QM3"), "client": ("MM2", "MM4", "MM6", "QM2")}
#: the snapshot points: just before each delivery to that peer, and after the handshake
POINTS = {"server": ("MM1", "MM3", "MM5", "QM1", "QM3", "end"), "client": ("MM2", "MM4", "MM6", "QM2", "end")}
#: RFC 2409 §5/§5.5: what a message is answered with (None: the exchange ends with it)
ANSWER = {"MM1": "MM2", "MM2": "MM3", "MM3": "MM4", "MM4": "MM5", "MM5": "MM6", "MM6": None,
          "QM1": "QM2", "QM2": "QM3", "QM3": None}

SNAPSHOT_DEFECTS: dict = {}   #: (role, point, label) -> known defect; empty since they were fixed


@functools.lru_cache(maxsize=None)
def recorded_handshake(nat: bool) -> RecordingPair:
    pair = recording(make_pair(client_nat=nat, seed=3)).connect()
    assert [r.state for r in pair.client.isakmp_rows() + pair.server.isakmp_rows()] == ["ESTABLISHED"] * 2
    labels = [x.delivered.label for x in pair.deliveries]
    assert labels == ["MM1", "MM2", "MM3", "MM4", "MM5", "MM6", "QM1", "QM2", "QM3"]   # no retransmissions
    return pair


def snapshot(pair: RecordingPair, role: str, point: str) -> tuple[Peer, list[str]]:
    """A copy of the peer at that point and the labels it had accepted by then."""
    peer = getattr(pair, role)
    if point != "end":
        peer = pair.delivered(point).before
    accepted = []
    for x in pair.deliveries:
        if x.delivered.label == point:
            break
        if x.receiver == role:
            accepted.append(x.delivered.label)
    return copy.deepcopy(peer), accepted


def states(peer: Peer) -> tuple:
    """What must not move when a message is dropped: the ISAKMP SA states and every Quick Mode exchange."""
    rows = tuple(r.state for r in peer.isakmp_rows())
    quick = tuple(sorted((mid, qe.state.value) for sa in peer.sas.values() for mid, qe in sa.quick.items()))
    return rows, quick


def table_state(peer: Peer, role: str, message: Datagram, label: str) -> State | None:
    """The state the table is asked about: the ISAKMP SA's for Main Mode, the exchange's for Quick Mode."""
    sas = list(peer.sas.values())
    assert len(sas) <= 1
    if not sas:
        return State.R_EXPECT_MM1 if role == "server" and label.startswith("MM") else None
    sa = sas[0]
    if label.startswith("MM") or sa.state is not State.ESTABLISHED:
        return sa.state
    qe = sa.quick.get(ike_header(message).message_id)
    if qe is not None:
        return qe.state
    return State.QR_EXPECT_QM1 if role == "server" else State.QI_START


def cases():
    for nat, role in itertools.product((True, False), ("server", "client")):
        for point, label in itertools.product(POINTS[role], RECEIVES[role]):
            marks = []
            defect = SNAPSHOT_DEFECTS.get((role, point, label))
            if defect and not (nat and (role, point, label) == ("client", "MM6", "MM4")):
                marks = [pytest.mark.xfail(strict=True, reason=defect)]
            yield pytest.param(nat, role, point, label, marks=marks,
                               id=f"{'nat' if nat else 'direct'}-{role}@{point}<-{label}")


@pytest.mark.parametrize("nat, role, point, label", list(cases()))
def test_every_state_of_a_real_handshake_against_every_message(nat, role, point, label):
    pair = recorded_handshake(nat)
    peer, accepted = snapshot(pair, role, point)
    message = pair.delivered(label).delivered
    family = [x for x in accepted if x[:2] == label[:2]]
    duplicate = bool(family) and family[-1] == label
    floated = any(r.local.endswith(f":{Port.NAT_T}") for r in peer.isakmp_rows())
    state = table_state(peer, role, message, label)
    before = states(peer)

    out = peer.receive(fresh(message), pair.now + 1.0)

    dropped = [e for e in out.events if e.kind == "PacketDropped"]
    assert all(e.reason.strip() for e in dropped)
    if floated and message.dst.port == Port.IKE:                       # RFC 3947 §4: discard
        verdict = "dropped"
    elif duplicate:
        verdict = "answered again"
    elif (state, Msg[label]) in TRANSITIONS:
        verdict = "advanced"
    else:
        verdict = "dropped"

    if verdict == "dropped":
        assert dropped, f"{role} in {state} took {label} without a PacketDropped: {out.events}"
        assert out.datagrams == () and states(peer) == before
    elif verdict == "answered again":
        answer = ANSWER[label]
        again = [pair.delivered(answer).sent.payload] if answer else []
        assert [d.payload for d in out.datagrams] == again
        assert not dropped and states(peer) == before
    else:
        assert not dropped, dropped
        nxt = TRANSITIONS[(state, Msg[label])]
        assert table_state(peer, role, message, label) is nxt
        if nxt is State.ESTABLISHED and role == "client":
            # the initiator starts Quick Mode at once (RFC 2409 §5.5)
            assert [d.label for d in out.datagrams] == ["QM1"]


# ------------------------------------------------------------------------------------------ the rest of the table

IKEV1 = (MAIN_MODE, AGGRESSIVE_MODE, QUICK_MODE)


@pytest.mark.parametrize("table", IKEV1, ids=lambda t: t.name)
def test_a_state_consumes_only_what_the_other_role_sends(table):
    for (state, msg), _ in table.transitions.items():
        if msg is Msg.START:
            assert state is table.begins[Role.INITIATOR]      # only the initiator begins by deciding to
        else:
            assert table.sender(msg) is role_of(table, state).other, (state, msg)


@pytest.mark.parametrize("table", IKEV1, ids=lambda t: t.name)
def test_answers_alternate_from_the_opening_message_to_the_last(table):
    """RFC 2409 §5/§5.5: each message is answered by the next, from the other side; the last ends it."""
    first = expected(opening_state(table, Role.RESPONDER))
    assert len(first) == 1
    chain, msg = [], first[0]
    while msg is not None:
        chain.append(msg)
        nxt = answer_to(msg)
        if nxt is not None:
            assert table.sender(nxt) is table.sender(msg).other
        msg = nxt
    wire = {m for (_, m) in table.transitions if m is not Msg.START}
    assert sorted(chain, key=lambda m: m.value) == sorted(wire, key=lambda m: m.value) and len(chain) == len(wire)
    assert [m.value for m in chain] == sorted(m.value for m in chain)   # MM1..MM6, QM1..QM3 in order


def test_only_a_responder_opens_an_exchange_from_a_received_message():
    for table in IKEV1:
        assert opening_state(table, Role.INITIATOR) is None
        assert opening_state(table, Role.RESPONDER) is table.begins[Role.RESPONDER]
    assert classify(QUICK_MODE, Role.RESPONDER, Shape.NEW_ID) is None   # a new Message ID from a responder: unknown


@pytest.mark.parametrize("nat", (True, False), ids=("nat", "direct"))
def test_real_messages_classify_as_what_they_are(nat):
    """Every message of a real handshake, classified from its own header and who sent it."""
    pair = recorded_handshake(nat)
    seen_ids = set()
    for x in pair.deliveries:
        header = ike_header(x.delivered)
        sender = Role.RESPONDER if x.receiver == "client" else Role.INITIATOR
        encrypted = bool(header.flags & 1)
        assert family_of(header.exchange, encrypted) is (Family.MAIN_MODE if x.delivered.label.startswith("MM")
                                                          else Family.QUICK_MODE)
        if header.exchange == ExchangeType.MAIN_MODE:
            msg = classify_main_mode(sender, encrypted, header.next_payload)
        else:
            msg = classify(QUICK_MODE, sender, Shape.KNOWN_ID if header.message_id in seen_ids else Shape.NEW_ID)
            seen_ids.add(header.message_id)
        assert msg is Msg[x.delivered.label]


def test_admission_of_each_family():
    for family, (states_in, label, _) in ADMITTED_IN.items():
        for state in State:
            if state in states_in:
                admit(family, state)
            else:
                with pytest.raises(ProtocolError) as refused:
                    admit(family, state, "why")
                assert refused.value.message == label and refused.value.state == state.value
    assert ADMITTED_IN[Family.QUICK_MODE][0] == {State.ESTABLISHED}
    assert ADMITTED_IN[Family.INFORMATIONAL][0] == INFORMATIONAL_STATES
    assert not ADMITTED_IN[Family.MAIN_MODE][0] & END_STATES
    with pytest.raises(ProtocolError, match=r"has ended \(refused by policy\)"):
        admit(Family.MAIN_MODE, State.FAILED, "refused by policy")
    assert family_of(ExchangeType.QUICK_MODE, False) is None          # plain Quick Mode is not spoken


def test_notifications_believed_and_the_port_rule():
    assert notify_ends(State.I_EXPECT_MM2, NotifyType.NO_PROPOSAL_CHOSEN, authenticated=False)
    assert not notify_ends(State.I_EXPECT_MM6, NotifyType.AUTHENTICATION_FAILED, authenticated=False)
    assert not notify_ends(State.ESTABLISHED, NotifyType.NO_PROPOSAL_CHOSEN, authenticated=False)
    assert notify_ends(State.QI_EXPECT_QM2, NotifyType.NO_PROPOSAL_CHOSEN, authenticated=True)
    assert wrong_port_after_float(True, Port.IKE) and not wrong_port_after_float(True, Port.NAT_T)
    assert not wrong_port_after_float(False, Port.IKE)


def test_roles_are_an_enum_inside_and_strings_outside():
    pair = recorded_handshake(True)
    assert [sa.role for sa in pair.client.sas.values()] == [Role.INITIATOR]
    assert [sa.role for sa in pair.server.sas.values()] == [Role.RESPONDER]
    assert [r.role for r in pair.client.isakmp_rows() + pair.server.isakmp_rows()] == ["initiator", "responder"]
    assert all(type(r.role) is str for r in pair.server.isakmp_rows())
    assert set(TABLES) == {"IKEv1", "IKEv2"} and TABLES["IKEv1"] == IKEV1


def test_the_peer_obeys_whatever_the_table_says(monkeypatch):
    """Callers ask the table: take one transition out and the responder refuses that message."""
    monkeypatch.delitem(TRANSITIONS, (State.R_EXPECT_MM3, Msg.MM3))
    pair = make_pair(seed=5).connect()
    refused = [e for e in pair.of("PacketDropped", "server") if "MM3 is not expected in state R_EXPECT_MM3" in e.reason]
    assert refused and pair.server.isakmp_rows()[0].state == "R_EXPECT_MM3"
    assert not pair.of("Phase1Established")


def test_the_peer_starts_quick_mode_only_where_the_table_says(monkeypatch):
    monkeypatch.delitem(STARTS_NEXT, (State.I_EXPECT_MM6, Msg.MM6))
    pair = make_pair(seed=5).connect()
    assert len(pair.of("Phase1Established")) == 2 and not pair.of("Phase2Established")
    assert not [d for _, d in pair.wire if d.label == "QM1"]
