"""Security association records: one ISAKMP SA per phase 1, a child pair per Quick Mode.

These are the mutable state of a peer. `IsakmpSaRow` and `IpsecSaRow` are the frozen snapshots a
lesson shows as "the SA list on both peers" (cookies, endpoints as each side sees them, SPIs,
encapsulation, ports).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from ..addressing import Endpoint
from ..crypto.ike_keys import Phase1Keys
from ..crypto.natd import NatdVerdict, ip_port
from ..crypto.primitives import digest
from ..reasons import Reason
from .nat_t import NattVersion
from .policy import PeerPolicy
from .states import Role, State
from ..net.records import fast_init


@dataclass(frozen=True)
class Phase1Choice:
    """The transform the responder chose in MM2."""
    cipher: str
    hash: str
    group: int
    key_len: int
    lifetime: int
    auth: str = "psk"     #: policy.AUTH_METHODS: how MM5/MM6 authenticate


@dataclass(frozen=True)
class Answer:
    """What we sent in reply to a message, resent byte for byte when that message comes again."""
    label: str
    wire: bytes


@dataclass
class Pending:
    """The last message we sent and are waiting on an answer for (retransmission state)."""
    label: str
    payload: bytes        #: the UDP payload exactly as sent (marker included on 4500)
    deadline: float
    attempt: int = 0
    interval: float = 1.0


@dataclass
class QuickExchange:
    """One Quick Mode exchange, keyed by its Message ID."""
    message_id: int
    state: State
    iv: bytes
    ni_b: bytes = b""
    nr_b: bytes = b""
    spi_in: int = 0
    spi_out: int = 0
    pfs_private: int | None = None
    pfs_public: bytes = b""
    pfs_shared: bytes | None = None
    proposal: object = None           #: our proposed SA payload (initiator)
    chosen: object = None             #: the chosen transform
    ids: tuple = ()                   #: (IDci, IDcr) as sent/echoed
    nat_oa_i: tuple[str, str] | None = None   #: the initiator's NAT-OAi, NAT-OAr
    nat_oa_r: tuple[str, str] | None = None   #: the responder's NAT-OAi, NAT-OAr
    last_received: bytes = b""
    last_from: Endpoint | None = None          #: where last_received came from (repeats are answered there)
    last_answer: Answer | None = None
    child: "ChildSa | None" = None
    life: object = None                        #: lifetimes.Life this exchange settled on


@dataclass
class IkeSa:
    """An ISAKMP SA in the making or established (RFC 2409 §5)."""
    role: Role
    state: State
    icookie: bytes
    rcookie: bytes
    local: Endpoint                   #: our address and the port we use now
    remote: Endpoint                  #: where we send: the peer as its packets arrive
    policy: PeerPolicy
    created: float = 0.0
    #: the phase-1 exchange: "Main Mode" or "Aggressive Mode" (states.PHASE1_TABLES names)
    exchange: str = "Main Mode"
    sai_b: bytes = b""
    choice: Phase1Choice | None = None
    peer_vids: tuple[bytes, ...] = ()
    nat_t: NattVersion | None = None
    dh_private: int = 0
    gx: bytes = b""                   #: our public value
    gy: bytes = b""                   #: the peer's public value
    gxy: bytes = b""
    ni_b: bytes = b""
    nr_b: bytes = b""
    keys: Phase1Keys | None = None
    iv: bytes = b""                   #: running phase-1 CBC IV
    last_phase1_block: bytes = b""    #: seeds every Quick Mode / Informational IV
    natd: NatdVerdict | None = None
    floated: bool = False
    id_sent: bytes = b""              #: our ID payload body
    id_received: bytes = b""
    last_received: bytes = b""        #: bytes of the last message that moved the state
    last_from: Endpoint | None = None  #: where it came from: a repeat is answered only there
    peer_ips: set[str] = field(default_factory=set)  #: IPs this SA's accepted messages came from
    origin: Endpoint | None = None    #: a responder's: where MM1 came from (its half-open source)
    authenticated: bool = False       #: reached ESTABLISHED once (no longer half-open, never expires)
    half_open: bool = False           #: counted against the peer's half-open limits right now
    last_active: float = 0.0          #: the last accepted message or retransmission (half-open expiry)
    armed: dict[str, tuple[float, int]] = field(default_factory=dict)  #: timer kind -> its one live (when, seq)
    last_answer: Answer | None = None  #: what we sent in reply to it (resent on duplicates)
    last_rejected: bytes = b""
    pending: Pending | None = None
    quick: dict[int, QuickExchange] = field(default_factory=dict)
    children: list["ChildSa"] = field(default_factory=list)
    reason: str | None = None
    failure: str | None = None        #: why it ended, as a kind: refused / authentication / gave-up
    code: Reason | None = None        #: the code beside `reason` (set and cleared with it)
    peer_notify: str | None = None    #: an unauthenticated notification the peer sent us
    mm4_repeats: int = 0              #: MM4 repeats received while waiting for MM6 (PSK-mismatch evidence)
    last_sent_4500: float = 0.0       #: for the keepalive timer
    keepalives_sent: int = 0
    #: liveness once established (ike/dpd.py LiveState): when the peer was last heard, DPD numbers,
    #: the Informational Message IDs seen (a replay of one moves nothing)
    live: object = None
    #: (message ID, first ciphertext block, IV) of every message this side encrypted: the IVs
    #: secrets.json records, so a decrypting view uses the engine's IVs instead of re-deriving them
    sealed_ivs: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    # --- lifecycle (ike/rekey.py) ---
    life: object = None               #: lifetimes.Life in force once established
    established_at: float | None = None
    rekey_of: "IkeSa | None" = None   #: the SA this one is the phase-1 rekey of (until it takes over)
    rekeying: bool = False            #: a successor is being negotiated
    past_children: list["ChildSa"] = field(default_factory=list)  #: deleted or expired IPsec SAs (secrets)
    #: certificate authentication: the CAs the peer's CR payloads named (DER Names), and the
    #: peer's verified certificate chain (DER, machine first) for reports and views
    peer_cas: tuple[bytes, ...] = ()
    peer_certs: tuple[bytes, ...] = ()

    #: memos kept beside the fields once made (repr and == unchanged); the class defaults say
    #: "none yet" without a lookup
    _natd_memo = None
    _row_memo = None

    @property
    def cookies(self) -> str:
        return f"{self.icookie.hex()}:{self.rcookie.hex()}"

    def keyed(self, which: str):
        """"skeyid", "skeyid_a" or "skeyid_d" under the negotiated hash, keyed once for the SA's
        life (`Phase1Keys.keyed`): what every HASH and KEYMAT of this SA is computed with."""
        return self.keys.keyed(which, self.choice.hash)

    def natd_hash(self, ip: str, port: int) -> bytes:
        """HASH(CKY-I | CKY-R | IP | Port) under this SA's cookies and phase-1 hash (RFC 3947 §3.2),
        worked out once per address: MM3/MM4 send the hash of our own address and of where the
        peer is, then check the peer's against the same two. Kept beside the fields (repr and ==
        unchanged), keyed by the responder cookie too, which an initiator learns in MM2."""
        key = (self.rcookie, ip, port)
        memo = self._natd_memo
        if memo is None:
            memo = self._natd_memo = {}
        found = memo.get(key)
        if found is None:
            # `natd_hash` without its cookie checks: an SA's cookies are 8 bytes by construction
            found = memo[key] = digest(self.choice.hash, self.icookie + self.rcookie + ip_port(ip, port))
        return found

    @property
    def nat_detected(self) -> bool:
        return bool(self.natd and self.natd.nat_detected and self.nat_t)

    @property
    def sends_keepalives(self) -> bool:
        """RFC 3947 §3.2: only the side that found itself behind a NAT sends keepalives."""
        return bool(self.floated and self.natd and self.natd.self_behind_nat)

    def row(self) -> "IsakmpSaRow":
        """The row a lesson shows, built again only when something it shows changed: the trace
        snapshots both peers' tables after every output, and most outputs change neither."""
        key = (self.state, self.rcookie, self.local, self.remote, self.nat_t, self.natd, self.choice)
        memo = self._row_memo
        if memo is not None and memo[0] == key:    # all immutable: equal inputs, equal row
            return memo[1]
        c = self.choice
        row = IsakmpSaRow(
            role=self.role.value, state=self.state.value, icookie=self.icookie.hex(), rcookie=self.rcookie.hex(),
            local=str(self.local), remote=str(self.remote),
            nat_t=self.nat_t.value if self.nat_t else None,
            self_behind_nat=bool(self.natd and self.natd.self_behind_nat),
            peer_behind_nat=bool(self.natd and self.natd.peer_behind_nat),
            cipher=c.cipher if c else None, hash=c.hash if c else None, dh_group=c.group if c else None)
        self._row_memo = (key, row)
        return row


