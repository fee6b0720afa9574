"""The peer's shared machinery: SA bookkeeping, sending, retransmission and keepalive timers.

`natt_core.ike.peer.Peer` combines this with the Main Mode, Quick Mode, Informational and data
plane mixins. Everything here is sans-IO: a call records datagrams and events in `self._out`
and the public method returns them as one `Output`.
"""
from __future__ import annotations

import heapq
import random
from collections import deque

from ..addressing import Datagram, Endpoint, check_ipv4
from ..output import Event, Output
from ..reasons import Reason
from ..wire.numbers import IPProto, Port
from ..wire.udp_encap import KEEPALIVE, Kind, classify_4500, frame_ike
from .events import (GaveUp, HalfOpenForgotten, KeepaliveReceived, KeepaliveSent, MessageSent, PacketDropped,
                     Retransmitted)
from .major_version import answer as version_answer
from .policy import PeerPolicy
from .sa import Answer, ChildSa, IkeSa, Pending
from .states import END_STATES, State, forgotten_when_idle

#: how many forgotten SAs that ended with a reason are kept, so a report can still say why
ENDED_KEPT = 16

# What every datagram and every IKE message sent is checked against, named once: in Python 3.11 a
# member read off its Enum class goes through EnumType.__getattr__'s slow attribute hook (~0.1 µs)
_UDP, _ESP, _AH = IPProto.UDP, IPProto.ESP, IPProto.AH
_IKE, _NAT_T = Port.IKE, Port.NAT_T
_IKE_4500 = Kind.IKE


