"""Hashes, HMAC, CBC and MODP Diffie-Hellman against published values and independent code."""
from __future__ import annotations

import copy
import hashlib
import hmac as std_hmac
import random

import pytest

from natt_core.crypto import primitives as P
from natt_core.errors import ConfigError, DecodeError, IntegrityError
from natt_core.wire.numbers import HashAlg
from tests.vectors_crypto import CBC_CASES, DIGEST_ABC, HMAC_CASES, MODP_PI_FORMULAS


# ---- hashes and HMAC ------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(DIGEST_ABC))
def test_digest_known_answer(name):
    assert P.digest(name, b"abc") == DIGEST_ABC[name] == hashlib.new(name, b"abc").digest()
    assert P.digest_size(name) == len(DIGEST_ABC[name])


@pytest.mark.parametrize("case", HMAC_CASES, ids=lambda c: c.source)
def test_prf_is_hmac_known_answer(case):
    ours = P.prf(case.hash_name, case.key, case.data)
    assert ours == case.mac
    assert ours == std_hmac.new(case.key, case.data, case.hash_name).digest()  # second oracle


def test_hash_by_attr_covers_the_wire_enum():
    assert P.HASH_BY_ATTR == {HashAlg.MD5: "md5", HashAlg.SHA1: "sha1", HashAlg.SHA2_256: "sha256"}
    assert set(P.HASH_BY_ATTR) == set(HashAlg)


def test_unknown_hash_names_the_choices():
    with pytest.raises(ConfigError, match=r"unknown hash 'sha512'.*md5.*sha1.*sha256"):
        P.prf("sha512", b"k", b"d")
    with pytest.raises(ConfigError):
        P.digest("SHA1", b"")


def test_equal_is_exact():
    assert P.equal(b"\x01\x02", b"\x01\x02")
    assert not P.equal(b"\x01\x02", b"\x01\x03")
    assert not P.equal(b"\x01\x02", b"\x01")


# ---- CBC ------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CBC_CASES, ids=lambda c: c.source)
def test_cbc_known_answer(case):
    assert P.cbc_encrypt(case.cipher, case.key, case.iv, case.plaintext) == case.ciphertext
    assert P.cbc_decrypt(case.cipher, case.key, case.iv, case.ciphertext) == case.plaintext


def test_cipher_table():
    assert {n: (c.key_len, c.block) for n, c in P.CIPHERS.items()} == {
        "3des-cbc": (24, 8), "aes-cbc-128": (16, 16), "aes-cbc-192": (24, 16),
        "aes-cbc-256": (32, 16)}


@pytest.mark.parametrize("name", sorted(P.CIPHERS))
def test_cbc_round_trip_and_chaining(name):
    spec = P.CIPHERS[name]
    rng = random.Random(name)
    key, iv = rng.randbytes(spec.key_len), rng.randbytes(spec.block)
    plain = bytes(3 * spec.block)  # identical blocks must still encrypt differently (chaining)
    ct = P.cbc_encrypt(name, key, iv, plain)
    blocks = [ct[i:i + spec.block] for i in range(0, len(ct), spec.block)]
    assert len(set(blocks)) == 3
    assert P.cbc_decrypt(name, key, iv, ct) == plain


def test_cbc_errors():
    key, iv = bytes(16), bytes(16)
    with pytest.raises(ValueError, match="not a multiple of the 16-byte block"):
        P.cbc_encrypt("aes-cbc-128", key, iv, b"short")
    for bad in (b"", bytes(15), bytes(17)):
        with pytest.raises(DecodeError) as err:
            P.cbc_decrypt("aes-cbc-128", key, iv, bad)
        assert (err.value.layer, err.value.offset) == ("CBC", 0)
    with pytest.raises(ConfigError, match="16-byte key"):
        P.cbc_encrypt("aes-cbc-128", bytes(15), iv, bytes(16))
    with pytest.raises(ConfigError, match="8-byte IV"):
        P.cbc_encrypt("3des-cbc", bytes(24), bytes(16), bytes(8))
    with pytest.raises(ConfigError, match="unknown cipher 'des-cbc'"):
        P.cbc_encrypt("des-cbc", bytes(8), bytes(8), bytes(8))


# ---- MODP groups ----------------------------------------------------------------------------

