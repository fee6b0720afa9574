"""IKEv1 SA lifecycle: lifetimes enforced, rekeys made before the old SA breaks, expiry.

- Phase 2 (RFC 2409 §5.5): past the soft lifetime (`lifetimes.MARGIN` before the hard one, in
  seconds or kilobytes) the side that initiated the ISAKMP SA runs a new Quick Mode; once the new
  pair is installed, traffic moves to it (`replaced_by`), and the old pair is deleted with a Delete
  payload (protocol ESP/AH, our inbound SPI; RFC 2408 §3.15) `lifetimes.DELETE_DELAY` seconds later,
  so packets still on the wire to it arrive.
- Phase 1: past its soft lifetime the initiator runs a new Main Mode; when it authenticates, the
  IPsec SAs are re-homed onto it instead of a new Quick Mode (as strongSwan's IKEv1 reauthentication
  adopts the CHILD_SAs, ike_sa_manager.c adopt_children_and_vips) and the old ISAKMP SA is deleted
  (Delete, protocol ISAKMP, both cookies). The responder re-homes them when that Delete arrives.
- An SA that reaches its hard lifetime without a successor is cleared and announced (Delete), with
  `SaExpired` and IKE_SA_EXPIRED / IPSEC_SA_EXPIRED.

The responder rekeys nothing: like a Windows or strongSwan responder facing an initiator with the
same lifetimes, it waits for the initiator's rekey and only enforces the hard limits.
"""
from __future__ import annotations

from ..reasons import Reason
from ..wire.isakmp import Delete, Notification
from ..wire.numbers import NotifyType, ProtocolId
from .events import SaDeleted
from .lifecycle_events import LifetimeAdopted, SaExpired, SaRekeyed, SaRekeyStarted
from .lifetimes import (DELETE_DELAY, MARGIN, Life, hard_seconds, kb_state, read_life, read_responder_lifetime,
                        responder_lifetime, shorter, soft_seconds)
from .states import END_STATES, Role, State

#: RFC 2407 §4.5: a phase-2 SA without a life duration lives 28800 s
DEFAULT_SECONDS = 28800
EPSILON = 1e-9


def _proto(child_or_choice) -> int:
    return ProtocolId.ESP if child_or_choice.protocol == "esp" else ProtocolId.AH


