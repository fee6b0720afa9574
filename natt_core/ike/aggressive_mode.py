"""Aggressive Mode with pre-shared keys and NAT-T (RFC 2409 §5.4, RFC 3947 §4).

Three messages where Main Mode needs six, at a price:

    AM1  HDR, SA, KE, Ni, IDii, VID...                         ->
    AM2                  <-  HDR, SA, KE, Nr, IDir, VID..., NAT-D, NAT-D, HASH_R
    AM3  HDR*, NAT-D, NAT-D, HASH_I                            ->   (UDP 4500 if a NAT was found)

AM1 must carry its KE before anything is chosen, so the initiator offers one DH group (its first).
The identities travel in the clear, and AM2 hands anyone who sees it the nonces, KE values, cookies,
SAi_b and IDir_b that HASH_R covers: with a pre-shared key, a guess of the key can be checked
offline (`natt_core.analysis.psk_crack`). The NAT-D payloads go in AM2 and AM3 (RFC 3947 §4); when
AM2's NAT-D shows a NAT the initiator floats to UDP 4500 for AM3 and everything after, behind the
non-ESP marker. AM3 is encrypted with the phase-1 IV H(g^xi | g^xr) (RFC 2409 Appendix B), as
RFC 3947 §4 draws it (HDR*) and strongSwan requires; its last cipher block seeds Quick Mode's IVs.

Who may send what when is `states.AGGRESSIVE_MODE`; the key schedule, hashes, NAT-D and float
steps are Main Mode's (main_mode.py), shared rather than copied.
"""
from __future__ import annotations

from dataclasses import replace

from ..addressing import Datagram, Endpoint
from ..crypto.ike_keys import hash_i, hash_r, phase1_iv
from ..crypto.primitives import CIPHERS, MODP, dh_private, dh_public
from ..errors import DecodeError, IntegrityError
from ..reasons import Reason
from ..wire.isakmp import ID, KE, SA, Hash, Header, Nonce, VendorID, decode_payloads, encode_plain
from ..wire.numbers import ExchangeType, NotifyType, Port
from .events import MessageReceived, Refused
from .main_mode import NONCE_LEN, ZERO_COOKIE, only, payload_names, raw_body
from .proposals import choose_phase1, phase1_answer, phase1_offer
from .sa import IkeSa
from .seal import seal, unseal
from .states import AGGRESSIVE_MODE, Msg, Role, advance, retransmitted

#: what a responder not configured for Aggressive Mode answers AM1 with (RFC 2408 §3.14.1)
REFUSAL_NOTIFY = NotifyType.INVALID_EXCHANGE_TYPE


