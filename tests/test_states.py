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
from natt_core.ike.states import END_STATES, TRANSITIONS, Msg, State, advance, expected
from natt_core.wire.ip import decode_datagram, encode_datagram
from natt_core.wire.isakmp import decode_header
from natt_core.wire.numbers import Port
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
])
def test_the_four_paths_through_the_table(start, messages, end):
    state = start
    for msg in messages:
        assert expected(state) == (msg,)   # exactly one way forward at each step
        state = advance(state, msg)
    assert state is end


def test_each_role_consumes_only_the_other_roles_messages():
    from_responder = {Msg.MM2, Msg.MM4, Msg.MM6, Msg.QM2}
    from_initiator = {Msg.MM1, Msg.MM3, Msg.MM5, Msg.QM1, Msg.QM3}
    for (state, msg), nxt in TRANSITIONS.items():
        if state.name.startswith(("I_", "QI_")):
            assert msg in from_responder | {Msg.START}, (state, msg)
        elif state.name.startswith(("R_", "QR_")):
            assert msg in from_initiator, (state, msg)
        else:
            pytest.fail(f"{state} has a transition but is neither an initiator nor a responder state")
        assert nxt not in END_STATES   # failing and deleting are decisions, never table moves
    for state in END_STATES | {State.ESTABLISHED, State.QM_DONE}:
        assert expected(state) == ()


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
