"""Dead Peer Detection (RFC 3706) and the liveness an established ISAKMP SA keeps.

Both peers announce the DPD Vendor ID (afcad71368a1f1c96b8696fc77570100: fourteen fixed bytes,
then major 1, minor 0, RFC 3706 §5.1; `nat_t.DPD_VID`). A peer with `dpd_delay` set sends an
R-U-THERE (notify 36136, SPI = CKY-I | CKY-R, a 32-bit sequence number, §5.3) in an encrypted
Informational when it has heard nothing authenticated from the peer (IKE or ESP) for `dpd_delay`
seconds (§5.4, "worry metric"); the peer answers R-U-THERE-ACK (36137) with the same number.
Unanswered, a new R-U-THERE with the next number goes out every `dpd_delay` seconds (libreswan
ikev1_dpd.c dpd_outI; every probe takes a new number, RFC 3706 §7); `dpd_timeout` seconds after
the first unanswered one the peer is declared dead and every SA with it is cleared (dpdaction=clear).

Anything authenticated that is *new* counts as hearing from the peer, and only that may move the
SA to a new address/port (`_authenticated_from`, states.follows_peer: RFC 3947 §7): a Quick Mode
message, an Informational with a Message ID not seen before, an ESP packet the anti-replay window
accepted. A repeated Informational (a replay) is dropped and moves nothing.
"""
from __future__ import annotations

import socket
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from functools import partial

from ..addressing import Datagram
from ..crypto.ike_keys import info_hash
from ..errors import DecodeError, IntegrityError, ProtocolError
from ..reasons import Reason
from ..wire.isakmp import Notification
from ..wire.numbers import NotifyType, ProtocolId, label, notify_name
from .events import LivenessChecked, MessageReceived, PacketDropped, RemoteFollowed
from .liveness_events import DeadPeerDetected, DpdNotNegotiated, InitialContactReceived, StatusNotifyReceived
from .nat_t import DPD_VID
from .sa import IkeSa
from .states import END_STATES, Role, State, follows_peer
from ..net.records import builder

_notification = builder(Notification)    #: every field in order: (type, protocol, SPI, data, DOI)

#: Informational Message IDs remembered per ISAKMP SA (a repeat of one of them is a replay)
INFO_IDS_KEPT = 256
#: the first R-U-THERE sequence number is random in 1..0x8000, room to grow (libreswan dpd_outI)
FIRST_SEQ_RANGE = (1, 0x8001)


# mutable, so dataclass's own __init__ (no `fast_init`): its attribute stores cost less than replacing __dict__
@dataclass
class LiveState:
    """What an established ISAKMP SA knows of its peer's liveness."""
    heard: float                               #: when something new and authenticated last came
    active: bool = False                       #: we send R-U-THERE to this peer
    seq: int = 0                               #: the next sequence number (0: not drawn yet)
    unanswered: list[int] = field(default_factory=list)   #: sequence numbers sent, no ACK yet
    sent: deque = field(default_factory=partial(deque, maxlen=16))   #: the latest numbers sent (an ACK may be late)
    first_unanswered: float | None = None      #: when the first of them was sent
    last_probe: float = 0.0
    peer_seq: int = 0                          #: the highest R-U-THERE number the peer sent
    info_ids: OrderedDict = field(default_factory=OrderedDict)   #: Informational Message IDs seen


def dpd_data(seq: int) -> bytes:
    return seq.to_bytes(4, "big")


