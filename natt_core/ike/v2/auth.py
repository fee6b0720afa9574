"""IKE_AUTH with pre-shared keys and the first CHILD_SA (RFC 7296 §1.2, §2.15, §2.17, §2.9, §2.23.1).

AUTH = prf(prf(PSK, "Key Pad for IKEv2"), IKE_SA_INIT message | peer's nonce | prf(SK_p, ID body)).
The CHILD_SA rides in the same exchange: ESP proposal, traffic selectors (narrowed by the
responder to what its policy allows), USE_TRANSPORT_MODE. In transport mode behind a NAT the
selectors carry the original addresses, substituted with the IKE addresses as §2.23.1 says; the
receiver fixes the inner UDP checksum with them (the IKEv1 peer does the same with NAT-OA).
"""
from __future__ import annotations

from ...crypto.ikev2_keys import child_keymat, psk_auth, psk_key, signed_octets, split_child
from ...crypto.primitives import equal
from ...addressing import Endpoint
from ...ipsec.esp_gcm_sa import EspGcmSa
from ...ipsec.esp_sa import EspSa
from ...reasons import Reason
from ...wire.ikev2 import SA, Auth, IDi, IDr, Notify, TrafficSelector, TSi, TSr
from ...wire.ikev2_numbers import AuthMethod, Exchange, IdType, NotifyType, notify2_name
from ..events import (AuthenticationFailed, ChildSaEstablished, IkeSaEstablished, PeerRefused,
                      Refused)
from ..sa import ChildSa
from .proposals import ANY, EspChoice, choose_esp, esp_answer, esp_offer, narrow, read_esp, with_address
from .sa import Ike2Sa

#: child-only failures: the IKE SA stays up (§1.2, §2.21.2)
CHILD_ERRORS = {NotifyType.NO_PROPOSAL_CHOSEN: Reason.NO_PROPOSAL, NotifyType.TS_UNACCEPTABLE: Reason.TS_UNACCEPTABLE,
                NotifyType.SINGLE_PAIR_REQUIRED: Reason.TS_UNACCEPTABLE}


def _only(inner, cls):
    found = None
    for p in inner:
        if isinstance(p, cls):
            if found is not None:
                return None     # more than one
            found = p
    return found


def _only_each(inner, classes: tuple) -> tuple:
    """`_only` of several classes in one pass: for each, the one payload of it, or None (none, or
    more than one)."""
    found = [None] * len(classes)
    seen = [0] * len(classes)
    for p in inner:
        for k, cls in enumerate(classes):
            if isinstance(p, cls):
                found[k], seen[k] = p, seen[k] + 1
    for k in range(len(classes)):
        if seen[k] > 1:
            found[k] = None     # more than one
    return tuple(found)


def _has(inner, ntype: int) -> bool:
    for p in inner:
        if isinstance(p, Notify) and p.notify_type == ntype:
            return True
    return False


