"""The sans-IO IKEv2 peer (RFC 7296) with NAT traversal (§2.23): the same API as the IKEv1 Peer.

    peer = Peer2("client", "192.168.11.20", PeerPolicy(), rng=7)
    out = peer.connect("198.51.100.10", now=0.0)      # IKE_SA_INIT request
    out = peer.receive(datagram, now)                  # whatever arrives (UDP 500/4500, ESP)
    out = peer.on_timer(now)                           # retransmission, keepalives
    out = peer.send_udp(b"...", now)                   # once a CHILD_SA is up
    out = peer.delete(now)                             # INFORMATIONAL Delete of every IKE SA

IKE_SA_INIT carries the NAT_DETECTION notifies; when they show a NAT the initiator moves to UDP
4500 with the non-ESP marker for IKE_AUTH and everything after it, and the side behind the NAT
sends keepalives. Sending, retransmission, keepalives and the ESP data plane are the IKEv1
peer's (`PeerCore`, `DataPlaneMixin`); this module demultiplexes and runs IKE_SA_INIT.
"""
from __future__ import annotations

import random

from ...addressing import Datagram, Endpoint
from ...crypto.ikev2_keys import derive_ike_keys, natd2_hash
from ...crypto.natd import NatdVerdict
from ...crypto.primitives import (MODP, digest, dh_private, dh_public, dh_shared, ecp256_private, ecp256_public,
                                  ecp256_shared, equal)
from ...errors import DecodeError, IntegrityError, ProtocolError
from ...reasons import Reason
from ...wire.ikev2 import KE, SA, Body, Header, Message, Nonce, Notify, Unknown, decode_message, encode_message
from ...wire.ikev2_numbers import Exchange, HdrFlag, NotifyType, notify2_name
from ...wire.numbers import IPProto, Port
from ...wire.udp_encap import frame_ike
from ..core import PeerCore
from ..dataplane import DataPlaneMixin
from ..major_version import major
from ..events import (PacketDropped, Floated, InitRetried, MessageReceived, MessageSent,
                      NatDetected, PeerRefused, Refused, RemoteFollowed)
from ..policy import PeerPolicy
from ..sa import IpsecSaRow, IsakmpSaRow
from ..states import END_STATES2, Msg2, State2, advance, classify_v2, repeat_answered_at
from .auth import AuthMixin, _only_each
from .info import Info2Mixin
from .rekey import RekeyMixin
from .proposals import V2Options, choose_ike, ike_groups, ike_offer, read_ike
from .sa import Ike2Sa
from .sk import SkCipher, open_sk, seal

ZERO_SPI = bytes(8)
NONCE_LEN = 32
#: notifies that fail the whole IKE SA when they answer IKE_SA_INIT, with their reason codes
INIT_ERRORS = {NotifyType.NO_PROPOSAL_CHOSEN: Reason.NO_PROPOSAL,
               NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD: Reason.UNSUPPORTED_CRITICAL_PAYLOAD,
               NotifyType.INVALID_MAJOR_VERSION: Reason.INVALID_MAJOR_VERSION}


#: the handler of each protected message
_HANDLERS = {Msg2.AUTH_REQ: "_on_auth_request", Msg2.AUTH_RESP: "_on_auth_response",
             Msg2.CHILD_REQ: "_on_child_request", Msg2.CHILD_RESP: "_on_child_response",
             Msg2.INFO_REQ: "_on_info_request", Msg2.INFO_RESP: "_on_info_response"}


def names(payloads) -> tuple[str, ...]:
    """Short payload names for events: 'SA', 'KE', 'N(NAT_DETECTION_SOURCE_IP)'."""
    out = []      # a loop, not a comprehension: a frame less for every message sent or received
    for p in payloads:
        out.append(f"N({notify2_name(p.notify_type)})" if isinstance(p, Notify) else type(p).__name__)
    return tuple(out)


def one(payloads, cls, what: str):
    found = [p for p in payloads if isinstance(p, cls)]
    if len(found) != 1:
        raise DecodeError("IKEv2", 0, f"{what}: expected one {cls.__name__} payload, found {len(found)}")
    return found[0]


