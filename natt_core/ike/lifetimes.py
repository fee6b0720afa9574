"""SA lifetimes: what goes on the wire, what a responder picks, and when an SA is rekeyed or dies.

An SA's life is a list of (type, duration) attribute pairs: seconds and/or kilobytes (phase 1:
RFC 2409 App. A classes 11/12; phase 2: RFC 2407 §4.5 classes 1/2). An SA ends at whichever limit
it reaches first. A responder may take a shorter life than offered; in Quick Mode it still echoes
the transform as offered and says what it chose with a RESPONDER-LIFETIME notification (RFC 2407
§4.6.3.1: protocol of the chosen SA, its sender's inbound SPI, the attribute list as data), which
the initiator adopts. The rekey moment is the hard limit minus a margin, as strongSwan's
`margintime`/`marginbytes` (ipsec.conf; 9 minutes of a 1 hour `lifetime` by default, i.e. 15 %),
without strongSwan's random `rekeyfuzz` so that every run is the same.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..wire.codec import Reader
from ..wire.isakmp import Attribute, Notification
from ..wire.isakmp_proposals import _decode_attributes
from ..wire.numbers import IpsecAttr, LifeType, NotifyType, Phase1Attr
from ..net.records import fast_init_all

#: the rekey margin as a share of the hard limit (strongSwan: margintime 9m of lifetime 1h)
MARGIN = 0.15
#: seconds an SA replaced by a rekey is kept before its Delete, so packets still on the wire to it
#: arrive (strongSwan's charon.delete_rekeyed_delay, 5 s)
DELETE_DELAY = 5.0


@dataclass(frozen=True)
class Life:
    """An SA's limits: seconds, and kilobytes of traffic (0: no kilobyte limit)."""
    seconds: int
    kilobytes: int = 0

    def attributes(self, phase: int) -> list[Attribute]:
        """The life type/duration pairs as the SA payload carries them."""
        kind, duration = (Phase1Attr.LIFE_TYPE, Phase1Attr.LIFE_DURATION) if phase == 1 else (
            IpsecAttr.LIFE_TYPE, IpsecAttr.LIFE_DURATION)
        out = [Attribute(kind, LifeType.SECONDS), Attribute(duration, self.seconds)]
        if self.kilobytes:
            out += [Attribute(kind, LifeType.KILOBYTES), Attribute(duration, self.kilobytes)]
        return out

    def describe(self) -> str:
        kb = f", {self.kilobytes} KB" if self.kilobytes else ""
        return f"{self.seconds} s{kb}"


def read_life(attributes, phase: int, default_seconds: int) -> Life:
    """The life a list of attributes describes: each duration belongs to the life type before it
    (RFC 2407 §4.5, RFC 2409 App. A); no seconds given means the default (8 hours, 28800 s)."""
    kind, duration = _LIFE_ATTRIBUTES[1 if phase == 1 else 2]
    seconds, kilobytes, current = None, 0, None
    for a in attributes:
        value = a.value
        if value.__class__ is not int and isinstance(value, bytes):
            value = int.from_bytes(value, "big")
        if a.type == kind:
            current = value
        elif a.type == duration and current == _SECONDS:
            seconds = value
        elif a.type == duration and current == _KILOBYTES:
            kilobytes = value
    return Life(default_seconds if seconds is None else seconds, kilobytes)


#: the life type and duration attributes of each phase, and the life types, named once (a member
#: read off its Enum class is a slow attribute hook in Python 3.11; these are read per attribute)
_LIFE_ATTRIBUTES = {1: (Phase1Attr.LIFE_TYPE, Phase1Attr.LIFE_DURATION),
                    2: (IpsecAttr.LIFE_TYPE, IpsecAttr.LIFE_DURATION)}
_SECONDS, _KILOBYTES = LifeType.SECONDS, LifeType.KILOBYTES


def shorter(offered: Life, own: Life) -> Life:
    """What a responder takes: the shorter of each limit (0 kilobytes: none)."""
    kb = min(k for k in (offered.kilobytes, own.kilobytes) if k) if (offered.kilobytes or own.kilobytes) else 0
    return Life(min(offered.seconds, own.seconds), kb)


def responder_lifetime(protocol_id: int, spi: bytes, life: Life, phase: int = 2) -> Notification:
    """RESPONDER-LIFETIME (RFC 2407 §4.6.3.1): the chosen SA's protocol, the sender's inbound SPI
    (or both cookies for an ISAKMP SA), the lifetime attributes as notification data."""
    data = b"".join(a.encode() for a in life.attributes(phase))
    return Notification(NotifyType.RESPONDER_LIFETIME, protocol_id=protocol_id, spi=spi, data=data)


def read_responder_lifetime(n: Notification, phase: int = 2) -> Life:
    """The life a RESPONDER-LIFETIME notification carries (DecodeError on a broken attribute list)."""
    attrs = _decode_attributes(Reader(n.data, "RESPONDER-LIFETIME"))
    return read_life(attrs, phase, 0)


def soft_seconds(created: float, life: Life) -> float:
    """When to start the rekey: the hard limit minus the margin."""
    return created + life.seconds * (1 - MARGIN)


def hard_seconds(created: float, life: Life) -> float:
    return created + life.seconds


def rekeys_in(duration: float, ike_lifetime: int, ipsec_lifetime: int) -> int:
    """About how many rekeys (both phases) one initiator makes in `duration` seconds."""
    return int(duration // (ipsec_lifetime * (1 - MARGIN)) + duration // (ike_lifetime * (1 - MARGIN)))


def kb_state(bytes_done: int, life: Life) -> str | None:
    """'hard' when the kilobyte limit is reached, 'soft' past the margin, else None."""
    if not life.kilobytes:
        return None
    if bytes_done >= life.kilobytes * 1024:
        return "hard"
    if bytes_done >= life.kilobytes * 1024 * (1 - MARGIN):
        return "soft"
    return None


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
