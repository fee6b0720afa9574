"""CREATE_CHILD_SA: rekeying a CHILD_SA or the IKE SA (RFC 7296 §1.3.2, §1.3.3, §2.8, §2.17, §2.18).

    CHILD_SA  request   SK{N(REKEY_SA, ESP, old inbound SPI), SA, Ni, [KEi], TSi, TSr}
              response  SK{SA, Nr, [KEr], TSi, TSr}
    IKE SA    request   SK{SA (IKE, new 8-byte SPI), Ni, KEi}
              response  SK{SA (IKE, new 8-byte SPI), Nr, KEr}

KEYMAT = prf+(SK_d, [g^ir (new) |] Ni | Nr) with this exchange's nonces; "i" is whoever started
the exchange. With `pfs_group` set, both sides add a fresh Diffie-Hellman (the KE). A new IKE SA
takes SKEYSEED = prf_old(SK_d (old), g^ir (new) | Ni | Nr), restarts message IDs at 0, makes the
rekey initiator its original initiator and inherits the CHILD_SAs. Once the new SA is up, the
rekey initiator deletes the old one with an INFORMATIONAL Delete (§2.8).
"""
from __future__ import annotations

from dataclasses import replace

from ...crypto.ikev2_keys import ike_keys, skeyseed_rekey
from ...crypto.primitives import MODP, dh_private, dh_public, dh_shared
from ...errors import DecodeError, IntegrityError
from ...reasons import Reason
from ...wire.ikev2 import KE, SA, Delete, Nonce, Notify, TSi, TSr
from ...wire.ikev2_numbers import Exchange, NotifyType, Protocol, notify2_name
from ..events import PeerRefused, Refused
from ..states import State2
from .proposals import choose_esp, choose_ike, esp_answer, esp_offer, ike_offer, read_esp, read_ike
from .sa import Ike2Sa

NONCE_LEN = 32


def _only(inner, cls):
    found = [p for p in inner if isinstance(p, cls)]
    return found[0] if len(found) == 1 else None


