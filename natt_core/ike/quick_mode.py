"""Quick Mode: the IPsec SA pair, with UDP encapsulation and NAT-OA (RFC 2409 §5.5, RFC 3947 §5).

QM1 carries HASH(1), the ESP/AH proposal, Ni, the client IDs and — when a UDP-Encapsulated-
Transport mode is proposed — NAT-OAi/NAT-OAr; QM2 answers with HASH(2); QM3 is HASH(3). Each
direction's KEYMAT uses the SPI its receiver chose. The NAT-OA addresses are kept for the RFC
3948 §3.1.2 checksum fix-up done by the data plane.
"""
from __future__ import annotations

import ipaddress
import socket

from ..addressing import Datagram
from ..crypto.natd import packed_ipv4
from ..crypto.ike_keys import exchange_iv, keymat, qm_hash1, qm_hash2, qm_hash3, split_keymat
from ..crypto.primitives import CIPHERS, MODP, dh_private, dh_public, dh_shared
from ..errors import DecodeError, IntegrityError
from ..ipsec.ah_sa import AhSa
from ..ipsec.esp_sa import INTEGRITY, EspSa
from ..net.records import builder
from ..reasons import Reason
from ..wire.isakmp import ID, KE, SA, Hash, Header, NatOA, Nonce, encode_payloads
from ..wire.numbers import EncapsulationMode, ExchangeType, IdType, Port, ProtocolId
from .events import Phase2Established, Refused
from .main_mode import NONCE_LEN, only, only_each, payload_names
from .proposals import choose_phase2, mode_name, offered_transform, phase2_answer, phase2_offer, read_phase2
from .sa import ChildSa, IkeSa, QuickExchange
from .seal import seal_after_hash, unseal
from .states import QUICK_MODE, Msg, Role, State, advance

UDP_TRANSPORT = (EncapsulationMode.UDP_TRANSPORT, EncapsulationMode.UDP_TRANSPORT_DRAFT)
_id = builder(ID)     #: an ID payload from fields that are right by construction (as a decoder builds one)
_QM_EXCHANGE = ExchangeType.QUICK_MODE     #: named once (a member read off its Enum class is a slow hook)
_SA_NONCE = (SA, Nonce)     #: what `only_each` looks for in QM1 once HASH(1) verified


def _addr(payload) -> str:
    packed = payload.address if isinstance(payload, NatOA) else payload.data[:4]
    if len(packed) != 4:     # what ipaddress would refuse, refused as it would
        return str(ipaddress.IPv4Address(packed))
    return socket.inet_ntoa(packed)


