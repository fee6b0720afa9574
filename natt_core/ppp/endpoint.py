"""A sans-IO PPP endpoint, client or server, as an L2TP session carries it (RFC 1661 §3.2 phases).

Establish (LCP) -> Authenticate (server authenticates client: MS-CHAPv2 by default, CHAP-MD5 or PAP
by policy) -> Network (IPCP: the server hands the client an address and DNS from its pool) -> IPv4.

    client = PppEndpoint("client", PppPolicy(user="alice", password="pw"), rng=1)
    out = client.start(now)            # Output(frames=(b"\\xff\\x03\\xc0\\x21...",), events=(...))
    out = client.receive(frame, now)   # every PPP frame that arrives (bytes of an L2TP data payload)
    out = client.on_timer(now)         # when now >= client.next_timer(): Restart-timer retransmissions
    out = client.send_ip(packet, now)  # once IPCP is open

Frames are sent uncompressed (FF 03 and a 2-byte protocol), as Linux's L2TP does; compressed frames
are accepted (wire.ppp.decode_frame).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..errors import ConfigError, DecodeError
from ..reasons import Reason
from ..wire.ppp import FRAME_HEAD, MAGIC_CODES, Code, ControlPacket, IpcpOpt, Proto, decode_payload, frame_parts
from . import events as ev
from .auth import AuthPeer, Authenticator
from .fsm import ACK_RCVD, ACK_SENT, CLOSING, INITIAL, OPENED, REQ_SENT, STOPPING
from .options import AUTH_OPTIONS, AddressPool, IpcpNegotiator, LcpNegotiator
from ..net.records import fast_init_all

#: the protocols under plain module names, like the automaton's states (fsm.py): a member read
#: off an Enum class costs ~70 ns, and a frame reads several
LCP, IPCP, PAP, CHAP, IPV4 = Proto.LCP, Proto.IPCP, Proto.PAP, Proto.CHAP, Proto.IPV4
PHASES = ("Dead", "Establish", "Authenticate", "Network", "Terminate")


@dataclass(frozen=True)
class PppPolicy:
    #: client: the methods it accepts (first = the one it Naks with); server: its preference order
    auth: tuple[str, ...] = ("mschapv2",)
    user: str = "vpnuser"                       # client credentials
    password: str = "vpnpass"
    users: dict = field(default_factory=lambda: {"vpnuser": "vpnpass"}, compare=False, hash=False)  # server
    local_address: str = "10.99.0.1"            # server's own end of the link
    pool: tuple[str, str] = ("10.99.0.10", "10.99.0.99")
    dns: tuple[str, ...] = ("10.99.0.1",)       # server hands these out (ms-dns)
    want_dns: bool = True                       # client asks for DNS (RFC 1877)
    mru: int | None = None                      # client asks for this MRU (pppd: only if != 1500)
    compress: bool = False                      # ask for PFC and ACFC
    restart: float = 3.0                        # RFC 1661 §4.6 defaults
    max_configure: int = 10
    max_terminate: int = 2
    max_failure: int = 5
    name: str = "lns"                           # CHAP name of the server

    def __post_init__(self) -> None:
        bad = [a for a in self.auth if a not in AUTH_OPTIONS]
        if bad:
            raise ConfigError(f"unknown PPP authentication {bad[0]!r}; choose from {', '.join(AUTH_OPTIONS)}")
        if self.restart <= 0 or self.max_configure < 1:
            raise ConfigError("the Restart timer must be positive and Max-Configure at least 1")


@dataclass(frozen=True)
class Output:
    frames: tuple[bytes, ...] = ()
    events: tuple = ()


class PppEndpoint:
    def __init__(self, role: str, policy: PppPolicy | None = None, rng: int | random.Random = 0,
                 pool: AddressPool | None = None, client_id: str = "client"):
        if role not in ("client", "server"):
            raise ConfigError(f"a PPP endpoint is 'client' or 'server', not {role!r}")
        self.role, self.policy = role, policy or PppPolicy()
        self.rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        p = self.policy
        self.timers = dict(restart=p.restart, max_configure=p.max_configure, max_terminate=p.max_terminate,
                           max_failure=p.max_failure)
        self.lcp = LcpNegotiator(role, p.auth, self.rng, p.mru if role == "client" else None, p.compress, **self.timers)
        self.pool = pool or (AddressPool(*p.pool) if role == "server" else None)
        self.client_id = client_id
        self.ipcp: IpcpNegotiator | None = None
        self.auth: Authenticator | AuthPeer | None = None
        self.phase = "Dead"
        self.failed: ev.LinkFailed | None = None
        self.echo_id = 0
        self._frames: list[bytes] = []
        self._events: list = []

    # --- public API ---------------------------------------------------------------------------
    @property
    def address(self) -> str | None:
        """Our IPv4 address once IPCP is open."""
        if self.ipcp and self.ipcp.state == OPENED:
            return self.ipcp.local
        return None

    @property
    def peer_address(self) -> str | None:
        return self.ipcp.peer_address if self.ipcp and self.ipcp.state == OPENED else None

    def start(self, now: float) -> Output:
        self._phase("Establish")
        self._send(LCP, self.lcp.open(now))
        return self._flush()

    def receive(self, data: bytes, now: float) -> Output:
        try:                 # the frame is split and its packet decoded once, here
            proto, info = frame_parts(data)
            pkt = decode_payload(proto, info)
        except DecodeError as e:
            self._events.append(ev.FrameDropped(str(e), Reason.MALFORMED))
            return self._flush()
        if proto == LCP:
            self._lcp(pkt, now)
        elif self.phase == "Dead" or self.lcp.state != OPENED:
            self._events.append(ev.FrameDropped(f"protocol 0x{proto:04x} before LCP is open", Reason.UNEXPECTED_MESSAGE))
        elif proto in (PAP, CHAP):
            if self.phase == "Authenticate" and self.auth is not None:
                self._send_raw(self.auth.receive(proto, pkt, now))
                self._auth_done(now)
            elif self.role == "server" and self.auth is not None:
                self._send_raw(self.auth.receive(proto, pkt, now))     # answers a retransmitted Response again
        elif proto == IPCP:
            if self.phase == "Network" and self.ipcp is not None:
                self._send(IPCP, self.ipcp.receive(pkt, now))
                if self.ipcp.notes or self.ipcp.no_address:    # as for LCP: only when there is news
                    self._ipcp_notes(now)
            else:
                self._events.append(ev.FrameDropped("IPCP before the Network phase", Reason.UNEXPECTED_MESSAGE))
        elif proto == IPV4:
            if self.address is not None:
                self._events.append(ev.IpReceived(info))
            else:
                self._events.append(ev.FrameDropped("IPv4 before IPCP is open", Reason.UNEXPECTED_MESSAGE))
        else:   # RFC 1661 §5.7: Protocol-Reject an unknown protocol while LCP is open
            self.echo_id = (self.echo_id + 1) & 0xFF
            rej = ControlPacket(Code.PROTOCOL_REJECT, self.echo_id, rejected_protocol=proto, data=pkt[:1400])
            self._send(LCP, [rej])
        return self._flush()

    def next_timer(self) -> float | None:
        first = self.lcp.timer_at
        for t in (self.ipcp.timer_at if self.ipcp is not None else None,
                  self.auth.timer_at if self.auth is not None and self.phase == "Authenticate" else None):
            if t is not None and (first is None or t < first):
                first = t
        return first

    def on_timer(self, now: float) -> Output:
        self._send(LCP, self.lcp.timeout(now))
        self._lcp_notes(now)
        if self.auth is not None and self.phase == "Authenticate":
            again, gave_up = self.auth.timeout(now)
            self._send_raw(again)
            if gave_up:
                self._fail("authentication", f"no {self.lcp.auth_choice} answer after {self.policy.max_configure} tries",
                           Reason.PPP_AUTH_FAILED, now)
        if self.ipcp is not None:
            self._send(IPCP, self.ipcp.timeout(now))
            self._ipcp_notes(now)
        return self._flush()

    def send_ip(self, packet: bytes, now: float) -> Output:
        if self.address is None:
            raise ConfigError("no IPv4 over PPP before IPCP has opened")
        self._frames.append(FRAME_HEAD[IPV4] + packet)
        return self._flush()

    def echo(self, now: float, data: bytes = b"") -> Output:
        """An LCP Echo-Request (RFC 1661 §5.8), the keepalive pppd's lcp-echo-interval sends."""
        if self.lcp.state != OPENED:
            raise ConfigError("LCP Echo-Request only once LCP is open")
        self.echo_id = (self.echo_id + 1) & 0xFF
        self._send(LCP, [ControlPacket(Code.ECHO_REQUEST, self.echo_id, magic=self.lcp.magic, data=data)])
        return self._flush()

    def close(self, now: float, why: str = "closed by the administrator") -> Output:
        self._phase("Terminate")
        self._send(LCP, self.lcp.close(now, why))
        return self._flush()

    # --- internals ----------------------------------------------------------------------------
    def _send(self, proto: int, packets) -> None:
        """Frame packets the uncompressed way Linux sends them (FF 03, a 2-byte protocol)."""
        head = FRAME_HEAD[proto]
        for p in packets:
            self._frames.append(head + p.encode())

    def _send_raw(self, pairs) -> None:
        for proto, body in pairs:
            self._frames.append(FRAME_HEAD[proto] + body)

    def _flush(self) -> Output:
        if not self._frames and not self._events:
            return _NOTHING
        out = Output(tuple(self._frames), tuple(self._events))
        self._frames, self._events = [], []
        return out

    def _phase(self, phase: str) -> None:
        if phase != self.phase:
            self.phase = phase
            self._events.append(ev.StateReached("PPP", phase))

    def _fail(self, layer: str, reason: str, code: Reason, now: float) -> None:
        if self.failed is None:
            self.failed = ev.LinkFailed(layer, reason, code)
            self._events.append(self.failed)
        if self.lcp.state in (OPENED, REQ_SENT, ACK_RCVD, ACK_SENT):
            self._phase("Terminate")
            self._send(LCP, self.lcp.close(now, reason))
        elif self.lcp.state not in (CLOSING, STOPPING):
            self._phase("Dead")

    def _lcp(self, pkt: ControlPacket, now: float) -> None:
        if pkt.code in MAGIC_CODES:                 # Echo-Request, Echo-Reply, Discard-Request
            if self.lcp.state != OPENED:
                return                               # §5.8: only in the Opened state
            if pkt.code == Code.ECHO_REQUEST:
                self._send(LCP, [ControlPacket(Code.ECHO_REPLY, pkt.identifier, magic=self.lcp.magic,
                                                     data=pkt.data)])
            elif pkt.code == Code.ECHO_REPLY:
                self._events.append(ev.EchoReplied(pkt.identifier, pkt.magic))
            return
        self._send(LCP, self.lcp.receive(pkt, now))
        if self.lcp.notes or self.lcp.refused_auth:      # most packets change nothing _lcp_notes reports
            self._lcp_notes(now)

    def _lcp_notes(self, now: float) -> None:
        notes, self.lcp.notes = self.lcp.notes, []
        for kind, why in notes:
            if kind == "up":
                self._events.append(ev.StateReached("LCP", "Opened"))
                self._authenticate(now)
            elif kind == "down":
                self._events.append(ev.StateReached("LCP", "Down"))
                if self.ipcp is not None:        # LCP down takes the network layer with it
                    self.ipcp.state, self.ipcp.timer_at = INITIAL, None
            elif kind == "finished":
                self._events.append(ev.StateReached("LCP", self.lcp.state.value))
                if self.failed is None and self.phase in ("Establish",):
                    self._fail("LCP", why, Reason.LCP_NEGOTIATION_FAILED, now)
                elif self.failed is None and self.phase in ("Authenticate", "Network"):
                    self._fail("LCP", f"the peer ended the link ({why})", Reason.LCP_NEGOTIATION_FAILED, now)
                self._phase("Dead")
        if self.lcp.refused_auth and self.failed is None:
            self._fail("LCP", "no authentication protocol that both sides allow", Reason.PPP_AUTH_PROTOCOL_REFUSED, now)

    def _authenticate(self, now: float) -> None:
        method = self.lcp.auth_choice
        if method is None:          # nobody asked for authentication
            self._network(now)
            return
        self._phase("Authenticate")
        p = self.policy
        if self.role == "server":
            self.auth = Authenticator(method, p.users, self.rng, p.name, p.restart, p.max_configure)
        else:
            self.auth = AuthPeer(method, p.user, p.password, self.rng, p.restart, p.max_configure)
        self._send_raw(self.auth.start(now))

    def _auth_done(self, now: float) -> None:
        v = self.auth.verdict
        if v is None or self.phase != "Authenticate":
            return
        if v.ok:
            self._events.append(ev.AuthSucceeded(self.auth.method, v.user))
            self._network(now)
        else:
            self._events.append(ev.AuthFailed(self.auth.method, v.user, v.reason, v.code))
            self._fail("authentication", v.reason, v.code, now)

    def _network(self, now: float) -> None:
        self._phase("Network")
        p = self.policy
        if self.role == "server":
            assign = self.pool.lease(self.client_id)
            self.ipcp = IpcpNegotiator("server", p.local_address, p.dns, assign=assign, **self.timers)
            if assign is None:
                self._fail("IPCP", "the address pool is exhausted", Reason.IPCP_FAILED, now)
                return
        else:
            self.ipcp = IpcpNegotiator("client", want_dns=p.want_dns, **self.timers)
        self._send(IPCP, self.ipcp.open(now))

    def _ipcp_notes(self, now: float) -> None:
        notes, self.ipcp.notes = self.ipcp.notes, []
        for kind, why in notes:
            if kind == "up":
                self._events.append(ev.StateReached("IPCP", "Opened"))
                dns = tuple(self.ipcp.dns) if self.role == "server" else \
                    tuple(self.ipcp.dns[0 if k == IpcpOpt.PRIMARY_DNS else 1] for k in self.ipcp.dns_wanted)
                self._events.append(ev.AddressAssigned(self.ipcp.local, self.ipcp.peer_address or "", dns))
            elif kind == "finished" and self.failed is None:
                self._fail("IPCP", why, Reason.IPCP_FAILED, now)
        if self.ipcp.no_address and self.failed is None:
            self._fail("IPCP", "the server refused to give us an address", Reason.IPCP_FAILED, now)


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
_NOTHING = Output()       #: what a call that sends and says nothing returns (Output is immutable)