class AggressiveModeMixin:
    # ------------------------------------------------------------------ initiator
    def _aggressive_offer(self) -> SA:
        """AM1's SA payload: the policy's transforms for its first DH group only, since AM1's KE is
        computed before the responder chooses (RFC 2409 §5.4; strongSwan offers one group too)."""
        return phase1_offer(replace(self.policy, dh_groups=self.policy.dh_groups[:1]))

    def _connect_aggressive(self, remote_ip: str, now: float, remote_port: int = Port.IKE):
        """AM1: SA, KE, Ni and our identity in the clear, with the Vendor IDs (RFC 2409 §5.4)."""
        self._begin(now)
        sa = IkeSa(Role.INITIATOR, AGGRESSIVE_MODE.begins[Role.INITIATOR], self.rng.randbytes(8), ZERO_COOKIE,
                   Endpoint(self.address, Port.IKE), Endpoint(remote_ip, remote_port), self.policy, created=now)
        sa.state = advance(sa.state, Msg.START)
        sa.exchange = AGGRESSIVE_MODE.name
        offer = self._aggressive_offer()
        sa.sai_b = offer.encode_body()
        group = MODP[self.policy.dh_groups[0]]
        sa.dh_private = dh_private(group, self.rng)
        sa.gx = dh_public(group, sa.dh_private)
        sa.ni_b = self.rng.randbytes(NONCE_LEN)
        id_payload = self._own_id(sa)
        sa.id_sent = id_payload.encode_body()
        vids = [VendorID(v) for v in self.policy.vendor_id_data([v.vid for v in self.policy.nat_t_versions])]
        payloads = [offer, KE(sa.gx), Nonce(sa.ni_b), id_payload] + vids
        message = encode_plain(sa.icookie, ZERO_COOKIE, ExchangeType.AGGRESSIVE, payloads)
        self._initiated[sa.icookie] = sa
        self._index(sa)
        self._send_ike(sa, message, "AM1", payload_names(payloads), expect_answer=True)
        return self._finish()

    def _on_am2(self, sa: IkeSa, dgram: Datagram, header: Header, chain) -> None:
        """Check the choice, derive SKEYID, verify HASH_R (a PSK mismatch shows here), judge NAT-D,
        float if a NAT was found, and answer with the encrypted AM3."""
        self._take_choice(sa, chain, "AM2", self._aggressive_offer())
        self._learn_nat_t(sa, chain, ours=self.policy.nat_t_versions)
        self._take_ke(sa, chain, "AM2")
        id_payload, digest = only(chain, ID, "AM2"), only(chain, Hash, "AM2")
        idir_b = raw_body(chain, id_payload)
        c = sa.choice
        if digest.data != hash_r(c.hash, sa.keyed("skeyid"), sa.gy, sa.gx, sa.rcookie, sa.icookie, sa.sai_b, idir_b):
            # an AM2 is plain, so there is nothing to wait for: strongSwan's initiator tells the
            # responder AUTHENTICATION-FAILED and gives up (aggressive_mode.c, process_i)
            self._auth_failed(sa, "HASH_R in AM2 does not verify: the responder used another pre-shared key")
            self._notify_plain(sa, NotifyType.AUTHENTICATION_FAILED)
            self._fail(sa, sa.reason, "authentication", Reason.AUTH_FAILED)
            raise IntegrityError("HASH_R mismatch", Reason.AUTH_FAILED)
        sa.id_received = idir_b
        self._check_natd(sa, chain, dgram)
        sa.iv = phase1_iv(c.hash, sa.gx, sa.gy, CIPHERS[c.cipher].block)
        if not self._float_if_nat(sa):
            return
        digest = hash_i(c.hash, sa.keyed("skeyid"), sa.gx, sa.gy, sa.icookie, sa.rcookie, sa.sai_b, sa.id_sent)
        payloads = self._natd_payloads(sa, sa.remote) + [Hash(digest)]
        sealed = seal(sa, ExchangeType.AGGRESSIVE, 0, payloads, sa.iv)
        sa.iv = sa.last_phase1_block = sealed.last_block
        self._send_ike(sa, sealed.message, "AM3", payload_names(payloads), encrypted=True, expect_answer=False,
                       answering=sa)
        self._established(sa)

    # ------------------------------------------------------------------ responder
    def _on_am1(self, sa: IkeSa, dgram: Datagram, header: Header, chain) -> None:
        """Refuse unless configured for Aggressive Mode; else choose, compute g^xy and SKEYID at
        once, and answer with AM2 (HASH_R, our identity, NAT-D of both ends)."""
        sa.exchange = AGGRESSIVE_MODE.name
        offer = only(chain, SA, "AM1")
        sa.sai_b = raw_body(chain, offer)
        ours = self.policy.nat_t_versions if self.policy.speaks_nat_t_as(Role.RESPONDER) else ()
        self._learn_nat_t(sa, chain, ours=ours)
        if not self.policy.aggressive:
            reason = ("Aggressive Mode refused: this responder answers Main Mode only (server.mode=main), "
                      "since Aggressive Mode sends the identities and HASH_R in the clear")
            self._emit(Refused, reason=reason, code=Reason.AGGRESSIVE_MODE_REFUSED)
            self._notify_plain(sa, REFUSAL_NOTIFY)
            self._fail(sa, reason, "refused", Reason.AGGRESSIVE_MODE_REFUSED)
            return
        # AM1's KE is already made: only a transform of its group can be chosen (RFC 2409 §5.4)
        ke_len = len(only(chain, KE, "AM1").data)
        groups = tuple(g for g in self.policy.dh_groups if MODP[g].length == ke_len)
        picked = choose_phase1(offer, replace(self.policy, dh_groups=groups)) if groups else None
        if picked is None:
            self._refuse_no_proposal(sa)
            return
        proposal, transform, sa.choice = picked
        self._take_ke(sa, chain, "AM1")
        sa.id_received = raw_body(chain, only(chain, ID, "AM1"))
        sa.nr_b = self.rng.randbytes(NONCE_LEN)
        self._derive_phase1(sa)
        own = self._own_id(sa)
        sa.id_sent = own.encode_body()
        c = sa.choice
        digest = hash_r(c.hash, sa.keyed("skeyid"), sa.gx, sa.gy, sa.rcookie, sa.icookie, sa.sai_b, sa.id_sent)
        nat_t = [sa.nat_t.vid] if sa.nat_t else []
        payloads = ([phase1_answer(proposal, transform), KE(sa.gx), Nonce(sa.nr_b), own]
                    + [VendorID(v) for v in self.policy.vendor_id_data(nat_t)]
                    + self._natd_payloads(sa, dgram.src) + [Hash(digest)])
        sa.iv = phase1_iv(c.hash, sa.gy, sa.gx, CIPHERS[c.cipher].block)
        message = encode_plain(sa.icookie, sa.rcookie, ExchangeType.AGGRESSIVE, payloads)
        self._send_ike(sa, message, "AM2", payload_names(payloads), expect_answer=retransmitted(Msg.AM2), answering=sa)

    def _on_am3(self, sa: IkeSa, dgram: Datagram, header: Header, body: bytes) -> tuple[str, ...]:
        """Decrypt, verify HASH_I (a PSK mismatch shows here), judge NAT-D against the port AM3
        arrived on, and follow the initiator to 4500. Returns the payload names for the event."""
        try:
            chain, last_block = unseal(sa, header, body, sa.iv)
            digest = only(chain, Hash, "AM3")
        except DecodeError as exc:
            self._auth_failed(sa, "AM3 does not decrypt to a valid message under our keys: the pre-shared "
                                  "keys differ (or the message was altered in transit)", dgram)
            raise IntegrityError(f"AM3 does not decrypt to a valid message ({exc.reason})",
                                 Reason.DECRYPT_FAILED) from None
        c = sa.choice
        if digest.data != hash_i(c.hash, sa.keyed("skeyid"), sa.gy, sa.gx, sa.icookie, sa.rcookie, sa.sai_b,
                                 sa.id_received):
            self._auth_failed(sa, "HASH_I in AM3 does not verify: the initiator used another pre-shared key", dgram)
            raise IntegrityError("HASH_I mismatch", Reason.AUTH_FAILED)
        self._check_natd(sa, chain, dgram, local_port=dgram.dst.port)
        sa.iv = sa.last_phase1_block = last_block
        self._take_authenticated_address(sa, dgram)
        self._established(sa)
        return payload_names(chain.payloads)

    # ------------------------------------------------------------------ one step of the table
    def _aggressive_mode_step(self, sa: IkeSa, dgram, header, body, msg: Msg, encrypted: bool, mark: int) -> None:
        """Handle one Aggressive Mode message the table accepted (peer._main_mode decided that)."""
        if msg is Msg.AM3:
            names = self._on_am3(sa, dgram, header, body)
        else:
            chain = decode_payloads(header.next_payload, body)
            names = payload_names(chain.payloads)
            (self._on_am1 if msg is Msg.AM1 else self._on_am2)(sa, dgram, header, chain)
        self._out_events.insert(mark, MessageReceived(self.now, self.name, msg.value, names, str(dgram.src)))