class RekeyMixin:
    def rekey_child(self, now: float, child=None):
        """Start CREATE_CHILD_SA to replace a CHILD_SA (the newest by default) with fresh keys."""
        self._begin(now)
        child = child or self.latest_child()
        sa = child.ike if child is not None else None
        if sa is None or sa.state is not State2.ESTABLISHED or sa.pending is not None:
            return self._finish()
        ts_local, ts_remote, transport, original = sa.child_ts[child.spi_in]
        spi, ni = self.random_spi(), self.rng.randbytes(NONCE_LEN)
        offer = esp_offer(self.policy, spi, self.options)
        inner = [Notify(NotifyType.REKEY_SA, protocol=Protocol.ESP, spi=child.spi_in.to_bytes(4, "big")), offer,
                 Nonce(ni)]
        dh = None
        if self.policy.pfs_group:
            group = MODP[self.policy.pfs_group]
            private = dh_private(group, self.rng)
            dh = (group, private)
            inner.append(KE(group.number, dh_public(group, private)))
        inner += [TSi(ts_local), TSr(ts_remote)]
        sa.pending_kind = "rekey"
        sa.child_request = {"spi": spi, "offer": offer, "ni": ni, "dh": dh, "old": child, "transport": transport,
                            "original": original}
        self._request(sa, Exchange.CREATE_CHILD_SA, inner, "CREATE_CHILD_SA (rekey)")
        return self._finish()

    def _pfs(self, dh, ke: KE | None) -> bytes | None:
        if dh is None and ke is None:
            return None
        if dh is None or ke is None or ke.group != dh[0].number:
            raise IntegrityError("the KE does not match the PFS group")
        try:
            return dh_shared(dh[0], dh[1], ke.data)
        except IntegrityError as exc:
            raise DecodeError("IKEv2 KE", 0, str(exc)) from None

    # ------------------------------------------------------------------ the IKE SA
    def rekey_ike(self, now: float):
        """Start CREATE_CHILD_SA to replace every established IKE SA with nothing in flight."""
        self._begin(now)
        for sa in list(self.sas.values()):
            if sa.state is not State2.ESTABLISHED or sa.pending is not None or sa.rekeyed_by is not None:
                continue
            spi, ni = self.rng.randbytes(8), self.rng.randbytes(NONCE_LEN)
            new = replace(sa, group=sa.choice.group)     # carries the DH of this exchange until it is done
            self._new_dh(new)
            offer = ike_offer(self.policy, self.options, spi)
            sa.pending_kind = "rekey-ike"
            sa.child_request = {"spi": spi, "ni": ni, "dh": new, "offer": offer}
            self._request(sa, Exchange.CREATE_CHILD_SA, [offer, Nonce(ni), KE(new.group, new.ke_public)],
                          "CREATE_CHILD_SA (IKE SA rekey)")
        return self._finish()

    def _successor(self, old: Ike2Sa, dh: Ike2Sa, choice, g_ir: bytes, spi_i: bytes, spi_r: bytes, ni: bytes,
                   nr: bytes, we_initiated: bool) -> Ike2Sa:
        """The new IKE SA (§2.18): keys from the old SK_d and PRF, message IDs from 0, the rekey
        initiator as its original initiator, the old SA's CHILD_SAs and NAT verdict."""
        seed = skeyseed_rekey(old.choice.prf, old.keys.sk_d, g_ir, ni, nr)
        keys = ike_keys(choice.prf, seed, ni, nr, spi_i, spi_r, choice.encr.key_len,
                        choice.integ.key_len if choice.integ else 0)
        new = Ike2Sa("initiator" if we_initiated else "responder", State2.ESTABLISHED, spi_i, spi_r, old.local,
                     old.remote, old.policy, created=self.now, group=choice.group, dh_private=dh.dh_private,
                     ke_public=dh.ke_public, ni=ni, nr=nr, choice=choice, natd=old.natd, floated=old.floated,
                     last_sent_4500=old.last_sent_4500)
        self._set_keys(new, keys)
        new.children, old.children = old.children, []
        new.child_ts, old.child_ts = old.child_ts, {}
        for child in new.children:
            child.ike = new
        old.rekeyed_by = new
        self._index(new)
        self._established(new)
        return new

    def _on_ike_rekey_request(self, sa: Ike2Sa, msg, inner) -> None:
        offer, nonce, ke = _only(inner, SA), _only(inner, Nonce), _only(inner, KE)
        picked = choose_ike(offer, self.policy, self.options, ke.group if ke else None, spi_size=8) \
            if offer and nonce and ke else None
        if picked is None or ke.group != picked[1].group:
            reply = Notify(NotifyType.INVALID_KE_PAYLOAD, picked[1].group.to_bytes(2, "big")) if picked \
                else Notify(NotifyType.NO_PROPOSAL_CHOSEN)
            self._respond(sa, msg.header, Exchange.CREATE_CHILD_SA, [reply], "CREATE_CHILD_SA response")
            self._emit(Refused, reason="IKE SA rekey: no acceptable proposal or KE group",
                       code=Reason.INVALID_KE if picked else Reason.NO_PROPOSAL)
            return
        answer, choice = picked
        spi_r, nr = self.rng.randbytes(8), self.rng.randbytes(NONCE_LEN)
        dh = replace(sa, group=choice.group)
        self._new_dh(dh)
        g_ir = self._shared(dh, ke.data)
        self._respond(sa, msg.header, Exchange.CREATE_CHILD_SA,
                      [SA((replace(answer, spi=spi_r),)), Nonce(nr), KE(dh.group, dh.ke_public)],
                      "CREATE_CHILD_SA response (IKE SA rekey)")
        self._successor(sa, dh, choice, g_ir, answer.spi, spi_r, nonce.data, nr, we_initiated=False)

    def _on_ike_rekey_response(self, sa: Ike2Sa, inner) -> None:
        req = sa.child_request
        answer, nonce, ke = _only(inner, SA), _only(inner, Nonce), _only(inner, KE)
        choice = read_ike(answer.proposals[0]) if answer and len(answer.proposals) == 1 else None
        if choice is None or nonce is None or ke is None or len(answer.proposals[0].spi) != 8 \
                or ke.group != req["dh"].group or choice.group != req["dh"].group:
            self._emit(Refused, reason="the IKE SA rekey answer is not one of our proposals",
                       code=Reason.NO_PROPOSAL)
            return
        g_ir = self._shared(req["dh"], ke.data)
        self._successor(sa, req["dh"], choice, g_ir, req["spi"], answer.proposals[0].spi, req["ni"], nonce.data,
                        we_initiated=True)
        sa.state = State2.DELETING
        self._request(sa, Exchange.INFORMATIONAL, [Delete(Protocol.IKE)], "INFORMATIONAL Delete (old IKE SA)")

    # ------------------------------------------------------------------ CHILD_SAs
    def _on_child_request(self, sa: Ike2Sa, dgram, msg, inner) -> None:
        if any(isinstance(p, SA) and p.proposals and p.proposals[0].protocol == Protocol.IKE for p in inner):
            self._on_ike_rekey_request(sa, msg, inner)
            return
        rekey = next((p for p in inner if isinstance(p, Notify) and p.notify_type == NotifyType.REKEY_SA), None)
        old = next((c for c in sa.children if rekey and c.spi_out == int.from_bytes(rekey.spi, "big")), None)
        offer, nonce, ke = _only(inner, SA), _only(inner, Nonce), _only(inner, KE)
        if old is None or offer is None or nonce is None:
            what = "no CHILD_SA with that SPI" if old is None else "SA and Nonce are required"
            self._respond(sa, msg.header, Exchange.CREATE_CHILD_SA, [Notify(NotifyType.CHILD_SA_NOT_FOUND if old is None
                                                                           else NotifyType.NO_PROPOSAL_CHOSEN)],
                          "CREATE_CHILD_SA response")
            self._emit(Refused, reason=f"CREATE_CHILD_SA refused: {what} (only CHILD_SA rekeys are "
                                               "answered here)", code=Reason.NO_IPSEC_SA)
            return
        picked = choose_esp(offer, self.policy, self.options)
        wanted = self.policy.pfs_group
        if picked is None or (ke is None) != (wanted is None) or (ke and ke.group != wanted):
            reply = Notify(NotifyType.INVALID_KE_PAYLOAD, wanted.to_bytes(2, "big")) if picked and wanted and ke \
                else Notify(NotifyType.NO_PROPOSAL_CHOSEN)
            self._respond(sa, msg.header, Exchange.CREATE_CHILD_SA, [reply], "CREATE_CHILD_SA response")
            self._emit(Refused, reason="CREATE_CHILD_SA: no acceptable proposal / PFS group",
                       code=Reason.INVALID_KE if reply.notify_type == NotifyType.INVALID_KE_PAYLOAD else Reason.NO_PROPOSAL)
            return
        proposal, esp = picked
        nr, spi_in = self.rng.randbytes(NONCE_LEN), self.random_spi()
        out_ke, g_ir = [], None
        if wanted:
            group = MODP[wanted]
            private = dh_private(group, self.rng)
            out_ke = [KE(wanted, dh_public(group, private))]
            g_ir = self._pfs((group, private), ke)
        ts_local, ts_remote, transport, original = sa.child_ts[old.spi_in]
        self._respond(sa, msg.header, Exchange.CREATE_CHILD_SA,
                      [esp_answer(proposal, esp, spi_in), Nonce(nr), *out_ke, TSi(ts_remote), TSr(ts_local)],
                      "CREATE_CHILD_SA response")
        self._install(sa, esp, spi_in, transport, ts_local, ts_remote, original, nonces=(nonce.data, nr), g_ir=g_ir,
                      we_initiated=False, message_id=msg.header.message_id)

    def _on_child_response(self, sa: Ike2Sa, dgram, msg, inner) -> None:
        req, kind, sa.pending_kind = sa.child_request, sa.pending_kind, ""
        for p in inner:
            if isinstance(p, Notify) and p.notify_type < 16384:
                self._emit(PeerRefused, reason=f"the rekey was refused ({notify2_name(p.notify_type)}); "
                                                       "the old CHILD_SA stays", code=Reason.PEER_REFUSED)
                return
        if kind == "rekey-ike":
            self._on_ike_rekey_response(sa, inner)
            return
        answer, nonce = _only(inner, SA), _only(inner, Nonce)
        esp = read_esp(answer, req["offer"]) if answer else None
        if esp is None or nonce is None:
            self._emit(Refused, reason="the CREATE_CHILD_SA answer is not one of our proposals",
                       code=Reason.NO_PROPOSAL)
            return
        try:
            g_ir = self._pfs(req["dh"], _only(inner, KE))
        except IntegrityError as exc:
            self._emit(Refused, reason=f"the CREATE_CHILD_SA answer: {exc}", code=Reason.INVALID_KE)
            return
        old = req["old"]
        ts_local, ts_remote, _, _ = sa.child_ts[old.spi_in]
        self._install(sa, esp, req["spi"], req["transport"], ts_local, ts_remote, req["original"],
                      nonces=(req["ni"], nonce.data), g_ir=g_ir, we_initiated=True, message_id=msg.header.message_id)
        sa.pending_kind = "delete-child"
        self._request(sa, Exchange.INFORMATIONAL, [Delete(Protocol.ESP, (old.spi_in.to_bytes(4, "big"),))],
                      "INFORMATIONAL Delete (old CHILD_SA)")
