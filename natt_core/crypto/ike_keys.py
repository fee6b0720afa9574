"""The IKEv1 key schedule and exchange hashes (RFC 2409 §5, §5.4, §5.5, §5.7, Appendix B).

Each function is one formula from the RFC, with its arguments in the order the formula
concatenates them, so the code can be read next to the standard:

    SKEYID   = prf(pre-shared-key, Ni_b | Nr_b)                        §5 (PSK)
    SKEYID_d = prf(SKEYID, g^xy | CKY-I | CKY-R | 0)
    SKEYID_a = prf(SKEYID, SKEYID_d | g^xy | CKY-I | CKY-R | 1)
    SKEYID_e = prf(SKEYID, SKEYID_a | g^xy | CKY-I | CKY-R | 2)
    HASH_I   = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)
    HASH_R   = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
    KEYMAT   = K1 | K2 ..., K1 = prf(SKEYID_d, [g(qm)^xy |] protocol | SPI | Ni_b | Nr_b)   §5.5

`prf` is the HMAC of the negotiated hash (`primitives.prf`); nonces (`*_b`) are payload bodies.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .primitives import KeyedCbc, KeyedHmac, digest, prf
from ..net.records import fast_init_all


def _prf(hash_name: str, key: bytes | KeyedHmac, data: bytes) -> bytes:
    """prf(key, data). `key` is the key's bytes, or the key already keyed (`Phase1Keys.keyed`): an
    SA's SKEYID, SKEYID_a and SKEYID_d key every HASH and KEYMAT of its life, so their HMAC key
    schedule is done once and copied for each message (RFC 2104 §4)."""
    return key.digest(data) if type(key) is KeyedHmac else prf(hash_name, key, data)


def _keyed(hash_name: str, key: bytes | KeyedHmac) -> KeyedHmac:
    return key if type(key) is KeyedHmac else KeyedHmac(hash_name, key)


def _mid(message_id: int) -> bytes:
    """The 4-byte ISAKMP Message ID as it appears in the header."""
    if not 0 <= message_id <= 0xFFFFFFFF:
        raise ConfigError(f"message ID {message_id} does not fit in 32 bits")
    return message_id.to_bytes(4, "big")


# ---- Phase 1 keys ---------------------------------------------------------------------------

def skeyid_psk(hash_name: str, psk: bytes, ni_b: bytes, nr_b: bytes) -> bytes:
    """SKEYID for pre-shared-key authentication: the PSK keys the prf over both nonces (§5)."""
    return prf(hash_name, psk, ni_b + nr_b)


def skeyid_sig(hash_name: str, ni_b: bytes, nr_b: bytes, gxy: bytes) -> bytes:
    """SKEYID for signature authentication: the nonces key the prf over g^xy (§5).

    Used by certificate (RSA/ECDSA) authentication; the published NIST SP 800-135 IKEv1 vectors
    use it too, which lets the SKEYID_d/a/e code be checked against them.
    """
    return prf(hash_name, ni_b + nr_b, gxy)


@dataclass(frozen=True)
class Phase1Keys:
    skeyid: bytes
    skeyid_d: bytes  #: derives Quick Mode KEYMAT
    skeyid_a: bytes  #: authenticates phase-2 and Informational messages (HASH(1..3))
    skeyid_e: bytes  #: source of the phase-1 encryption key
    enc_key: bytes  #: SKEYID_e expanded/truncated to the cipher's key length (Appendix B)

    #: what `keyed` and `cbc` set up, kept in the instance beside its fields once made (equality,
    #: repr and the exported secrets unchanged); these class defaults say "not yet" without a lookup
    _keyed = None
    _cbc = None

    def keyed(self, which: str, hash_name: str) -> KeyedHmac:
        """"skeyid", "skeyid_a" or "skeyid_d" keyed once for the SA's life (see `_prf`)."""
        kept = self._keyed
        if kept is None:
            kept = self.__dict__["_keyed"] = {}
        hmac_ = kept.get((which, hash_name))
        if hmac_ is None:
            hmac_ = kept[(which, hash_name)] = KeyedHmac(hash_name, getattr(self, which))
        return hmac_

    def cbc(self, cipher: str) -> KeyedCbc:
        """The phase-1 encryption key as a CBC cipher, set up once for every message of the SA."""
        kept = self._cbc
        if kept is None or kept.name != cipher:
            kept = self.__dict__["_cbc"] = KeyedCbc(cipher, self.enc_key)
        return kept


