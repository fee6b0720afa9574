"""Encrypting and decrypting ISAKMP messages with the phase-1 keys (RFC 2409 Appendix B).

The plaintext payload chain is zero-padded to the cipher block, encrypted in CBC mode with the IV
the caller keeps (phase-1 IV chaining, or per-exchange IVs for Quick Mode and Informational),
and the ISAKMP header length covers the padding. Callers advance their IV only after a message
verified (RFC 2409 §10).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..wire.isakmp import Header, PayloadChain, decode_payloads, encode_header, encode_payloads
from ..wire.numbers import Flag
from .sa import IkeSa


@dataclass(frozen=True)
class Sealed:
    message: bytes
    last_block: bytes   #: the IV for what follows in this exchange


def seal(sa: IkeSa, exchange: int, message_id: int, payloads, iv: bytes) -> Sealed:
    """The whole encrypted message: header (flags E) + CBC(payload chain padded with zeros)."""
    cbc = sa.keys.cbc(sa.choice.cipher)
    block = cbc.block
    plain = encode_payloads(payloads)
    plain += b"\x00" * (-len(plain) % block)
    cipher = cbc.encrypt(iv, plain)
    sa.sealed_ivs.append((message_id, cipher[:block], iv))
    header = Header(sa.icookie, sa.rcookie, payloads[0].payload_type, exchange,
                    Flag.ENCRYPTED, message_id)
    return Sealed(encode_header(header, len(cipher)) + cipher, cipher[-block:])


@dataclass(frozen=True)
class Opened:
    chain: PayloadChain
    plain: bytes
    last_block: bytes


def unseal(sa: IkeSa, header: Header, body: bytes, iv: bytes) -> Opened:
    """Decrypt and parse; DecodeError when the bytes are not a valid chain under these keys."""
    cbc = sa.keys.cbc(sa.choice.cipher)
    plain = cbc.decrypt(iv, body)
    chain = decode_payloads(header.next_payload, plain, max_padding=cbc.block)
    return Opened(chain, plain, body[-cbc.block:])
