"""natt_core.crypto.ikev2_keys against published known answers.

Sources (each value below is copied from the named file, not computed here):

* NIST CAVP SP 800-135 IKEv2 KDF, [SHA-1] COUNT 0, as shipped with libreswan:
  libreswan/libreswan, programs/cavp/test.acvp.ikev2.run, commit a22ccdd9271b792b281c289390a5bf2313b3f2c9
  (SKEYSEED, DKM = prf+(SKEYSEED, Ni|Nr|SPIi|SPIr), DKM(Child SA) = prf+(SK_d, Ni|Nr),
  DKM(Child SA D-H) = prf+(SK_d, g^ir(new)|Ni|Nr), SKEYSEED(Rekey) = prf(SK_d, g^ir(new)|Ni|Nr)).
* PSK AUTH: AOSP IKE library, msft-mirror-aosp/platform.packages.modules.IPsec,
  tests/iketests/src/java/com/android/internal/net/ipsec/ike/message/IkeAuthPskPayloadTest.java,
  commit 12620b7218f6e092ad6a8de6ba4ba16a1c09509a (HMAC-SHA1 PRF, PSK "juniper123").
* PRF_HMAC_SHA2_256: RFC 4868 §2.7.2.1 test case 1 (32-byte key 0x0b.., "Hi There").
* AES-GCM: McGrew & Viega, The Galois/Counter Mode of Operation, Test Case 4 (the NIST vectors).
* ECP-256: RFC 5903 §8.1 (the same values in many independent test suites).
* NAT detection: the IKE_SA_INIT of Wireshark's ikev2-decrypt-aes128ccm12.pcap, as quoted in
  scapy test/contrib/ikev2.uts (SPIs and addresses in /work/shared/reference/ikev2-facts.md §4.1).
"""
from __future__ import annotations

import pytest

from natt_core.crypto.ikev2_keys import (child_keymat, derive_ike_keys, natd2_hash, prf_plus, psk_auth,
                                         signed_octets, skeyseed, skeyseed_rekey, split_child)
from natt_core.crypto.primitives import prf
from natt_core.errors import ConfigError
from natt_core.wire.ikev2 import SA, KE, Nonce, Notify, decode_message

H = bytes.fromhex

# --- CAVP SP 800-135 IKEv2, SHA-1, COUNT 0 ---------------------------------------------------
NI, NR = H("32b50d5f4a3763f3"), H("9206a04b26564cb1")
GIR = H("4b2c1f971981a8ad8d0abeafabf38cf75fc8349c148142465ed9c8b516b8be52")
GIR_NEW = H("863f3c9d06efd39d2b907b97f8699e5dd5251ef64a2a176f36ee40c87d4f9330")
SPII, SPIR = H("34c9e7c188868785"), H("3ff77d760d2b2199")
SKEYSEED = H("a9a7b222b59f8f48645f28a1db5b5f5d7479cba7")
DKM = H("a14293677cc80ff8f9cc0eee30d895da9d8f405666e30ef0dfcb63c634a46002a2a63080e514a062768b76606f9fa5e9"
        "92204fc5a670bde3f10d6b027113936a5c55b648a194ae587b0088d52204b702c979fa280870d2ed41efa9c549fd1119"
        "8af1670b143d384bd275c5f594cf266b05ebadca855e4249520a441a81157435a7a56cc4")
DKM_CHILD = H("8059e3ee8810e6c3a91bc8bcd2a7a41151b8d0e6ae239c7b38093ad85ef4c5811a8e7b5d1cdabd9560b2d5e092d1f24e"
              "2d4b85eccdf0ad0dc9abd94b51ee71814ca6dbc8bb51b6309f5b9545c7eb35cf5580b1e521a8fe20754a2d883ba0c2cf"
              "285f524aea6545b33106bc03e614296d319d41d4b50b3f510b1c0a22f3e664994d234cb4")
