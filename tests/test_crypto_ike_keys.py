"""RFC 2409 key schedule: NIST and observed-exchange vectors, plus stdlib recomputations.

Where no published vector exists (Appendix B expansion, IVs, Quick Mode hashes, KEYMAT) the
expected value is recomputed here with the standard library's hmac/hashlib from the RFC formula,
independently of `natt_core.crypto.primitives`.
"""
from __future__ import annotations

import hashlib
import hmac as std_hmac

import pytest

from natt_core.crypto import ike_keys as K
from natt_core.errors import ConfigError
from tests.vectors_crypto import NIST_IKEV1_SHA1 as NIST
from tests.vectors_crypto import PSK_HASH_R_CASES


def std_prf(name: str, key: bytes, *parts: bytes) -> bytes:
    return std_hmac.new(key, b"".join(parts), name).digest()


CKY_I, CKY_R = bytes.fromhex("1111111111111111"), bytes.fromhex("2222222222222222")
NI, NR = b"initiator-nonce-" * 2, b"responder-nonce!" * 2
GXI, GXR, GXY = b"\x01" * 128, b"\x02" * 128, b"\x03" * 128


# ---- published vectors ----------------------------------------------------------------------

def test_nist_sp800_135_ikev1_sha1():
    skeyid = K.skeyid_sig("sha1", NIST["ni"], NIST["nr"], NIST["gxy"])
    assert skeyid == NIST["skeyid"]
    d, a, e = K.derive_skeyid_dae("sha1", skeyid, NIST["gxy"], NIST["cky_i"], NIST["cky_r"])
    assert (d, a, e) == (NIST["skeyid_d"], NIST["skeyid_a"], NIST["skeyid_e"])


@pytest.mark.parametrize("case", PSK_HASH_R_CASES, ids=lambda c: c.source)
def test_observed_psk_hash_r_md5(case):
    skeyid = K.skeyid_psk("md5", case.psk, case.ni_b, case.nr_b)
    got = K.hash_r("md5", skeyid, case.g_xr, case.g_xi, case.cky_r, case.cky_i, case.sai_b,
                   case.idir_b)
    assert got == case.hash_r
    wrong = K.skeyid_psk("md5", case.psk + b"x", case.ni_b, case.nr_b)
    assert K.hash_r("md5", wrong, case.g_xr, case.g_xi, case.cky_r, case.cky_i, case.sai_b,
                    case.idir_b) != case.hash_r


# ---- phase 1 --------------------------------------------------------------------------------

def test_skeyid_psk_and_dae_formulas():
    skeyid = K.skeyid_psk("sha1", b"secret", NI, NR)
    assert skeyid == std_prf("sha1", b"secret", NI, NR)
    d, a, e = K.derive_skeyid_dae("sha1", skeyid, GXY, CKY_I, CKY_R)
    assert d == std_prf("sha1", skeyid, GXY, CKY_I, CKY_R, b"\x00")
    assert a == std_prf("sha1", skeyid, d, GXY, CKY_I, CKY_R, b"\x01")
    assert e == std_prf("sha1", skeyid, a, GXY, CKY_I, CKY_R, b"\x02")


def test_appendix_b_expansion_aes256_sha1():
    skeyid_e = NIST["skeyid_e"]  # 20 bytes: too short for a 32-byte AES-256 key
    k1 = std_prf("sha1", skeyid_e, b"\x00")
    k2 = std_prf("sha1", skeyid_e, k1)
    assert K.expand_enc_key("sha1", skeyid_e, 32) == (k1 + k2)[:32]
    assert K.expand_enc_key("sha1", skeyid_e, 24) == (k1 + k2)[:24]  # 3DES
    k3 = std_prf("sha1", skeyid_e, k2)
    assert K.expand_enc_key("sha1", skeyid_e, 50) == (k1 + k2 + k3)[:50]


def test_appendix_b_no_expansion_when_long_enough():
    skeyid_e = NIST["skeyid_e"]
    assert K.expand_enc_key("sha1", skeyid_e, 16) == skeyid_e[:16]  # AES-128 with SHA-1
    assert K.expand_enc_key("sha1", skeyid_e, 20) == skeyid_e
    long_e = bytes(range(32))
    assert K.expand_enc_key("sha256", long_e, 32) == long_e  # AES-256 with SHA-256
    with pytest.raises(ConfigError):
        K.expand_enc_key("sha1", skeyid_e, 0)


def test_phase1_keys_bundles_the_schedule():
    keys = K.phase1_keys("sha1", b"secret", NI, NR, GXY, CKY_I, CKY_R, 32)
    skeyid = K.skeyid_psk("sha1", b"secret", NI, NR)
    d, a, e = K.derive_skeyid_dae("sha1", skeyid, GXY, CKY_I, CKY_R)
    assert keys == K.Phase1Keys(skeyid, d, a, e, K.expand_enc_key("sha1", e, 32))
    assert len(keys.enc_key) == 32


