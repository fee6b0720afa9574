"""Encrypting and decrypting ISAKMP messages with the phase-1 keys (RFC 2409 Appendix B).

The plaintext payload chain is zero-padded to the cipher block, encrypted in CBC mode with the IV
the caller keeps (phase-1 IV chaining, or per-exchange IVs for Quick Mode and Informational),
and the ISAKMP header length covers the padding. Callers advance their IV only after a message
verified (RFC 2409 §10).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..wire.isakmp import Header, PayloadChain, _generic, decode_payloads, encode_payloads, pack_header
from ..wire.numbers import Flag, PayloadType
from .sa import IkeSa
from ..net.records import fast_init_all

#: read once: a member read off its Enum class is a slow attribute hook in Python 3.11
_ENCRYPTED, _HASH = Flag.ENCRYPTED, PayloadType.HASH


@dataclass(frozen=True)
class Sealed:
    message: bytes
    last_block: bytes   #: the IV for what follows in this exchange


def seal(sa: IkeSa, exchange: int, message_id: int, payloads, iv: bytes) -> Sealed:
    """The whole encrypted message: header (flags E) + CBC(payload chain padded with zeros)."""
    return Sealed(*seal_chain(sa, exchange, message_id, payloads[0].payload_type, encode_payloads(payloads), iv))


def seal_chain(sa: IkeSa, exchange: int, message_id: int, first: int, plain: bytes,
               iv: bytes) -> tuple[bytes, bytes]:
    """`seal` for a chain already encoded (its first payload of type `first`), as the pair
    (message, last block): what the engine's own callers unpack at once, no record made."""
    cbc = sa.keys.cbc(sa.choice.cipher)
    block = cbc.block
    plain += b"\x00" * (-len(plain) % block)
    cipher = cbc.encrypt(iv, plain)
    sa.sealed_ivs.append((message_id, cipher[:block], iv))
    # the header packed from the SA's own (checked) cookies: no Header to build and re-check
    header = pack_header(sa.icookie, sa.rcookie, first, exchange, _ENCRYPTED, message_id, len(cipher))
    return header + cipher, cipher[-block:]


def seal_after_hash(sa: IkeSa, exchange: int, message_id: int, digest: bytes, after: list, tail: bytes,
                    iv: bytes) -> tuple[bytes, bytes]:
    """`seal` of HASH(digest) + `after`, whose chain `tail` the caller encoded to hash it
    (Quick Mode, Informational): the chain is encoded once, and the HASH payload is its generic
    header and the digest (a Hash body is its data; no payload object to build and encode).
    (message, last block), as `seal_chain`."""
    head = _generic(after[0].payload_type if after else 0, digest)     # 0: PayloadType.NONE
    return seal_chain(sa, exchange, message_id, _HASH, head + tail, iv)


def unseal(sa: IkeSa, header: Header, body: bytes, iv: bytes) -> tuple[PayloadChain, bytes]:
    """Decrypt and parse: (the payload chain, the last ciphertext block: the IV for what follows);
    DecodeError when the bytes are not a valid chain under these keys."""
    cbc = sa.keys.cbc(sa.choice.cipher)
    chain = decode_payloads(header.next_payload, cbc.decrypt(iv, body), max_padding=cbc.block)
    return chain, body[-cbc.block:]


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
