"""The L2TP control connection and its one call, sans-IO (RFC 2661 §5.8, §6, §7).

One `ControlConnection` is one tunnel end: LAC (the client, which dials: SCCRQ, then ICRQ) or LNS
(the server). It returns the bytes to send and keeps the reliable delivery of control messages:
Ns/Nr, ZLB acknowledgements, retransmission with exponential back-off (1, 2, 4, 8, 8 s) and the
tunnel cleared after the last one goes unacknowledged. Headers carry the *peer's* tunnel and session
IDs (§3.1), 0 until the peer has assigned one (§5.3). Out-of-order messages are dropped, not queued
(§5.8 allows either); the sender's retransmission brings them back in order.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DecodeError
from ..reasons import Reason
from ..wire.l2tp import MessageType, encode_avps, encode_message, read_l2tp
from ..net.records import fast_init_all

FIRST_TIMEOUT = 1.0       #: RFC 2661 §5.8: recommended first retransmission timeout
MAX_TIMEOUT = 8.0         #: §5.8: a cap, if any, must be at least 8 s
MAX_RETRIES = 5           #: §5.8: "several" (recommended 5); xl2tpd's DEFAULT_MAX_RETRIES
PEER_WINDOW = 4           #: §4.4.3: the window to assume when the peer sends no Receive Window Size

#: AVP attribute types (RFC 2661 §4.4)
RESULT, VERSION, FRAMING_CAPS, HOST_NAME, ASSIGNED_TUNNEL, WINDOW = 1, 2, 3, 7, 9, 10
ASSIGNED_SESSION, CALL_SERIAL, CONNECT_SPEED, FRAMING_TYPE = 14, 15, 24, 19

_TUNNEL_SCOPE = {MessageType.SCCRQ, MessageType.SCCRP, MessageType.SCCCN, MessageType.STOPCCN, MessageType.HELLO}
_KINDS = {int(k): k for k in MessageType}     #: Message Type AVP value -> MessageType


def _u16(v: int) -> bytes:
    return v.to_bytes(2, "big")


def _u32(v: int) -> bytes:
    return v.to_bytes(4, "big")


def _before(a: int, b: int) -> bool:
    """a < b in sequence-number arithmetic modulo 2^16 (RFC 2661 §5.8)."""
    return a != b and (b - a) % 0x10000 < 0x8000


@dataclass
class Note:
    """Something the connection wants told: a state reached or why it ended."""
    time: float
    text: str
    layer: str = "L2TP"                       #: "L2TP tunnel" or "L2TP session"
    state: str | None = None
    code: Reason | None = None


@dataclass
class _Pending:
    ns: int
    kind: MessageType
    body: bytes                              #: the AVPs, encoded once: retransmissions differ only in Nr
    session: bool                            #: the header carries the peer's session ID
    tries: int = 0
    due: float | None = None


@dataclass
class ControlConnection:
    """One tunnel end with its call; `tunnel_id`/`session_id` are the IDs this end assigned."""
    role: str                                #: "lac" (client) or "lns" (server)
    tunnel_id: int
    host_name: str = "natt-lab"
    session_id: int = 1
    window: int = 4                          #: our Receive Window Size
    tunnel_state: str = "idle"               #: idle, wait-reply, wait-connect, established, closed
    session_state: str = "idle"              #: idle, wait-reply, wait-connect, established, closed
    peer_tunnel: int = 0
    peer_session: int = 0
    peer_window: int = PEER_WINDOW
    ns: int = 0                              #: the next Ns we send
    nr: int = 0                              #: the next Ns we expect
    retransmissions: int = 0
    notes: list[Note] = field(default_factory=list)
    _queue: list[_Pending] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.role not in ("lac", "lns") or not 0 < self.tunnel_id <= 0xFFFF or not 0 < self.session_id <= 0xFFFF:
            raise ValueError("role must be lac or lns; tunnel and session IDs 1..65535 (0 is never assigned)")

    # ------------------------------------------------------------------ the API
    def start(self, now: float) -> list[bytes]:
        """LAC: open the control connection with an SCCRQ (§7.2)."""
        self._set_tunnel("wait-reply", now, "sends SCCRQ")
        return self._send(MessageType.SCCRQ, self._start_avps(), now)

    def hello(self, now: float) -> list[bytes]:
        """A HELLO (§6.5): delivered reliably, so a dead path clears the tunnel."""
        return self._send(MessageType.HELLO, (), now) if self.tunnel_state == "established" else []

    def stop(self, now: float, result: int = 1) -> list[bytes]:
        """Close the tunnel and its call (StopCCN, result 1 'general request to clear', §4.4.2)."""
        if self.tunnel_state in ("idle", "closed"):
            return []
        out = self._send(MessageType.STOPCCN, ((ASSIGNED_TUNNEL, _u16(self.tunnel_id)), (RESULT, _u16(result))), now)
        self._close(now, "sent StopCCN", None)
        return out

    def next_timer(self) -> float | None:
        first = None
        for p in self._queue:
            if p.due is not None and (first is None or p.due < first):
                first = p.due
        return first

    def on_timer(self, now: float) -> list[bytes]:
        """Retransmit what is due, with the same Ns and the current Nr; clear the tunnel after the last."""
        out = []
        for p in list(self._queue):
            if p.due is None or p.due > now:
                continue
            if p.tries > MAX_RETRIES:
                self._queue.clear()
                self._close(now, f"{p.kind.name} (Ns {p.ns}) was not acknowledged after {MAX_RETRIES} "
                                 "retransmissions; the tunnel is cleared (RFC 2661 §5.8)", Reason.L2TP_NO_ACK)
                return out
            self.retransmissions += 1
            out.append(self._transmit(p, now))
        return out

    def receive(self, data: bytes, now: float) -> list[bytes]:
        """One control message from the peer; raises DecodeError for what is not one."""
        header, avps = read_l2tp(data)                           # (bits, vendor, attribute, value) tuples
        ns = header[4]
        self._acked(header[5], now)
        out = self._fill_window(now)
        if not avps:                                             # ZLB: an acknowledgement only
            return out
        _, vendor, attr, value = avps[0]
        if attr != 0 or vendor or len(value) != 2:
            raise DecodeError("L2TP", 12, "the first AVP must be an 8-byte Message Type")
        if ns != self.nr:
            # a duplicate still gets acknowledged, else the peer retransmits for ever; a gap is dropped
            return out + ([self._zlb()] if _before(ns, self.nr) else [])
        self.nr = (self.nr + 1) % 0x10000
        kind = _KINDS.get(int.from_bytes(value, "big"))
        sent = self._handle(kind, {attr: value for _, vendor, attr, value in avps if not vendor}, now) if kind else []
        out += sent
        if not sent and self.tunnel_state != "idle":
            out.append(self._zlb())
        return out

    # ------------------------------------------------------------------ message handling
    def _handle(self, kind: MessageType, avps: dict[int, bytes], now: float) -> list[bytes]:
        lac = self.role == "lac"
        if kind == MessageType.SCCRQ and not lac and self.tunnel_state == "idle":
            self._peer_ids(avps, ASSIGNED_TUNNEL)
            self._set_tunnel("wait-connect", now, "got SCCRQ, sends SCCRP")
            return self._send(MessageType.SCCRP, self._start_avps(), now)
        if kind == MessageType.SCCRP and lac and self.tunnel_state == "wait-reply":
            self._peer_ids(avps, ASSIGNED_TUNNEL)
            self._set_tunnel("established", now, "got SCCRP, sends SCCCN")
            out = self._send(MessageType.SCCCN, (), now)
            self._set_session("wait-reply", now, "sends ICRQ")
            return out + self._send(MessageType.ICRQ, ((ASSIGNED_SESSION, _u16(self.session_id)),
                                                       (CALL_SERIAL, _u32(1))), now)
        if kind == MessageType.SCCCN and not lac and self.tunnel_state == "wait-connect":
            self._set_tunnel("established", now, "got SCCCN")
            return []
        if kind == MessageType.ICRQ and not lac and self.tunnel_state == "established":
            self.peer_session = self._peer_ids(avps, ASSIGNED_SESSION, tunnel=False)
            self._set_session("wait-connect", now, "got ICRQ, sends ICRP")
            return self._send(MessageType.ICRP, ((ASSIGNED_SESSION, _u16(self.session_id)),), now, session=True)
        if kind == MessageType.ICRP and lac and self.session_state == "wait-reply":
            self.peer_session = self._peer_ids(avps, ASSIGNED_SESSION, tunnel=False)
            self._set_session("established", now, "got ICRP, sends ICCN")
            return self._send(MessageType.ICCN, ((CONNECT_SPEED, _u32(10_000_000)),      # Tx Connect Speed
                                                 (FRAMING_TYPE, _u32(1))), now, session=True)  # sync
        if kind == MessageType.ICCN and not lac and self.session_state == "wait-connect":
            self._set_session("established", now, "got ICCN")
            return []
        if kind == MessageType.CDN:
            self._set_session("closed", now, "got CDN: the peer disconnected the call", Reason.L2TP_STOPPED)
            return []
        if kind == MessageType.STOPCCN:
            self._queue.clear()
            self._close(now, "got StopCCN: the peer closed the tunnel", Reason.L2TP_STOPPED)
            return []
        return []                                   # HELLO, or a message this state does not expect: ack only

    def _peer_ids(self, avps: dict[int, bytes], attr: int, tunnel: bool = True) -> int:
        value = avps.get(attr)
        if value is None or len(value) != 2 or value == b"\0\0":
            raise DecodeError("L2TP", 12, f"missing or zero assigned {'tunnel' if tunnel else 'session'} ID AVP")
        if tunnel:
            self.peer_tunnel = int.from_bytes(value, "big")
            window = avps.get(WINDOW)
            if window and len(window) == 2 and int.from_bytes(window, "big"):
                self.peer_window = int.from_bytes(window, "big")
        return int.from_bytes(value, "big")

    def _start_avps(self) -> tuple[tuple[int, bytes], ...]:
        """SCCRQ/SCCRP: the AVPs §6.1/§6.2 require, plus our Receive Window Size."""
        return ((VERSION, b"\x01\x00"), (FRAMING_CAPS, _u32(3)), (HOST_NAME, self.host_name.encode()),
                (ASSIGNED_TUNNEL, _u16(self.tunnel_id)), (WINDOW, _u16(self.window)))

    # ------------------------------------------------------------------ reliable delivery
    def _send(self, kind: MessageType, avps: tuple[tuple[int, bytes], ...], now: float,
              session: bool = False) -> list[bytes]:
        """Queue a message (the Message Type AVP first, then `avps` as (attribute, value)) and send
        what the window allows."""
        body = encode_avps(((0, _u16(kind)),) + avps)
        self._queue.append(_Pending(self.ns, kind, body, session and kind not in _TUNNEL_SCOPE))
        self.ns = (self.ns + 1) % 0x10000
        return self._fill_window(now)

    def _fill_window(self, now: float) -> list[bytes]:
        """Send queued messages while fewer than the peer's window are unacknowledged (§5.8)."""
        out, flying = [], 0
        for p in self._queue:
            if p.tries:
                flying += 1
        for p in self._queue:
            if not p.tries and flying < self.peer_window:
                out.append(self._transmit(p, now))
                flying += 1
        return out

    def _transmit(self, p: _Pending, now: float) -> bytes:
        p.tries += 1
        p.due = now + min(FIRST_TIMEOUT * 2 ** (p.tries - 1), MAX_TIMEOUT)
        return encode_message(self.peer_tunnel, self.peer_session if p.session else 0, p.ns, self.nr, p.body)

    def _acked(self, nr: int, now: float) -> None:
        """Everything we sent with Ns before the peer's Nr has arrived."""
        if self._queue:
            self._queue = [p for p in self._queue if not _before(p.ns, nr)]

    def _zlb(self) -> bytes:
        return encode_message(self.peer_tunnel, 0, self.ns, self.nr)

    # ------------------------------------------------------------------ states
    def _set_tunnel(self, state: str, now: float, text: str, code: Reason | None = None) -> None:
        self.tunnel_state = state
        self.notes.append(Note(now, f"L2TP tunnel {self.tunnel_id}: {text}", "L2TP tunnel", state, code))

    def _set_session(self, state: str, now: float, text: str, code: Reason | None = None) -> None:
        self.session_state = state
        self.notes.append(Note(now, f"L2TP session {self.session_id}: {text}", "L2TP session", state, code))

    def _close(self, now: float, text: str, code: Reason | None) -> None:
        if self.session_state not in ("idle", "closed"):
            self.session_state = "closed"
        self._set_tunnel("closed", now, text, code)


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