DKM_CHILD_DH = H("bb43244c1860ad65ee1e211ffe8bb3661750c8f89cb9f547df7f4fa61d37301628190e38c66232eab4b3ab14c400a519"
                 "7dd3730ed4820a8a10394d51e1c0400052f63ebd36b0e7ef53aaed31eba4a5080d7d4b5666023a8bbb5ffb7857240f9a"
                 "05884d1b7d2f933708450b7b3288f1fc863ab49fa901227cffc06e27899c7054d56fd74c")
SKEYSEED_REKEY = H("63e81194946ebd05df7df5ebf5d8750056bf1f1d")


def test_cavp_skeyseed_and_dkm():
    assert skeyseed("sha1", NI, NR, GIR) == SKEYSEED
    assert prf_plus("sha1", SKEYSEED, NI + NR + SPII + SPIR, 132) == DKM


def test_cavp_split_matches_dkm_order():
    keys = derive_ike_keys("sha1", NI, NR, GIR, SPII, SPIR, enc_len=16, integ_len=20)
    order = keys.sk_d + keys.sk_ai + keys.sk_ar + keys.sk_ei + keys.sk_er + keys.sk_pi + keys.sk_pr
    assert order == DKM[:len(order)] and len(order) == 132
    assert (len(keys.sk_d), len(keys.sk_ai), len(keys.sk_ei), len(keys.sk_pr)) == (20, 20, 16, 20)


def test_cavp_child_keys_without_and_with_pfs_and_rekey():
    sk_d = DKM[:20]
    assert child_keymat("sha1", sk_d, NI, NR, 132) == DKM_CHILD
    assert child_keymat("sha1", sk_d, NI, NR, 132, g_ir_new=GIR_NEW) == DKM_CHILD_DH
    assert skeyseed_rekey("sha1", sk_d, GIR_NEW, NI, NR) == SKEYSEED_REKEY
    ck = split_child(DKM_CHILD, 16, 20)
    assert ck.enc_i == DKM_CHILD[:16] and ck.integ_i == DKM_CHILD[16:36]
    assert ck.enc_r == DKM_CHILD[36:52] and ck.integ_r == DKM_CHILD[52:72]


def test_prf_plus_limits():
    with pytest.raises(ConfigError):
        prf_plus("sha1", b"k", b"s", 255 * 20 + 1)
    assert len(prf_plus("sha1", b"k", b"s", 255 * 20)) == 5100


def test_rfc4868_prf_hmac_sha2_256():
    assert prf("sha256", b"\x0b" * 32, b"Hi There") == H(
        "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7")


# --- AOSP PSK AUTH ---------------------------------------------------------------------------
AOSP_INIT = H(
    "5f54bf6d8b48e6e1000000000000000021202208" "0000000000000150220000300000002c01010004"
    "0300000c0100000c800e00800300000803000002" "0300000804000002000000080200000228000088"
    "00020000b4a2faf4bb54878ae21d638512ece55d" "9236fc5046ab6cef82220f421f3ce6361faf3656"
    "4ecb6d28798a94aad7b2b4b603ddeaaa5630adb9" "ece8ac37534036040610ebdd92f46bef84f0be7d"
    "b860351843858f8acf87056e272377f70c9f2d81" "e29c7b0ce4f291a3a72476bb0b278fd4b7b0a4c2"
    "6bbeb08214c707137607958729000024c39b7f36" "8f4681b89fa9b7be6465abd7c5f68b6ed5d3b4c7"
    "2cb4240eb5c464122900001c00004004e54f73b7" "d83f6beb881eab2051d8663f421d10b02b00001c"
    "00004005d915368ca036004cb578ae3e3fb26850" "9aeab19000000020699369228741c6d4ca094c93"
    "e242c9de19e7b7c60000000500000500")
AOSP_NR = H("9756112ca539f5c25abacc7ee92b73091942a9c06950f98848f1af1694c4ddff")
AOSP_ID = H("010000000a50500d")
AOSP_SKP = H("094787780EE466E2CB049FA327B43908BC57E485")
AOSP_AUTH = H("df7c038aefaaa32d3f44b228b52a332744dfb2c1")


