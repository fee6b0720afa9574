"""The SK payload: encrypting and authenticating IKEv2 messages (RFC 7296 §3.14, RFC 5282).

    AES-CBC + HMAC:  HDR | lead | SK hdr | IV(16) | E(inner | pad | PadLen) | ICV
                     ICV = HMAC(SK_a, HDR .. PadLen on ciphertext), truncated (12 or 16 bytes)
    AES-GCM-16:      HDR | lead | SK hdr | IV(8) | E(inner | PadLen=0) | ICV(16)
                     nonce = salt (last 4 bytes of SK_e) | IV; AAD = HDR | lead | SK hdr

The ICV is checked before anything is decrypted, and every failure to open is an
IntegrityError (tampered, wrong keys) or a DecodeError (a plaintext that does not parse).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ...crypto.primitives import GCM_SALT, KeyedCbc, KeyedHmac, equal, gcm_decrypt, gcm_encrypt
from ...errors import DecodeError, IntegrityError
from ...wire.ikev2 import HEADER_LEN, Body, Header, Message, decode_payloads, encode_payloads
from ...wire.ikev2_numbers import Payload
from .suites import EncrSpec, IntegSpec


@dataclass(frozen=True)
class SkCipher:
    """One direction of an IKE SA's protection: SK_e (+ SK_a unless AEAD)."""
    encr: EncrSpec
    enc_key: bytes
    integ: IntegSpec | None = None
    auth_key: bytes = b""

    @property
    def icv_len(self) -> int:
        return self.encr.aead_icv if self.encr.aead else self.integ.icv_len

    @property
    def cbc(self) -> KeyedCbc:
        """SK_e as a CBC cipher, set up once for every message of this direction."""
        kept = self.__dict__.get("_cbc")
        if kept is None:
            kept = self.__dict__["_cbc"] = KeyedCbc(self.encr.cbc_name, self.enc_key)
        return kept

    @property
    def mac(self) -> KeyedHmac:
        """SK_a keyed once; each message's ICV starts from a copy (truncated to the ICV length)."""
        kept = self.__dict__.get("_mac")
        if kept is None:
            kept = self.__dict__["_mac"] = KeyedHmac(self.integ.hash_name, self.auth_key, self.integ.icv_len)
        return kept


def seal(header: Header, inner: Sequence[Body], cipher: SkCipher, iv: bytes, leading: Sequence[Body] = ()) -> bytes:
    """The whole protected message; `iv` comes from the caller's rng (fresh for every message)."""
    encr = cipher.encr
    if len(iv) != encr.iv_len:
        raise ValueError(f"{encr.name} needs a {encr.iv_len}-byte IV")
    plain = encode_payloads(list(inner))
    pad = -(len(plain) + 1) % encr.block
    plain += bytes(pad) + bytes([pad])
    body_len = encr.iv_len + len(plain) + cipher.icv_len
    lead = encode_payloads(list(leading), last_next=Payload.SK) if leading else b""
    first_inner = inner[0].payload_type if inner else Payload.NONE
    sk_hdr = bytes([first_inner, 0]) + (4 + body_len).to_bytes(2, "big")
    total = HEADER_LEN + len(lead) + len(sk_hdr) + body_len
    first = leading[0].payload_type if leading else Payload.SK
    hdr = Header(header.spi_i, header.spi_r, first, header.exchange, header.flags, header.message_id).encode(total)
    aad = hdr + lead + sk_hdr
    if encr.aead:
        key, salt = cipher.enc_key[:-GCM_SALT], cipher.enc_key[-GCM_SALT:]
        return aad + iv + gcm_encrypt(key, salt + iv, plain, aad, encr.aead_icv)
    signed = aad + iv + cipher.cbc.encrypt(iv, plain)
    return signed + cipher.mac.digest(signed)


def open_sk(msg: Message, cipher: SkCipher) -> tuple[Body, ...]:
    """Verify and decrypt the message's SK payload; the inner payloads in order."""
    sk = msg.encrypted
    if sk is None:
        raise DecodeError("IKEv2 SK", HEADER_LEN, "the message has no SK payload")
    encr, icv_len, data, raw = cipher.encr, cipher.icv_len, sk.data, msg.raw
    at = len(raw) - len(data)
    if len(data) < encr.iv_len + icv_len + 1:
        raise DecodeError("IKEv2 SK", at, f"{len(data)} bytes cannot hold a {encr.iv_len}-byte IV, "
                                          f"ciphertext and a {icv_len}-byte ICV")
    iv, ct = data[:encr.iv_len], data[encr.iv_len:]
    if encr.aead:
        key, salt = cipher.enc_key[:-GCM_SALT], cipher.enc_key[-GCM_SALT:]
        plain = gcm_decrypt(key, salt + iv, ct, raw[:at], icv_len)
    else:
        expected = cipher.mac.digest(raw[:-icv_len])
        if not equal(expected, raw[-icv_len:]):
            raise IntegrityError(f"SK integrity check ({cipher.integ.name}) failed: the message was altered "
                                 "or the peer's keys differ")
        ct = ct[:-icv_len]
        if len(ct) % encr.block:
            raise DecodeError("IKEv2 SK", at, f"ciphertext of {len(ct)} bytes is not whole {encr.block}-byte blocks")
        plain = cipher.cbc.decrypt(iv, ct)
    padlen = plain[-1]
    if padlen + 1 > len(plain):
        raise DecodeError("IKEv2 SK", at, f"pad length {padlen} is longer than the {len(plain)}-byte plaintext")
    return decode_payloads(sk.first_inner, plain[:-(padlen + 1)], base=at + encr.iv_len, allow_sk=False)
