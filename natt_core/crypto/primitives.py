"""Thin wrappers over `cryptography`: hashes, HMAC, CBC ciphers and MODP Diffie-Hellman.

Everything above this module names algorithms by short strings ("sha1", "aes-cbc-128"), the same
strings the lab exports to secrets.json, so a key schedule reads like the RFC formula.

* Hash/prf: RFC 2409 §5 uses the HMAC of the negotiated hash as prf (RFC 2104).
* CBC ciphers: RFC 2409 Appendix B (phase 1), RFC 3602 (AES-CBC in ESP), RFC 2451 (3DES in ESP).
  No padding here: IKE pads with zeros and ESP with 1, 2, 3..., so each caller pads itself.
* MODP groups: RFC 2409 §6.1/§6.2 (groups 1, 2), RFC 3526 §2/§3 (groups 5, 14).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from hmac import compare_digest
from functools import lru_cache

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import dh
from cryptography.hazmat.primitives.ciphers import Cipher
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.ciphers.modes import CBC, GCM

from ..errors import ConfigError, DecodeError, IntegrityError
from ..wire.numbers import HashAlg

# --------------------------------------------------------------------------------------------
# Hashes and prf

_HASHES = {"md5": hashes.MD5, "sha1": hashes.SHA1, "sha256": hashes.SHA256}

#: Phase-1 Hash attribute (RFC 2409 Appendix A) -> the project's hash name.
HASH_BY_ATTR = {HashAlg.MD5: "md5", HashAlg.SHA1: "sha1", HashAlg.SHA2_256: "sha256"}


#: one instance per hash: they hold no state, and building one per call showed in profiles
_HASH_OBJECTS = {name: cls() for name, cls in _HASHES.items()}


def _hash(hash_name: str) -> hashes.HashAlgorithm:
    try:
        return _HASH_OBJECTS[hash_name]
    except KeyError:
        raise ConfigError(f"unknown hash {hash_name!r}; choose one of {sorted(_HASHES)}") from None


#: an empty hash context per hash, made on first use: each digest starts from a copy of it, which
#: costs less than a new `hashes.Hash` (whose constructor checks its algorithm in Python every time)
_FRESH: dict[str, hashes.Hash] = {}


def digest(hash_name: str, data: bytes) -> bytes:
    """The plain (unkeyed) hash: NAT-D payloads and phase-1 IVs use it, not the prf."""
    try:
        fresh = _FRESH[hash_name]
    except KeyError:     # the first digest of this hash
        fresh = _FRESH[hash_name] = hashes.Hash(_hash(hash_name))    # `_hash` names a bad one
    h = fresh.copy()
    h.update(data)
    return h.finalize()


def prf(hash_name: str, key: bytes, data: bytes) -> bytes:
    """HMAC with the negotiated hash: IKEv1's prf when no PRF attribute is negotiated."""
    h = hmac.HMAC(key, _hash(hash_name))
    h.update(data)
    return h.finalize()


class KeyedHmac:
    """HMAC under one key for many messages (an SA's integrity key), truncated to `length` bytes:
    the key is processed once and each message starts from a copy of that state (RFC 2104 §4)."""
    __slots__ = ("_keyed", "length")

    def __init__(self, hash_name: str, key: bytes, length: int | None = None):
        algorithm = _HASH_OBJECTS.get(hash_name) or _hash(hash_name)
        self._keyed = hmac.HMAC(key, algorithm)
        self.length = algorithm.digest_size if length is None else length

    def __deepcopy__(self, memo) -> "KeyedHmac":
        return self   # never changed after __init__ (each message works on a copy): safe to share

    def digest(self, data: bytes) -> bytes:
        h = self._keyed.copy()
        h.update(data)
        return h.finalize()[:self.length]


def digest_size(hash_name: str) -> int:
    return _hash(hash_name).digest_size


def equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison for hashes and ICVs: timing must not tell how many bytes match
    (the stdlib's compare_digest, which cryptography's constant_time.bytes_eq calls after
    checking that both are bytes, as bytes() makes them here)."""
    return compare_digest(bytes(a), bytes(b))


# --------------------------------------------------------------------------------------------
# CBC ciphers


@dataclass(frozen=True)
class CipherSpec:
    name: str
    key_len: int  #: bytes
    block: int  #: bytes; also the IV size for CBC


CIPHERS: dict[str, CipherSpec] = {
    spec.name: spec for spec in (
        CipherSpec("3des-cbc", 24, 8),
        CipherSpec("aes-cbc-128", 16, 16),
        CipherSpec("aes-cbc-192", 24, 16),
        CipherSpec("aes-cbc-256", 32, 16),
    )
}


def cipher_spec(name: str) -> CipherSpec:
    try:
        return CIPHERS[name]
    except KeyError:
        raise ConfigError(f"unknown cipher {name!r}; choose one of {sorted(CIPHERS)}") from None


def _cbc(name: str, key: bytes, iv: bytes) -> tuple[Cipher, CipherSpec]:
    spec = cipher_spec(name)
    if len(key) != spec.key_len:
        raise ConfigError(f"{name} needs a {spec.key_len}-byte key, got {len(key)} bytes")
    if len(iv) != spec.block:
        raise ConfigError(f"{name} needs a {spec.block}-byte IV, got {len(iv)} bytes")
    # the classes themselves, not `algorithms.AES`: that module attribute goes through
    # cryptography's deprecation wrapper on every access, which doubled the cost of a message
    algo = TripleDES(key) if name == "3des-cbc" else AES(key)
    return Cipher(algo, CBC(iv)), spec


def cbc_encrypt(cipher: str, key: bytes, iv: bytes, plaintext: bytes) -> bytes:
    """Raw CBC; the caller has already padded (a misaligned plaintext is a caller bug)."""
    c, spec = _cbc(cipher, key, iv)
    if len(plaintext) % spec.block:
        raise ValueError(f"{cipher}: plaintext of {len(plaintext)} bytes is not a multiple of "
                         f"the {spec.block}-byte block; pad it first")
    enc = c.encryptor()
    return enc.update(plaintext) + enc.finalize()


def cbc_decrypt(cipher: str, key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Raw CBC decryption; ciphertext comes off the wire, so a bad length is a DecodeError."""
    c, spec = _cbc(cipher, key, iv)
    if not ciphertext or len(ciphertext) % spec.block:
        raise DecodeError("CBC", 0, f"{cipher}: ciphertext of {len(ciphertext)} bytes is not a "
                                    f"non-empty multiple of the {spec.block}-byte block")
    dec = c.decryptor()
    return dec.update(ciphertext) + dec.finalize()


