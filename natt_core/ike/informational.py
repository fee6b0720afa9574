"""Informational exchanges protected by the ISAKMP SA: Delete and Notify (RFC 2409 §5.7).

HASH(1) = prf(SKEYID_a, M-ID | N/D payload); each exchange has its own IV derived from the last
phase-1 block and its Message ID.
"""
from __future__ import annotations

from ..crypto.ike_keys import info_hash
from ..errors import DecodeError, IntegrityError
from ..reasons import Reason
from ..wire.isakmp import Delete, Hash, Header, Notification, encode_payloads
from ..wire.numbers import ExchangeType, NotifyType, ProtocolId, label
from .events import NegotiationFailed, PeerRefused, SaDeleted
from .main_mode import notify_code, payload_names
from .sa import IkeSa
from .seal import seal_after_hash, unseal
from .states import State, is_status, notify_ends, sends_delete


class InformationalMixin:
    def delete(self, now: float):
        """Delete every IPsec SA and ISAKMP SA we hold, telling the peers (then forget them)."""
        self._begin(now)
        for sa in list(self.sas.values()):
            if not sends_delete(sa.state):
                continue
            spis = tuple(c.spi_in.to_bytes(4, "big") for c in sa.children)
            if spis:
                proto = ProtocolId.ESP if sa.children[0].protocol == "esp" else ProtocolId.AH
                self._send_info(sa, [Delete(proto, spis, spi_size=4)], "INFO Delete (IPsec SAs)")
            self._send_info(sa, [Delete(ProtocolId.ISAKMP, (sa.icookie + sa.rcookie,), spi_size=16)],
                            "INFO Delete (ISAKMP SA)")
            self._forget(sa, by_peer=False)
        return self._finish()

    def _send_info_notify(self, sa: IkeSa, name: str) -> None:
        self._send_info(sa, [Notification(NotifyType[name], protocol_id=ProtocolId.ISAKMP)], f"INFO {name}")

    def _send_info(self, sa: IkeSa, payloads: list, label_text: str, aside: bool = False) -> None:
        """An encrypted Informational; `aside` (DPD) leaves any retransmission armed."""
        mid = self.rng.randrange(1, 1 << 32)
        tail = encode_payloads(payloads)
        digest = info_hash(sa.choice.hash, sa.keyed("skeyid_a"), mid, tail)
        message, _ = seal_after_hash(sa, ExchangeType.INFORMATIONAL, mid, digest, payloads, tail,
                                     self._qm_iv(sa, mid))
        self._send_ike(sa, message, label_text, ("Hash", *payload_names(payloads)), encrypted=True,
                       expect_answer=None if aside else False)

    def _on_encrypted_info(self, sa: IkeSa, header: Header, body: bytes, dgram=None) -> None:
        try:
            chain, _ = unseal(sa, header, body, self._qm_iv(sa, header.message_id))
        except DecodeError as exc:
            raise IntegrityError(f"Informational does not decrypt ({exc.reason})", Reason.DECRYPT_FAILED) from None
        if not chain.payloads or not isinstance(chain.payloads[0], Hash):
            raise DecodeError("IKE", 0, "Informational must start with HASH(1)")
        after = b"".join(chain.raw[1:])
        if chain.payloads[0].data != info_hash(sa.choice.hash, sa.keyed("skeyid_a"), header.message_id, after):
            raise IntegrityError("Informational HASH(1) does not verify", Reason.AUTH_FAILED)
        if not self._info_is_new(sa, header.message_id):
            return
        if dgram is not None and sa.state is State.ESTABLISHED:
            self._authenticated_from(sa, dgram, "Informational")
        for p in chain.payloads[1:]:
            if isinstance(p, Delete):
                self._on_delete(sa, p)
            elif isinstance(p, Notification) and is_status(p.notify_type):
                self._on_status_notify(sa, p, dgram, "Informational")
            elif isinstance(p, Notification):
                name = label(NotifyType, p.notify_type).replace("_", "-")
                self._emit(PeerRefused, reason=f"{name} (authenticated notification)", code=notify_code(p.notify_type))
                for qe in sa.quick.values():
                    if notify_ends(qe.state, p.notify_type, authenticated=True):
                        qe.state = State.FAILED
                        sa.pending = None
                        sa.reason = "the responder chose none of our Quick Mode proposals (NO-PROPOSAL-CHOSEN)"
                        sa.code = Reason.NO_PROPOSAL
                        self._emit(NegotiationFailed, what="phase 2 (Quick Mode)", reason=sa.reason, code=sa.code)

    def _on_delete(self, sa: IkeSa, d: Delete) -> None:
        if d.protocol_id == ProtocolId.ISAKMP:
            self._forget(sa, by_peer=True)
            return
        gone = {int.from_bytes(s, "big") for s in d.spis}
        for child in [c for c in sa.children if c.spi_out in gone]:
            sa.children.remove(child)
            self.children.pop(child.spi_in, None)
            self._emit(SaDeleted, what=f"IPsec SA {child.name}", by_peer=True, phase=2, sa=child.name)

    def _forget(self, sa: IkeSa, by_peer: bool, code=None) -> None:
        """Delete an ISAKMP SA and its IPsec SAs; `code` says why when no Delete payload did it."""
        for child in sa.children:
            self.children.pop(child.spi_in, None)
            self._emit(SaDeleted, what=f"IPsec SA {child.name}", by_peer=by_peer, code=code,
                       phase=2, sa=child.name)
        sa.children.clear()
        sa.state = State.DELETED
        sa.pending = None
        self._emit(SaDeleted, what=f"ISAKMP SA {sa.cookies}", by_peer=by_peer, code=code, phase=1,
                   sa=sa.cookies)
