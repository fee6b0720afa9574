"""The IKEv2 key schedule, PSK AUTH and the NAT detection hash (RFC 7296 §2.13-§2.18, §2.23).

Each function is one formula, arguments in the order the formula concatenates them:

    prf+(K, S)  = T1 | T2 | ...,  T1 = prf(K, S | 0x01),  Tn = prf(K, T(n-1) | S | n)     §2.13
    SKEYSEED    = prf(Ni | Nr, g^ir)                                                      §2.14
    SK_d | SK_ai | SK_ar | SK_ei | SK_er | SK_pi | SK_pr = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr)
    KEYMAT      = prf+(SK_d, [g^ir (new) |] Ni | Nr)                                      §2.17
    SKEYSEED'   = prf(SK_d (old), g^ir (new) | Ni | Nr)                                   §2.18
    AUTH (PSK)  = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>)            §2.15
    NAT-D       = SHA-1(SPIi | SPIr | IP | Port)                                          §2.23

`prf` is HMAC with the named hash (`primitives.prf`): "sha1" is PRF_HMAC_SHA1 (2), "sha256"
PRF_HMAC_SHA2_256 (5). Nonces are payload bodies; SPIs are the 8-byte header values.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .natd import ip_port
from .primitives import KeyedHmac, digest, digest_size, prf
from ..net.records import fast_init_all

KEY_PAD = b"Key Pad for IKEv2"  #: 17 ASCII bytes, no NUL (§2.15)


def prf_plus(prf_name: str, key: bytes, seed: bytes, length: int) -> bytes:
    """prf+ (§2.13): at most 255 blocks, the counter is one octet."""
    size = digest_size(prf_name)
    if not 0 < length <= 255 * size:
        raise ConfigError(f"prf+ can make 1..{255 * size} bytes with {prf_name}, not {length}")
    keyed = KeyedHmac(prf_name, key).digest     # one key for every block: keyed once, copied
    out, block, n = b"", b"", 1
    while len(out) < length:
        block = keyed(block + seed + bytes([n]))
        out += block
        n += 1
    return out[:length]


def skeyseed(prf_name: str, ni: bytes, nr: bytes, g_ir: bytes) -> bytes:
    return prf(prf_name, ni + nr, g_ir)


def skeyseed_rekey(prf_name: str, sk_d_old: bytes, g_ir_new: bytes, ni: bytes, nr: bytes) -> bytes:
    """The new IKE SA's SKEYSEED (§2.18): keyed with the old SK_d, new DH secret first."""
    return prf(prf_name, sk_d_old, g_ir_new + ni + nr)


@dataclass(frozen=True)
class IkeKeys:
    """The seven IKE SA keys; `_i` keys protect what the original initiator sends (§2.14)."""
    skeyseed: bytes
    sk_d: bytes
    sk_ai: bytes
    sk_ar: bytes
    sk_ei: bytes
    sk_er: bytes
    sk_pi: bytes
    sk_pr: bytes


def ike_keys(prf_name: str, seed: bytes, ni: bytes, nr: bytes, spi_i: bytes, spi_r: bytes,
             enc_len: int, integ_len: int) -> IkeKeys:
    """Split prf+(SKEYSEED, Ni | Nr | SPIi | SPIr): SK_d, SK_pi, SK_pr are the PRF's key size
    (its output size for HMAC), SK_a the integrity key size (0 with AEAD), SK_e the cipher key
    size (salt included for GCM)."""
    p = digest_size(prf_name)
    sizes = (p, integ_len, integ_len, enc_len, enc_len, p, p)
    material = prf_plus(prf_name, seed, ni + nr + spi_i + spi_r, sum(sizes))
    parts, at = [], 0
    for n in sizes:
        parts.append(material[at:at + n])
        at += n
    return IkeKeys(seed, *parts)


def derive_ike_keys(prf_name: str, ni: bytes, nr: bytes, g_ir: bytes, spi_i: bytes, spi_r: bytes,
                    enc_len: int, integ_len: int) -> IkeKeys:
    return ike_keys(prf_name, skeyseed(prf_name, ni, nr, g_ir), ni, nr, spi_i, spi_r, enc_len, integ_len)


def child_keymat(prf_name: str, sk_d: bytes, ni: bytes, nr: bytes, length: int,
                 g_ir_new: bytes | None = None) -> bytes:
    """KEYMAT for a CHILD_SA pair (§2.17); with PFS the new DH secret comes first."""
    return prf_plus(prf_name, sk_d, (g_ir_new or b"") + ni + nr, length)


@dataclass(frozen=True)
class ChildKeys:
    """Keys of one CHILD_SA pair; `_i` protects traffic from the exchange's initiator."""
    enc_i: bytes
    integ_i: bytes
    enc_r: bytes
    integ_r: bytes


def split_child(keymat: bytes, enc_len: int, integ_len: int) -> ChildKeys:
    """KEYMAT = ENCR_i | INTEG_i | ENCR_r | INTEG_r (§2.17: encryption before integrity)."""
    if len(keymat) < 2 * (enc_len + integ_len):
        raise ConfigError(f"KEYMAT of {len(keymat)} bytes is too short for 2 x ({enc_len} + {integ_len})")
    a, b = enc_len, enc_len + integ_len
    return ChildKeys(keymat[:a], keymat[a:b], keymat[b:b + a], keymat[b + a:2 * b])


def signed_octets(prf_name: str, real_message: bytes, peer_nonce: bytes, sk_p: bytes, id_body: bytes) -> bytes:
    """RealMessage | Nonce(peer) | prf(SK_p, RestOfIDPayload) (§2.15)."""
    return real_message + peer_nonce + prf(prf_name, sk_p, id_body)


def psk_auth(prf_name: str, secret: bytes, octets: bytes, padded: bytes | None = None) -> bytes:
    """AUTH data for Shared Key MIC: as long as the PRF output. `padded` is prf(secret, KEY_PAD)
    when the caller already has it (`psk_key`: it depends on the secret alone)."""
    if not secret:
        raise ConfigError("the pre-shared key must not be empty")
    return prf(prf_name, padded or psk_key(prf_name, secret), octets)


def psk_key(prf_name: str, secret: bytes) -> bytes:
    """prf(Shared Secret, "Key Pad for IKEv2"): the key every AUTH of this secret is made with."""
    return prf(prf_name, secret, KEY_PAD)


def natd2_hash(spi_i: bytes, spi_r: bytes, ip: str, port: int) -> bytes:
    """SHA-1(SPIi | SPIr | IP | Port): always SHA-1, whatever PRF is negotiated (§2.23)."""
    if len(spi_i) != 8 or len(spi_r) != 8:
        raise ConfigError("both IKE SPIs must be 8 bytes (SPIr is zero in the first request)")
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} out of range")
    return digest("sha1", spi_i + spi_r + ip_port(ip, port))


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