class AuthMixin:
    # ------------------------------------------------------------------ helpers
    def _own_id(self, cls):
        if self.policy.identity:
            return cls(IdType.FQDN, self.policy.identity.encode())
        return cls(IdType.IPV4_ADDR, Endpoint(self.address).packed_ip)

    def _auth_data(self, sa: Ike2Sa, real_message: bytes, peer_nonce: bytes, sk_p: bytes, id_body: bytes) -> bytes:
        prf, secret = sa.choice.prf, self.policy.psk.encode()
        kept = self.__dict__.setdefault("_psk_keys", {})     # prf(PSK, Key Pad): this peer's secret's alone
        padded = kept.get((prf, secret))
        if padded is None:
            padded = kept[(prf, secret)] = psk_key(prf, secret)
        return psk_auth(prf, secret, signed_octets(prf, real_message, peer_nonce, sk_p, id_body), padded)

    def _established(self, sa: Ike2Sa) -> None:
        c = sa.choice
        self._emit(IkeSaEstablished, spis=sa.spis, remote=str(sa.remote), encr=c.encr.name, prf=c.prf,
                   dh_group=c.group, floated=sa.floated)

    def _install(self, sa: Ike2Sa, esp: EspChoice, spi_in: int, transport: bool, ts_local, ts_remote,
                 peer_original, *, nonces: tuple[bytes, bytes] | None = None, g_ir: bytes | None = None,
                 we_initiated: bool | None = None, message_id: int = 1) -> ChildSa:
        """Both ESP SAs of the pair from KEYMAT and the child record. `nonces` and `we_initiated`
        are those of the exchange that made the pair (IKE_AUTH: the IKE SA's; a rekey: its own),
        because KEYMAT's i->r keys are the exchange initiator's (§2.17)."""
        ni, nr = nonces or (sa.ni, sa.nr)
        initiator = sa.role == "initiator" if we_initiated is None else we_initiated
        enc, integ = esp.encr.key_len, esp.integ.key_len if esp.integ else 0
        keys = split_child(child_keymat(sa.choice.prf, sa.keys.sk_d, ni, nr, 2 * (enc + integ), g_ir), enc, integ)
        mine, theirs = ((keys.enc_r, keys.integ_r), (keys.enc_i, keys.integ_i)) if initiator else \
            ((keys.enc_i, keys.integ_i), (keys.enc_r, keys.integ_r))
        if esp.encr.aead:
            inbound, outbound = EspGcmSa(spi_in, esp.encr.name, mine[0]), EspGcmSa(esp.spi, esp.encr.name, theirs[0])
        else:
            inbound = EspSa(spi_in, esp.encr.cbc_name, mine[0], esp.integ.name, mine[1])
            outbound = EspSa(esp.spi, esp.encr.cbc_name, theirs[0], esp.integ.name, theirs[1])
        mode = ("udp-" if sa.nat_detected else "") + ("transport" if transport else "tunnel")
        local_inner = self.address if transport else ts_local[0].start_addr
        remote_inner = sa.remote.ip if transport else ts_remote[0].start_addr
        child = ChildSa(sa, message_id, "esp", mode, 0, spi_in, esp.spi, inbound, outbound, local_inner,
                        remote_inner, peer_original if transport and sa.nat_detected else None,
                        pfs_shared=g_ir)
        sa.children.append(child)
        sa.child_ts[spi_in] = (tuple(ts_local), tuple(ts_remote), transport, peer_original)
        self.children[spi_in] = child
        self._emit(ChildSaEstablished, spi_in=f"{spi_in:08x}", spi_out=f"{esp.spi:08x}", protocol="esp", mode=mode,
                   encapsulation=0, remote=str(sa.remote), ts_local=tuple(map(str, ts_local)),
                   ts_remote=tuple(map(str, ts_remote)))
        return child

    # ------------------------------------------------------------------ initiator
    def _initiator_ts(self, sa: Ike2Sa) -> tuple[tuple[TrafficSelector, ...], tuple[TrafficSelector, ...]]:
        if self.policy.tunnel:
            return (TrafficSelector.host(self.policy.inner_address or self.address),), (ANY,)
        return (TrafficSelector.host(self.address),), (TrafficSelector.host(sa.remote.ip),)

    def _send_auth(self, sa: Ike2Sa) -> None:
        idi = self._own_id(IDi)
        auth = Auth(AuthMethod.PSK, self._auth_data(sa, sa.init_request, sa.nr, sa.keys.sk_pi, idi.encode_body()))
        spi = self.random_spi()
        offer = esp_offer(self.policy, spi, self.options)
        tsi, tsr = self._initiator_ts(sa)
        transport = not self.policy.tunnel
        sa.child_request = {"spi": spi, "offer": offer, "tsi": tsi, "tsr": tsr, "transport": transport}
        inner = [idi, Notify(NotifyType.INITIAL_CONTACT), auth] + \
            ([Notify(NotifyType.USE_TRANSPORT_MODE)] if transport else []) + [offer, TSi(tsi), TSr(tsr)]
        self._request(sa, Exchange.IKE_AUTH, inner, "IKE_AUTH")

    def _on_auth_response(self, sa: Ike2Sa, dgram, msg, inner) -> None:
        if _has(inner, NotifyType.AUTHENTICATION_FAILED):
            reason = "the responder answered AUTHENTICATION_FAILED: our AUTH did not verify (the pre-shared keys differ)"
            self._emit(AuthenticationFailed, reason=reason, code=Reason.AUTH_FAILED)
            self._fail(sa, f"authentication failed: {reason}", "authentication", Reason.AUTH_FAILED)
            return
        idr, auth = _only_each(inner, (IDr, Auth))
        if idr is None or auth is None:
            errors = [notify2_name(p.notify_type) for p in inner if isinstance(p, Notify) and p.notify_type < 16384]
            reason = f"IKE_AUTH refused: {', '.join(errors) or 'no IDr/AUTH in the response'}"
            self._emit(PeerRefused, reason=reason, code=Reason.PEER_REFUSED)
            self._fail(sa, reason, "refused", Reason.PEER_REFUSED)
            return
        expected = self._auth_data(sa, sa.init_response, sa.ni, sa.keys.sk_pr, idr.encode_body())
        if auth.kind != AuthMethod.PSK or not equal(auth.data, expected):
            reason = "the responder's AUTH does not verify: it used another pre-shared key"
            self._emit(AuthenticationFailed, reason=reason, code=Reason.AUTH_FAILED)
            self._fail(sa, f"authentication failed: {reason}", "authentication", Reason.AUTH_FAILED)
            return
        self._established(sa)
        req = sa.child_request
        for p in inner:
            if isinstance(p, Notify) and p.notify_type in CHILD_ERRORS:
                self._emit(PeerRefused, reason=f"{notify2_name(p.notify_type)}: no CHILD_SA (the IKE SA stays up)",
                           code=CHILD_ERRORS[p.notify_type])
                return
        answer, tsi, tsr = _only_each(inner, (SA, TSi, TSr))
        esp = read_esp(answer, req["offer"]) if answer else None
        if esp is None or tsi is None or tsr is None:
            self._emit(Refused, reason="the CHILD_SA answer is not one of our ESP proposals", code=Reason.NO_PROPOSAL)
            return
        transport = _has(inner, NotifyType.USE_TRANSPORT_MODE)
        if req["transport"] and not transport:
            self._emit(Refused, reason="we asked for transport mode and the responder set up tunnel mode "
                                               "(RFC 7296 §1.3.1: the initiator must not use it)", code=Reason.MODE_MISMATCH)
            return
        # §2.23.1: the answer's selectors are the addresses the responder's checksums were made with
        original = (tsr.selectors[0].start_addr, tsi.selectors[0].start_addr)
        self._install(sa, esp, req["spi"], transport, tsi.selectors, tsr.selectors, original)

    # ------------------------------------------------------------------ responder
    def _on_auth_request(self, sa: Ike2Sa, dgram, msg, inner) -> None:
        idi, auth = _only_each(inner, (IDi, Auth))
        expected = self._auth_data(sa, sa.init_request, sa.nr, sa.keys.sk_pi, idi.encode_body()) if idi else b""
        if idi is None or auth is None or auth.kind != AuthMethod.PSK or not equal(auth.data, expected):
            reason = "the initiator's AUTH does not verify: it used another pre-shared key"
            self._respond(sa, msg.header, Exchange.IKE_AUTH, [Notify(NotifyType.AUTHENTICATION_FAILED)],
                          "IKE_AUTH response (AUTHENTICATION_FAILED)")
            self._emit(AuthenticationFailed, reason=reason, code=Reason.AUTH_FAILED)
            self._fail(sa, f"authentication failed: {reason}", "authentication", Reason.AUTH_FAILED)
            return
        idr = self._own_id(IDr)
        out = [idr, Auth(AuthMethod.PSK, self._auth_data(sa, sa.init_response, sa.ni, sa.keys.sk_pr, idr.encode_body()))]
        child, install = self._answer_child(sa, inner)
        self._respond(sa, msg.header, Exchange.IKE_AUTH, out + child, "IKE_AUTH response")
        self._established(sa)
        if install:
            self._install(sa, *install)

    def _answer_child(self, sa: Ike2Sa, inner) -> tuple[list, tuple | None]:
        """The CHILD_SA half of the IKE_AUTH response, and what to install once it is sent."""
        offer, tsi, tsr = _only_each(inner, (SA, TSi, TSr))
        picked = choose_esp(offer, self.policy, self.options) if offer else None
        if picked is None:
            self._emit(Refused, reason="NO_PROPOSAL_CHOSEN for the CHILD_SA (the IKE SA stays up)",
                       code=Reason.NO_PROPOSAL)
            return [Notify(NotifyType.NO_PROPOSAL_CHOSEN)], None
        proposal, esp = picked
        transport = _has(inner, NotifyType.USE_TRANSPORT_MODE) and not self.policy.tunnel
        asked_i, asked_r = (tsi.selectors if tsi else ()), (tsr.selectors if tsr else ())
        subst_i, subst_r = asked_i, asked_r
        if transport and asked_i and asked_r:   # §2.23.1: substitute the IKE addresses
            if sa.natd and sa.natd.peer_behind_nat:
                subst_i = (with_address(asked_i[0], sa.remote.ip),)
            if sa.natd and sa.natd.self_behind_nat:
                subst_r = (with_address(asked_r[0], self.address),)
        local = TrafficSelector.host(self.address if transport else (self.policy.inner_address or self.address))
        got_i, got_r = narrow(subst_i, ANY), narrow(subst_r, local)
        if not got_i or not got_r:
            self._emit(Refused, reason=f"TS_UNACCEPTABLE: {', '.join(map(str, asked_r)) or 'nothing'} does "
                                               f"not include {local}", code=Reason.TS_UNACCEPTABLE)
            return [Notify(NotifyType.TS_UNACCEPTABLE)], None
        spi_in = self.random_spi()
        original = (asked_i[0].start_addr, asked_r[0].start_addr)
        payloads = ([Notify(NotifyType.USE_TRANSPORT_MODE)] if transport else []) + \
            [esp_answer(proposal, esp, spi_in), TSi(got_i), TSr(got_r)]
        return payloads, (esp, spi_in, transport, got_r, got_i, original)