def test_phase1_iv_and_exchange_iv():
    assert K.phase1_iv("sha1", GXI, GXR, 16) == hashlib.sha1(GXI + GXR).digest()[:16]
    assert K.phase1_iv("md5", GXI, GXR, 8) == hashlib.md5(GXI + GXR).digest()[:8]
    last = bytes(range(16))
    assert (K.exchange_iv("sha1", last, 0x01020304, 16)
            == hashlib.sha1(last + b"\x01\x02\x03\x04").digest()[:16])
    with pytest.raises(ConfigError, match="block size 32"):
        K.phase1_iv("md5", GXI, GXR, 32)
    with pytest.raises(ConfigError, match="32 bits"):
        K.exchange_iv("sha1", last, 1 << 32, 16)


def test_hash_i_and_hash_r_orders():
    skeyid, sai_b, idii_b, idir_b = b"k" * 20, b"SA-body", b"\x01\x00\x00\x00\xc0\xa8\x01\x0a", \
        b"\x01\x00\x00\x00\xc6\x33\x64\x07"
    hi = K.hash_i("sha1", skeyid, GXI, GXR, CKY_I, CKY_R, sai_b, idii_b)
    assert hi == std_prf("sha1", skeyid, GXI, GXR, CKY_I, CKY_R, sai_b, idii_b)
    hr = K.hash_r("sha1", skeyid, GXR, GXI, CKY_R, CKY_I, sai_b, idir_b)
    assert hr == std_prf("sha1", skeyid, GXR, GXI, CKY_R, CKY_I, sai_b, idir_b)
    assert K.hash_r("sha1", skeyid, GXR, GXI, CKY_R, CKY_I, sai_b, idii_b) != hi


# ---- Quick Mode and Informational ----------------------------------------------------------

MID = 0xA1B2C3D4
MID_B = bytes.fromhex("a1b2c3d4")


def test_quick_mode_hashes():
    skeyid_a, after = b"a" * 20, b"<SA><Ni><IDci><IDcr>"
    assert K.qm_hash1("sha1", skeyid_a, MID, after) == std_prf("sha1", skeyid_a, MID_B, after)
    assert (K.qm_hash2("sha1", skeyid_a, MID, NI, after)
            == std_prf("sha1", skeyid_a, MID_B, NI, after))
    assert (K.qm_hash3("sha1", skeyid_a, MID, NI, NR)
            == std_prf("sha1", skeyid_a, b"\x00", MID_B, NI, NR))
    assert K.info_hash("md5", skeyid_a, MID, b"<N>") == std_prf("md5", skeyid_a, MID_B, b"<N>")


@pytest.mark.parametrize("pfs", [None, b"\x07" * 128], ids=["no-pfs", "pfs"])
def test_keymat_chain(pfs):
    skeyid_d, spi = b"d" * 20, bytes.fromhex("c0ffee01")
    seed = (pfs or b"") + b"\x03" + spi + NI + NR
    k1 = std_prf("sha1", skeyid_d, seed)
    k2 = std_prf("sha1", skeyid_d, k1, seed)
    k3 = std_prf("sha1", skeyid_d, k2, seed)
    got = K.keymat("sha1", skeyid_d, 3, spi, NI, NR, 52, pfs_gxy=pfs)  # AES-256 + HMAC-SHA1
    assert got == (k1 + k2 + k3)[:52]
    assert K.keymat("sha1", skeyid_d, 3, spi, NI, NR, 16, pfs_gxy=pfs) == k1[:16]
    # The protocol byte and the SPI separate the keys of AH/ESP and of the two directions.
    assert K.keymat("sha1", skeyid_d, 2, spi, NI, NR, 52, pfs_gxy=pfs) != got
    assert K.keymat("sha1", skeyid_d, 3, b"\xc0\xff\xee\x02", NI, NR, 52, pfs_gxy=pfs) != got


def test_split_keymat():
    km = bytes(range(40))
    assert K.split_keymat(km, 16, 20) == (km[:16], km[16:36])
    with pytest.raises(ConfigError, match="40 bytes, need 32 \\+ 20"):
        K.split_keymat(km, 32, 20)


def test_keymat_argument_errors():
    with pytest.raises(ConfigError):
        K.keymat("sha1", b"d", 256, b"\x00" * 4, NI, NR, 16)
    with pytest.raises(ConfigError):
        K.keymat("sha1", b"d", 3, b"\x00" * 4, NI, NR, 0)