def derive_skeyid_dae(hash_name: str, skeyid: bytes | KeyedHmac, gxy: bytes, cky_i: bytes,
                      cky_r: bytes) -> tuple[bytes, bytes, bytes]:
    """(SKEYID_d, SKEYID_a, SKEYID_e): each chains the previous one and ends in 0, 1 or 2.
    SKEYID keys one HMAC whose state each of the three starts from (RFC 2104 §4)."""
    keyed = _keyed(hash_name, skeyid).digest
    tail = gxy + cky_i + cky_r
    skeyid_d = keyed(tail + b"\x00")
    skeyid_a = keyed(skeyid_d + tail + b"\x01")
    skeyid_e = keyed(skeyid_a + tail + b"\x02")
    return skeyid_d, skeyid_a, skeyid_e


def expand_enc_key(hash_name: str, skeyid_e: bytes, key_len: int) -> bytes:
    """Appendix B: SKEYID_e's first key_len bytes, or K1 | K2 ... when SKEYID_e is too short.

    K1 = prf(SKEYID_e, 0x00), K(n) = prf(SKEYID_e, K(n-1)). With SHA-1 (20 bytes) AES-128 needs
    no expansion, while 3DES (24) and AES-256 (32) do.
    """
    if key_len <= 0:
        raise ConfigError(f"key length must be positive, got {key_len}")
    if len(skeyid_e) >= key_len:
        return skeyid_e[:key_len]
    keyed = KeyedHmac(hash_name, skeyid_e).digest
    blocks = [keyed(b"\x00")]
    while sum(map(len, blocks)) < key_len:
        blocks.append(keyed(blocks[-1]))
    return b"".join(blocks)[:key_len]


def phase1_keys(hash_name: str, psk: bytes, ni_b: bytes, nr_b: bytes, gxy: bytes,
                cky_i: bytes, cky_r: bytes, key_len: int) -> Phase1Keys:
    """The whole PSK key schedule for one ISAKMP SA."""
    return phase1_keys_from(hash_name, skeyid_psk(hash_name, psk, ni_b, nr_b), gxy, cky_i, cky_r, key_len)


def phase1_keys_sig(hash_name: str, ni_b: bytes, nr_b: bytes, gxy: bytes,
                    cky_i: bytes, cky_r: bytes, key_len: int) -> Phase1Keys:
    """The whole key schedule for signature (certificate) authentication."""
    return phase1_keys_from(hash_name, skeyid_sig(hash_name, ni_b, nr_b, gxy), gxy, cky_i, cky_r, key_len)


def phase1_keys_from(hash_name: str, skeyid: bytes, gxy: bytes, cky_i: bytes, cky_r: bytes,
                     key_len: int) -> Phase1Keys:
    keyed = KeyedHmac(hash_name, skeyid)
    d, a, e = derive_skeyid_dae(hash_name, keyed, gxy, cky_i, cky_r)
    keys = Phase1Keys(skeyid, d, a, e, expand_enc_key(hash_name, e, key_len))
    keys.__dict__["_keyed"] = {("skeyid", hash_name): keyed}     # HASH_I and HASH_R use it next
    return keys


# ---- IVs ------------------------------------------------------------------------------------

def phase1_iv(hash_name: str, gxi: bytes, gxr: bytes, block: int) -> bytes:
    """IV of the first encrypted phase-1 message (MM5): H(g^xi | g^xr), plain hash, truncated."""
    return _truncate(digest(hash_name, gxi + gxr), block)


def exchange_iv(hash_name: str, last_phase1_block: bytes, message_id: int, block: int) -> bytes:
    """First IV of a Quick Mode or Informational exchange: H(last phase-1 CBC block | M-ID)."""
    return _truncate(digest(hash_name, last_phase1_block + _mid(message_id)), block)


def _truncate(value: bytes, block: int) -> bytes:
    if not 0 < block <= len(value):
        raise ConfigError(f"block size {block} does not fit in a {len(value)}-byte hash")
    return value[:block]


