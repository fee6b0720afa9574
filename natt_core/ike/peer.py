"""The sans-IO IKEv1/NAT-T peer: bytes in, bytes and events out.

    peer = Peer("client", "192.168.11.20", PeerPolicy(), rng=7)
    out = peer.connect("198.51.100.10", now=0.0)      # MM1
    out = peer.receive(datagram, now=0.01)             # whatever arrives
    out = peer.on_timer(now) when now >= peer.next_timer()
    out = peer.send_udp(b"L2TP...", now)               # once an IPsec SA is up

Every call returns an `Output` (datagrams to send, events). The peer never reads a clock or
opens a socket; the same object runs in the virtual lab, in tests and over real UDP sockets.
Port 500 carries plain IKE; port 4500 is demultiplexed per RFC 3948 §2 (keepalive / non-ESP
marker + IKE / ESP by SPI); IP protocols 50 and 51 are ESP and AH.
"""
from __future__ import annotations

from operator import methodcaller

from ..addressing import Datagram, Endpoint
from ..errors import DecodeError, IntegrityError, ProtocolError
from ..output import Output
from ..reasons import Reason
from ..wire.isakmp import decode_header, decode_payloads
from ..wire.numbers import ExchangeType, Flag, PayloadType
from .core import PeerCore
from .dataplane import DataPlaneMixin
from .dpd import DpdMixin
from .events import MessageReceived, PacketDropped
from .fragmentation import IkeFragmentationMixin
from .informational import InformationalMixin
from .aggressive_mode import AggressiveModeMixin
from .main_mode import ZERO_COOKIE, MainModeMixin, payload_names
from .quick_mode import QuickModeMixin
from .rekey import LifecycleMixin
from .sa import IkeSa, IpsecSaRow, IsakmpSaRow, QuickExchange
from .states import (ADMITS, FAMILIES, LAST_MESSAGES, OPENS_QUICK_MODE, PHASE1_TABLES, QUICK_MODE, RECEIVED,
                     STARTS_NEXT, TRANSITIONS, Family, Msg, Repeat, Role, Shape, State, admit, advance,
                     found_by_initiator_cookie, half_open_refusal, learns_responder_cookie, main_mode_shape,
                     opens_phase1, phase1_table, repeat, repeat_answered_at, wrong_port_after_float)


_ROW = methodcaller("row")

#: the handler of each Main Mode and Quick Mode message
_MM_HANDLERS = {Msg.MM1: "_on_mm1", Msg.MM2: "_on_mm2", Msg.MM3: "_on_mm3", Msg.MM4: "_on_mm4", Msg.MM5: "_on_mm5",
                Msg.MM6: "_on_mm6"}
_QM_HANDLERS = {Msg.QM1: "_on_qm1", Msg.QM2: "_on_qm2", Msg.QM3: "_on_qm3"}

# What every received message is checked against, named once: in Python 3.11 a member read off
# its Enum class goes through EnumType.__getattr__'s slow attribute hook (~0.1 µs), and the
# receive path read a dozen of them per message.
_FRAGMENT = PayloadType.FRAGMENT
_ENCRYPTED = Flag.ENCRYPTED
_UNSPOKEN_FLAGS = ~(Flag.ENCRYPTED | Flag.COMMIT)
_PHASE1_EXCHANGES = frozenset({ExchangeType.MAIN_MODE, ExchangeType.AGGRESSIVE})
_INFORMATIONAL = frozenset({Family.INFORMATIONAL, Family.PLAIN_INFORMATIONAL})
_QUICK, _AGGRESSIVE, _NEW_ID, _KNOWN_ID = Family.QUICK_MODE, Family.AGGRESSIVE_MODE, Shape.NEW_ID, Shape.KNOWN_ID
_ANSWER_AGAIN, _DROP_AGAIN, _FAILED = Repeat.ANSWER_AGAIN, Repeat.DROP_AGAIN, State.FAILED