class KeyedCbc:
    """One CBC key for many messages (an SA's encryption key): the algorithm object is built and
    its key checked once. Each message encrypted gets its own context and IV; every message
    decrypted goes through one context kept for the key (`decrypt` says why that is exact)."""
    __slots__ = ("name", "block", "_algo", "_decryptor")

    def __init__(self, name: str, key: bytes):
        spec = cipher_spec(name)
        if len(key) != spec.key_len:
            raise ConfigError(f"{name} needs a {spec.key_len}-byte key, got {len(key)} bytes")
        self.name, self.block = name, spec.block
        self._algo = TripleDES(key) if name == "3des-cbc" else AES(key)
        self._decryptor = None

    def __deepcopy__(self, memo) -> "KeyedCbc":
        return self   # a key and its algorithm object; the kept context carries nothing between messages

    def __reduce__(self):
        return KeyedCbc, (self.name, self._algo.key)    # a context cannot be pickled; a new one is made

    # The IV check sits inline in encrypt/decrypt rather than in a helper, one call fewer per message.

    def encrypt(self, iv: bytes, plaintext: bytes) -> bytes:
        """As `cbc_encrypt`."""
        if len(plaintext) % self.block:
            raise ValueError(f"{self.name}: plaintext of {len(plaintext)} bytes is not a multiple of "
                             f"the {self.block}-byte block; pad it first")
        if len(iv) != self.block:
            raise ConfigError(f"{self.name} needs a {self.block}-byte IV, got {len(iv)} bytes")
        enc = Cipher(self._algo, CBC(iv)).encryptor()
        return enc.update(plaintext) + enc.finalize()

    def decrypt(self, iv: bytes, ciphertext: bytes) -> bytes:
        """As `cbc_decrypt`, through one decryption context for every message under this key.

        CBC decrypts block i as D(C_i) xor C_(i-1), with the IV as C_0. Fed the IV and then the
        ciphertext, a context left at any earlier message decrypts the IV block against that
        message's last block (garbage, thrown away) and every ciphertext block against the right
        predecessor: the plaintext, exactly. The receiver of RFC 4346 §6.2.3.2 does the same. Only
        whole blocks ever go in (both lengths are checked first), so nothing is carried over from
        one message to the next; building a context per message cost over ten times the
        decryption of a typical packet."""
        block = self.block
        if not ciphertext or len(ciphertext) % block:
            raise DecodeError("CBC", 0, f"{self.name}: ciphertext of {len(ciphertext)} bytes is not a "
                                        f"non-empty multiple of the {block}-byte block")
        if len(iv) != block:
            raise ConfigError(f"{self.name} needs a {block}-byte IV, got {len(iv)} bytes")
        dec = self._decryptor
        if dec is None:
            dec = self._decryptor = Cipher(self._algo, CBC(bytes(block))).decryptor()
        return dec.update(iv + ciphertext)[block:]


# --------------------------------------------------------------------------------------------
# MODP Diffie-Hellman groups

@dataclass(frozen=True)
class ModpGroup:
    number: int  #: the "Group Description" attribute value
    prime: int
    generator: int
    length: int  #: bytes of a KE payload / g^xy, i.e. the prime's size

    def __hash__(self) -> int:
        # by its number, which equal groups share: hashing all four fields (a 2048-bit prime among
        # them) would be most of any lookup keyed by a group
        return hash(self.number)


def _hex(text: str) -> int:
    return int("".join(text.split()), 16)


# The primes exactly as printed in the RFCs (tests rebuild each from its pi formula).
_P768 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22
    514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6
    F44C42E9 A63A3620 FFFFFFFF FFFFFFFF""")                                     # RFC 2409 §6.1
_P1024 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22
    514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6
    F44C42E9 A637ED6B 0BFF5CB6 F406B7ED EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE65381
    FFFFFFFF FFFFFFFF""")                                                       # RFC 2409 §6.2
_P1536 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22
    514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6
    F44C42E9 A637ED6B 0BFF5CB6 F406B7ED EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA237327 FFFFFFFF FFFFFFFF""")  # RFC 3526 §2
_P2048 = _hex("""
    FFFFFFFF FFFFFFFF C90FDAA2 2168C234 C4C6628B 80DC1CD1 29024E08 8A67CC74 020BBEA6 3B139B22
    514A0879 8E3404DD EF9519B3 CD3A431B 302B0A6D F25F1437 4FE1356D 6D51C245 E485B576 625E7EC6
    F44C42E9 A637ED6B 0BFF5CB6 F406B7ED EE386BFB 5A899FA5 AE9F2411 7C4B1FE6 49286651 ECE45B3D
    C2007CB8 A163BF05 98DA4836 1C55D39A 69163FA8 FD24CF5F 83655D23 DCA3AD96 1C62F356 208552BB
    9ED52907 7096966D 670C354E 4ABC9804 F1746C08 CA18217C 32905E46 2E36CE3B E39E772C 180E8603
    9B2783A2 EC07A28F B5C55DF0 6F4C52C9 DE2BCBF6 95581718 3995497C EA956AE5 15D22618 98FA0510
    15728E5A 8AACAA68 FFFFFFFF FFFFFFFF""")                                     # RFC 3526 §3

MODP: dict[int, ModpGroup] = {
    g.number: g for g in (
        ModpGroup(1, _P768, 2, 96),
        ModpGroup(2, _P1024, 2, 128),
        ModpGroup(5, _P1536, 2, 192),
        ModpGroup(14, _P2048, 2, 256),
    )
}

#: Private exponent size for every group: 256 bits with the top bit forced, so the exponent is
#: exactly 256 bits. That is at least twice the strength of each group (RFC 3526 §8 suggests
#: 220-320 bits for 2048-bit MODP) and keeps one rule for all groups.
PRIVATE_BITS = 256


def modp_group(number: int) -> ModpGroup:
    try:
        return MODP[number]
    except KeyError:
        raise ConfigError(f"unsupported DH group {number}; choose one of {sorted(MODP)}") from None


def dh_private(group: ModpGroup, rng: random.Random) -> int:
    """A PRIVATE_BITS-bit exponent drawn from the caller's rng (deterministic runs)."""
    return rng.getrandbits(PRIVATE_BITS) | (1 << (PRIVATE_BITS - 1))


