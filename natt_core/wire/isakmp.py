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
from .isakmp_frame import (_GENERIC_PACK, _GENERIC_UNPACK, GENERIC_HEADER_LEN, HEADER_LEN, Header, _block,
                           _check, _Fields, _generic, _new, _reject_block, _set, decode_header, encode_header,
                           pack_header)
from .isakmp_payloads import (_DECODERS, ID, ID_ADDRESS_LEN, KE, NAT_OA_ADDRESS_LEN, OPAQUE_BODIES, SA, Delete,
                              Fragment, Hash, NatD, NatOA, Nonce, Notification, Payload, Unknown, VendorID, _Opaque,
                              _Payload, chain_decoders, summary)
from .isakmp_proposals import Attribute, Proposal, Transform, _decode_list, _encode_list
from .isakmp_cert import Cert, CertRequest, Sig  # registers CERT, CR and SIG with the chain decoder
from .numbers import PayloadType, label
from ..net.records import fast_init_all


# --- the chain ---------------------------------------------------------------------------------

def encode_payloads(payloads: Sequence[Payload], last_next: int = PayloadType.NONE) -> bytes:
    """The payload chain; the only place next-payload bytes and lengths are computed. The last
    payload's next-payload byte is `last_next`: the first type of an already-encoded chain that
    follows (Quick Mode and Informational hash the chain after HASH, then send it behind HASH)."""
    # walked from the last payload back, so each payload's next type is the one just seen: every
    # generic header is packed as its body is read (no lists of bodies and types to join again)
    parts: list[bytes] = []
    nxt = last_next
    for p in reversed(payloads):
        # a body that is one byte string (KE, Nonce, HASH, Vendor ID, NAT-D) is read, not asked for:
        # its `encode_body` would only return that field as bytes (the class names the field)
        field = p._body_field
        if field is not None:
            body = p.__dict__[field]
            if body.__class__ is not bytes:
                body = bytes(body)
        else:
            body = p.encode_body()
        length = GENERIC_HEADER_LEN + len(body)
        if length > 0xFFFF:
            _generic(0, body)   # raises the ConfigError naming the length
        parts += (body, _GENERIC_PACK(nxt, 0, length))
        nxt = p.payload_type
    return b"".join(reversed(parts))


def encode_message(header: Header, payloads: Sequence[Payload]) -> bytes:
    """A plaintext message: header (next payload and length filled in) + payload chain."""
    body = encode_payloads(payloads)
    first = payloads[0].payload_type if payloads else PayloadType.NONE
    return encode_header(header, len(body), first) + body


def encode_plain(icookie: bytes, rcookie: bytes, exchange: int, payloads: Sequence[Payload]) -> bytes:
    """`encode_message` for a plaintext message whose header (flags 0, Message ID 0) comes from
    an SA's own cookies: packed from them, without a `Header` built and checked per message."""
    body = encode_payloads(payloads)
    first = payloads[0].payload_type if payloads else PayloadType.NONE
    return pack_header(icookie, rcookie, first, exchange, 0, 0, len(body)) + body


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


#: type -> how `decode_payloads` makes its payload: (class, field, fixed fields) for a body that is
#: one byte string (isakmp_payloads.OPAQUE_BODIES), made in the loop itself; otherwise the chain
#: decoder, (body bytes, absolute offset) -> payload (CERT, CR and SIG are registered by now)
_KINDS = {**chain_decoders(), **OPAQUE_BODIES}


def _what(kind: int) -> str:
    """'SA payload', ... for error messages."""
    return f"{label(PayloadType, kind)} payload"


def decode_payloads(first_type: int, body: bytes, *, base: int = HEADER_LEN,
                    max_padding: int = 0) -> PayloadChain:
    """Decode a payload chain strictly; up to `max_padding` bytes may follow (CBC padding)."""
    data = body if body.__class__ is bytes else bytes(body)
    end = len(data)
    found: list[tuple[Payload, bytes]] = []    # each payload with its bytes, split once at the end
    pos, kind = 0, first_type
    while kind:
        # the generic header read inline (this loop runs for every payload of every message);
        # anything wrong with it is named by the strict `_block`
        if end - pos < GENERIC_HEADER_LEN:
            _reject_block(data, pos, base, "ISAKMP payload", _what(kind), GENERIC_HEADER_LEN)
        nxt, reserved, length = _GENERIC_UNPACK(data, pos)
        if reserved or length < GENERIC_HEADER_LEN or length > end - pos:
            _reject_block(data, pos, base, "ISAKMP payload", _what(kind), GENERIC_HEADER_LEN)
        stop = pos + length
        try:
            how = _KINDS[kind]
        except KeyError:    # a type without a class: kept as its bytes
            payload = Unknown(kind, data[pos + GENERIC_HEADER_LEN:stop])
        else:
            if how.__class__ is tuple:    # a body that is one byte string, made the payload here (its decoder's job)
                payload = _new(how[0])
                _set(payload, "__dict__", {how[1]: data[pos + GENERIC_HEADER_LEN:stop], **how[2]})
            else:
                payload = how(data[pos + GENERIC_HEADER_LEN:stop], base + pos + GENERIC_HEADER_LEN)
        found.append((payload, data[pos:stop]))
        pos, kind = stop, nxt
    if end - pos > max_padding:
        raise DecodeError("ISAKMP payload", base + pos, f"{end - pos} trailing bytes after the last payload")
    payloads, raws = zip(*found) if found else ((), ())
    return PayloadChain(payloads, raws, pos)


def decode_message(data: bytes) -> tuple[Header, PayloadChain]:
    """Decode a plaintext message; an encrypted body must be decrypted, then decode_payloads."""
    header, body = decode_header(data)
    if header.encrypted:
        raise DecodeError("ISAKMP header", 19, "encrypted body: decrypt it, then decode_payloads")
    return header, decode_payloads(header.next_payload, body)


__all__ = ["GENERIC_HEADER_LEN", "HEADER_LEN", "ID_ADDRESS_LEN", "NAT_OA_ADDRESS_LEN", "ID", "KE", "SA",
           "Attribute", "Cert", "CertRequest", "Delete", "Fragment", "Hash", "Header", "NatD", "NatOA", "Nonce",
           "Notification", "Payload", "PayloadChain", "Proposal", "Sig", "Transform", "Unknown", "VendorID", "decode_header", "decode_message",
           "decode_payloads", "encode_header", "encode_message", "encode_plain", "encode_payloads", "pack_header", "summary",
           "_DECODERS", "_Fields", "_Opaque", "_Payload", "_block", "_check", "_decode_list", "_encode_list",
           "_generic"]


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
