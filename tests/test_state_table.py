"""Every (state, message) pair follows the transition table or is refused (RFC 2409 exchanges)."""
from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from natt_core.errors import ProtocolError
from natt_core.ike.states import TRANSITIONS, Msg, State, advance

from .helpers import make_pair


@pytest.mark.parametrize("state, msg", list(itertools.product(State, Msg)))
def test_advance_follows_the_table_or_refuses(state, msg):
    if (state, msg) in TRANSITIONS:
        assert advance(state, msg) is TRANSITIONS[(state, msg)]
    else:
        with pytest.raises(ProtocolError):
            advance(state, msg)


def _snapshots_and_messages():
    """Clones of the pair before each IKE message is delivered, and every message as delivered."""
    pair = make_pair(client_nat=True)
    snapshots, messages = [], []
    queue = list(pair.client.connect(pair.server.address, pair.now).datagrams)
    while queue:
        d = queue.pop(0)
        pair.now += 0.005
        peer, delivered = pair._route(d)
        if d.label.startswith(("MM", "QM")):
            snapshots.append(pair.clone())
            messages.append(delivered)
        queue += peer.receive(delivered, pair.now).datagrams
    assert len(snapshots) >= 9   # MM1..MM6, QM1..QM3
    return snapshots, messages


SNAPSHOTS, MESSAGES = _snapshots_and_messages()


def _states(peer):
    return [(sa.state, tuple(q.state for q in sa.quick.values())) for sa in peer.sas.values()]


@pytest.mark.parametrize("snap", [pytest.param(i, marks=pytest.mark.xfail(
    reason="around MM6/QM1 a message changes state without a MessageReceived event; under investigation"))
    if i in (5, 6) else i for i in range(len(SNAPSHOTS))])
def test_every_message_in_every_state_is_followed_or_refused(snap):
    for message in MESSAGES:
        pair = SNAPSHOTS[snap].clone()
        peer = pair.server if message.dst.ip == pair.server.address else pair.client
        before = _states(peer)
        out = peer.receive(replace(message), pair.now + 0.5)   # never raises
        after = _states(peer)
        if after != before:
            assert any(e.kind == "MessageReceived" for e in out.events)   # moved only by an accepted message
        else:
            resent = [d for d in out.datagrams]
            dropped = [e for e in out.events if e.kind == "PacketDropped"]
            # refused, or an exact duplicate answered with the same bytes as before
            assert dropped or all(e.kind == "MessageSent" and e.retransmission for e in out.events) or not out.events
            assert len(resent) <= 1