# ---- Phase 1 authentication -----------------------------------------------------------------

def hash_i(hash_name: str, skeyid: bytes | KeyedHmac, gxi: bytes, gxr: bytes, cky_i: bytes, cky_r: bytes,
           sai_b: bytes, idii_b: bytes) -> bytes:
    """HASH_I = prf(SKEYID, g^xi | g^xr | CKY-I | CKY-R | SAi_b | IDii_b)."""
    return _prf(hash_name, skeyid, gxi + gxr + cky_i + cky_r + sai_b + idii_b)


def hash_r(hash_name: str, skeyid: bytes | KeyedHmac, gxr: bytes, gxi: bytes, cky_r: bytes, cky_i: bytes,
           sai_b: bytes, idir_b: bytes) -> bytes:
    """HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b).

    Both hashes cover the initiator's SA body (SAi_b); only the order of the DH values and
    cookies and the ID differ.
    """
    return _prf(hash_name, skeyid, gxr + gxi + cky_r + cky_i + sai_b + idir_b)


# ---- Quick Mode and Informational hashes (§5.5, §5.7) --------------------------------------

def qm_hash1(hash_name: str, skeyid_a: bytes | KeyedHmac, message_id: int, after_hash: bytes) -> bytes:
    """HASH(1) = prf(SKEYID_a, M-ID | every payload after HASH, with generic headers)."""
    return _prf(hash_name, skeyid_a, _mid(message_id) + after_hash)


def qm_hash2(hash_name: str, skeyid_a: bytes | KeyedHmac, message_id: int, ni_b: bytes,
             after_hash: bytes) -> bytes:
    """HASH(2) = prf(SKEYID_a, M-ID | Ni_b | payloads after HASH): binds the reply to QM1."""
    return _prf(hash_name, skeyid_a, _mid(message_id) + ni_b + after_hash)


def qm_hash3(hash_name: str, skeyid_a: bytes | KeyedHmac, message_id: int, ni_b: bytes, nr_b: bytes) -> bytes:
    """HASH(3) = prf(SKEYID_a, 0x00 | M-ID | Ni_b | Nr_b): proves liveness of the initiator."""
    return _prf(hash_name, skeyid_a, b"\x00" + _mid(message_id) + ni_b + nr_b)


def info_hash(hash_name: str, skeyid_a: bytes | KeyedHmac, message_id: int, after_hash: bytes) -> bytes:
    """Informational HASH(1) = prf(SKEYID_a, M-ID | N/D payload) (§5.7)."""
    return _prf(hash_name, skeyid_a, _mid(message_id) + after_hash)


# ---- Phase 2 keying material ----------------------------------------------------------------

def keymat(hash_name: str, skeyid_d: bytes | KeyedHmac, protocol: int, spi: bytes, ni_b: bytes,
           nr_b: bytes, length: int, pfs_gxy: bytes | None = None) -> bytes:
    """KEYMAT for one direction, `length` bytes (§5.5).

    `spi` is the SPI chosen by that SA's receiver, `ni_b`/`nr_b` the Quick Mode nonces and
    `pfs_gxy` the Quick Mode g^xy when PFS is used.
    """
    if not 0 <= protocol <= 0xFF:
        raise ConfigError(f"protocol {protocol} does not fit in one byte")
    if length <= 0:
        raise ConfigError(f"KEYMAT length must be positive, got {length}")
    seed = (pfs_gxy or b"") + bytes([protocol]) + spi + ni_b + nr_b
    keyed = _keyed(hash_name, skeyid_d).digest   # keyed once for every block
    block = material = keyed(seed)
    while len(material) < length:
        block = keyed(block + seed)
        material += block
    return material[:length]


def split_keymat(keymat: bytes, enc_len: int, auth_len: int) -> tuple[bytes, bytes]:
    """(encryption key, integrity key): the cipher key comes first, then the ICV key."""
    if len(keymat) < enc_len + auth_len:
        raise ConfigError(f"KEYMAT has {len(keymat)} bytes, need {enc_len} + {auth_len}")
    return keymat[:enc_len], keymat[enc_len:enc_len + auth_len]


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