def test_aosp_psk_auth():
    octets = signed_octets("sha1", AOSP_INIT, AOSP_NR, AOSP_SKP, AOSP_ID)
    assert psk_auth("sha1", b"juniper123", octets) == AOSP_AUTH
    other = signed_octets("sha1", AOSP_INIT, bytes([AOSP_NR[0] + 1]) + AOSP_NR[1:], AOSP_SKP, AOSP_ID)
    assert psk_auth("sha1", b"juniper123", other) != AOSP_AUTH


def test_aosp_ike_sa_init_decodes():
    """A real IKE_SA_INIT request from another implementation, payload by payload."""
    msg = decode_message(AOSP_INIT)
    kinds = [type(p).__name__ for p in msg.payloads]
    assert kinds[:3] == ["SA", "KE", "Nonce"] and kinds.count("Notify") >= 2
    assert msg.all(KE)[0].group == 2 and len(msg.all(KE)[0].data) == 128
    assert len(msg.all(Nonce)[0].data) == 32
    assert [n.notify_type for n in msg.all(Notify)][:2] == [16388, 16389]
    assert msg.all(SA)[0].proposals[0].transforms[0].key_length == 128


# --- NAT detection ---------------------------------------------------------------------------

def test_natd_hash_from_a_real_capture():
    spi_i, spi_r = H("ea684d21597afd36"), H("d9fe2ab22dac23ac")
    assert natd2_hash(spi_i, bytes(8), "192.168.1.2", 500) == H("949c9db5739d75a974a49c184618369b34b7f942")
    assert natd2_hash(spi_i, bytes(8), "192.168.1.14", 500) == H("3e721b46be07d53111425d7f80d2c6e220c6072e")
    assert natd2_hash(spi_i, spi_r, "192.168.1.14", 500) == H("7a0785273d59203829a697550f31cbb94eb72b43")
    assert natd2_hash(spi_i, spi_r, "192.168.1.2", 500) == H("c3e58a8cc9933ce0b78f2a50e8de80134e12ce31")


# --- ECP-256 (IKEv2 group 19): RFC 5903 §8.1 -------------------------------------------------

def test_rfc5903_ecp256():
    from natt_core.crypto.primitives import ecp256_public, ecp256_shared
    i = int("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433", 16)
    r = int("C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53", 16)
    gi = H("DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180"
           "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3")
    gr = H("D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63"
           "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB")
    assert ecp256_public(i) == gi and ecp256_public(r) == gr          # KE data is x | y (RFC 5903 §7)
    z = H("D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE")
    assert ecp256_shared(i, gr) == z and ecp256_shared(r, gi) == z    # g^ir is x only
    from natt_core.errors import IntegrityError
    with pytest.raises(IntegrityError):
        ecp256_shared(i, gr[:32] + bytes(32))                          # not on the curve


# --- AES-GCM: McGrew & Viega, "The Galois/Counter Mode of Operation", Test Case 4 ------------

def test_gcm_test_case_4_and_truncated_icv():
    from natt_core.crypto.primitives import gcm_decrypt, gcm_encrypt
    from natt_core.errors import IntegrityError
    key, nonce = H("feffe9928665731c6d6a8f9467308308"), H("cafebabefacedbaddecaf888")
    plain = H("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
              "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
    aad = H("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    cipher = H("42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
               "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091")
    tag = H("5bc94fbc3221a5db94fae95ae7121a47")
    assert gcm_encrypt(key, nonce, plain, aad) == cipher + tag
    assert gcm_encrypt(key, nonce, plain, aad, icv_len=12) == cipher + tag[:12]   # GCM-12: the tag truncated
    assert gcm_decrypt(key, nonce, cipher + tag, aad) == plain
    assert gcm_decrypt(key, nonce, cipher + tag[:8], aad, icv_len=8) == plain
    with pytest.raises(IntegrityError):
        gcm_decrypt(key, nonce, cipher + tag, aad + b"x")
