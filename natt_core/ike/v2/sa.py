"""The IKEv2 SA record: one per IKE SA, with the fields the shared peer machinery reads.

`PeerCore` (sending, retransmission, keepalives) and `DataPlaneMixin` (ESP) work on this record
exactly as on the IKEv1 `IkeSa`: `local`, `remote`, `pending`, `natd`, `floated`, `children`,
`sends_keepalives`. CHILD_SAs are the IKEv1 `ChildSa` records (their encapsulation value is 0:
IKEv2 negotiates no encapsulation mode, §2.23).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from ...addressing import Endpoint
from ...crypto.ikev2_keys import IkeKeys
from ...crypto.natd import NatdVerdict
from ..policy import PeerPolicy
from ..sa import Answer, ChildSa, Pending
from ..states import State2
from .proposals import IkeChoice
from .sk import SkCipher


class V2NatT(Enum):
    RFC7296 = "rfc7296"


@dataclass
class Ike2Sa:
    role: str                          #: "initiator" or "responder" (of the IKE SA)
    state: State2
    spi_i: bytes
    spi_r: bytes
    local: Endpoint
    remote: Endpoint
    policy: PeerPolicy
    created: float = 0.0
    group: int = 0                     #: the DH group of our KE
    dh_private: int = 0
    ke_public: bytes = b""
    ni: bytes = b""
    nr: bytes = b""
    cookie: bytes = b""                #: initiator: the responder's COOKIE to echo
    retries: int = 0                   #: COOKIE / INVALID_KE retries so far
    init_request: bytes = b""          #: IKE_SA_INIT request as sent / received (AUTH signs it)
    init_response: bytes = b""
    choice: IkeChoice | None = None
    keys: IkeKeys | None = None
    send_cipher: SkCipher | None = None
    recv_cipher: SkCipher | None = None
    natd: NatdVerdict | None = None
    floated: bool = False
    next_mid_out: int = 0              #: our next request's message ID
    next_mid_in: int = 0               #: the peer's next request's message ID
    pending_mid: int | None = None
    pending_kind: str = ""
    child_request: dict = field(default_factory=dict)   #: initiator: what IKE_AUTH asked for
    last_received: bytes = b""         #: the last request answered (its bytes)
    last_answer: Answer | None = None
    init_answer: Answer | None = None  #: responder: the IKE_SA_INIT response, resent on duplicates
    pending: Pending | None = None
    children: list[ChildSa] = field(default_factory=list)
    #: by inbound SPI: (local TS, remote TS, transport, peer's original addresses), for rekeying
    child_ts: dict = field(default_factory=dict)
    rekeyed_by: "Ike2Sa | None" = field(default=None, repr=False)   #: the IKE SA that replaced this one
    reason: str | None = None
    failure: str | None = None
    code: str | None = None
    peer_notify: str | None = None
    last_sent_4500: float = 0.0
    keepalives_sent: int = 0
    # the timer bookkeeping natt_core.ike.core keeps for every SA it schedules (see IkeSa)
    armed: dict[str, tuple[float, int]] = field(default_factory=dict)
    last_active: float = 0.0
    half_open: bool = False
    authenticated: bool = False
    origin: Endpoint | None = None

    @property
    def cookies(self) -> str:
        """The SPI pair, under the IKEv1 record's name so shared rows and views read it."""
        return f"{self.spi_i.hex()}:{self.spi_r.hex()}"

    spis = cookies

    @property
    def icookie(self) -> bytes:
        """SPIi under the IKEv1 name: both sit in the first 8 header bytes, so captures index alike."""
        return self.spi_i

    @property
    def rcookie(self) -> bytes:
        return self.spi_r

    @property
    def nat_t(self) -> "V2NatT | None":
        """NAT traversal is built in: RFC 7296 §2.23 once both sent NAT_DETECTION notifies."""
        return V2NatT.RFC7296 if self.natd else None

    @property
    def nat_detected(self) -> bool:
        return bool(self.natd and self.natd.nat_detected)

    @property
    def sends_keepalives(self) -> bool:
        """§2.23: the side behind a NAT (its DESTINATION hash did not match) sends keepalives."""
        return bool(self.floated and self.natd and self.natd.self_behind_nat)