#: the header flags of what we send, by (we are the original initiator, it is a response): made once
#: (an IntFlag's | is a few Python calls)
_HDR_FLAGS = {(initiator, response): (HdrFlag.INITIATOR if initiator else 0) | (HdrFlag.RESPONSE if response else 0)
              for initiator in (True, False) for response in (True, False)}

#: what IKE_SA_INIT's request and response each carry one of
_SA_KE_NONCE = (SA, KE, Nonce)


def one_each(payloads, classes: tuple, what: str) -> tuple:
    """`one` of several classes in one pass over the payloads (`_only_each`), in the order asked;
    the first class without exactly one raises as `one` does."""
    found = _only_each(payloads, classes)
    for cls, p in zip(classes, found):
        if p is None:
            one(payloads, cls, what)      # raises, counting them
    return found


def critical_unknown(payloads) -> Unknown | None:
    for p in payloads:      # a loop: a generator is a frame and a resumption per payload
        if isinstance(p, Unknown) and p.critical:
            return p
    return None


class Peer2(AuthMixin, RekeyMixin, Info2Mixin, DataPlaneMixin, PeerCore):
    """One IKEv2 participant; it can initiate (`connect`) and answer any number of initiators."""

    HANDLES_AH = False   # IKEv2 here negotiates ESP only: AH is "not handled", as before

    def __init__(self, name: str, address: str, policy: PeerPolicy, rng: random.Random | int = 0,
                 options: V2Options | None = None):
        super().__init__(name, address, policy, rng)
        self.options = options or policy.v2   # the policy's, unless a caller overrides them
        self._half_open: dict[tuple[bytes, Endpoint], Ike2Sa] = {}
        self._cookie_secret = self.rng.randbytes(16)
        self._init_offer()   # a policy with no IKEv2 suite fails here, not mid-handshake

    def _init_offer(self) -> SA:
        """The IKE_SA_INIT SA offer: it depends on the policy and options alone, so it is built
        once per peer (and its bytes encoded once), not for every request and answer checked."""
        kept = self.__dict__.get("_offer")
        if kept is None or kept[0] is not self.policy or kept[1] is not self.options:
            kept = self._offer = (self.policy, self.options, ike_offer(self.policy, self.options))
        return kept[2]

    # ------------------------------------------------------------------ API
    def connect(self, remote_ip: str, now: float, remote_port: int = Port.IKE):
        """Start IKE_SA_INIT towards a responder (from 4500 at once when remote_port is 4500, §2.23)."""
        self._begin(now)
        local_port = Port.NAT_T if remote_port == Port.NAT_T else Port.IKE
        sa = Ike2Sa("initiator", State2.I_START, self.rng.randbytes(8), ZERO_SPI, Endpoint(self.address, local_port),
                    Endpoint(remote_ip, remote_port), self.policy, created=now)
        sa.state = advance(sa.state, Msg2.START)
        sa.floated = local_port == Port.NAT_T
        sa.group = ike_groups(self.policy, self.options)[0]
        self._new_dh(sa)
        sa.ni = self.rng.randbytes(NONCE_LEN)
        self._initiated[sa.spi_i] = sa
        self._index(sa)
        self._send_init(sa)
        return self._finish()

    def receive(self, dgram: Datagram, now: float):
        self._begin(now)
        try:
            self._dispatch(dgram)
        except DecodeError as exc:
            self._drop(str(exc), Reason.MALFORMED, exc.layer)
        return self._finish()

    def ike_sas(self) -> tuple[Ike2Sa, ...]:
        return tuple(self.sas.values())

    def isakmp_rows(self) -> tuple[IsakmpSaRow, ...]:
        """The IKE SAs in the IKEv1 table's shape (SPIs in the cookie columns, PRF as the hash)."""
        return tuple(IsakmpSaRow(role=sa.role, state=sa.state.value, icookie=sa.spi_i.hex(), rcookie=sa.spi_r.hex(),
                                 local=str(sa.local), remote=str(sa.remote),
                                 nat_t=sa.nat_t.value if sa.nat_t else None,
                                 self_behind_nat=bool(sa.natd and sa.natd.self_behind_nat),
                                 peer_behind_nat=bool(sa.natd and sa.natd.peer_behind_nat),
                                 cipher=sa.choice.encr.name if sa.choice else None,
                                 hash=sa.choice.prf if sa.choice else None,
                                 dh_group=sa.choice.group if sa.choice else None) for sa in self.sas.values())

    def ipsec_rows(self) -> tuple[IpsecSaRow, ...]:
        return tuple([c.row() for sa in self.sas.values() for c in sa.children])

    # ------------------------------------------------------------------ shared-core hooks
    def _index(self, sa) -> None:
        self.sas[(sa.spi_i, sa.spi_r)] = sa

    def _fail(self, sa, reason: str, failure: str, code: str | None = None) -> None:
        sa.state = State2.FAILED
        sa.failure = sa.failure or failure
        sa.reason = sa.reason or reason
        sa.code = sa.code or code or (Reason.GAVE_UP if failure == "gave-up" else None)
        sa.pending = None

    def _due(self, sa, what: str):
        if sa.state in END_STATES2:
            return None
        if what == "retransmit":
            return sa.pending.deadline if sa.pending else None
        if what == "keepalive" and sa.sends_keepalives:
            return sa.last_sent_4500 + self.policy.keepalive_interval
        return None

    def _drop(self, reason: str, code: Reason, layer: str = "IKE") -> None:
        self._emit(PacketDropped, reason=reason, layer=layer, code=code)

    # ------------------------------------------------------------------ demultiplexing
    def _receive_ike(self, dgram: Datagram, message: bytes) -> None:
        if major(message) not in (None, 2):
            self._other_version(dgram, message, 2)
            return
        msg = decode_message(message)
        h = msg.header
        kind = classify_v2(h.exchange, h.is_response)
        if kind is None:
            self._drop(f"exchange type {h.exchange} is not supported here", Reason.UNSUPPORTED_PROTOCOL)
        elif kind is Msg2.INIT_REQ:
            self._on_init_request(dgram, msg)
        elif kind is Msg2.INIT_RESP:
            self._on_init_response(dgram, msg)
        else:
            self._protected(dgram, msg, kind)

    def _protected(self, dgram: Datagram, msg: Message, kind: Msg2) -> None:
        """IKE_AUTH and INFORMATIONAL: find the SA, check the message ID, open SK, then the table."""
        h = msg.header
        sa = self.sas.get((h.spi_i, h.spi_r))
        if sa is None or sa.keys is None:
            self._drop(f"no IKE SA for SPIs {h.spi_i.hex()}:{h.spi_r.hex()}", Reason.UNKNOWN_SA)
            return
        request = not h.is_response
        if request and h.message_id == sa.next_mid_in - 1 and msg.raw == sa.last_received and sa.last_answer:
            # a retransmission: the same answer, even from a failed SA, but only where the peer is
            # (states.repeat_answered_at): a copy from elsewhere never reflects an answer
            to = repeat_answered_at(dgram.src, sa.remote, {sa.remote.ip})
            if to is None:
                self._drop(f"a copy of the last request from {sa.remote}, now from {dgram.src}: a repeat is "
                           f"answered only where the exchange came from", Reason.DUPLICATE_ELSEWHERE)
            else:
                self._resend(sa, sa.last_answer, to)
            return
        if sa.state in END_STATES2:
            self._drop(f"this IKE SA has ended ({sa.reason or sa.state.value})", Reason.UNEXPECTED_MESSAGE)
            return
        if sa.floated and dgram.dst.port == Port.IKE:
            self._drop("IKE on port 500 for an SA that moved to 4500 (RFC 7296 §2.23)", Reason.WRONG_PORT_AFTER_FLOAT)
            return
        if request:
            if h.message_id != sa.next_mid_in:
                self._drop(f"request with message ID {h.message_id}, expected {sa.next_mid_in}: replayed or stale "
                           "(RFC 7296 §2.2)", Reason.MESSAGE_ID_REPLAY)
                return
        elif sa.pending_mid is None or h.message_id != sa.pending_mid:
            self._drop(f"response with message ID {h.message_id} answers no request of ours: replayed or stale",
                       Reason.MESSAGE_ID_REPLAY)
            return
        try:
            nxt = advance(sa.state, kind)
        except ProtocolError as exc:
            self._drop(exc.reason, Reason.UNEXPECTED_MESSAGE)
            return
        try:
            inner = open_sk(msg, sa.recv_cipher)
        except IntegrityError as exc:
            self._drop(f"{kind.value}: {exc}", Reason.DECRYPT_FAILED)
            return
        if request and (bad := critical_unknown(inner)):
            sa.next_mid_in += 1            # answered: the message ID is used (§2.5)
            sa.last_received = msg.raw
            self._respond(sa, h, h.exchange, [Notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, bytes([bad.type]))],
                          f"{Exchange(h.exchange).name} response")
            self._drop(f"payload type {bad.type} is unknown and marked critical", Reason.UNSUPPORTED_CRITICAL_PAYLOAD)
            return
        # `_value_`: a member's value read as an attribute (`.value` is a property)
        self._emit(MessageReceived, label=kind._value_, payloads=names(inner), src=str(dgram.src))
        if request:
            sa.next_mid_in += 1
            sa.last_received = msg.raw
        else:
            sa.pending, sa.pending_mid = None, None
        self._follow(sa, dgram, force=kind is Msg2.AUTH_REQ)
        before = sa.state
        getattr(self, _HANDLERS[kind])(sa, dgram, msg, inner)
        if sa.state is before:
            sa.state = nxt

    def _follow(self, sa: Ike2Sa, dgram: Datagram, force: bool = False) -> None:
        """§2.23: after an authenticated message, move to the peer's new address/port — unless we are
        the one behind the NAT. The IKE_AUTH request always sets it (it is where the initiator
        floated to; strongSwan does the same), and a request on 4500 floats our own port."""
        if dgram.dst.port == Port.NAT_T and sa.local.port != Port.NAT_T:
            sa.local = Endpoint(self.address, Port.NAT_T)
            sa.floated = True
            self._emit(Floated, local_port=Port.NAT_T, remote=str(dgram.src))
        if dgram.src != sa.remote and (force or not (sa.natd and sa.natd.self_behind_nat)):
            old, sa.remote = sa.remote, dgram.src
            self._emit(RemoteFollowed, old=str(old), new=str(dgram.src))

    # ------------------------------------------------------------------ sending
    def _wire(self, sa: Ike2Sa, message: bytes) -> bytes:
        return frame_ike(message) if sa.local.port == Port.NAT_T else message

    def _flags(self, sa: Ike2Sa, response: bool) -> int:
        return _HDR_FLAGS[(sa.role == "initiator", response)]

    def _request(self, sa: Ike2Sa, exchange: int, inner: list[Body], label: str) -> None:
        mid = sa.next_mid_out
        sa.next_mid_out += 1
        sa.pending_mid = mid
        header = Header(sa.spi_i, sa.spi_r, 0, exchange, self._flags(sa, False), mid)
        message = seal(header, inner, sa.send_cipher, self.rng.randbytes(sa.send_cipher.encr.iv_len))
        self._send_ike(sa, message, label, names(inner), encrypted=True, expect_answer=True)

    def _respond(self, sa: Ike2Sa, req: Header, exchange: int, inner: list[Body], label: str) -> None:
        header = Header(sa.spi_i, sa.spi_r, 0, exchange, self._flags(sa, True), req.message_id)
        message = seal(header, inner, sa.send_cipher, self.rng.randbytes(sa.send_cipher.encr.iv_len))
        self._send_ike(sa, message, label, names(inner), encrypted=True, expect_answer=None, answering=sa)

    def _plain_reply(self, dgram: Datagram, req: Header, payloads: list[Body], label: str) -> None:
        """An unprotected IKE_SA_INIT answer that keeps no state (COOKIE, INVALID_KE, errors)."""
        header = Header(req.spi_i, ZERO_SPI, 0, Exchange.IKE_SA_INIT, HdrFlag.RESPONSE, 0)
        message = encode_message(header, payloads)
        wire = frame_ike(message) if dgram.dst.port == Port.NAT_T else message
        self._send(dgram.src, dgram.dst.port, IPProto.UDP, wire, label)
        self._emit(MessageSent, label=label, payloads=names(payloads), dst=str(dgram.src))

    # ------------------------------------------------------------------ DH
    def _new_dh(self, sa: Ike2Sa) -> None:
        if sa.group == 19:
            sa.dh_private = ecp256_private(self.rng)
            sa.ke_public = ecp256_public(sa.dh_private)
        else:
            g = MODP[sa.group]
            sa.dh_private = dh_private(g, self.rng)
            sa.ke_public = dh_public(g, sa.dh_private)

    def _shared(self, sa: Ike2Sa, peer_public: bytes) -> bytes:
        """g^ir; a KE of the wrong size or off the curve is malformed input."""
        try:
            if sa.group == 19:
                return ecp256_shared(sa.dh_private, peer_public)
            return dh_shared(MODP[sa.group], sa.dh_private, peer_public)
        except IntegrityError as exc:
            raise DecodeError("IKEv2 KE", 0, str(exc)) from None

    def _derive(self, sa: Ike2Sa, g_ir: bytes) -> None:
        c = sa.choice
        self._set_keys(sa, derive_ike_keys(c.prf, sa.ni, sa.nr, g_ir, sa.spi_i, sa.spi_r, c.encr.key_len,
                                           c.integ.key_len if c.integ else 0))

    def _set_keys(self, sa: Ike2Sa, keys) -> None:
        """Install SK_*; what the original initiator sends uses SK_ei/SK_ai (§2.14)."""
        c, sa.keys, k = sa.choice, keys, keys
        i_side = SkCipher(c.encr, k.sk_ei, c.integ, k.sk_ai)
        r_side = SkCipher(c.encr, k.sk_er, c.integ, k.sk_ar)
        sa.send_cipher, sa.recv_cipher = (i_side, r_side) if sa.role == "initiator" else (r_side, i_side)

    def _natd(self, sa: Ike2Sa, msg: Message, dgram: Datagram, spi_r: bytes) -> None:
        """Compare the peer's NAT_DETECTION hashes with what the packet really carried (§2.23)."""
        found = []      # a loop: a generator is a frame and a resumption per notify
        for n in msg.notifies(NotifyType.NAT_DETECTION_SOURCE_IP):
            found.append(n.data)
        sources = tuple(found)
        dest = msg.notifies(NotifyType.NAT_DETECTION_DESTINATION_IP)
        if not sources or not dest:
            return
        expected_self = natd2_hash(sa.spi_i, spi_r, self.address, dgram.dst.port)
        expected_peer = natd2_hash(sa.spi_i, spi_r, dgram.src.ip, dgram.src.port)
        v = NatdVerdict(self_behind_nat=not equal(dest[0].data, expected_self),
                        peer_behind_nat=expected_peer not in sources, expected_self=expected_self,
                        received_dest=dest[0].data, expected_peer=expected_peer, received_sources=sources)
        sa.natd = v
        self._emit(NatDetected, self_behind_nat=v.self_behind_nat, peer_behind_nat=v.peer_behind_nat,
                   local=f"{self.address}:{dgram.dst.port}", peer_seen=str(dgram.src),
                   expected_self=v.expected_self.hex(), received_dest=v.received_dest.hex(),
                   expected_peer=v.expected_peer.hex(), received_sources=tuple(map(bytes.hex, sources)))

    def _natd_notifies(self, sa: Ike2Sa, spi_r: bytes, to: Endpoint) -> list[Notify]:
        return [Notify(NotifyType.NAT_DETECTION_SOURCE_IP, natd2_hash(sa.spi_i, spi_r, self.address, sa.local.port)),
                Notify(NotifyType.NAT_DETECTION_DESTINATION_IP, natd2_hash(sa.spi_i, spi_r, to.ip, to.port))]

    # ------------------------------------------------------------------ IKE_SA_INIT, initiator
    def _send_init(self, sa: Ike2Sa) -> None:
        payloads = ([Notify(NotifyType.COOKIE, sa.cookie)] if sa.cookie else []) + [
            self._init_offer(), KE(sa.group, sa.ke_public), Nonce(sa.ni),
            *self._natd_notifies(sa, ZERO_SPI, sa.remote)]
        message = encode_message(Header(sa.spi_i, ZERO_SPI, 0, Exchange.IKE_SA_INIT, HdrFlag.INITIATOR, 0), payloads)
        sa.init_request = message
        sa.pending_mid, sa.next_mid_out = 0, 1
        self._send_ike(sa, message, "IKE_SA_INIT", names(payloads), expect_answer=True)

    def _on_init_response(self, dgram: Datagram, msg: Message) -> None:
        h = msg.header
        sa = self._initiated.get(h.spi_i)
        if sa is None or sa.state is not State2.I_INIT_SENT or h.message_id != 0:
            self._drop(f"IKE_SA_INIT response for SPI {h.spi_i.hex()} that we are not waiting for", Reason.UNKNOWN_SA)
            return
        self._emit(MessageReceived, label=Msg2.INIT_RESP._value_, payloads=names(msg.payloads), src=str(dgram.src))
        if (cookie := msg.notifies(NotifyType.COOKIE)) and not msg.all(SA):
            self._retry_init(sa, "the responder wants its COOKIE echoed first (RFC 7296 §2.6)", Reason.COOKIE_REQUIRED,
                             cookie=cookie[0].data)
            return
        if invalid := msg.notifies(NotifyType.INVALID_KE_PAYLOAD):
            wanted = int.from_bytes(invalid[0].data[:2], "big")
            if wanted in ike_groups(self.policy, self.options) and wanted != sa.group:
                self._retry_init(sa, f"the responder wants DH group {wanted}, not {sa.group} (INVALID_KE_PAYLOAD)",
                                 Reason.INVALID_KE, group=wanted)
            else:
                self._refused_by_peer(sa, f"INVALID_KE_PAYLOAD asks for DH group {wanted}, which we do not offer",
                                      Reason.INVALID_KE)
            return
        for n in msg.all(Notify):
            if n.notify_type < 16384:
                code = INIT_ERRORS.get(n.notify_type, Reason.PEER_REFUSED)
                self._refused_by_peer(sa, f"{notify2_name(n.notify_type)} (answering IKE_SA_INIT)", code)
                return
        if h.spi_r == ZERO_SPI:
            raise DecodeError("IKEv2 header", 8, "IKE_SA_INIT response without a responder SPI")
        answer, ke, nonce = one_each(msg.payloads, _SA_KE_NONCE, "IKE_SA_INIT")
        choice = read_ike(answer.proposals[0]) if len(answer.proposals) == 1 else None
        offered = self._init_offer().proposals
        if choice is None or not any(p.number == choice.number and set(answer.proposals[0].transforms) <= set(p.transforms)
                                     for p in offered) or choice.group != sa.group or ke.group != sa.group:
            self._drop("the IKE_SA_INIT response chose something we never offered", Reason.NO_PROPOSAL)
            return
        g_ir = self._shared(sa, ke.data)
        self.sas.pop((sa.spi_i, sa.spi_r), None)
        sa.spi_r, sa.choice, sa.nr, sa.init_response = h.spi_r, choice, nonce.data, msg.raw
        self._index(sa)
        self._derive(sa, g_ir)
        sa.pending = None
        sa.state = advance(sa.state, Msg2.INIT_RESP)
        self._natd(sa, msg, dgram, sa.spi_r)
        if sa.nat_detected and not sa.floated:
            sa.local, sa.remote, sa.floated = Endpoint(self.address, Port.NAT_T), Endpoint(sa.remote.ip, Port.NAT_T), True
            self._emit(Floated, local_port=Port.NAT_T, remote=str(sa.remote))
        self._send_auth(sa)

    def _retry_init(self, sa: Ike2Sa, why: str, code: Reason, cookie: bytes | None = None, group: int | None = None):
        if sa.retries >= self.options.max_init_retries:
            self._refused_by_peer(sa, f"{why}; gave up after {sa.retries} retries", code)
            return
        sa.retries += 1
        if cookie is not None:
            sa.cookie = cookie
        if group is not None:
            sa.group = group
            self._new_dh(sa)
        self._emit(InitRetried, why=why, code=code)
        self._send_init(sa)

    def _refused_by_peer(self, sa: Ike2Sa, reason: str, code: Reason) -> None:
        self._emit(PeerRefused, reason=reason, code=code)
        self._fail(sa, reason, "refused", code)

    # ------------------------------------------------------------------ IKE_SA_INIT, responder
    def _cookie(self, ni: bytes, ip: str, spi_i: bytes) -> bytes:
        """§2.6: Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)."""
        return b"\x00" + digest("sha1", ni + Endpoint(ip).packed_ip + spi_i + self._cookie_secret)

    def _on_init_request(self, dgram: Datagram, msg: Message) -> None:
        h = msg.header
        if h.spi_r != ZERO_SPI or h.message_id != 0 or not h.from_initiator:
            raise DecodeError("IKEv2 header", 8, "an IKE_SA_INIT request needs SPIr 0, message ID 0 and the I flag")
        key = (h.spi_i, dgram.src)
        known = self._half_open.get(key)
        if known is not None:
            if msg.raw == known.init_request and known.init_answer:
                self._resend(known, known.init_answer, dgram.src)   # keyed by its source: the original's
            else:
                self._drop("a second, different IKE_SA_INIT for an SA already answered", Reason.UNEXPECTED_MESSAGE)
            return
        if bad := critical_unknown(msg.payloads):
            self._plain_reply(dgram, h, [Notify(NotifyType.UNSUPPORTED_CRITICAL_PAYLOAD, bytes([bad.type]))],
                              "IKE_SA_INIT response")
            self._drop(f"payload type {bad.type} is unknown and marked critical", Reason.UNSUPPORTED_CRITICAL_PAYLOAD)
            return
        offer, ke, nonce = one_each(msg.payloads, _SA_KE_NONCE, "IKE_SA_INIT")
        self._emit(MessageReceived, label=Msg2.INIT_REQ._value_, payloads=names(msg.payloads), src=str(dgram.src))
        threshold = self.options.cookie_threshold
        half_open = sum(1 for s in self._half_open.values() if s.state is State2.R_INIT_DONE)
        if threshold is not None and half_open >= threshold:
            expected = self._cookie(nonce.data, dgram.src.ip, h.spi_i)
            got = msg.notifies(NotifyType.COOKIE)
            if not got or not equal(got[0].data, expected):
                self._plain_reply(dgram, h, [Notify(NotifyType.COOKIE, expected)], "IKE_SA_INIT response (COOKIE)")
                self._emit(Refused, reason=f"{half_open} half-open SAs: a COOKIE is required before any state "
                                                   "is kept (RFC 7296 §2.6)", code=Reason.COOKIE_REQUIRED)
                return
        picked = choose_ike(offer, self.policy, self.options, ke.group)
        if picked is None:
            self._plain_reply(dgram, h, [Notify(NotifyType.NO_PROPOSAL_CHOSEN)], "IKE_SA_INIT response (NO_PROPOSAL_CHOSEN)")
            self._emit(Refused, reason="NO_PROPOSAL_CHOSEN: none of the offered IKE proposals is acceptable",
                       code=Reason.NO_PROPOSAL)
            return
        answer, choice = picked
        if ke.group != choice.group:
            self._plain_reply(dgram, h, [Notify(NotifyType.INVALID_KE_PAYLOAD, choice.group.to_bytes(2, "big"))],
                              "IKE_SA_INIT response (INVALID_KE_PAYLOAD)")
            self._emit(Refused, reason=f"KE in group {ke.group}, but group {choice.group} was chosen: "
                                               "INVALID_KE_PAYLOAD", code=Reason.INVALID_KE)
            return
        sa = Ike2Sa("responder", State2.R_START, h.spi_i, self.rng.randbytes(8), Endpoint(self.address, dgram.dst.port),
                    dgram.src, self.policy, created=self.now)
        sa.floated = dgram.dst.port == Port.NAT_T
        sa.choice, sa.group, sa.ni, sa.nr, sa.init_request = choice, choice.group, nonce.data, \
            self.rng.randbytes(NONCE_LEN), msg.raw
        self._new_dh(sa)
        self._derive(sa, self._shared(sa, ke.data))
        sa.state = advance(sa.state, Msg2.INIT_REQ)
        sa.next_mid_in = 1
        self._natd(sa, msg, dgram, ZERO_SPI)
        payloads = [SA((answer,)), KE(sa.group, sa.ke_public), Nonce(sa.nr)]
        if sa.natd is not None:
            payloads += self._natd_notifies(sa, sa.spi_r, dgram.src)
        message = encode_message(Header(sa.spi_i, sa.spi_r, 0, Exchange.IKE_SA_INIT, HdrFlag.RESPONSE, 0), payloads)
        sa.init_response = message
        sa.last_received = msg.raw
        self._half_open[key] = sa
        self._index(sa)
        self._send_ike(sa, message, "IKE_SA_INIT response", names(payloads), expect_answer=None, answering=sa)
        sa.init_answer = sa.last_answer
