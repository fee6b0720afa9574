"""ISAKMP messages on the wire: header, payload chain, SA/proposal/transform, NAT-D, NAT-OA.

RFC 2408 §3 (header §3.1, generic payload header §3.2, attributes §3.3, SA/proposal/transform
§3.4-§3.6, KE §3.7, ID §3.8, HASH §3.11, Nonce §3.13, Notification §3.14, Delete §3.15,
Vendor ID §3.16), RFC 2407 §4.6 (IPsec DOI layouts), RFC 3947 §3.2 (NAT-D), §5.2 (NAT-OA).

Payload dataclasses hold only what a peer chooses; every next-payload byte, length and count is
computed in one place, `encode_payloads`. Decoding is strict: a length that does not add up is
a `DecodeError` naming the layer and the absolute offset, so a trace can point at the bad byte.

This module is the import surface and holds the payload chain; the parts live by job in
`isakmp_frame` (header, generic payload header), `isakmp_proposals` (attributes, transforms,
proposals) and `isakmp_payloads` (one class per payload type). Every name stays importable here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..errors import DecodeError
from .codec import Reader
from .isakmp_frame import (GENERIC_HEADER_LEN, HEADER_LEN, Header, _block, _check, _Fields, _generic,
                           decode_header, encode_header)
from .isakmp_payloads import (_DECODERS, ID, ID_ADDRESS_LEN, KE, NAT_OA_ADDRESS_LEN, SA, Delete, Fragment, Hash,
                              NatD, NatOA, Nonce, Notification, Payload, Unknown, VendorID, _Opaque,
                              _Payload, summary)
from .isakmp_proposals import Attribute, Proposal, Transform, _decode_list, _encode_list
from .isakmp_cert import Cert, CertRequest, Sig  # registers CERT, CR and SIG with the chain decoder
from .numbers import PayloadType, label
from ..net.records import fast_init_all


# --- the chain ---------------------------------------------------------------------------------

def encode_payloads(payloads: Sequence[Payload]) -> bytes:
    """The payload chain; the only place next-payload bytes and lengths are computed."""
    types = [p.payload_type for p in payloads[1:]] + [PayloadType.NONE]
    return b"".join([_generic(nxt, p.encode_body()) for p, nxt in zip(payloads, types)])


def encode_message(header: Header, payloads: Sequence[Payload]) -> bytes:
    """A plaintext message: header (next payload and length filled in) + payload chain."""
    body = encode_payloads(payloads)
    first = payloads[0].payload_type if payloads else PayloadType.NONE
    return encode_header(header, len(body), first) + body


@dataclass(frozen=True)
class PayloadChain:
    """A decoded chain, with each payload's exact received bytes for hashes over them."""
    payloads: tuple[Payload, ...]
    raw: tuple[bytes, ...]  #: each payload's bytes incl. its generic header (QM HASH(1)/(2))
    end: int                #: offset in the body where the chain ended; padding follows

    def first(self, kind: type) -> Payload | None:
        """The first payload of this class, or None."""
        return next((p for p in self.payloads if isinstance(p, kind)), None)

    def all(self, kind: type) -> tuple[Payload, ...]:
        """Every payload of this class, in order (e.g. both NAT-D payloads)."""
        return tuple(p for p in self.payloads if isinstance(p, kind))


_NO_DECODER = ("ISAKMP payload", None)
_WHAT: dict[int, str] = {}  #: "SA payload", ... for error messages, named once per type


def decode_payloads(first_type: int, body: bytes, *, base: int = HEADER_LEN,
                    max_padding: int = 0) -> PayloadChain:
    """Decode a payload chain strictly; up to `max_padding` bytes may follow (CBC padding)."""
    r = Reader(body, "ISAKMP payload", base)
    data = r.data
    payloads: list[Payload] = []
    raws: list[bytes] = []
    kind = first_type
    while kind:
        start = r.pos
        layer, decoder = _DECODERS.get(kind, _NO_DECODER)
        what = _WHAT.get(kind) or _WHAT.setdefault(kind, f"{label(PayloadType, kind)} payload")
        nxt, sub = _block(r, "ISAKMP payload", what, 4)
        sub.layer = layer
        if decoder is None:
            payloads.append(Unknown(kind, sub.rest()))
        else:
            payloads.append(decoder(sub))
            if sub.pos != len(sub.data):
                sub.expect_end()
        raws.append(data[start:r.pos])
        kind = nxt
    if r.remaining() > max_padding:
        raise r.fail(f"{r.remaining()} trailing bytes after the last payload")
    return PayloadChain(tuple(payloads), tuple(raws), r.pos)


def decode_message(data: bytes) -> tuple[Header, PayloadChain]:
    """Decode a plaintext message; an encrypted body must be decrypted, then decode_payloads."""
    header, body = decode_header(data)
    if header.encrypted:
        raise DecodeError("ISAKMP header", 19, "encrypted body: decrypt it, then decode_payloads")
    return header, decode_payloads(header.next_payload, body)


__all__ = ["GENERIC_HEADER_LEN", "HEADER_LEN", "ID_ADDRESS_LEN", "NAT_OA_ADDRESS_LEN", "ID", "KE", "SA",
           "Attribute", "Cert", "CertRequest", "Delete", "Fragment", "Hash", "Header", "NatD", "NatOA", "Nonce",
           "Notification", "Payload", "PayloadChain", "Proposal", "Sig", "Transform", "Unknown", "VendorID", "decode_header", "decode_message",
           "decode_payloads", "encode_header", "encode_message", "encode_payloads", "summary",
           "_DECODERS", "_Fields", "_Opaque", "_Payload", "_block", "_check", "_decode_list", "_encode_list",
           "_generic"]


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