# Keys are loaded from DER rather than built with DHPrivateNumbers/DHPublicNumbers: building from
# numbers makes OpenSSL re-validate the group parameters (a primality test) on every key, about
# 25 ms for group 2, while loading PKCS#8/SubjectPublicKeyInfo skips that and OpenSSL derives
# g^x itself. The encodings are PKCS#3 dhKeyAgreement (RFC 3279 §2.3.2 names the OID).

_DH_OID = bytes.fromhex("06092a864886f70d010301")  # 1.2.840.113549.1.3.1


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def _der_int(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


# The caches below are keyed by the number of a group of MODP (every ModpGroup is one of them), an
# int: hashed without a call to `ModpGroup.__hash__` at every DH step.

@lru_cache(maxsize=None)
def _algorithm_id(number: int) -> bytes:
    group = MODP[number]
    return _der(0x30, _DH_OID + _der(0x30, _der_int(group.prime) + _der_int(group.generator)))


@lru_cache(maxsize=None)
def _private_key_head(number: int, length: int) -> bytes:
    """A PKCS#8 private key for this group up to the content of its INTEGER x, when x's DER
    content is `length` bytes: the same for every exponent of that length (as `_public_key_head`)."""
    return _der(0x30, _der_int(0) + _algorithm_id(number) + _der(0x04, _der(0x02, bytes(length))))[:-length]


@lru_cache(maxsize=4096)
def _private_key(number: int, private: int) -> dh.DHPrivateKey:
    """Cached: a peer calls dh_public then dh_shared with the same exponent."""
    if not 1 < private < MODP[number].prime - 1:
        raise ConfigError(f"DH private exponent out of range for group {number}")
    length = private.bit_length() // 8 + 1      # `_der_int`: big-endian, with a sign byte when the top bit is set
    der = _private_key_head(number, length) + private.to_bytes(length, "big")
    return serialization.load_der_private_key(der, password=None)  # type: ignore[return-value]


def dh_public(group: ModpGroup, private: int) -> bytes:
    """g^x mod p as OpenSSL computes it, big-endian, left-padded to the group length (KE body)."""
    y = _private_key(group.number, private).public_key().public_numbers().y
    return y.to_bytes(group.length, "big")


def check_peer_public(group: ModpGroup, peer_public: bytes) -> int:
    """Reject a KE value that is the wrong size or degenerate (1 and p-1 force g^xy to ±1)."""
    if len(peer_public) != group.length:
        raise IntegrityError(f"DH group {group.number}: peer public value is {len(peer_public)} "
                             f"bytes, expected {group.length}")
    y = int.from_bytes(peer_public, "big")
    if not 2 <= y <= group.prime - 2:
        raise IntegrityError(f"DH group {group.number}: peer public value is outside [2, p-2]")
    return y


@lru_cache(maxsize=None)
def _public_key_head(number: int, length: int) -> bytes:
    """A SubjectPublicKeyInfo for this group up to the content of its INTEGER y, when y's DER
    content is `length` bytes: the same for every public value of that length."""
    return _der(0x30, _algorithm_id(number) + _der(0x03, b"\x00" + _der(0x02, bytes(length))))[:-length]


def dh_shared(group: ModpGroup, private: int, peer_public: bytes) -> bytes:
    """g^xy padded to the group length, via cryptography's exchange()."""
    y = check_peer_public(group, peer_public)
    number = group.number
    length = y.bit_length() // 8 + 1      # `_der_int`: big-endian, with a sign byte when the top bit is set
    peer = serialization.load_der_public_key(_public_key_head(number, length) + y.to_bytes(length, "big"))
    shared = _private_key(number, private).exchange(peer)  # type: ignore[arg-type]
    return shared.rjust(group.length, b"\x00")


# --------------------------------------------------------------------------------------------
# AES-GCM (RFC 5282 for IKEv2 SK, RFC 4106 for ESP): key | 4-byte salt, 8-byte explicit IV

GCM_SALT = 4
GCM_IV = 8


def gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes, icv_len: int = 16) -> bytes:
    """Ciphertext | ICV; `nonce` is salt | IV (12 bytes). An 8- or 12-byte ICV is the full tag
    truncated (NIST SP 800-38D §5.2.1.2)."""
    if len(nonce) != GCM_SALT + GCM_IV:
        raise ConfigError(f"AES-GCM needs a 12-byte nonce (salt | IV), got {len(nonce)}")
    enc = Cipher(AES(key), GCM(nonce, min_tag_length=icv_len)).encryptor()
    enc.authenticate_additional_data(aad)
    ct = enc.update(plaintext) + enc.finalize()
    return ct + enc.tag[:icv_len]