@dataclass
class ChildSa:
    """A pair of IPsec SAs (one per direction) from one Quick Mode."""
    ike: IkeSa
    message_id: int
    protocol: str                     #: "esp" or "ah"
    mode: str                         #: "tunnel", "transport", "udp-tunnel", "udp-transport"
    encapsulation: int                #: the wire value
    spi_in: int
    spi_out: int
    inbound: object                   #: EspSa or AhSa for what we receive
    outbound: object                  #: EspSa or AhSa for what we send
    local_inner: str                  #: our address inside the tunnel / in the inner pseudo-header
    remote_inner: str                 #: the peer's address as we address inner packets to it
    #: the peer's original (source, destination) addresses from its NAT-OA, for RFC 3948 §3.1.2
    peer_original: tuple[str, str] | None = None
    nat_oa: tuple[str, ...] = ()
    keymat_in: bytes = b""
    keymat_out: bytes = b""
    pfs_shared: bytes | None = None
    # --- lifecycle (ike/rekey.py) ---
    life: object = None               #: lifetimes.Life in force
    created: float = 0.0
    bytes_in: int = 0                 #: inner bytes unprotected with the inbound SA (kilobyte limit)
    bytes_out: int = 0                #: inner bytes protected with the outbound SA
    rekeying: bool = False            #: a new Quick Mode for it is under way
    replaced_by: "ChildSa | None" = None  #: its successor: traffic moves there (make-before-break)
    retire_at: float | None = None    #: when its Delete goes out (rekeyed by this side)
    live: bool = True

    _row_memo = None    #: as IkeSa's

    # read for every ESP packet and never changed after the pair is installed (SPIs, mode): worked
    # out once, then plain attributes of the instance (outside the fields: repr and == unchanged)
    @cached_property
    def name(self) -> str:
        return f"{self.spi_in:08x}/{self.spi_out:08x}"

    @cached_property
    def udp_encapsulated(self) -> bool:
        return self.mode.startswith("udp-")

    @cached_property
    def tunnel(self) -> bool:
        return self.mode.endswith("tunnel")

    def row(self) -> "IpsecSaRow":
        """Built again only when something it shows changed (see IkeSa.row)."""
        ike = self.ike
        local, remote = ike.local, ike.remote
        key = (ike.icookie, ike.rcookie, local, remote, self.mode, self.protocol, self.encapsulation,
               self.spi_in, self.spi_out, self.nat_oa)
        memo = self._row_memo
        if memo is not None and memo[0] == key:
            return memo[1]
        row = IpsecSaRow(
            cookies=self.ike.cookies, protocol=self.protocol, mode=self.mode,
            encapsulation=self.encapsulation, spi_in=f"{self.spi_in:08x}", spi_out=f"{self.spi_out:08x}",
            local=str(local) if self.udp_encapsulated else local.ip,
            remote=str(remote) if self.udp_encapsulated else remote.ip,
            nat_oa=self.nat_oa)
        self._row_memo = (key, row)
        return row


@dataclass(frozen=True)
class IsakmpSaRow:
    role: str
    state: str
    icookie: str
    rcookie: str
    local: str
    remote: str
    nat_t: str | None
    self_behind_nat: bool
    peer_behind_nat: bool
    cipher: str | None
    hash: str | None
    dh_group: int | None


@dataclass(frozen=True)
class IpsecSaRow:
    cookies: str
    protocol: str
    mode: str
    encapsulation: int
    spi_in: str
    spi_out: str
    local: str
    remote: str
    nat_oa: tuple[str, ...]


# The frozen records above get the one-assignment __init__ (natt_core.net.records.fast_init). The
# mutable ones (Pending, QuickExchange, IkeSa, ChildSa) keep dataclass's own: plain attribute stores
# cost less than replacing an instance's __dict__ (an IkeSa is built in about 2 µs instead of 3).
for _frozen in (Phase1Choice, Answer, IsakmpSaRow, IpsecSaRow):
    fast_init(_frozen)