class PeerCore:
    """State shared by every part of a peer: its SAs, its clock-free timers, its output buffer."""

    #: whether this peer's data plane takes AH (IKEv1 negotiates it; IKEv2 here only ESP)
    HANDLES_AH = True

    def _dispatch(self, dgram: Datagram) -> None:
        """Which part of the peer a datagram goes to: IKE on 500, what arrives on 4500 (RFC 3948
        §2.2: a keepalive, IKE behind the non-ESP marker, or ESP), or ESP/AH."""
        proto = dgram.proto
        if proto == _UDP:
            port = dgram.dst.port
            if port == _NAT_T:
                kind, body = classify_4500(dgram.payload)
                if kind is _IKE_4500:
                    self._receive_ike(dgram, body)
                elif kind is Kind.KEEPALIVE:
                    self._emit(KeepaliveReceived, src=str(dgram.src))
                else:
                    self._receive_ipsec(dgram, body, "ESP")
            elif port == _IKE:
                self._receive_ike(dgram, dgram.payload)
            else:
                self._emit(PacketDropped, reason=f"nothing listens on UDP {port}", code=Reason.NO_LISTENER,
                           layer="UDP")
        elif proto == _ESP:
            self._receive_ipsec(dgram, dgram.payload, "ESP")
        elif proto == _AH and self.HANDLES_AH:
            self._receive_ipsec(dgram, dgram.payload, "AH")
        else:
            self._emit(PacketDropped, reason=f"IP protocol {proto} is not handled",
                       code=Reason.UNSUPPORTED_PROTOCOL, layer="IP")

    def __init__(self, name: str, address: str, policy: PeerPolicy, rng: random.Random | int = 0):
        self.name = name
        self.address = check_ipv4(address)
        self.policy = policy
        self.rng = rng if isinstance(rng, random.Random) else random.Random(rng)
        self.sas: dict[tuple[bytes, bytes], IkeSa] = {}
        self._initiated: dict[bytes, IkeSa] = {}        #: our SAs by initiator cookie
        #: responder SAs by (initiator cookie, source IP, source port) of the MM1/AM1 that opened them
        self._mm1_seen: dict[tuple[bytes, str, int], IkeSa] = {}
        self.children: dict[int, ChildSa] = {}           #: by inbound SPI
        self._timers: list[tuple[float, int, IkeSa, str]] = []   #: at most one live entry per (SA, kind)
        self._half_open_total = 0
        self._half_open_by_ip: dict[str, int] = {}
        #: responder SAs forgotten after failing (newest last): why they failed, for reports
        self.ended: deque[IkeSa] = deque(maxlen=ENDED_KEPT)
        self._timer_seq = 0
        self._ident = self.rng.randrange(1, 0xFFFF)
        self._out_datagrams: list[Datagram] = []
        self._out_events: list[Event] = []
        self.now = 0.0
        #: our address on each source port we send from (an Endpoint is immutable: built once)
        self._sources: dict[int, Endpoint] = {}

    def close(self) -> None:
        """The run is over: each child SA lets go of the IKE SA it points back at. An IKE SA holds
        its child SAs (and Quick Mode exchanges holding them), each child its IKE SA: left as
        cycles, every SA, key and ESP state of a run waited for the garbage collector (at a
        thousand clients about 0.5 ms per client); without them reference counting frees them."""
        for sa in (*self.sas.values(), *self.ended, *getattr(self, "retired", ())):
            quick = getattr(sa, "quick", None)
            exchanges = [qe.child for qe in quick.values() if qe.child is not None] if quick else []
            for child in (*sa.children, *getattr(sa, "past_children", ()), *exchanges):
                child.ike = None

    # ------------------------------------------------------------------ output buffer
    def _begin(self, now: float) -> None:
        self.now = now
        self._out_datagrams, self._out_events = [], []

    def _finish(self) -> Output:
        return Output(tuple(self._out_datagrams), tuple(self._out_events))

    def _emit(self, event_cls, **fields) -> None:
        self._out_events.append(event_cls(self.now, self.name, **fields))    # every Event starts (time, peer)

    def next_ident(self) -> int:
        self._ident = self._ident % 0xFFFF + 1
        return self._ident

    def _send(self, dst: Endpoint, src_port: int, proto: int, payload: bytes, label: str,
              zero_checksum: bool = False) -> None:
        try:
            src = self._sources[src_port]
        except KeyError:     # the first datagram from this port
            src = self._sources[src_port] = Endpoint(self.address, src_port)
        self._ident = ident = self._ident % 0xFFFF + 1      # next_ident, without a call per datagram
        self._out_datagrams.append(Datagram(src, dst, proto, payload, ident, 64, zero_checksum, label))

    def _other_version(self, dgram: Datagram, message: bytes, speaks: int) -> None:
        """An IKE message of a major version this peer does not speak: answered with
        INVALID_MAJOR_VERSION or ignored, as strongSwan does (see `major_version`); nothing is kept."""
        wire, why = version_answer(message, speaks)
        if wire is not None:
            port = dgram.dst.port
            label = "INFO INVALID-MAJOR-VERSION" if speaks == 1 else "INFORMATIONAL response"
            self._send(dgram.src, port, IPProto.UDP, frame_ike(wire) if port == Port.NAT_T else wire, label)
            self._emit(MessageSent, label=label, payloads=("N(INVALID_MAJOR_VERSION)",), dst=str(dgram.src))
        self._emit(PacketDropped, reason=why, code=Reason.INVALID_MAJOR_VERSION)

    # ------------------------------------------------------------------ IKE messages
    def _wire_payload(self, sa: IkeSa, message: bytes) -> bytes:
        return frame_ike(message) if sa.local.port == Port.NAT_T else message

    def _send_ike(self, sa: IkeSa, message: bytes, label: str, payload_names, *, encrypted=False,
                  expect_answer: bool | None, answering=None) -> bytes:
        """Send one IKE message on the SA's current ports; arm retransmission if we await an answer.

        `answering` (the SA or Quick Mode exchange whose message this answers) keeps the bytes, so
        a retransmission of that message is answered again with exactly the same bytes.
        `expect_answer=None` sends an aside (a notification) that leaves any retransmission armed."""
        nat_t = sa.local.port == _NAT_T
        wire = frame_ike(message) if nat_t else message     # `_wire_payload`, read inline
        if answering is not None:
            answering.last_answer = Answer(label, wire)
        if self.policy.ike_fragmentation:     # only then may it leave as IKE fragments (fragmentation.py)
            self._send_ike_wire(sa, sa.remote, wire, label)
        else:                                 # `_send_ike_wire`'s plain case, read inline
            self._send(sa.remote, sa.local.port, _UDP, wire, label)
        if nat_t:     # `_note_sent` has nothing to do on port 500
            self._note_sent(sa)
        self._out_events.append(MessageSent(self.now, self.name, label, tuple(payload_names), str(sa.remote),
                                            encrypted))
        if expect_answer is None:
            pass
        elif expect_answer:
            interval = self.policy.retransmit_interval
            sa.pending = pending = Pending(label, wire, self.now + interval, 0, interval)
            self._arm(sa, pending.deadline, "retransmit")
        else:
            sa.pending = None
        return wire

    def _send_ike_wire(self, sa: IkeSa, dst: Endpoint, wire: bytes, label: str) -> None:
        """One IKE message's UDP payload on the SA's port (IKEv1 fragmentation splits it here)."""
        self._send(dst, sa.local.port, _UDP, wire, label)

    def _resend(self, sa: IkeSa, answer: Answer, to: Endpoint) -> None:
        """Answer a retransmitted message with the same bytes we answered it with before, at `to`
        (states.repeat_answered_at: where that message may be answered)."""
        self._send_ike_wire(sa, to, answer.wire, answer.label)
        self._note_sent(sa)
        self._emit(MessageSent, label=answer.label, payloads=("(same bytes as before)",), dst=str(to),
                   retransmission=1)

    def _note_sent(self, sa: IkeSa) -> None:
        if sa.local.port == Port.NAT_T:
            sa.last_sent_4500 = self.now
            # an armed keepalive was armed from an earlier send, so it is due no later than this one
            # would make it (`_arm` would keep it): only an SA without one needs the question
            if "keepalive" not in sa.armed and sa.sends_keepalives:
                self._arm(sa, self.now + self.policy.keepalive_interval, "keepalive")

    def _fail(self, sa: IkeSa, reason: str, failure: str, code: Reason) -> None:
        sa.state = State.FAILED
        sa.failure = sa.failure or failure
        if sa.reason is None:
            sa.reason, sa.code = reason, code
        sa.pending = None
        sa.last_active = self.now

    # ------------------------------------------------------------------ half-open limits
    def _half_open_from(self, ip: str) -> tuple[int, int]:
        """(half-open SAs in total, from this IP): what states.half_open_refusal decides on."""
        return self._half_open_total, self._half_open_by_ip.get(ip, 0)

    def _open_half(self, sa: IkeSa) -> None:
        """A new responder SA takes a half-open slot and its expiry timer."""
        sa.half_open, sa.last_active = True, self.now
        self._half_open_total += 1
        self._half_open_by_ip[sa.origin.ip] = self._half_open_by_ip.get(sa.origin.ip, 0) + 1
        self._arm(sa, self.now + self.policy.half_open_timeout, "expire")

    def _settle(self, sa: IkeSa, force: bool = False) -> None:
        """Give back the half-open slot once the SA authenticated, or is forgotten (idempotent)."""
        if not sa.half_open or not (sa.authenticated or force):
            return
        sa.half_open = False
        self._half_open_total -= 1
        left = self._half_open_by_ip[sa.origin.ip] - 1
        if left:
            self._half_open_by_ip[sa.origin.ip] = left
        else:
            del self._half_open_by_ip[sa.origin.ip]

    def _expire(self, sa: IkeSa) -> None:
        """Forget a responder SA that never authenticated: its slot, its indexes, its timers."""
        self._settle(sa, force=True)
        self.sas.pop((sa.icookie, sa.rcookie), None)
        if sa.origin is not None:
            self._mm1_seen.pop((sa.icookie, sa.origin.ip, sa.origin.port), None)
        sa.armed.clear()          # every heap entry left for it is now stale
        sa.pending = None
        if sa.reason:
            self.ended.append(sa)
        self._emit(HalfOpenForgotten, cookies=sa.cookies, state=sa.state.value, src=str(sa.origin),
                   idle=self.policy.half_open_timeout)

    # ------------------------------------------------------------------ timers
    def _arm(self, sa: IkeSa, when: float, what: str) -> None:
        """Schedule one kind of timer for an SA; an SA never has two live entries of one kind
        (a later time is left to the earlier entry, which re-arms itself when it comes)."""
        live = sa.armed.get(what)
        if live is not None and live[0] <= when + 1e-9:
            return
        self._timer_seq += 1
        sa.armed[what] = (when, self._timer_seq)
        heapq.heappush(self._timers, (when, self._timer_seq, sa, what))

    def _due(self, sa: IkeSa, what: str) -> float | None:
        """When this timer should really fire now (timers in the heap may be stale)."""
        if what == "expire":
            if sa.authenticated or not forgotten_when_idle(sa.role, sa.authenticated):
                return None
            idle = sa.last_active + self.policy.half_open_timeout
            return max(idle, sa.pending.deadline) if sa.pending else idle
        if sa.state in END_STATES:
            return None
        if what == "retransmit":
            return sa.pending.deadline if sa.pending else None
        if what == "keepalive" and sa.sends_keepalives:
            return sa.last_sent_4500 + self.policy.keepalive_interval
        if what == "dpd":
            return self._dpd_due(sa)
        if what == "lifetime":
            return self._lifecycle_due(sa)
        return None

    def _lifecycle_due(self, sa) -> float | None:
        """When an SA's lifetime timer fires (ike/rekey.py; none here)."""
        return None

    def _lifecycle(self, sa) -> None:
        """Soft and hard lifetimes (ike/rekey.py; nothing here)."""

    def next_timer(self) -> float | None:
        while self._timers:
            when, seq, sa, what = self._timers[0]
            live = sa.armed.get(what)
            if live is None or live[1] != seq:      # superseded or cancelled
                heapq.heappop(self._timers)
                continue
            due = self._due(sa, what)
            if due is None or due > when + 1e-9:
                heapq.heappop(self._timers)
                del sa.armed[what]
                if due is not None:
                    self._arm(sa, due, what)
                    # the entry just armed came first (a keepalive moved on by a send, the usual
                    # case): its time is the `due` just worked out, so it is not asked again
                    if self._timers[0][1] == self._timer_seq:
                        return due
                continue
            return when
        return None

    def on_timer(self, now: float) -> Output:
        self._begin(now)
        while (when := self.next_timer()) is not None and when <= now + 1e-9:
            _, _, sa, what = heapq.heappop(self._timers)
            del sa.armed[what]
            if what == "retransmit":
                self._retransmit(sa)
            elif what == "keepalive":
                self._keepalive(sa)
            elif what == "dpd":
                self._dpd_fire(sa)
            elif what == "lifetime":
                self._lifecycle(sa)
            else:
                self._expire(sa)
        return self._finish()

    def _retransmit(self, sa: IkeSa) -> None:
        p = sa.pending
        if p.attempt + 1 >= self.policy.retransmit_tries:
            self._emit(GaveUp, label=p.label, attempts=p.attempt + 1)
            told = f"; the peer answered with {sa.peer_notify}" if sa.peer_notify else ""
            self._fail(sa, f"no answer to {p.label} after {p.attempt + 1} tries{told}", "gave-up", Reason.GAVE_UP)
            self._on_gave_up(sa, p.label)
            return
        p.attempt += 1
        p.interval = min(p.interval * 2, self.policy.retransmit_max_interval)
        p.deadline = self.now + p.interval
        self._send_ike_wire(sa, sa.remote, p.payload, p.label)
        self._note_sent(sa)
        self._emit(Retransmitted, label=p.label, attempt=p.attempt)
        self._arm(sa, p.deadline, "retransmit")

    def _on_gave_up(self, sa: IkeSa, label: str) -> None:
        """Hook for subclasses (e.g. to report an authentication failure told by the peer)."""

    def _keepalive(self, sa: IkeSa) -> None:
        self._send(sa.remote, Port.NAT_T, IPProto.UDP, KEEPALIVE, "keepalive", zero_checksum=True)
        sa.keepalives_sent += 1
        sa.last_sent_4500 = self.now
        self._emit(KeepaliveSent, dst=str(sa.remote))
        self._arm(sa, self.now + self.policy.keepalive_interval, "keepalive")

    # ------------------------------------------------------------------ helpers
    def random_spi(self) -> int:
        while True:
            spi = self.rng.randrange(0x100, 1 << 32)
            if spi not in self.children:
                return spi

    def _index(self, sa: IkeSa) -> None:
        self.sas[(sa.icookie, sa.rcookie)] = sa