def gcm_decrypt(key: bytes, nonce: bytes, data: bytes, aad: bytes, icv_len: int = 16) -> bytes:
    """Verify and decrypt ciphertext | ICV; IntegrityError when the ICV does not verify."""
    if len(data) < icv_len:
        raise DecodeError("AES-GCM", 0, f"{len(data)} bytes cannot hold a {icv_len}-byte ICV")
    ct, tag = data[:-icv_len], data[-icv_len:]
    dec = Cipher(AES(key), GCM(nonce, tag, min_tag_length=icv_len)).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        return dec.update(ct) + dec.finalize()
    except Exception:
        raise IntegrityError("AES-GCM ICV mismatch: the message was altered or the key is wrong") from None


# --------------------------------------------------------------------------------------------
# ECP-256 (RFC 5903; IKEv2 group 19): KE data is x | y, the shared secret is x only

ECP256_LEN = 64


def ecp256_private(rng: random.Random) -> int:
    """A private scalar in [1, n-1] from the caller's rng (deterministic runs)."""
    n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    return rng.randrange(1, n)


def ecp256_public(private: int) -> bytes:
    from cryptography.hazmat.primitives.asymmetric import ec
    nums = ec.derive_private_key(private, ec.SECP256R1()).public_key().public_numbers()
    return nums.x.to_bytes(32, "big") + nums.y.to_bytes(32, "big")


def ecp256_shared(private: int, peer_public: bytes) -> bytes:
    """The x-coordinate of d * Q (RFC 5903 §7); a point not on the curve is an IntegrityError."""
    from cryptography.hazmat.primitives.asymmetric import ec
    if len(peer_public) != ECP256_LEN:
        raise IntegrityError(f"ECP-256 public value is {len(peer_public)} bytes, expected 64")
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b"\x04" + peer_public)
    except ValueError:
        raise IntegrityError("ECP-256 public value is not a point on the curve") from None
    return ec.derive_private_key(private, ec.SECP256R1()).exchange(ec.ECDH(), peer)
