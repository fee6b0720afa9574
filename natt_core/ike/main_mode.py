"""Main Mode with pre-shared keys or certificates, and NAT-T (RFC 2409 §5.1/§5.4, RFC 3947 §3-§4).

MM1/MM2 choose the transform and the NAT-T version (Vendor IDs); MM3/MM4 exchange KE, nonces and
NAT-D hashes and derive SKEYID; MM5/MM6 are encrypted and authenticate with HASH_I/HASH_R. If a
NAT was found the initiator sends MM5 from and to UDP 4500 behind the non-ESP marker, and the
responder answers to the address and port it saw.
"""
from __future__ import annotations

from ..addressing import Datagram, Endpoint
from ..crypto.ike_keys import hash_i, hash_r, phase1_iv, phase1_keys, phase1_keys_sig
from ..crypto.natd import evaluate_natd, packed_ipv4
from ..crypto.primitives import CIPHERS, MODP, dh_private, dh_public, dh_shared
from ..errors import DecodeError, IntegrityError
from ..net.records import builder
from ..reasons import Reason
from ..wire.isakmp import ID, KE, SA, Hash, Header, NatD, Nonce, Notification, VendorID, encode_payloads, encode_plain
from ..wire.numbers import ExchangeType, IdType, IPProto, NotifyType, Port, notify_name
from ..wire.udp_encap import frame_ike
from .events import (AuthenticationFailed, Floated, MessageSent, NatDetected, NegotiationFailed, PacketDropped,
                     PeerRefused, Phase1Established, Refused, VendorIdsSeen)
from .fragmentation import announces_fragmentation
from .nat_t import best_common, version_of_vid, vid_name
from .proposals import choose_phase1, offered_transform, phase1_answer, phase1_offer, read_phase1
from .sa import IkeSa
from .seal import seal_chain, unseal
from .signature_auth import SignatureAuthMixin
from .states import AUTH_COMPLAINTS, AUTH_NOTIFIES, UNREADABLE  # noqa: F401  (re-exported: decided in states)
from .states import (MAIN_MODE, Family, Msg, Role, advance, complaint_explains_give_up, ended_by_notify, notify_ends,
                     phase1_name, plain_notify_noted, repeat_is_evidence, retransmitted, unreadable_is_evidence)

ZERO_COOKIE = bytes(8)
_MM_EXCHANGE = ExchangeType.MAIN_MODE    #: named once (a member read off its Enum class is a slow hook)
NONCE_LEN = 32
_id = builder(ID)     #: an ID payload from fields that are right by construction (as a decoder builds one)
#: what `only_each` looks for in MM3/MM4 and in MM5/MM6 with a pre-shared key
_KE_NONCE, _ID_HASH = (KE, Nonce), (ID, Hash)



def notify_code(notify_type: int) -> Reason:
    """The code of a refusal the peer told us about, from its Notify type (RFC 2408 §3.14.1)."""
    if notify_type == NotifyType.NO_PROPOSAL_CHOSEN:
        return Reason.NO_PROPOSAL
    if notify_type in (NotifyType.AUTHENTICATION_FAILED, NotifyType.INVALID_HASH_INFORMATION):
        return Reason.AUTH_FAILED
    return Reason.PEER_REFUSED


def payload_names(payloads) -> tuple[str, ...]:
    """Short names for events: payload class names, Vendor IDs by what they announce."""
    # the class compared by identity: VendorID has no subclasses (isinstance was a call per payload);
    # a loop, not a comprehension: that would be a frame of its own for every message sent or received
    names = []
    for p in payloads:
        names.append(f"VID {vid_name(p.data)}" if p.__class__ is VendorID else p.__class__.__name__)
    return tuple(names)


def only(chain, cls, what: str):
    found = None
    # the payload classes are leaves (`_Payload._leaf`): a class without subclasses is matched by
    # identity (no isinstance call per payload); any other keeps isinstance
    leaf = cls._leaf
    for p in chain.payloads:
        if p.__class__ is cls if leaf else isinstance(p, cls):
            if found is not None:
                found = None
                break
            found = p
    if found is None:
        count = sum(isinstance(p, cls) for p in chain.payloads)
        raise DecodeError("IKE", 0, f"{what}: expected one {cls.__name__} payload, found {count}")
    return found


