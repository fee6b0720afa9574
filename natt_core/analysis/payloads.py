"""A lenient walk over IKE payload chains, for IKEv1 and IKEv2 alike.

Both versions frame every payload the same way (RFC 2408 §3.2, RFC 7296 §3.2): next payload,
one reserved/critical byte, a 16-bit length. A capture from the field carries payloads nobody
here decodes (draft NAT-D numbers, vendor extensions, IKEv2's SK), so the walk keeps each one's
type and bytes and leaves the reading of the few that matter — SA, Vendor ID, NAT-D, Notify —
to small readers below. A chain that breaks off keeps what was read before the break.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from ..errors import DecodeError
from ..wire.codec import Reader
from ..wire.isakmp import SA

MAX_PAYLOADS = 256
ENCRYPTED = (46, 53)     #: IKEv2 SK (RFC 7296 §3.14) and SKF (RFC 7383 §2.5); never IKEv1 payload numbers


@dataclass(frozen=True)
class RawPayload:
    type: int
    body: bytes


def walk(first: int, body: bytes) -> tuple[list[RawPayload], str | None]:
    """Every payload of a chain, and what broke it off (None when it ended cleanly)."""
    out, kind, at = [], first, 0
    while kind != 0:
        if len(out) >= MAX_PAYLOADS:
            return out, f"more than {MAX_PAYLOADS} payloads"
        if at + 4 > len(body):
            return out, f"payload {kind} header truncated at byte {28 + at}"
        nxt, length = body[at], int.from_bytes(body[at + 2:at + 4], "big")
        if length < 4 or at + length > len(body):
            return out, f"payload {kind} length {length} does not fit at byte {28 + at}"
        out.append(RawPayload(kind, body[at + 4:at + length]))
        if kind in ENCRYPTED:           # IKEv2 SK/SKF: its next-payload names the first encrypted one
            return out, None
        kind, at = nxt, at + length
    return out, None


def notify_v1(body: bytes) -> tuple[int, bytes] | None:
    """(notify type, data) of an IKEv1 Notification: DOI(4) protocol(1) SPI size(1) type(2) SPI data."""
    if len(body) < 8 or 8 + body[5] > len(body):
        return None
    return int.from_bytes(body[6:8], "big"), body[8 + body[5]:]


def sa_v1(body: bytes) -> SA | None:
    """The IKEv1 SA payload (DOI, situation, proposals, transforms), or None if it does not decode."""
    try:
        r = Reader(body, "ISAKMP SA", 0)
        return SA.decode_body(r)
    except DecodeError:
        return None
    except Exception:      # noqa: BLE001 - a field value the lab's dataclasses refuse (ConfigError)
        return None


P1_CIPHERS = {1: "DES", 2: "IDEA", 3: "Blowfish", 4: "RC5", 5: "3DES", 6: "CAST", 7: "AES", 8: "Camellia"}
P1_HASHES = {1: "md5", 2: "sha1", 3: "tiger", 4: "sha256", 5: "sha384", 6: "sha512"}


def transform_facts(t) -> dict:
    """The phase-1 choices of one IKEv1 transform (RFC 2409 Appendix A), as numbers and names."""
    get = lambda k: t.get(k)                        # noqa: E731
    cipher, bits = get(1), get(14)
    return {"cipher": P1_CIPHERS.get(cipher, f"cipher {cipher}") + (f"-{bits}" if bits else ""),
            "hash": P1_HASHES.get(get(2)), "auth": get(3), "group": get(4)}


def transform_text(t) -> str:
    from .dialects import AUTH_METHODS
    f = transform_facts(t)
    auth = AUTH_METHODS.get(f["auth"], f"auth {f['auth']}") if f["auth"] is not None else "auth ?"
    return f"{f['cipher']}/{f['hash'] or '?'}/group {f['group']}/{auth}"


@functools.lru_cache(maxsize=1024)
def sa_summary(body: bytes) -> tuple[tuple[str, ...], tuple[int | None, ...], dict | None, str | None] | None:
    """(every transform readable, their auth methods, the first transform's facts and text) of an
    IKEv1 SA payload; cached by its bytes, as every client of a site sends the same offer."""
    sa = sa_v1(body)
    if sa is None:
        return None
    transforms = [t for p in sa.proposals for t in p.transforms]
    first = transforms[0] if transforms else None
    return (tuple(transform_text(t) for t in transforms), tuple(transform_facts(t)["auth"] for t in transforms),
            transform_facts(first) if first else None, transform_text(first) if first else None)
