"""Every L2TP fixture the engine tests carry is a message the project's own decoder accepts, so a
test never passes on bytes no real peer would send (RFC 2661 §3.1, §4.4.1)."""
from __future__ import annotations

import pytest

from natt_core.wire.l2tp import MessageType, decode_control

from . import test_engine_oracles, test_peer_handshake


@pytest.mark.parametrize("name, data, kind", [
    ("test_peer_handshake.L2TP_HELLO", test_peer_handshake.L2TP_HELLO, MessageType.HELLO),
    ("test_peer_handshake.L2TP_REPLY", test_peer_handshake.L2TP_REPLY, MessageType.HELLO),
    ("test_engine_oracles.L2TP_SCCRQ", test_engine_oracles.L2TP_SCCRQ, MessageType.SCCRQ),
], ids=lambda x: x if isinstance(x, str) else None)
def test_l2tp_fixtures_decode(name, data, kind):
    assert decode_control(data).kind == kind, name


def test_the_numbered_hellos_decode_with_their_sequence_numbers():
    for ns in (0, 1, 9):
        m = decode_control(test_peer_handshake.l2tp_hello(tunnel=2, ns=ns))
        assert (m.kind, m.tunnel_id, m.ns) == (MessageType.HELLO, 2, ns)