class LifecycleMixin:
    # ------------------------------------------------------------------ lifetimes settled
    def _established(self, sa) -> None:
        super()._established(sa)
        offered = sa.choice.lifetime
        sa.life = Life(offered if sa.role is Role.INITIATOR else min(offered, self.policy.ike_lifetime))
        sa.established_at = self.now
        self._arm_life(sa)

    def _lifetime_reply(self, qe, transform) -> list:
        """Responder, QM2: take the shorter of the offered and our own life; say so when it differs."""
        offered = read_life(transform.attributes, 2, DEFAULT_SECONDS)
        qe.life = shorter(offered, Life(self.policy.ipsec_lifetime, self.policy.ipsec_lifetime_kb))
        if qe.life == offered:
            return []
        return [responder_lifetime(_proto(qe.chosen), qe.spi_in.to_bytes(4, "big"), qe.life)]

    def _adopt_lifetime(self, qe, transform, chain) -> None:
        """Initiator, QM2: the offered life, or the responder's shorter one (RESPONDER-LIFETIME)."""
        offered = read_life(transform.attributes, 2, DEFAULT_SECONDS)
        qe.life = offered
        for n in chain.payloads:
            if isinstance(n, Notification) and n.notify_type == NotifyType.RESPONDER_LIFETIME:
                told = read_responder_lifetime(n)
                qe.life = shorter(offered, Life(told.seconds or offered.seconds, told.kilobytes))
        if qe.life != offered:
            self._emit(LifetimeAdopted, phase=2, offered=offered.describe(), adopted=qe.life.describe())

    def _install_child(self, sa, qe) -> None:
        super()._install_child(sa, qe)
        child = qe.child
        child.life = qe.life or Life(self.policy.ipsec_lifetime, self.policy.ipsec_lifetime_kb)
        child.created = self.now
        for old in sa.children[:-1]:
            if old.live and old.replaced_by is None:
                old.replaced_by = child
                if old.rekeying:
                    old.retire_at = self.now + DELETE_DELAY
                self._emit(SaRekeyed, phase=2, old=old.name, new=child.name, lifetime=child.life.describe())
        self._arm_life(sa)

    # ------------------------------------------------------------------ timers
    def _rekeys(self, sa) -> bool:
        return self.policy.rekey and sa.role is Role.INITIATOR

    def _arm_life(self, sa) -> None:
        when = self._lifecycle_due(sa)
        if when is not None:
            self._arm(sa, when, "lifetime")

    def _lifecycle_due(self, sa) -> float | None:
        """The next moment something in this SA's life happens: a soft or hard limit, a retirement."""
        if sa.established_at is None or sa.life is None or sa.state in END_STATES:
            return None
        # asked whenever the timer heap looks at this SA: the earliest kept as it goes (the first
        # of equal ones, as min() of a list would), without building the list
        rekeys = self._rekeys(sa)
        due = hard_seconds(sa.established_at, sa.life)
        if rekeys and not sa.rekeying and (t := soft_seconds(sa.established_at, sa.life)) < due:
            due = t
        for c in sa.children:
            if c.life is None:
                continue
            if (t := hard_seconds(c.created, c.life)) < due:
                due = t
            if c.retire_at is not None:
                if c.retire_at < due:
                    due = c.retire_at
            elif rekeys and not c.rekeying and c.replaced_by is None and (t := soft_seconds(c.created, c.life)) < due:
                due = t
        return due

    def _lifecycle(self, sa) -> None:
        """The "lifetime" timer: retire, expire or rekey whatever is due, then wait for the next."""
        now = self.now + EPSILON
        if sa.established_at is None or sa.state in END_STATES:
            return
        if now >= hard_seconds(sa.established_at, sa.life):
            self._expire_ike(sa)
            return
        for c in list(sa.children):
            if c.retire_at is not None and now >= c.retire_at:
                self._remove_child(sa, c)
            elif now >= hard_seconds(c.created, c.life):
                self._expire_child(sa, c, "seconds")
            elif self._rekeys(sa) and not c.rekeying and c.replaced_by is None and now >= soft_seconds(c.created, c.life):
                self._rekey_child(sa, c, f"soft lifetime {c.life.seconds * (1 - MARGIN):g} s of {c.life.seconds} s")
        if self._rekeys(sa) and not sa.rekeying and sa.state is State.ESTABLISHED and now >= soft_seconds(
                sa.established_at, sa.life):
            self._rekey_ike(sa)
        self._arm_life(sa)

    # ------------------------------------------------------------------ data plane
    def _current_child(self, child):
        """Traffic goes to the newest SA of a rekeyed chain (make-before-break); none once it is gone."""
        while child is not None and child.replaced_by is not None and child.replaced_by.live:
            child = child.replaced_by
        return child if child is not None and child.live else None

    def _kilobytes_counted(self, child) -> None:
        """The data plane counted inner bytes on an SA with a kilobyte limit: past it, the SA is
        cleared (hard); past the margin, rekeyed (soft)."""
        if not child.live:
            return
        sa, state = child.ike, kb_state(max(child.bytes_in, child.bytes_out), child.life)
        if state == "hard":
            self._expire_child(sa, child, "kilobytes")
            self._arm_life(sa)
        elif (state == "soft" and self._rekeys(sa) and not child.rekeying and child.replaced_by is None
              and sa.state is State.ESTABLISHED):
            done = max(child.bytes_in, child.bytes_out) / 1024
            self._rekey_child(sa, child, f"{done:.1f} KB of {child.life.kilobytes} KB protected")

    # ------------------------------------------------------------------ phase 2
    def _rekey_child(self, sa, child, why: str) -> None:
        child.rekeying = True
        self._emit(SaRekeyStarted, phase=2, sa=child.name, why=why)
        self._start_quick_mode(sa)

    def _expire_child(self, sa, child, limit: str) -> None:
        self._emit(SaExpired, phase=2, sa=child.name, limit=limit, lifetime=child.life.describe(),
                   code=Reason.IPSEC_SA_EXPIRED)
        if child.replaced_by is None and sa.reason is None:     # nothing carries its traffic on: say why
            sa.reason = f"IPsec SA {child.name} expired ({limit} limit of {child.life.describe()}) without a rekey"
            sa.code = Reason.IPSEC_SA_EXPIRED
        self._remove_child(sa, child)

    def _remove_child(self, sa, child) -> None:
        """Delete one IPsec SA pair and tell the peer (Delete: protocol, our inbound SPI)."""
        if sa.state is State.ESTABLISHED:
            self._send_info(sa, [Delete(_proto(child), (child.spi_in.to_bytes(4, "big"),), spi_size=4)],
                            "INFO Delete (IPsec SA)")
        sa.children.remove(child)
        self.children.pop(child.spi_in, None)
        self._bury(sa, child)
        self._emit(SaDeleted, what=f"IPsec SA {child.name}", by_peer=False, phase=2, sa=child.name)

    def _bury(self, sa, child) -> None:
        child.live = False
        sa.past_children.append(child)

    # ------------------------------------------------------------------ phase 1
    def _rekey_ike(self, sa) -> None:
        """A new Main Mode to the same peer; the old SA carries on until the new one authenticates."""
        sa.rekeying = True
        self._emit(SaRekeyStarted, phase=1, sa=sa.cookies,
                   why=f"soft lifetime {sa.life.seconds * (1 - MARGIN):g} s of {sa.life.seconds} s")
        datagrams, events = self._out_datagrams, self._out_events
        out = self.connect(sa.remote.ip, self.now)          # connect() opens its own output buffer
        self._out_datagrams, self._out_events = datagrams + list(out.datagrams), events + list(out.events)
        new = next(reversed(self._initiated.values()))
        new.rekey_of = sa

    def _start_quick_mode(self, sa) -> None:
        """After a phase-1 rekey the IPsec SAs move to the new ISAKMP SA: no new Quick Mode."""
        old, sa.rekey_of = sa.rekey_of, None
        if old is None or not old.children or old.state is not State.ESTABLISHED:
            super()._start_quick_mode(sa)
            return
        sa.pending = None              # MM6 answered MM5, and no Quick Mode follows to replace it
        self._rehome(old, sa)
        self._send_info(old, [Delete(ProtocolId.ISAKMP, (old.icookie + old.rcookie,), spi_size=16)],
                        "INFO Delete (ISAKMP SA)")
        self._forget(old, by_peer=False)
        self._retire(old)

    def _retire(self, sa) -> None:
        """A rekeyed ISAKMP SA leaves the SA database (its keys stay in `retired` for secrets.json),
        so a long run's SA list, and every snapshot of it, stays as short as a real one."""
        self.sas.pop((sa.icookie, sa.rcookie), None)
        if self._initiated.get(sa.icookie) is sa:
            del self._initiated[sa.icookie]
        if sa.origin is not None:
            self._mm1_seen.pop((sa.icookie, sa.origin.ip, sa.origin.port), None)
        sa.armed.clear()
        if not hasattr(self, "retired"):
            self.retired = []
        self.retired.append(sa)

    def _rehome(self, old, new) -> None:
        for c in old.children:
            c.ike = new
        new.children.extend(old.children)
        old.children.clear()
        self._emit(SaRekeyed, phase=1, old=old.cookies, new=new.cookies, lifetime=new.life.describe())
        self._arm_life(new)

    def _heir(self, sa):
        """The newest other established ISAKMP SA with the same authenticated peer, if any."""
        found = None
        for other in self.sas.values():
            if (other is not sa and other.state is State.ESTABLISHED and other.id_received == sa.id_received
                    and other.remote.ip == sa.remote.ip and (other.established_at or 0) >= (sa.established_at or 0)):
                found = other
        return found

    def _on_delete(self, sa, d: Delete) -> None:
        """The peer deleted an SA: an ISAKMP SA replaced by a rekey hands its IPsec SAs on first."""
        before, heir = list(sa.children), None
        if d.protocol_id == ProtocolId.ISAKMP and sa.children:
            heir = self._heir(sa)
            if heir is not None:
                self._rehome(sa, heir)
        super()._on_delete(sa, d)
        for c in before:
            if not any(c is x for x in c.ike.children):
                self._bury(c.ike, c)
        if heir is not None:
            self._retire(sa)

    def _expire_ike(self, sa) -> None:
        """Hard lifetime without a successor: delete everything on it and say why."""
        self._emit(SaExpired, phase=1, sa=sa.cookies, limit="seconds", lifetime=sa.life.describe(),
                   code=Reason.IKE_SA_EXPIRED)
        if sa.children:
            self._send_info(sa, [Delete(_proto(sa.children[0]), tuple(c.spi_in.to_bytes(4, "big") for c in sa.children),
                                        spi_size=4)], "INFO Delete (IPsec SAs)")
        self._send_info(sa, [Delete(ProtocolId.ISAKMP, (sa.icookie + sa.rcookie,), spi_size=16)],
                        "INFO Delete (ISAKMP SA)")
        for c in sa.children:
            self._bury(sa, c)
        self._forget(sa, by_peer=False)
        if sa.reason is None:
            sa.reason, sa.code = f"the ISAKMP SA expired after {sa.life.describe()} without a rekey", Reason.IKE_SA_EXPIRED
