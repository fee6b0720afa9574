"""INFORMATIONAL exchanges (RFC 7296 §1.4, §1.4.1): Delete, liveness checks, notifies.

Every request gets a response, possibly empty. A Delete lists the sender's inbound SPIs; the
answer deletes the paired SAs and lists ours. Deleting the IKE SA (protocol 1, no SPIs) ends
every CHILD_SA with it. An empty request is the liveness check.
"""
from __future__ import annotations

from ...reasons import Reason
from ...wire.ikev2 import Delete, Notify
from ...wire.ikev2_numbers import Exchange, Protocol, notify2_name
from ..events import LivenessChecked, PeerRefused, SaDeleted
from ..states import Msg2, State2, advance
from .sa import Ike2Sa


class Info2Mixin:
    def delete(self, now: float):
        """Delete every established IKE SA (and so its CHILD_SAs); each is gone once the peer answers."""
        self._begin(now)
        for sa in list(self.sas.values()):
            if sa.state is State2.ESTABLISHED:
                sa.state = advance(sa.state, Msg2.DELETE)
                self._request(sa, Exchange.INFORMATIONAL, [Delete(Protocol.IKE)], "INFORMATIONAL Delete (IKE SA)")
        return self._finish()

    def delete_child(self, now: float, child=None):
        """Delete one CHILD_SA pair (the newest by default): a Delete of our inbound SPI."""
        self._begin(now)
        child = child or self.latest_child()
        if child is not None and child.ike.state is State2.ESTABLISHED and child.ike.pending is None:
            child.ike.pending_kind = "delete-child"
            self._request(child.ike, Exchange.INFORMATIONAL, [Delete(Protocol.ESP, (child.spi_in.to_bytes(4, "big"),))],
                          "INFORMATIONAL Delete (CHILD_SA)")
        return self._finish()

    def check_liveness(self, now: float):
        """An empty INFORMATIONAL request to every established IKE SA that has nothing in flight."""
        self._begin(now)
        for sa in list(self.sas.values()):
            if sa.state is State2.ESTABLISHED and sa.pending is None:
                sa.pending_kind = "liveness"
                self._request(sa, Exchange.INFORMATIONAL, [], "INFORMATIONAL (liveness check)")
        return self._finish()

    def _on_info_request(self, sa: Ike2Sa, dgram, msg, inner) -> None:
        answer = []
        for p in inner:
            if isinstance(p, Delete) and p.protocol == Protocol.IKE:
                self._respond(sa, msg.header, Exchange.INFORMATIONAL, [], "INFORMATIONAL response")
                self._forget(sa, by_peer=True)
                return
            if isinstance(p, Delete) and p.protocol == Protocol.ESP:
                gone = {int.from_bytes(s, "big") for s in p.spis}
                ours = [c for c in sa.children if c.spi_out in gone]
                for c in ours:
                    self._drop_child(sa, c, by_peer=True)
                if ours:
                    answer.append(Delete(Protocol.ESP, tuple(c.spi_in.to_bytes(4, "big") for c in ours)))
            elif isinstance(p, Notify) and p.notify_type < 16384:
                self._emit(PeerRefused, reason=f"{notify2_name(p.notify_type)} (authenticated notification)",
                           code=Reason.PEER_REFUSED)
        self._respond(sa, msg.header, Exchange.INFORMATIONAL, answer, "INFORMATIONAL response")

    def _on_info_response(self, sa: Ike2Sa, dgram, msg, inner) -> None:
        kind, sa.pending_kind = sa.pending_kind, ""
        if sa.state is State2.DELETING:
            self._forget(sa, by_peer=False)
            return
        for p in inner:
            if isinstance(p, Delete) and p.protocol == Protocol.ESP:
                gone = {int.from_bytes(s, "big") for s in p.spis}
                for c in [c for c in sa.children if c.spi_out in gone]:
                    self._drop_child(sa, c, by_peer=False)
        if kind == "liveness":
            self._emit(LivenessChecked, remote=str(sa.remote))

    def _drop_child(self, sa: Ike2Sa, child, by_peer: bool) -> None:
        sa.children.remove(child)
        self.children.pop(child.spi_in, None)
        self._emit(SaDeleted, what=f"CHILD_SA {child.spi_in:08x}/{child.spi_out:08x}", by_peer=by_peer)

    def _forget(self, sa: Ike2Sa, by_peer: bool) -> None:
        for child in list(sa.children):
            self._drop_child(sa, child, by_peer)
        sa.state = State2.DELETED
        sa.pending, sa.pending_mid = None, None
        self._emit(SaDeleted, what=f"IKE SA {sa.spis}", by_peer=by_peer)
