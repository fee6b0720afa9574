"""The RFC 1661 §4 option-negotiation automaton, shared by LCP and IPCP.

One `Negotiator` per control protocol. Subclasses say what to request (`request_options`), how to
judge the peer's request (`judge` -> Ack, Nak with suggestions, or Reject of unknown options) and
what a Nak or Reject of their own request changes (`nakked`, `rejected`). The automaton does the
rest as the RFC's state table says (§4.1): Configure-Request/Ack/Nak/Reject, Terminate, the Restart
timer (default 3 s, §4.6) with Max-Configure (10), Max-Terminate (2) and Max-Failure (5: after so
many Naks, options are Rejected instead, so negotiation converges).

Sans-IO: methods take `now` and return packets to send; `notes` collects up/down/finished
transitions for the endpoint to turn into events.
"""
from __future__ import annotations

from enum import Enum

from ..wire.ppp import Code, ControlPacket, Option
from ..net.records import fast_init_all


class State(Enum):
    INITIAL = "Initial"
    CLOSED = "Closed"
    STOPPED = "Stopped"
    CLOSING = "Closing"
    STOPPING = "Stopping"
    REQ_SENT = "Req-Sent"
    ACK_RCVD = "Ack-Rcvd"
    ACK_SENT = "Ack-Sent"
    OPENED = "Opened"


#: the states and the packet codes under plain module names: the automaton reads several of them per
#: packet, and a member read off an Enum class costs ~70 ns (EnumType's __getattr__ hook)
INITIAL, CLOSED, STOPPED, CLOSING, STOPPING, REQ_SENT, ACK_RCVD, ACK_SENT, OPENED = State
CONFIGURE_REQUEST, CONFIGURE_ACK, CONFIGURE_NAK, CONFIGURE_REJECT, TERMINATE_REQUEST, TERMINATE_ACK = \
    Code.CONFIGURE_REQUEST, Code.CONFIGURE_ACK, Code.CONFIGURE_NAK, Code.CONFIGURE_REJECT, Code.TERMINATE_REQUEST, \
    Code.TERMINATE_ACK

TIMED = (REQ_SENT, ACK_RCVD, ACK_SENT, CLOSING, STOPPING)
NEGOTIATING = (REQ_SENT, ACK_RCVD, ACK_SENT)


