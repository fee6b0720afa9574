"""MS-CHAPv2 against RFC 2759 §9.2/§9.3 and RFC 3079 §3.5.3 vectors, DES against pycryptodome."""
from __future__ import annotations

import pytest
from Crypto.Cipher import DES
from hypothesis import given, strategies as st

from natt_core.crypto import mschapv2 as m
from natt_core.errors import ConfigError

H = bytes.fromhex
# RFC 2759 §9.2 "Hash Example" (the same values open RFC 3079 §3.5.3)
USER = "User"
PASSWORD = "clientPass"
AUTH_CHALLENGE = H("5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28")
PEER_CHALLENGE = H("21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E")
CHALLENGE = H("D0 2E 43 86 BC E9 12 26")
PASSWORD_HASH = H("44 EB BA 8D 53 12 B8 D6 11 47 44 11 F5 69 89 AE")
NT_RESPONSE = H("82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF")
PASSWORD_HASH_HASH = H("41 C0 0C 58 4B D2 D9 1C 40 17 A2 A1 2F A5 9F 3F")
AUTH_RESPONSE = "S=407A5589115FD0D6209F510FE9C04566932CDA56"
# RFC 3079 §3.5.3 (128-bit keys)
MASTER_KEY = H("FD EC E3 71 7A 8C 83 8C B3 88 E5 27 AE 3C DD 31")
SEND_START_KEY_128 = H("8B 7C DC 14 9B 99 3A 1B A1 18 CB 15 3F 56 DC CB")


def test_password_utf16le_bytes_of_the_rfc():
    assert PASSWORD.encode("utf-16-le") == H("63 00 6C 00 69 00 65 00 6E 00 74 00 50 00 61 00 73 00 73 00")


def test_rfc2759_9_2_every_intermediate_value():
    assert m.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, USER) == CHALLENGE
    assert m.nt_password_hash(PASSWORD) == PASSWORD_HASH
    assert m.challenge_response(CHALLENGE, PASSWORD_HASH) == NT_RESPONSE
    assert m.generate_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD) == NT_RESPONSE
    assert m.hash_nt_password_hash(PASSWORD_HASH) == PASSWORD_HASH_HASH
    assert m.generate_authenticator_response(PASSWORD, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER) == AUTH_RESPONSE


def test_check_authenticator_response_rejects_a_wrong_one():
    args = (PASSWORD, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER)
    assert m.check_authenticator_response(*args, AUTH_RESPONSE)
    assert not m.check_authenticator_response(*args, AUTH_RESPONSE[:-1] + "7")
    assert not m.check_authenticator_response("clientPasS", *args[1:], AUTH_RESPONSE)


def test_domain_prefix_is_not_hashed():
    assert m.challenge_hash(PEER_CHALLENGE, AUTH_CHALLENGE, "EXAMPLE\\User") == CHALLENGE


def test_rfc2759_9_3_des_key_parity_expansion():
    # "MyPw": the RFC's PasswordHash is MD4 of the UTF-16LE form
    assert m.nt_password_hash("MyPw") == H("FC 15 6A F7 ED CD 6C 0E DD E3 33 7D 42 7F 4E AC")
    assert m.des_key(H("FC 15 6A F7 ED CD 6C")) == H("FD 0B 5B 5E 7F 6E 34 D9")
    assert m.des_key(H("0E DD E3 33 7D 42 7F")) == H("0E 6E 79 67 37 EA 08 FE")


def test_mschapv1_nt_response_vector_of_pppd():
    # pppd chap_ms.c UNIT_TEST (RFC 2433 ChallengeResponse with the same DES construction)
    got = m.challenge_response(H("10 2D B5 DF 08 5D 30 41"), m.nt_password_hash("MyPw"))
    assert got == H("4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61")


def test_rfc3079_master_key_and_start_keys():
    master = m.master_key(PASSWORD, NT_RESPONSE)
    assert master == MASTER_KEY
    assert m.asymmetric_start_key(master, 16, is_send=True, is_server=True) == SEND_START_KEY_128
    # the server's send key is the client's receive key, and the other way round
    assert m.asymmetric_start_key(master, 16, is_send=False, is_server=False) == SEND_START_KEY_128
    assert m.asymmetric_start_key(master, 16, True, False) == m.asymmetric_start_key(master, 16, False, True)
    assert m.asymmetric_start_key(master, 16, True, False) != SEND_START_KEY_128


@given(st.binary(min_size=7, max_size=7), st.binary(min_size=8, max_size=8))
def test_des_matches_pycryptodome(key7, block):
    key8 = m.des_key(key7)
    assert all(bin(b).count("1") % 2 == 1 for b in key8)
    assert m.des_encrypt(block, key7) == DES.new(key8, DES.MODE_ECB).encrypt(block)


def test_bad_sizes_are_config_errors():
    with pytest.raises(ConfigError):
        m.challenge_hash(b"short", AUTH_CHALLENGE, USER)
    with pytest.raises(ConfigError):
        m.asymmetric_start_key(MASTER_KEY, 12, True, True)
    with pytest.raises(ConfigError):
        m.nt_password_hash("x" * 257)