class Peer(LifecycleMixin, IkeFragmentationMixin, MainModeMixin, AggressiveModeMixin, QuickModeMixin, InformationalMixin,
           DpdMixin, DataPlaneMixin, PeerCore):
    """One IKE participant; it can initiate (`connect`) and answer any number of initiators."""

    def receive(self, dgram: Datagram, now: float) -> Output:
        # `_begin` and `_finish` written out: every datagram the peer gets comes through here
        self.now = now
        self._out_datagrams, self._out_events = [], []
        try:
            self._dispatch(dgram)
        except DecodeError as exc:
            self._emit(PacketDropped, reason=str(exc), code=Reason.MALFORMED, layer=exc.layer)
        return Output(tuple(self._out_datagrams), tuple(self._out_events))

    # ------------------------------------------------------------------ demultiplexing
    def _receive_ike(self, dgram: Datagram, message: bytes) -> None:
        if len(message) >= 28 and message[17] >> 4 != 1:    # `major` read inline: another major version
            self._other_version(dgram, message, 1)
            return
        header, body = decode_header(message)
        if header.next_payload == _FRAGMENT:   # IKEv1 fragmentation (ike/fragmentation.py)
            message = self._ike_fragment(dgram, header, body)
            if message is None:
                return
            header, body = decode_header(message)
        if header.version != 0x10:
            raise DecodeError("ISAKMP header", 17, f"version 0x{header.version:02x}: only IKEv1.0 (0x10) is spoken here")
        if header.flags & _UNSPOKEN_FLAGS:
            # the commit bit is tolerated and ignored, as libreswan (ikev1.c: "ignoring flag") and
            # strongSwan (parsed, never acted on) do; authentication-only is not spoken here
            raise DecodeError("ISAKMP header", 19, f"flags 0x{header.flags:02x}: authentication-only is not supported")
        if header.message_id and header.exchange in _PHASE1_EXCHANGES:
            raise DecodeError("ISAKMP header", 20, "Main and Aggressive Mode messages must have Message ID 0")
        encrypted = bool(header.flags & _ENCRYPTED)
        family = FAMILIES.get((header.exchange, encrypted))           # `family_of`, read off its table
        # the SA its cookies name (every message after the first of an exchange), else `_find_sa`
        sa = self.sas.get((header.icookie, header.rcookie)) or self._find_sa(dgram, header, family)
        if sa is None:
            return
        if sa.floated and wrong_port_after_float(sa.floated, dgram.dst.port):
            self._note_unreadable_answer(sa, family)
            self._note_repeat(sa, message)
            self._emit(PacketDropped, reason="IKE on port 500 for an SA that floated to 4500 (RFC 3947 §4: discard)",
                       code=Reason.WRONG_PORT_AFTER_FLOAT)
            return
        try:
            table = PHASE1_TABLES.get(family)                         # `phase1_table`
            if table is not None:
                self._main_mode(sa, dgram, header, body, message, encrypted, family, table)
            elif family is _QUICK:
                self._quick_mode(sa, dgram, header, body, message)
            elif family in _INFORMATIONAL:
                self._informational(sa, header, body, family, dgram)
            else:
                self._emit(PacketDropped, reason=f"exchange type {header.exchange} is not supported here",
                           code=Reason.UNSUPPORTED_PROTOCOL)
        except ProtocolError as exc:
            self._emit(PacketDropped, reason=exc.reason, code=getattr(exc, "code", None) or Reason.UNEXPECTED_MESSAGE)
        except (IntegrityError, DecodeError) as exc:
            self._note_unreadable_answer(sa, family)
            sa.last_rejected = message
            code = Reason.MALFORMED if isinstance(exc, DecodeError) else exc.code or Reason.DECRYPT_FAILED
            self._emit(PacketDropped, reason=str(exc), code=code, layer=getattr(exc, "layer", "IKE"))

    def _find_sa(self, dgram: Datagram, header, family: Family | None) -> IkeSa | None:
        """An SA for a message whose cookies name none yet: the responder's new one (MM1, AM1), the
        initiator's own learning the responder cookie (MM2, AM2), or one found by its initiator cookie."""
        opens = None if header.rcookie != ZERO_COOKIE else opens_phase1(family, bool(header.flags & _ENCRYPTED),
                                                                         header.next_payload)
        if opens is not None:
            src = dgram.src     # keyed by its fields: an Endpoint's own hash is a Python call
            key = (header.icookie, src.ip, src.port)
            seen = self._mm1_seen.get(key)
            if seen is not None:
                return seen
            refusal = half_open_refusal(*self._half_open_from(dgram.src.ip), self.policy.half_open_limit,
                                        self.policy.half_open_per_source)
            if refusal is not None:
                self._emit(PacketDropped, reason=refusal[0], code=refusal[1])
                return None
            local = Endpoint(self.address, dgram.dst.port)
            sa = IkeSa(Role.RESPONDER, opens, header.icookie, self.rng.randbytes(8), local, dgram.src,
                       self.policy, created=self.now, origin=dgram.src)
            self._mm1_seen[key] = sa
            self._index(sa)
            self._open_half(sa)
            return sa
        mine = self._initiated.get(header.icookie)
        if mine is not None and learns_responder_cookie(mine.state, header.rcookie != ZERO_COOKIE):
            self.sas.pop((mine.icookie, mine.rcookie), None)
            mine.rcookie = header.rcookie
            self._index(mine)
            return mine
        if mine is not None and found_by_initiator_cookie(family):
            return mine
        self._emit(PacketDropped, reason=f"no ISAKMP SA for cookies {header.icookie.hex()}:{header.rcookie.hex()}",
                   code=Reason.UNKNOWN_SA)
        return None

    # ------------------------------------------------------------------ exchanges
    def _main_mode(self, sa: IkeSa, dgram, header, body, message: bytes, encrypted: bool,
                   family: Family = Family.MAIN_MODE, table=None) -> None:
        """A phase-1 message: Main Mode, or Aggressive Mode (the same repeats and table moves)."""
        if (family, sa.state) not in ADMITS:     # `admit`'s set: it says why not
            admit(family, sa.state, sa.reason)
        again = None
        if message == sa.last_received or message == sa.last_rejected:    # rarely: `repeat` says which
            again = repeat(message, sa.last_received, sa.last_rejected)
        if again is _ANSWER_AGAIN:
            self._note_repeat(sa, message)
            self._answer_repeat(sa, sa, dgram)
            return
        if again is _DROP_AGAIN:
            self._emit(PacketDropped, reason="the same bytes as a message rejected before (a retransmission of it)",
                       code=Reason.REPEATED_REJECT)
            return
        shape = main_mode_shape(encrypted, header.next_payload)
        msg = RECEIVED.get((family, sa.role, shape))             # `classify`, keyed by us as receiver
        nxt = TRANSITIONS.get((sa.state, msg))                   # `advance`, read off its table
        if nxt is None:     # not a legal arrival: classify and advance say why
            table = table or phase1_table(family)
            if msg is None:
                raise DecodeError("IKE", 28, f"{table.name} message starting with payload {header.next_payload}")
            advance(sa.state, msg)
        mark = len(self._out_events)
        previous, sa.last_answer = sa.last_answer, None   # whatever answers this message replaces it
        try:
            if family is _AGGRESSIVE:
                self._aggressive_mode_step(sa, dgram, header, body, msg, encrypted, mark)
            else:       # Main Mode: the message's handler, then what was accepted, before what it caused
                handler = getattr(self, _MM_HANDLERS[msg])
                if encrypted:
                    handler(sa, dgram, header, body)
                    names = ("ID", "HASH")
                else:
                    chain = decode_payloads(header.next_payload, body)
                    names = payload_names(chain.payloads)
                    handler(sa, dgram, header, chain)
                # `_value_`: a member's value read as an attribute (`.value` is a property)
                self._out_events.insert(mark, MessageReceived(self.now, self.name, msg._value_, names,
                                                              str(dgram.src)))
        except Exception:
            sa.last_answer = previous      # rejected: a retransmission of the old message still gets its answer
            raise
        self._accepted(sa, sa, message, dgram)
        if msg in LAST_MESSAGES:
            sa.last_answer = None      # it ended the exchange: a repeat of it gets nothing
        if sa.state is not _FAILED:
            then = STARTS_NEXT.get((sa.state, msg))                 # `starts_next`
            sa.state = nxt
            if then is QUICK_MODE:
                self._start_quick_mode(sa)

    def _accepted(self, sa: IkeSa, exchange, message: bytes, dgram: Datagram) -> None:
        """Remember an accepted message: its bytes and where it came from (for repeats)."""
        exchange.last_received, exchange.last_from = message, dgram.src
        sa.peer_ips.add(dgram.src.ip)
        sa.last_active = self.now

    def _answer_repeat(self, sa: IkeSa, exchange, dgram: Datagram) -> None:
        """An exact repeat of the last accepted message: the same answer, only at an address this
        exchange came from (states.repeat_answered_at); a repeat never moves the SA."""
        to = repeat_answered_at(dgram.src, exchange.last_from, sa.peer_ips)
        if to is None:
            self._emit(PacketDropped, reason=f"a copy of the last message from {exchange.last_from}, now from "
                                             f"{dgram.src}: a repeat is answered only where the exchange came from",
                       code=Reason.DUPLICATE_ELSEWHERE)
        elif exchange.last_answer:
            self._resend(sa, exchange.last_answer, to)

    def _quick_mode(self, sa: IkeSa, dgram, header, body, message: bytes) -> None:
        if (_QUICK, sa.state) not in ADMITS:     # `admit`'s set: it says why not
            admit(_QUICK, sa.state)
        qe = sa.quick.get(header.message_id)
        if qe is not None and message == qe.last_received:    # `repeat`: the same bytes as the last accepted
            self._answer_repeat(sa, qe, dgram)
            return
        if qe is None:
            opens = OPENS_QUICK_MODE[sa.role]          # `opening_state`, read off its table
            msg = RECEIVED.get((_QUICK, sa.role, _NEW_ID))
            if msg is None or opens is None:
                raise ProtocolError(sa.state.value, "QM", f"unknown Quick Mode Message ID {header.message_id:08x}")
            qe = QuickExchange(header.message_id, opens, self._qm_iv(sa, header.message_id))
            new = True
        else:
            if qe.state is State.QM_DONE and sa.role is Role.INITIATOR:
                self._quick_mode_connected(sa, qe, header, body)     # the commit bit's fourth message (dpd.py)
                return
            msg = RECEIVED.get((_QUICK, sa.role, _KNOWN_ID))
            new = False
        nxt = TRANSITIONS.get((qe.state, msg)) or advance(qe.state, msg)    # `advance` says why not
        mark = len(self._out_events)
        getattr(self, _QM_HANDLERS[msg])(sa, qe, dgram, header, body)
        if new:   # only once HASH(1) verified: forged Message IDs leave no state behind
            sa.quick[header.message_id] = qe
        self._accepted(sa, qe, message, dgram)     # each handler followed the peer once HASH verified
        if msg in LAST_MESSAGES:
            qe.last_answer = None   # it ended the exchange: a repeat of it gets nothing
        self._out_events.insert(mark, MessageReceived(self.now, self.name, msg._value_, ("HASH", "…"),
                                                      str(dgram.src)))
        if qe.state is not _FAILED:
            qe.state = nxt

    def _informational(self, sa: IkeSa, header, body: bytes, family: Family, dgram: Datagram | None = None) -> None:
        admit(family, sa.state)
        if family is Family.PLAIN_INFORMATIONAL:
            self._on_plain_notify(sa, decode_payloads(header.next_payload, body))
        else:
            self._on_encrypted_info(sa, header, body, dgram)

    # ------------------------------------------------------------------ views
    # read after every output the trace snapshots: the rows are memoised per SA, and mapped
    # without a comprehension frame of their own
    def isakmp_rows(self) -> tuple[IsakmpSaRow, ...]:
        return tuple(map(_ROW, self.sas.values()))

    def ipsec_rows(self) -> tuple[IpsecSaRow, ...]:
        rows: tuple = ()
        for sa in self.sas.values():
            if sa.children:
                rows += tuple(map(_ROW, sa.children))
        return rows