class QuickModeMixin:
    def _lifetime_reply(self, qe: QuickExchange, transform) -> list:
        """Payloads that tell the initiator our lifetime (ike/rekey.py; none here)."""
        return []

    def _adopt_lifetime(self, qe: QuickExchange, transform, chain) -> None:
        """Take the responder's lifetime from QM2 (ike/rekey.py; nothing here)."""

    def _encapsulation(self, sa: IkeSa) -> int:
        """What this peer proposes/expects: UDP-encapsulated only when NAT-D found a NAT (ESP only)."""
        if sa.nat_detected and self.policy.protocol == "esp":
            return sa.nat_t.encapsulation(self.policy.tunnel)
        return EncapsulationMode.TUNNEL if self.policy.tunnel else EncapsulationMode.TRANSPORT

    def _qm_iv(self, sa: IkeSa, message_id: int) -> bytes:
        return exchange_iv(sa.choice.hash, sa.last_phase1_block, message_id, CIPHERS[sa.choice.cipher].block)

    def _nat_oa(self, sa: IkeSa, original_i: str, original_r: str) -> list:
        draft = sa.nat_t.is_draft
        return [NatOA(IdType.IPV4_ADDR, packed_ipv4(original_i), draft),
                NatOA(IdType.IPV4_ADDR, packed_ipv4(original_r), draft)]

    # ------------------------------------------------------------------ initiator
    def _start_quick_mode(self, sa: IkeSa) -> None:
        mid = self.rng.randrange(1, 1 << 32)
        qe = QuickExchange(mid, QUICK_MODE.begins[Role.INITIATOR], self._qm_iv(sa, mid))
        qe.state = advance(qe.state, Msg.START)
        sa.quick[mid] = qe
        encap = self._encapsulation(sa)
        qe.spi_in = self.random_spi()
        qe.proposal = phase2_offer(self.policy, qe.spi_in.to_bytes(4, "big"), encap)
        qe.ni_b = self.rng.randbytes(NONCE_LEN)
        after = [qe.proposal, Nonce(qe.ni_b)]
        if self.policy.pfs_group:
            group = MODP[self.policy.pfs_group]
            qe.pfs_private = dh_private(group, self.rng)
            qe.pfs_public = dh_public(group, qe.pfs_private)
            after.append(KE(qe.pfs_public))
        inner = self.policy.inner_address or self.address
        # IDs of addresses we hold, 4 bytes each by construction: built without a check of every field
        qe.ids = (_id(IdType.IPV4_ADDR, 17, Port.L2TP, packed_ipv4(inner)),
                  _id(IdType.IPV4_ADDR, 17, Port.L2TP, packed_ipv4(sa.remote.ip)))
        after += list(qe.ids)
        if encap in UDP_TRANSPORT and self.policy.sends_nat_oa(bool(sa.natd and sa.natd.self_behind_nat)):
            after += self._nat_oa(sa, self.address, sa.remote.ip)
        tail = encode_payloads(after)
        digest = qm_hash1(sa.choice.hash, sa.keyed("skeyid_a"), mid, tail)
        # HASH(1) + the payloads it covers, sealed with the exchange's IV, which moves on
        message, qe.iv = seal_after_hash(sa, _QM_EXCHANGE, mid, digest, after, tail, qe.iv)
        self._send_ike(sa, message, "QM1", ("Hash", *payload_names(after)), encrypted=True, expect_answer=True)

    def _on_qm2(self, sa: IkeSa, qe: QuickExchange, dgram: Datagram, header: Header, body: bytes) -> None:
        chain, last_block, after = self._open_qm(sa, qe, header, body, "QM2")
        skeyid_a = sa.keyed("skeyid_a")       # HASH(2) checked and HASH(3) made with it
        expected = qm_hash2(sa.choice.hash, skeyid_a, qe.message_id, qe.ni_b, after)
        if only(chain, Hash, "QM2").data != expected:
            raise IntegrityError("HASH(2) does not verify", Reason.AUTH_FAILED)
        answer = only(chain, SA, "QM2")
        if len(answer.proposals) != 1 or len(answer.proposals[0].transforms) != 1:
            raise DecodeError("IKE", 0, "QM2 must carry exactly one proposal with one transform")
        chosen = answer.proposals[0].transforms[0]
        if not offered_transform(chosen, qe.proposal.proposals[0].transforms):
            raise IntegrityError("QM2 chose a transform we never offered", Reason.NO_PROPOSAL)
        qe.chosen = read_phase2(answer.proposals[0].protocol_id, chosen)
        self._adopt_lifetime(qe, chosen, chain)
        qe.spi_out = int.from_bytes(answer.proposals[0].spi, "big")
        qe.nr_b = only(chain, Nonce, "QM2").data
        self._take_pfs(qe, chain)
        oas = []     # a loop, not a comprehension (a frame of its own)
        for p in chain.payloads:
            if isinstance(p, NatOA):
                oas.append(p)
        if len(oas) >= 2:
            qe.nat_oa_r = (_addr(oas[0]), _addr(oas[1]))
        qe.iv = last_block
        digest = qm_hash3(sa.choice.hash, skeyid_a, qe.message_id, qe.ni_b, qe.nr_b)
        message, qe.iv = seal_after_hash(sa, _QM_EXCHANGE, qe.message_id, digest, [], b"", qe.iv)
        self._authenticated_from(sa, dgram, "Quick Mode")      # HASH verified: follow the peer (dpd.py)
        self._send_ike(sa, message, "QM3", ("HASH",), encrypted=True, expect_answer=False, answering=qe)
        self._install_child(sa, qe)

    # ------------------------------------------------------------------ responder
    def _on_qm1(self, sa: IkeSa, qe: QuickExchange, dgram: Datagram, header: Header, body: bytes) -> None:
        chain, last_block, after = self._open_qm(sa, qe, header, body, "QM1")
        skeyid_a = sa.keyed("skeyid_a")       # HASH(1) checked and HASH(2) made with it
        if only(chain, Hash, "QM1").data != qm_hash1(sa.choice.hash, skeyid_a, qe.message_id, after):
            raise IntegrityError("HASH(1) does not verify", Reason.AUTH_FAILED)
        offer, nonce = only_each(chain, _SA_NONCE, "QM1")
        qe.ni_b = nonce.data
        ids, oas = [], []     # both in one pass (two comprehensions were a frame each)
        for p in chain.payloads:
            if isinstance(p, ID):
                ids.append(p)
            elif isinstance(p, NatOA):
                oas.append(p)
        if len(ids) not in (0, 2):
            raise DecodeError("IKE", 0, f"QM1 carries {len(ids)} ID payloads; 0 or 2 expected")
        qe.ids = tuple(ids)
        if len(oas) >= 2:
            qe.nat_oa_i = (_addr(oas[0]), _addr(oas[1]))
        qe.iv = last_block
        self._authenticated_from(sa, dgram, "Quick Mode")      # HASH verified: follow the peer (dpd.py)
        expected = self._encapsulation(sa)
        picked = choose_phase2(offer, self.policy, expected)
        if picked is None:
            reason = (f"NO-PROPOSAL-CHOSEN in Quick Mode: we need {self.policy.protocol.upper()} "
                      f"{mode_name(expected)} (encapsulation {expected}) with {', '.join(self.policy.esp_ciphers)}")
            self._emit(Refused, reason=reason, code=Reason.NO_PROPOSAL, phase=2)
            qe.state = State.FAILED
            sa.reason, sa.code = reason, Reason.NO_PROPOSAL
            self._send_info_notify(sa, "NO_PROPOSAL_CHOSEN")
            return
        proposal, transform, qe.chosen = picked
        qe.spi_out = int.from_bytes(proposal.spi, "big")
        qe.spi_in = self.random_spi()
        qe.nr_b = self.rng.randbytes(NONCE_LEN)
        reply = [phase2_answer(proposal, transform, qe.spi_in.to_bytes(4, "big")), Nonce(qe.nr_b)]
        if qe.chosen.pfs_group:
            group = MODP[qe.chosen.pfs_group]
            qe.pfs_private = dh_private(group, self.rng)
            qe.pfs_public = dh_public(group, qe.pfs_private)
            self._take_pfs(qe, chain)
            reply.append(KE(qe.pfs_public))
        reply += list(qe.ids)
        if qe.chosen.encapsulation in UDP_TRANSPORT and self.policy.sends_nat_oa(
                bool(sa.natd and sa.natd.self_behind_nat)):
            # our NAT-OAi names the initiator's public IP as its phase-1 exchange began (MM1's
            # source), never the source of this packet or of MM5, which no HASH covers: a copy of
            # either could arrive first from anywhere and would be baked into the IPsec SAs
            reply += self._nat_oa(sa, (sa.origin or sa.remote).ip, self.address)
        reply += self._lifetime_reply(qe, transform)      # RESPONDER-LIFETIME when ours is shorter
        tail = encode_payloads(reply)
        digest = qm_hash2(sa.choice.hash, skeyid_a, qe.message_id, qe.ni_b, tail)
        message, qe.iv = seal_after_hash(sa, _QM_EXCHANGE, qe.message_id, digest, reply, tail, qe.iv)
        self._send_ike(sa, message, "QM2", ("Hash", *payload_names(reply)), encrypted=True, answering=qe,
                                        expect_answer=True)

    def _on_qm3(self, sa: IkeSa, qe: QuickExchange, dgram: Datagram, header: Header, body: bytes) -> None:
        chain, last_block, _ = self._open_qm(sa, qe, header, body, "QM3")
        expected = qm_hash3(sa.choice.hash, sa.keyed("skeyid_a"), qe.message_id, qe.ni_b, qe.nr_b)
        if only(chain, Hash, "QM3").data != expected:
            raise IntegrityError("HASH(3) does not verify", Reason.AUTH_FAILED)
        qe.iv = last_block
        sa.pending = None
        self._authenticated_from(sa, dgram, "Quick Mode")      # follow the peer before the child takes its address
        self._install_child(sa, qe)

    # ------------------------------------------------------------------ shared
    def _open_qm(self, sa: IkeSa, qe: QuickExchange, header: Header, body: bytes, label: str):
        """(the chain, the next IV, the bytes after HASH that the HASH covers) of a Quick Mode message."""
        try:
            chain, last_block = unseal(sa, header, body, qe.iv)
        except DecodeError as exc:
            raise IntegrityError(f"{label} does not decrypt to a valid message ({exc.reason})",
                                 Reason.DECRYPT_FAILED) from None
        if not chain.payloads or not isinstance(chain.payloads[0], Hash):
            raise DecodeError("IKE", 0, f"{label} must start with a HASH payload")
        return chain, last_block, b"".join(chain.raw[1:])

    def _take_pfs(self, qe: QuickExchange, chain) -> None:
        group_no = self.policy.pfs_group if qe.chosen is None else qe.chosen.pfs_group
        if not group_no:     # no PFS: the KE payloads are not looked for
            return
        kes = [p for p in chain.payloads if isinstance(p, KE)]
        if len(kes) != 1:
            raise DecodeError("IKE", 0, "PFS was negotiated but the KE payload is missing")
        qe.pfs_shared = dh_shared(MODP[group_no], qe.pfs_private, kes[0].data)

    def _install_child(self, sa: IkeSa, qe: QuickExchange) -> None:
        c = qe.chosen
        integ_len = INTEGRITY[c.integrity][1]
        enc_len = CIPHERS[c.cipher].key_len if c.cipher else 0
        proto = ProtocolId.ESP if c.protocol == "esp" else ProtocolId.AH
        h, d, length = sa.choice.hash, sa.keyed("skeyid_d"), enc_len + integ_len
        # each direction's KEYMAT under the SPI its receiver chose
        km_in = keymat(h, d, proto, qe.spi_in.to_bytes(4, "big"), qe.ni_b, qe.nr_b, length, qe.pfs_shared)
        km_out = keymat(h, d, proto, qe.spi_out.to_bytes(4, "big"), qe.ni_b, qe.nr_b, length, qe.pfs_shared)
        if c.protocol == "esp":
            (enc_in, auth_in), (enc_out, auth_out) = (split_keymat(km_in, enc_len, integ_len),
                                                      split_keymat(km_out, enc_len, integ_len))
            inbound = EspSa(qe.spi_in, c.cipher, enc_in, c.integrity, auth_in)
            outbound = EspSa(qe.spi_out, c.cipher, enc_out, c.integrity, auth_out)
        else:
            inbound = AhSa(qe.spi_in, c.integrity, km_in[:integ_len])
            outbound = AhSa(qe.spi_out, c.integrity, km_out[:integ_len])
        initiator = sa.role is Role.INITIATOR
        if initiator:  # traffic from the responder was checksummed over (its OAr, its OAi)
            original = (qe.nat_oa_r[1], qe.nat_oa_r[0]) if qe.nat_oa_r else None
        else:
            original = qe.nat_oa_i
        local_inner = self.policy.inner_address or self.address
        if initiator or not self.policy.tunnel:
            remote_inner = sa.remote.ip
        else:
            remote_inner = _addr(qe.ids[0]) if qe.ids else sa.remote.ip
        oa = [f"OAi {qe.nat_oa_i[0]}", f"OAr {qe.nat_oa_i[1]}"] if qe.nat_oa_i else []
        oa += [f"OAi' {qe.nat_oa_r[0]}", f"OAr' {qe.nat_oa_r[1]}"] if qe.nat_oa_r else []
        child = ChildSa(sa, qe.message_id, c.protocol, mode_name(c.encapsulation), c.encapsulation,
                        qe.spi_in, qe.spi_out, inbound, outbound, local_inner, remote_inner, original, tuple(oa),
                        km_in, km_out, qe.pfs_shared)
        qe.child = child
        sa.children.append(child)
        self.children[qe.spi_in] = child
        self._emit(Phase2Established, spi_in=f"{qe.spi_in:08x}", spi_out=f"{qe.spi_out:08x}", protocol=c.protocol,
                   mode=child.mode, encapsulation=c.encapsulation, remote=str(sa.remote), nat_oa=tuple(oa))