class DpdMixin:
    # ------------------------------------------------------------------ state
    def _live(self, sa: IkeSa) -> LiveState:
        if sa.live is None:
            sa.live = LiveState(heard=self.now)
        return sa.live

    def _dpd_start(self, sa: IkeSa) -> None:
        """Phase 1 is up: DPD runs if we want it and the peer announced it (RFC 3706 §5.1)."""
        live = self._live(sa)
        live.heard = self.now
        # every authenticated SA by the identity it proved, for INITIAL-CONTACT (no scan of all SAs)
        self.__dict__.setdefault("_by_identity", {}).setdefault(sa.id_received, []).append(sa)
        if not self.policy.dpd_delay:
            return
        if DPD_VID not in sa.peer_vids:
            self._emit(DpdNotNegotiated, remote=str(sa.remote))
            return
        live.active = True
        self._arm(sa, self.now + self.policy.dpd_delay, "dpd")

    def _authenticated_from(self, sa: IkeSa, dgram: Datagram, via: str, may_move: bool = True) -> None:
        """A new message that authenticated (Quick Mode, Informational, or ESP/AH the data plane
        verified) came from `dgram.src`: the peer is alive, and (only on the side
        states.follows_peer allows) it is where the message came from now."""
        live = sa.live or self._live(sa)
        live.heard = self.now
        if live.unanswered:
            live.unanswered.clear()
        live.first_unanswered = None
        natd = sa.natd
        if may_move and dgram.src != sa.remote and follows_peer(
                sa.floated, bool(natd and natd.self_behind_nat), bool(natd and natd.peer_behind_nat),
                sa.role is Role.INITIATOR):
            old, sa.remote = sa.remote, dgram.src
            if sa.authenticated:
                self._emit(RemoteFollowed, old=str(old), new=str(dgram.src), via=via)

    # ------------------------------------------------------------------ the timer
    def _dpd_due(self, sa: IkeSa) -> float | None:
        live = sa.live
        if live is None or not live.active or sa.state is not State.ESTABLISHED:
            return None
        delay, timeout = self.policy.dpd_delay, self.policy.dpd_timeout
        if live.first_unanswered is not None:
            return min(live.last_probe + delay, live.first_unanswered + timeout)
        return live.heard + delay

    def _dpd_fire(self, sa: IkeSa) -> None:
        live = sa.live
        if live is None or not live.active or sa.state is not State.ESTABLISHED:
            return
        if live.first_unanswered is not None and self.now + 1e-9 >= live.first_unanswered + self.policy.dpd_timeout:
            self._peer_dead(sa)
            return
        self._probe(sa)
        self._arm(sa, self._dpd_due(sa), "dpd")

    def _probe(self, sa: IkeSa) -> None:
        live = sa.live
        if not live.seq:
            live.seq = self.rng.randrange(*FIRST_SEQ_RANGE)
        seq, live.seq = live.seq, live.seq % 0xFFFFFFFF + 1
        live.unanswered.append(seq)
        live.sent.append(seq)
        if live.first_unanswered is None:
            live.first_unanswered = self.now
        live.last_probe = self.now
        self._send_dpd(sa, NotifyType.R_U_THERE, seq)

    def _send_dpd(self, sa: IkeSa, kind: NotifyType, seq: int) -> None:
        n = Notification(kind, protocol_id=ProtocolId.ISAKMP, spi=sa.icookie + sa.rcookie, data=dpd_data(seq))
        self._send_info(sa, [n], f"INFO {kind.name.replace('_', '-')}", aside=True)

    def _peer_dead(self, sa: IkeSa) -> None:
        """RFC 3706 §5.5: the peer is unreachable; delete the IPsec and ISAKMP SAs (dpdaction=clear)."""
        live = sa.live
        silent = self.now - live.heard
        self._emit(DeadPeerDetected, remote=str(sa.remote), cookies=sa.cookies, probes=len(live.unanswered),
                   silent_for=round(silent, 3))
        self._forget(sa, by_peer=False, code=Reason.DPD_PEER_DEAD)
        sa.reason = (f"dead peer: {len(live.unanswered)} R-U-THERE to {sa.remote} unanswered and nothing heard "
                     f"for {silent:g} s (dpd_timeout {self.policy.dpd_timeout:g} s, RFC 3706); its SAs were cleared")
        sa.code, sa.failure = Reason.DPD_PEER_DEAD, "dead-peer"
        live.active = False

    # ------------------------------------------------------------------ received
    def _info_is_new(self, sa: IkeSa, message_id: int) -> bool:
        """An Informational's Message ID seen before is a repeat or a replay: nothing is done again."""
        seen = self._live(sa).info_ids
        if message_id in seen:
            self._emit(PacketDropped, reason=f"an Informational with Message ID {message_id:08x} already seen: a repeat "
                                             "or a replay, not acted on again and it moves nothing",
                       code=Reason.MESSAGE_ID_REPLAY)
            return False
        seen[message_id] = None
        if len(seen) > INFO_IDS_KEPT:
            seen.popitem(last=False)
        return True

    def _on_status_notify(self, sa: IkeSa, n: Notification, dgram: Datagram | None, exchange: str) -> None:
        """A status notification (RFC 2408 §3.14.1, 16384 and above) under the ISAKMP SA: DPD,
        INITIAL-CONTACT, or noted and ignored; never a refusal."""
        kind = n.notify_type
        if kind in (NotifyType.R_U_THERE, NotifyType.R_U_THERE_ACK):
            self._on_dpd(sa, n, dgram)
        elif kind == NotifyType.INITIAL_CONTACT:
            self._initial_contact(sa)
        else:
            self._emit(StatusNotifyReceived, notify=notify_name(kind), exchange=exchange)

    def _on_dpd(self, sa: IkeSa, n: Notification, dgram: Datagram | None) -> None:
        if len(n.spi) != 16 or len(n.data) != 4:
            raise DecodeError("IKE", 0, f"{label(NotifyType, n.notify_type)}: SPI of {len(n.spi)} bytes and data of "
                                        f"{len(n.data)} bytes (RFC 3706 §5.3: the cookies, 16, and a sequence number, 4)")
        seq = int.from_bytes(n.data, "big")
        name = "R-U-THERE" if n.notify_type == NotifyType.R_U_THERE else "R-U-THERE-ACK"
        self._emit(MessageReceived, label=f"INFO {name}", payloads=("HASH", f"N({name} seq {seq})"),
                   src=str(dgram.src) if dgram else str(sa.remote))
        if n.notify_type == NotifyType.R_U_THERE:
            live = self._live(sa)
            live.peer_seq = max(live.peer_seq, seq)
            self._send_dpd(sa, NotifyType.R_U_THERE_ACK, seq)     # answered even if not in sequence (libreswan)
            return
        live = self._live(sa)
        if seq not in live.sent:
            self._emit(PacketDropped, reason=f"R-U-THERE-ACK with sequence number {seq}, which answers no R-U-THERE "
                                             "we sent (RFC 3706 §6.1)", code=Reason.DPD_SEQUENCE)
            return
        self._emit(LivenessChecked, remote=str(sa.remote))

    def _initial_contact(self, sa: IkeSa) -> None:
        """RFC 2407 §4.6.3.3, RFC 3947 §6: the authenticated peer holds no other SA with us, so every other
        SA of the same identity (not of the same address: clients behind one NAT share it) is gone
        with the connection it belonged to; strongSwan ike_sa_manager.c check_uniqueness deletes them."""
        index = self.__dict__.setdefault("_by_identity", {})
        alive, replaced = [], []      # loops, not comprehensions (a frame each)
        for old in index.get(sa.id_received, ()):
            if old.state not in END_STATES and self.sas.get((old.icookie, old.rcookie)) is old:
                alive.append(old)
                if old is not sa and old.authenticated:
                    replaced.append(old)
        index[sa.id_received] = alive
        cookies = []
        for old in replaced:
            self._forget(old, by_peer=False, code=Reason.INITIAL_CONTACT)
            cookies.append(old.cookies)
        self._emit(InitialContactReceived, identity=_identity(sa.id_received), replaced=tuple(cookies))

    def _initial_contact_payload(self, sa: IkeSa) -> list:
        """N(INITIAL-CONTACT) for MM5 when this is our only SA with that peer (strongSwan add_initial_contact)."""
        if not self.policy.initial_contact:
            return []
        ip = sa.remote.ip
        for o in self.sas.values():     # a loop, not a comprehension: a frame less per MM5
            if o is not sa and o.authenticated and o.state not in END_STATES and o.remote.ip == ip:
                return []
        # from the SA's own (checked) cookies: built as a decoder builds one, without every field checked again
        return [_notification(NotifyType.INITIAL_CONTACT, ProtocolId.ISAKMP, sa.icookie + sa.rcookie, b"", 1)]

    def _check_main_mode_notifies(self, sa: IkeSa, chain, label_text: str) -> None:
        """HASH_I/HASH_R cover only the ID (RFC 2409 §5), so a notification beside it must be exactly
        well formed (IPsec DOI, ISAKMP protocol, no SPI or this SA's cookies) or the message is refused:
        an altered MM5/MM6 never establishes anything."""
        for p in chain.payloads:
            if isinstance(p, Notification) and (p.doi != 1 or p.protocol_id != ProtocolId.ISAKMP
                                                or p.spi not in (b"", sa.icookie + sa.rcookie)
                                                or (p.notify_type == NotifyType.INITIAL_CONTACT and p.data)):
                raise DecodeError("IKE", 0, f"{label_text}: notification {p.notify_type} is not well formed "
                                            "(DOI, protocol or SPI)")

    def _quick_mode_connected(self, sa: IkeSa, qe, header, body: bytes) -> None:
        """A fourth Quick Mode message after QM3: a responder that set the commit bit (Windows) sends
        HDR*, HASH(4), N(CONNECTED), HASH(4) = prf(SKEYID_a, M-ID | N) as racoon's quick_r4send builds
        it (RFC 2408 §3.1). The SA is already in use, as libreswan and strongSwan ("ignoring fourth
        Quick Mode message") treat it; the status is noted, anything else refused."""
        chain, last_block, after = self._open_qm(sa, qe, header, body, "QM4")
        if chain.payloads[0].data != info_hash(sa.choice.hash, sa.keyed("skeyid_a"), qe.message_id, after):
            raise IntegrityError("HASH(4) does not verify", Reason.AUTH_FAILED)
        notes = chain.payloads[1:]
        if not notes or not all(isinstance(n, Notification) and n.notify_type >= 16384 for n in notes):
            raise ProtocolError(State.QM_DONE.value, "QM", "a Quick Mode message after QM3 that is not a status "
                                                           "notification (the commit bit's CONNECTED)")
        qe.iv = last_block
        for n in notes:
            self._emit(StatusNotifyReceived, notify=notify_name(n.notify_type), exchange="Quick Mode")

    def _main_mode_notifies(self, sa: IkeSa, chain, dgram: Datagram) -> None:
        """Status notifications inside an authenticated MM5/MM6 (INITIAL-CONTACT above all)."""
        for p in chain.payloads:
            if isinstance(p, Notification) and p.notify_type >= 16384:
                self._on_status_notify(sa, p, dgram, "Main Mode")


def _identity(id_body: bytes) -> str:
    """An ID payload body (type, protocol, port, data) as people read it."""
    if len(id_body) == 8 and id_body[0] == 1:
        return socket.inet_ntoa(id_body[4:])     # 4 bytes: the dotted text ipaddress would give
    return id_body[4:].decode("ascii", "replace") if len(id_body) > 4 else id_body.hex()