def only_each(chain, classes: tuple, what: str) -> tuple:
    """`only` of several (leaf) payload classes in one pass over the chain: the one payload of each,
    in the order asked; the first class without exactly one raises as `only` does."""
    found: dict = {}
    for p in chain.payloads:
        cls = p.__class__
        if cls in classes:
            found[cls] = None if cls in found else p     # None: twice
    for cls in classes:
        if found.get(cls) is None:
            only(chain, cls, what)      # raises, counting them
    return tuple(map(found.__getitem__, classes))


def raw_body(chain, payload) -> bytes:
    """The received bytes of a payload's body (no generic header), as hashes must cover them."""
    return chain.raw[chain.payloads.index(payload)][4:]


class MainModeMixin(SignatureAuthMixin):
    # ------------------------------------------------------------------ initiator
    def connect(self, remote_ip: str, now: float, remote_port: int = Port.IKE):
        """Start Main Mode towards a responder: send MM1 (SA offer and NAT-T Vendor IDs); or
        Aggressive Mode, when the policy says so (aggressive_mode.py)."""
        if self.policy.aggressive:
            return self._connect_aggressive(remote_ip, now, remote_port)
        self._begin(now)
        sa = IkeSa(Role.INITIATOR, MAIN_MODE.begins[Role.INITIATOR], self.rng.randbytes(8), ZERO_COOKIE,
                   Endpoint(self.address, Port.IKE), Endpoint(remote_ip, remote_port), self.policy, created=now)
        sa.state = advance(sa.state, Msg.START)
        offer = phase1_offer(self.policy)
        sa.sai_b = offer.encode_body()
        payloads = [offer] + [VendorID(v) for v in self.policy.vendor_id_data([v.vid for v in self.policy.nat_t_versions])]
        message = encode_plain(sa.icookie, ZERO_COOKIE, ExchangeType.MAIN_MODE, payloads)
        self._initiated[sa.icookie] = sa
        self._index(sa)
        self._send_ike(sa, message, "MM1", payload_names(payloads), expect_answer=True)
        return self._finish()

    def _on_mm2(self, sa: IkeSa, dgram: Datagram, header: Header, chain) -> None:
        self._take_choice(sa, chain, "MM2", phase1_offer(self.policy))
        self._learn_nat_t(sa, chain, ours=self.policy.nat_t_versions)
        self._send_ke(sa, "MM3", to=sa.remote)

    def _take_choice(self, sa: IkeSa, chain, label: str, offer: SA) -> None:
        """The responder's chosen transform: exactly one, and one we offered."""
        answer = only(chain, SA, label)
        if len(answer.proposals) != 1 or len(answer.proposals[0].transforms) != 1:
            raise DecodeError("IKE", 0, f"{label} must carry exactly one proposal with one transform")
        chosen = answer.proposals[0].transforms[0]
        choice = read_phase1(chosen) if offered_transform(chosen, offer.proposals[0].transforms) else None
        if choice is None:
            raise IntegrityError(f"{label} chose a transform we never offered", Reason.NO_PROPOSAL)
        sa.choice = choice

    def _identity_and_proof(self, sa: IkeSa, prove, own_cookie: bytes, other_cookie: bytes) -> list:
        """MM5's or MM6's ID and what proves it: SIG with certificates, else HASH_I or HASH_R (`prove`,
        over the sender's cookie first; RFC 2409 §5, §5.4). Records the ID body sent."""
        id_payload = self._own_id(sa)
        sa.id_sent = id_payload.encode_body()
        if sa.choice.auth != "psk":
            return self._signed_payloads(sa, id_payload)
        return [id_payload, Hash(prove(sa.choice.hash, sa.keyed("skeyid"), sa.gx, sa.gy, own_cookie, other_cookie,
                                       sa.sai_b, sa.id_sent))]

    def _on_mm4(self, sa: IkeSa, dgram: Datagram, header: Header, chain) -> None:
        self._take_ke(sa, chain, "MM4")
        self._check_natd(sa, chain, dgram)
        sa.iv = phase1_iv(sa.choice.hash, sa.gx, sa.gy, CIPHERS[sa.choice.cipher].block)
        if not self._float_if_nat(sa):
            return
        payloads = self._identity_and_proof(sa, hash_i, sa.icookie, sa.rcookie) + self._initial_contact_payload(sa)
        # `seal`, without its named record: the message and the next IV unpacked at once
        message, sa.iv = seal_chain(sa, _MM_EXCHANGE, 0, payloads[0].payload_type, encode_payloads(payloads), sa.iv)
        self._send_ike(sa, message, "MM5", payload_names(payloads), encrypted=True, expect_answer=True,
                       answering=sa)

    def _float_if_nat(self, sa: IkeSa) -> bool:
        """The initiator after the NAT-D verdict: refused by the Windows rule (False), else moved to
        UDP 4500 if a NAT was found (RFC 3947 §4), for the next message and all that follow."""
        if refusal := self._windows_refusal(sa):
            self._emit(Refused, reason=refusal, code=Reason.NATD_MISMATCH_REFUSED_BY_RULE)
            self._fail(sa, refusal, "refused", Reason.NATD_MISMATCH_REFUSED_BY_RULE)
            return False
        if sa.nat_detected:
            sa.local = Endpoint(self.address, Port.NAT_T)
            sa.remote = Endpoint(sa.remote.ip, Port.NAT_T)
            sa.floated = True
            self._emit(Floated, local_port=Port.NAT_T, remote=str(sa.remote))
        return True

    def _open_identity(self, sa: IkeSa, header: Header, body: bytes, label: str):
        """MM5 or MM6 decrypted: (chain, its last cipher block, the ID payload, HASH -- None when
        signatures authenticate), its notifications checked; DecodeError when it does not open."""
        chain, last_block = unseal(sa, header, body, sa.iv)
        if sa.choice.auth != "psk":
            id_payload, digest = only(chain, ID, label), None
        else:
            id_payload, digest = only_each(chain, _ID_HASH, label)
        self._check_main_mode_notifies(sa, chain, label)
        return chain, last_block, id_payload, digest

    def _on_mm6(self, sa: IkeSa, dgram: Datagram, header: Header, body: bytes) -> None:
        try:
            chain, last_block, id_payload, digest = self._open_identity(sa, header, body, "MM6")
        except DecodeError as exc:
            raise IntegrityError(f"MM6 does not decrypt to a valid message under our keys ({exc.reason})",
                                 Reason.DECRYPT_FAILED) from None
        id_body = raw_body(chain, id_payload)
        if digest is None:
            self._check_signed(sa, chain, id_payload, id_body, "MM6")
        elif digest.data != hash_r(sa.choice.hash, sa.keyed("skeyid"), sa.gy, sa.gx, sa.rcookie, sa.icookie, sa.sai_b,
                                   id_body):
            self._auth_failed(sa, "HASH_R does not verify: the responder used another pre-shared key")
            raise IntegrityError("HASH_R mismatch", Reason.AUTH_FAILED)
        sa.id_received = id_body
        sa.iv = sa.last_phase1_block = last_block
        self._established(sa)
        self._main_mode_notifies(sa, chain, dgram)

    # ------------------------------------------------------------------ responder
    def _on_mm1(self, sa: IkeSa, dgram: Datagram, header: Header, chain) -> None:
        offer = only(chain, SA, "MM1")
        sa.sai_b = raw_body(chain, offer)
        picked = choose_phase1(offer, self.policy)
        ours = self.policy.nat_t_versions if self.policy.speaks_nat_t_as(Role.RESPONDER) else ()
        self._learn_nat_t(sa, chain, ours=ours)
        if picked is None:
            self._refuse_no_proposal(sa)
            return
        proposal, transform, sa.choice = picked
        nat_t = [sa.nat_t.vid] if sa.nat_t else []
        payloads = [phase1_answer(proposal, transform)] + [VendorID(v) for v in self.policy.vendor_id_data(
            nat_t, peer_fragments=announces_fragmentation(sa.peer_vids))]
        message = encode_plain(sa.icookie, sa.rcookie, ExchangeType.MAIN_MODE, payloads)
        self._send_ike(sa, message, "MM2", payload_names(payloads), expect_answer=retransmitted(Msg.MM2), answering=sa)

    def _on_mm3(self, sa: IkeSa, dgram: Datagram, header: Header, chain) -> None:
        self._take_ke(sa, chain, "MM3")
        self._check_natd(sa, chain, dgram)
        sa.iv = phase1_iv(sa.choice.hash, sa.gy, sa.gx, CIPHERS[sa.choice.cipher].block)
        self._send_ke(sa, "MM4", to=dgram.src)

    def _on_mm5(self, sa: IkeSa, dgram: Datagram, header: Header, body: bytes) -> None:
        try:
            chain, last_block, id_payload, digest = self._open_identity(sa, header, body, "MM5")
        except DecodeError as exc:
            self._auth_failed(sa, "MM5 does not decrypt to a valid message under our keys: the pre-shared "
                                  "keys differ (or the message was altered in transit)", dgram)
            raise IntegrityError(f"MM5 does not decrypt to a valid message ({exc.reason})",
                                 Reason.DECRYPT_FAILED) from None
        id_body = raw_body(chain, id_payload)
        if digest is None:
            self._check_signed(sa, chain, id_payload, id_body, "MM5", dgram)
        elif digest.data != hash_i(sa.choice.hash, sa.keyed("skeyid"), sa.gy, sa.gx, sa.icookie, sa.rcookie, sa.sai_b,
                                   id_body):
            self._auth_failed(sa, "HASH_I does not verify: the initiator used another pre-shared key", dgram)
            raise IntegrityError("HASH_I mismatch", Reason.AUTH_FAILED)
        sa.id_received = id_body
        sa.iv = last_block
        self._take_authenticated_address(sa, dgram)
        payloads = self._identity_and_proof(sa, hash_r, sa.rcookie, sa.icookie)
        message, sa.iv = seal_chain(sa, _MM_EXCHANGE, 0, payloads[0].payload_type, encode_payloads(payloads), sa.iv)
        sa.last_phase1_block = sa.iv
        self._send_ike(sa, message, "MM6", payload_names(payloads), encrypted=True, expect_answer=False,
                       answering=sa)
        self._established(sa)
        self._main_mode_notifies(sa, chain, dgram)     # INITIAL-CONTACT: dpd.py

    # ------------------------------------------------------------------ shared steps
    def _take_authenticated_address(self, sa: IkeSa, dgram: Datagram) -> None:
        """The responder, once the initiator's HASH verified: float with it if it came on 4500, and
        answer to where the authenticated packet came from (RFC 3947 §3/§7)."""
        if dgram.dst.port == Port.NAT_T and not sa.floated:
            sa.floated = True
            sa.local = Endpoint(self.address, Port.NAT_T)
            self._emit(Floated, local_port=Port.NAT_T, remote=str(dgram.src))
        sa.remote = dgram.src

    def _refuse_no_proposal(self, sa: IkeSa) -> None:
        """None of the offered phase-1 transforms is acceptable: NO-PROPOSAL-CHOSEN, and the SA fails."""
        groups = ", ".join(str(g) for g in self.policy.dh_groups)
        reason = (f"NO-PROPOSAL-CHOSEN: none of the offered phase-1 transforms is acceptable "
                  f"(we support DH groups {groups}, ciphers {', '.join(self.policy.ike_ciphers)}, "
                  f"authentication {self.policy.auth})")
        self._emit(Refused, reason=reason, code=Reason.NO_PROPOSAL)
        self._notify_plain(sa, NotifyType.NO_PROPOSAL_CHOSEN)
        self._fail(sa, reason, "refused", Reason.NO_PROPOSAL)

    def _learn_nat_t(self, sa: IkeSa, chain, ours) -> None:
        vids = []     # a loop, not a comprehension (a frame of its own)
        for p in chain.payloads:
            if p.__class__ is VendorID:     # a leaf class (see `payload_names`)
                vids.append(p.data)
        sa.peer_vids = vids = tuple(vids)
        sa.nat_t = best_common(tuple(ours), tuple(filter(None, map(version_of_vid, vids))))
        self._emit(VendorIdsSeen, vids=tuple(map(vid_name, vids)), nat_t=sa.nat_t._value_ if sa.nat_t else None)

    def _send_ke(self, sa: IkeSa, label: str, to: Endpoint) -> bytes:
        group = MODP[sa.choice.group]
        if not sa.dh_private:
            sa.dh_private = dh_private(group, self.rng)
            sa.gx = dh_public(group, sa.dh_private)
        nonce = self.rng.randbytes(NONCE_LEN)
        if sa.role is Role.INITIATOR:
            sa.ni_b = nonce
        else:
            sa.nr_b = nonce
            self._derive_phase1(sa)
        payloads = [KE(sa.gx), Nonce(nonce)]
        if sa.choice.auth != "psk":
            payloads += self._cert_requests()
        payloads += self._natd_payloads(sa, to)
        message = encode_plain(sa.icookie, sa.rcookie, ExchangeType.MAIN_MODE, payloads)
        return self._send_ike(sa, message, label, payload_names(payloads), expect_answer=True, answering=sa)

    def _natd_payloads(self, sa: IkeSa, to: Endpoint) -> list:
        """RFC 3947 §3.2: the hash of where this packet goes, then of where it comes from (none
        without NAT-T)."""
        if not sa.nat_t:
            return []
        draft = sa.nat_t.is_draft
        return [NatD(sa.natd_hash(to.ip, to.port), draft), NatD(sa.natd_hash(self.address, sa.local.port), draft)]

    def _take_ke(self, sa: IkeSa, chain, label: str) -> None:
        group = MODP[sa.choice.group]
        ke, nonce = only_each(chain, _KE_NONCE, label)
        if len(ke.data) != group.length:
            raise DecodeError("IKE", 0, f"{label}: KE is {len(ke.data)} bytes, group {group.number} needs {group.length}")
        if not 8 <= len(nonce.data) <= 256:
            raise DecodeError("IKE", 0, f"{label}: nonce of {len(nonce.data)} bytes (RFC 2409 wants 8..256)")
        if sa.role is Role.RESPONDER:
            sa.dh_private = dh_private(group, self.rng)
            sa.gx = dh_public(group, sa.dh_private)
        sa.gy = ke.data
        sa.gxy = dh_shared(group, sa.dh_private, sa.gy)
        self._note_cert_requests(sa, chain)
        if sa.role is Role.INITIATOR:
            sa.nr_b = nonce.data
            self._derive_phase1(sa)
        else:
            sa.ni_b = nonce.data

    def _derive_phase1(self, sa: IkeSa) -> None:
        if sa.gxy:
            c = sa.choice
            if c.auth != "psk":   # SKEYID = prf(Ni_b | Nr_b, g^xy) (RFC 2409 §5)
                sa.keys = phase1_keys_sig(c.hash, sa.ni_b, sa.nr_b, sa.gxy, sa.icookie, sa.rcookie,
                                          CIPHERS[c.cipher].key_len)
                return
            sa.keys = phase1_keys(c.hash, self.policy.psk.encode(), sa.ni_b, sa.nr_b, sa.gxy,
                                  sa.icookie, sa.rcookie, CIPHERS[c.cipher].key_len)

    def _check_natd(self, sa: IkeSa, chain, dgram: Datagram, local_port: int | None = None) -> None:
        """Judge the peer's NAT-D hashes against where the packet came from and our own address
        (`local_port`: the port it arrived on, when that is not yet the SA's, as AM3 on 4500)."""
        hashes = []     # a loop, not a comprehension (a frame of its own)
        for p in chain.payloads:
            if p.__class__ is NatD:     # a leaf class (see `payload_names`)
                hashes.append(p.hash)
        if not sa.nat_t or not hashes:
            return
        port = sa.local.port if local_port is None else local_port
        v = evaluate_natd(sa.choice.hash, sa.icookie, sa.rcookie, hashes,
                          local=(self.address, port), remote_seen=(dgram.src.ip, dgram.src.port),
                          hash_of=sa.natd_hash)
        sa.natd = v
        self._emit(NatDetected, self_behind_nat=v.self_behind_nat, peer_behind_nat=v.peer_behind_nat,
                   local=f"{self.address}:{port}", peer_seen=str(dgram.src),
                   expected_self=v.expected_self.hex(), received_dest=v.received_dest.hex(),
                   expected_peer=v.expected_peer.hex(), received_sources=tuple(map(bytes.hex, v.received_sources)))

    def _windows_refusal(self, sa: IkeSa) -> str | None:
        """AssumeUDPEncapsulationContextOnSendRule, applied from the NAT-D verdict after MM4."""
        rule = self.policy.assume_udp_rule
        if rule is None or not sa.nat_detected:
            return None
        server, client = sa.natd.peer_behind_nat, sa.natd.self_behind_nat
        if rule == 0 and server:
            return ("the server is behind a NAT and AssumeUDPEncapsulationContextOnSendRule is 0 "
                    "(the default): Windows will not set up NAT-T SAs to it — error 809")
        if rule == 1 and server and client:
            return ("both the server and this client are behind NATs and AssumeUDPEncapsulationContextOnSendRule "
                    "is 1 (server behind NAT only): Windows refuses — error 809; it needs 2")
        return None

    def _own_id(self, sa: IkeSa) -> ID:
        if self.policy.uses_certificates or self.policy.id_type != "auto":
            return self._id_for(sa)
        proto, port = (0, 0) if sa.nat_t else (17, Port.IKE)
        if self.policy.identity:
            return ID(IdType.FQDN, proto, port, self.policy.identity.encode())
        # our own (canonical) address, 4 bytes by construction: built without a check of every field
        return _id(IdType.IPV4_ADDR, proto, port, packed_ipv4(self.address))

    def _auth_failed(self, sa: IkeSa, reason: str, dgram: Datagram | None = None,
                     code: Reason = Reason.AUTH_FAILED) -> None:
        sa.reason, sa.failure, sa.code = f"authentication failed: {reason}", "authentication", code
        self._emit(AuthenticationFailed, reason=reason, code=code)
        if sa.role is Role.RESPONDER:
            self._notify_plain(sa, NotifyType.AUTHENTICATION_FAILED, reply_to=dgram)

    def _notify_plain(self, sa: IkeSa, kind: NotifyType, reply_to: Datagram | None = None) -> None:
        """An unencrypted Informational with one Notification (before phase-1 keys are trusted).

        With `reply_to` it goes back where that message came from, on the port it arrived on: a
        rejected MM5 on 4500 is answered on 4500, where the floated initiator listens, without
        moving the SA's own ports (the message did not authenticate)."""
        payloads = [Notification(kind, protocol_id=1, spi=sa.icookie + sa.rcookie)]
        message = encode_plain(sa.icookie, sa.rcookie, ExchangeType.INFORMATIONAL, payloads)
        label = f"INFO {kind.name.replace('_', '-')}"
        if reply_to is None:
            self._send_ike(sa, message, label, payload_names(payloads), expect_answer=None)
            return
        port = reply_to.dst.port
        self._send(reply_to.src, port, IPProto.UDP, frame_ike(message) if port == Port.NAT_T else message, label)
        self._emit(MessageSent, label=label, payloads=payload_names(payloads), dst=str(reply_to.src), encrypted=False)

    def _on_plain_notify(self, sa: IkeSa, chain) -> None:
        """An unencrypted Informational: anyone who saw the cookies could have sent it, so it is
        believed only where nothing better can be known (NO-PROPOSAL-CHOSEN before any key exists);
        an authentication complaint is kept and reported if our retransmissions give up."""
        for n in chain.payloads:
            if not isinstance(n, Notification) or not plain_notify_noted(n.notify_type):
                what = f"notification {notify_name(n.notify_type)}" if isinstance(n, Notification) else type(n).__name__
                self._emit(PacketDropped, reason=f"unauthenticated {what} ignored: it is not encrypted under "
                                                 f"the ISAKMP SA, so anyone who saw the cookies could have sent it",
                           code=Reason.UNAUTHENTICATED)
                continue
            name = notify_name(n.notify_type)
            sa.peer_notify = name
            self._emit(PeerRefused, reason=f"{name} (unauthenticated notification)", code=notify_code(n.notify_type))
            if notify_ends(sa.state, n.notify_type, authenticated=False):
                reason, code = ended_by_notify(n.notify_type)
                what = f"phase 1 ({phase1_name(sa.state)})"
                self._fail(sa, reason, "refused", code)
                self._emit(NegotiationFailed, what=what, reason=sa.reason, code=sa.code)

    def _note_unreadable_answer(self, sa: IkeSa, family: Family | None) -> None:
        """An encrypted Informational answering our MM5 that our keys cannot open is how a responder
        with another pre-shared key complains (its keys derive from its PSK, RFC 2409 §5): evidence,
        not proof, kept for when the retransmissions give up."""
        if unreadable_is_evidence(sa.state, family):
            sa.peer_notify = sa.peer_notify or UNREADABLE

    def _note_repeat(self, sa: IkeSa, message: bytes) -> None:
        """A byte-exact repeat of the MM4 we accepted, while we wait for MM6: kept as evidence."""
        if message == sa.last_received and repeat_is_evidence(sa.role, sa.state):
            sa.mm4_repeats += 1

    def _on_gave_up(self, sa: IkeSa, label: str) -> None:
        if complaint_explains_give_up(label, sa.peer_notify):
            cause = ("it rejected our certificate or signature" if sa.choice and sa.choice.auth != "psk"
                     else "the pre-shared keys probably differ")
            reason = f"the responder answered MM5 with {sa.peer_notify}: {cause}"
            self._emit(AuthenticationFailed, reason=reason, code=Reason.AUTH_FAILED)
            sa.reason, sa.failure, sa.code = f"authentication failed: {reason}", "authentication", Reason.AUTH_FAILED
        elif label == Msg.MM5.value and sa.mm4_repeats and sa.choice and sa.choice.auth != "psk":
            # with signatures MM5's keys come from the nonces and g^xy alone (RFC 2409 §5.1): a responder
            # that keeps re-sending MM4 never got our MM5 — lost on the way (a NAT dropping its fragments)
            sa.reason = (f"{sa.reason}; the responder re-sent MM4 {sa.mm4_repeats} time(s): our MM5 never reached "
                         "it (with certificates its keys need no shared secret, so it was lost on the way)")
        elif label == Msg.MM5.value and sa.mm4_repeats:
            # still a give-up (lost MM5s make a responder re-send MM4 too, and the lab's report names
            # such losses), but the likely cause is named with its own code
            reason = (f"no MM6, but the responder re-sent MM4 {sa.mm4_repeats} time(s): it never accepted our MM5, "
                      "which it cannot decrypt when its pre-shared key differs (RFC 2409 §5) — the pre-shared "
                      "keys probably differ")
            self._emit(AuthenticationFailed, reason=reason, code=Reason.PSK_MISMATCH_LIKELY)
            sa.reason, sa.code = f"{sa.reason}; {reason}", Reason.PSK_MISMATCH_LIKELY

    def _established(self, sa: IkeSa) -> None:
        sa.reason = sa.code = None
        sa.authenticated = True
        self._settle(sa)
        c = sa.choice
        self._emit(Phase1Established, cookies=sa.cookies, remote=str(sa.remote),
                   nat_t=sa.nat_t._value_ if sa.nat_t else None, dh_group=c.group, cipher=c.cipher, hash=c.hash)
        self._dpd_start(sa)