def pi_times_power_of_two(bits: int) -> int:
    """floor(pi * 2^bits) in integers only: Machin, pi = 16 atan(1/5) - 4 atan(1/239).

    64 guard bits absorb the truncation error of the series (a few units per term, a few
    hundred terms); the assertion refuses an answer too close to an integer boundary.
    """
    guard = 64
    one = 1 << (bits + guard)

    def atan_inv(x: int) -> int:
        power = total = one // x
        n, sign, x2 = 1, 1, x * x
        while power:
            power //= x2
            n += 2
            sign = -sign
            total += sign * (power // n)
        return total

    scaled = 16 * atan_inv(5) - 4 * atan_inv(239)
    frac = scaled & ((1 << guard) - 1)
    assert 1 << 16 < frac < (1 << guard) - (1 << 16), "too close to a boundary to floor safely"
    return scaled >> guard


def test_pi_helper_itself():
    assert pi_times_power_of_two(0) == 3
    assert pi_times_power_of_two(32) == 0x3243F6A88  # pi = 3.243F6A88 85A3... in hex


@pytest.mark.parametrize("number", sorted(MODP_PI_FORMULAS))
def test_modp_prime_equals_pi_formula(number):
    bits, shift, add = MODP_PI_FORMULAS[number]
    rebuilt = 2**bits - 2**(bits - 64) - 1 + 2**64 * (pi_times_power_of_two(shift) + add)
    group = P.MODP[number]
    assert group.prime == rebuilt
    assert group.number == number and group.generator == 2
    assert group.length * 8 == bits == group.prime.bit_length()


def test_modp_lookup():
    assert P.modp_group(14) is P.MODP[14]
    with pytest.raises(ConfigError, match="unsupported DH group 3"):
        P.modp_group(3)


def test_dh_private_is_deterministic_and_sized():
    g = P.MODP[14]
    a = [P.dh_private(g, random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    assert a[0].bit_length() == P.PRIVATE_BITS
    assert P.dh_private(g, random.Random(8)) != a[0]


@pytest.mark.parametrize("number", sorted(P.MODP))
def test_dh_agreement(number):
    g = P.MODP[number]
    rng = random.Random(number)
    a, b = P.dh_private(g, rng), P.dh_private(g, rng)
    pub_a, pub_b = P.dh_public(g, a), P.dh_public(g, b)
    assert len(pub_a) == len(pub_b) == g.length
    # Python's own modular exponentiation is the independent oracle for OpenSSL's result.
    assert int.from_bytes(pub_a, "big") == pow(g.generator, a, g.prime)
    shared = P.dh_shared(g, a, pub_b)
    assert shared == P.dh_shared(g, b, pub_a)
    assert shared == pow(g.generator, a * b, g.prime).to_bytes(g.length, "big")


def test_dh_values_are_left_padded():
    g = P.MODP[2]
    rng = random.Random(2024)
    x = next(x for x in (P.dh_private(g, rng) for _ in range(5000))
             if pow(2, x, g.prime) < 1 << (8 * g.length - 8))
    pub = P.dh_public(g, x)
    assert len(pub) == g.length and pub[0] == 0
    assert int.from_bytes(pub, "big") == pow(2, x, g.prime)
    peer = P.dh_public(g, P.dh_private(g, rng))
    y = int.from_bytes(peer, "big")
    x2 = next(x for x in (P.dh_private(g, rng) for _ in range(5000))
              if pow(y, x, g.prime) < 1 << (8 * g.length - 8))
    shared = P.dh_shared(g, x2, peer)
    assert len(shared) == g.length and shared[0] == 0
    assert shared == pow(y, x2, g.prime).to_bytes(g.length, "big")


@pytest.mark.parametrize("value, reason", [
    (0, "outside"), (1, "outside"), ("p-1", "outside"), ("p", "outside"), ("max", "outside"),
    ("short", "127 bytes, expected 128"), ("long", "129 bytes, expected 128"),
])
def test_dh_shared_rejects_bad_peer_values(value, reason):
    g = P.MODP[2]
    x = P.dh_private(g, random.Random(1))
    raw = {
        "p-1": (g.prime - 1).to_bytes(128, "big"), "p": g.prime.to_bytes(128, "big"),
        "max": b"\xff" * 128, "short": bytes(P.dh_public(g, x)[1:]),
        "long": b"\x00" + P.dh_public(g, x),
    }.get(value) if isinstance(value, str) else value.to_bytes(128, "big")
    with pytest.raises(IntegrityError, match=reason):
        P.dh_shared(g, x, raw)


def test_dh_shared_accepts_range_edges():
    g = P.MODP[2]
    x = P.dh_private(g, random.Random(1))
    for y in (2, g.prime - 2):
        assert P.dh_shared(g, x, y.to_bytes(128, "big")) == pow(y, x, g.prime).to_bytes(128, "big")


def test_one_key_decrypts_many_messages_through_its_kept_context():
    """KeyedCbc decrypts every message of a key in one context, fed the IV first: the published
    answers hold in any order, after a message under another IV, and after input it refused."""
    for case in CBC_CASES:
        keyed = P.KeyedCbc(case.cipher, case.key)
        block = keyed.block
        other_iv, other = bytes(range(block)), bytes(3 * block)
        for _ in range(2):
            assert keyed.decrypt(case.iv, case.ciphertext) == case.plaintext
            assert keyed.decrypt(other_iv, keyed.encrypt(other_iv, other)) == other
            with pytest.raises(DecodeError):
                keyed.decrypt(case.iv, case.ciphertext[:-1])     # refused before the context sees it
            with pytest.raises(ConfigError):
                keyed.decrypt(case.iv[:-1], case.ciphertext)
        assert P.KeyedCbc.__reduce__(keyed)[1] == (case.cipher, case.key)   # pickled as name and key
        assert copy.deepcopy(keyed).decrypt(case.iv, case.ciphertext) == case.plaintext
