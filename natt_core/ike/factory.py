"""One way to make a peer: the policy's `ike_version` picks IKEv1 (`Peer`) or IKEv2 (`Peer2`)."""
from __future__ import annotations

import random

from .peer import Peer
from .policy import PeerPolicy
from .v2.peer import Peer2


def make_peer(name: str, address: str, policy: PeerPolicy, rng: random.Random | int = 0) -> Peer | Peer2:
    cls = Peer2 if policy.ike_version == 2 else Peer
    return cls(name, address, policy, rng=rng)
