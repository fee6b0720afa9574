"""One way to make a peer: the policy's `ike_version` picks IKEv1 (`Peer`), IKEv2 (`Peer2`) or
both (`DualPeer`)."""
from __future__ import annotations

import random

from .dual import DualPeer
from .peer import Peer
from .policy import PeerPolicy
from .v2.peer import Peer2


_BY_VERSION = {1: Peer, 2: Peer2}


def make_peer(name: str, address: str, policy: PeerPolicy,
              rng: random.Random | int = 0) -> Peer | Peer2 | DualPeer:
    cls = _BY_VERSION.get(policy.ike_version, DualPeer)
    return cls(name, address, policy, rng=rng)