class Negotiator:
    """RFC 1661's automaton for one control protocol; `name` is "LCP" or "IPCP"."""

    name = "?"

    def __init__(self, restart: float = 3.0, max_configure: int = 10, max_terminate: int = 2,
                 max_failure: int = 5):
        self.state = INITIAL
        self.restart, self.max_configure, self.max_terminate, self.max_failure = \
            restart, max_configure, max_terminate, max_failure
        self.counter = 0
        self.failures = 0
        self.timer_at: float | None = None
        self.ident = 0
        self.sent_request: ControlPacket | None = None
        self.notes: list[tuple[str, str]] = []          # ("up"|"down"|"finished", why)
        self.configure_requests_sent = 0

    # --- hooks ---------------------------------------------------------------------------
    def request_options(self) -> tuple[Option, ...]:
        return ()

    def judge(self, options: tuple[Option, ...]) -> tuple[int, tuple[Option, ...]]:
        """(CONFIGURE_ACK, options) or (NAK, suggestions) or (REJECT, unacceptable ones)."""
        return CONFIGURE_ACK, options

    def nakked(self, options: tuple[Option, ...]) -> None:
        """The peer suggested other values for these options."""

    def rejected(self, options: tuple[Option, ...]) -> None:
        """The peer does not know these options: stop asking for them."""

    def acked(self, options: tuple[Option, ...]) -> None:
        """Our request (these options) was accepted."""

    # --- actions (RFC 1661 §4.4) ---------------------------------------------------------
    def _irc(self, configure: bool = True) -> None:
        self.counter = self.max_configure if configure else self.max_terminate

    def _arm(self, now: float) -> None:
        self.timer_at = now + self.restart

    def _scr(self, now: float) -> list[ControlPacket]:
        self.ident = (self.ident + 1) & 0xFF
        self.counter -= 1
        self._arm(now)
        self.sent_request = ControlPacket(CONFIGURE_REQUEST, self.ident, self.request_options())
        self.configure_requests_sent += 1
        return [self.sent_request]

    def _str(self, now: float) -> list[ControlPacket]:
        self.ident = (self.ident + 1) & 0xFF
        self.counter -= 1
        self._arm(now)
        return [ControlPacket(TERMINATE_REQUEST, self.ident, data=b"")]

    def _up(self) -> None:
        self.timer_at = None
        self.notes.append(("up", ""))

    def _down(self, why: str) -> None:
        self.notes.append(("down", why))

    def _finished(self, why: str) -> None:
        self.timer_at = None
        self.notes.append(("finished", why))

    # --- events (RFC 1661 §4.3) ----------------------------------------------------------
    def open(self, now: float) -> list[ControlPacket]:
        """Up + Open: start negotiating."""
        self._irc()
        self.failures = 0
        self.state = REQ_SENT
        return self._scr(now)

    def close(self, now: float, why: str = "closed") -> list[ControlPacket]:
        if self.state in NEGOTIATING or self.state == OPENED:
            if self.state == OPENED:
                self._down(why)
            self._irc(configure=False)
            self.state = CLOSING
            return self._str(now)
        self.state = CLOSED
        return []

    def timeout(self, now: float) -> list[ControlPacket]:
        if self.state not in TIMED:
            self.timer_at = None            # a timer left over from before a layer went down
        if self.timer_at is None or now < self.timer_at:
            return []
        if self.counter > 0:   # TO+
            if self.state in (CLOSING, STOPPING):
                return self._str(now)
            if self.state == ACK_RCVD:
                self.state = REQ_SENT
            return self._scr(now)
        # TO-
        was = self.state
        self.state = CLOSED if was == CLOSING else STOPPED
        self._finished("no answer after Max-Configure requests" if was in NEGOTIATING else "terminated")
        return []

    def receive(self, pkt: ControlPacket, now: float) -> list[ControlPacket]:
        code = pkt.code
        if code == CONFIGURE_REQUEST:
            return self._rcr(pkt, now)
        if code in (CONFIGURE_ACK, CONFIGURE_NAK, CONFIGURE_REJECT):
            if self.sent_request is None or pkt.identifier != self.sent_request.identifier:
                return []          # stale or spoofed: RFC 1661 §5.2 silently discards
            if code == CONFIGURE_ACK:
                if pkt.options != self.sent_request.options:
                    return []      # an Ack must repeat the request exactly
                return self._rca(now)
            (self.nakked if code == CONFIGURE_NAK else self.rejected)(pkt.options)
            return self._rcn(now)
        if code == TERMINATE_REQUEST:
            ack = [ControlPacket(TERMINATE_ACK, pkt.identifier)]
            if self.state == OPENED:
                self._down("the peer sent Terminate-Request")
                self.counter = 0
                self._arm(now)
                self.state = STOPPING
            elif self.state in (ACK_RCVD, ACK_SENT):
                self.state = REQ_SENT
            return ack
        if code == TERMINATE_ACK:
            if self.state == CLOSING:
                self.state = CLOSED
                self._finished("terminated")
            elif self.state == STOPPING:
                self.state = STOPPED
                self._finished("terminated")
            elif self.state == ACK_RCVD:
                self.state = REQ_SENT
            elif self.state == OPENED:
                self._down("unexpected Terminate-Ack")
                self.state = REQ_SENT
                return self._scr(now)
            return []
        return []                  # Code-Reject and others: RXJ+ (permitted), nothing changes

    def _rcr(self, pkt: ControlPacket, now: float) -> list[ControlPacket]:
        if self.state in (CLOSED, CLOSING, STOPPING):
            return [ControlPacket(TERMINATE_ACK, pkt.identifier)] if self.state == CLOSED else []
        verdict, opts = self.judge(pkt.options)
        if verdict == CONFIGURE_NAK:
            self.failures += 1
            if self.failures > self.max_failure:   # Max-Failure: turn the Nak into a Reject
                verdict = CONFIGURE_REJECT
                opts = tuple(o for o in pkt.options if o.type in {n.type for n in opts})
        reply = ControlPacket(verdict, pkt.identifier, opts)
        out: list[ControlPacket] = []
        good = verdict == CONFIGURE_ACK
        if self.state == STOPPED:
            self._irc()
            out += self._scr(now)
            self.state = ACK_SENT if good else REQ_SENT
        elif self.state == OPENED:
            self._down("the peer renegotiates")
            out += self._scr(now)
            self.state = ACK_SENT if good else REQ_SENT
        elif self.state == REQ_SENT:
            self.state = ACK_SENT if good else REQ_SENT
        elif self.state == ACK_RCVD:
            if good:
                self.state = OPENED
                self._up()
        elif self.state == ACK_SENT:
            self.state = ACK_SENT if good else REQ_SENT
        return [reply] + out

    def _rca(self, now: float) -> list[ControlPacket]:
        self.acked(self.sent_request.options)
        if self.state == REQ_SENT:
            self._irc()
            self.timer_at = now + self.restart
            self.state = ACK_RCVD
        elif self.state == ACK_SENT:
            self._irc()
            self.state = OPENED
            self._up()
        elif self.state == ACK_RCVD:
            self.state = REQ_SENT
            return self._scr(now)
        elif self.state == OPENED:
            self._down("unexpected Configure-Ack")
            self.state = REQ_SENT
            return self._scr(now)
        return []

    def _rcn(self, now: float) -> list[ControlPacket]:
        if self.state in (REQ_SENT, ACK_SENT):
            self._irc()
            return self._scr(now)
        if self.state == ACK_RCVD:
            self.state = REQ_SENT
            return self._scr(now)
        if self.state == OPENED:
            self._down("the peer renegotiates")
            self.state = REQ_SENT
            return self._scr(now)
        return []


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
