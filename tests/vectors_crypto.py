"""Known-answer values for the crypto tests, each with its source.

Values are typed from the cited documents; the tests recompute each one with the code under test
and, where the standard library can do the same computation, with the standard library too.
"""
from __future__ import annotations

from dataclasses import dataclass

h = bytes.fromhex


# Message digests of "abc": RFC 1321 §A.5 (MD5), FIPS 180-2 Appendix A.1 (SHA-1) and B.1 (SHA-256).
DIGEST_ABC = {
    "md5": h("900150983cd24fb0d6963f7d28e17f72"),
    "sha1": h("a9993e364706816aba3e25717850c26c9cd0d89d"),
    "sha256": h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
}


@dataclass(frozen=True)
class HmacCase:
    source: str
    hash_name: str
    key: bytes
    data: bytes
    mac: bytes


_LARGE = b"Test Using Larger Than Block-Size Key - Hash Key First"

# https://www.rfc-editor.org/rfc/rfc2202 §2 (HMAC-MD5) and §3 (HMAC-SHA-1), test cases 1, 2, 3, 6;
# https://www.rfc-editor.org/rfc/rfc4231 §4.2, §4.3, §4.7 (HMAC-SHA-256, test cases 1, 2, 6).
HMAC_CASES = [
    HmacCase("RFC 2202 §2 case 1", "md5", b"\x0b" * 16, b"Hi There",
             h("9294727a3638bb1c13f48ef8158bfc9d")),
    HmacCase("RFC 2202 §2 case 2", "md5", b"Jefe", b"what do ya want for nothing?",
             h("750c783e6ab0b503eaa86e310a5db738")),
    HmacCase("RFC 2202 §2 case 3", "md5", b"\xaa" * 16, b"\xdd" * 50,
             h("56be34521d144c88dbb8c733f0e8b3f6")),
    HmacCase("RFC 2202 §2 case 6", "md5", b"\xaa" * 80, _LARGE,
             h("6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd")),
    HmacCase("RFC 2202 §3 case 1", "sha1", b"\x0b" * 20, b"Hi There",
             h("b617318655057264e28bc0b6fb378c8ef146be00")),
    HmacCase("RFC 2202 §3 case 2", "sha1", b"Jefe", b"what do ya want for nothing?",
             h("effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")),
    HmacCase("RFC 2202 §3 case 3", "sha1", b"\xaa" * 20, b"\xdd" * 50,
             h("125d7342b9ac11cd91a39af48aa17b4f63f175d3")),
    HmacCase("RFC 2202 §3 case 6", "sha1", b"\xaa" * 80, _LARGE,
             h("aa4ae5e15272d00e95705637ce8a3b55ed402112")),
    HmacCase("RFC 4231 §4.2 case 1", "sha256", b"\x0b" * 20, b"Hi There",
             h("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")),
    HmacCase("RFC 4231 §4.3 case 2", "sha256", b"Jefe", b"what do ya want for nothing?",
             h("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")),
    HmacCase("RFC 4231 §4.7 case 6", "sha256", b"\xaa" * 131, _LARGE,
             h("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")),
]


@dataclass(frozen=True)
class CbcCase:
    source: str
    cipher: str
    key: bytes
    iv: bytes
    plaintext: bytes
    ciphertext: bytes


CBC_CASES = [
    # https://www.rfc-editor.org/rfc/rfc3602 §4, Case #1: one block, AES-128.
    CbcCase("RFC 3602 §4 case 1", "aes-cbc-128", h("06a9214036b8a15b512e03d534120006"),
            h("3dafba429d9eb430b422da802c9fac41"), b"Single block msg",
            h("e353779c1079aeb82708942dbe77181a")),
    # RFC 3602 §4, Case #2: two blocks, AES-128.
    CbcCase("RFC 3602 §4 case 2", "aes-cbc-128", h("c286696d887c9aa0611bbb3e2025a45a"),
            h("562e17996d093d28ddb3ba695a2e6f58"), bytes(range(32)),
            h("d296cd94c2cccf8a3a863028b5e1dc0a7586602d253cfff91b8266bea6d61ab1")),
    # FIPS 81 (DES modes of operation) Appendix C, CBC example: key 0123456789abcdef, IV
    # 1234567890abcdef, "Now is the time for all ". 3DES-EDE with K1 = K2 = K3 reduces to single
    # DES (E(D(E(x))) = E(x)), so the published DES result is a 3DES known answer.
    CbcCase("FIPS 81 App. C (3DES, K1=K2=K3)", "3des-cbc", h("0123456789abcdef") * 3,
            h("1234567890abcdef"), b"Now is the time for all ",
            h("e5c7cdde872bf27c43e934008c389c0f683788499a7c05f6")),
]

# MODP primes as formulas: p = 2^bits - 2^(bits-64) - 1 + 2^64 * (floor(2^pi_shift * pi) + add).
# RFC 2409 §6.1 (group 1), §6.2 (group 2); RFC 3526 §2 (group 5), §3 (group 14).
MODP_PI_FORMULAS = {
    1: (768, 638, 149686),
    2: (1024, 894, 129093),
    5: (1536, 1406, 741804),
    14: (2048, 1918, 124476),
}

# NIST CAVP SP 800-135 IKEv1 KDF, digital-signature variant, SHA-1: the "ikev1_dsa" file of
# https://csrc.nist.gov/.../800-135testvectors/ikev1.zip (values as transcribed in the tests of a
# public Rust KDF crate). SKEYID = prf(Ni_b | Nr_b, g^xy).
NIST_IKEV1_SHA1 = dict(
    cky_i=h("382e5c8b0a3fa307"),
    cky_r=h("ba4b7616700a2413"),
    ni=h("ced5635da6796075"),
    nr=h("6244b427712fb776"),
    gxy=h("2a2e0bbe8da3657a83f3d35826e49e2d38e557e912a1b9e6c30c63577b3eab715466202862027f2c"
          "26f3090743555579611771db0b92bef93834432a3a7762fc8a0f4889fd281d6082770d10a40d7bad"
          "61e832f041e620d6787e7f62ab2861ddfbe272e0d9d3cdec5f1bbf750e24b8b32d6d714968ad69ce"
          "5086c32ad2742ebc"),
    skeyid=h("dc37ac99de6dcfbd1ee74af7fb36f9b4b0a7829d"),
    skeyid_d=h("486293ed547adb562cefdaf43d3d8457b196f2b6"),
    skeyid_a=h("f4053b5ca07e59bb41b8f401037ca90b72b3917e"),
    skeyid_e=h("49a1d53a80fb77e663552964fbbcb45092021473"),
)


@dataclass(frozen=True)
class PskHashRCase:
    """An observed Aggressive Mode exchange (PSK, MD5) and its HASH_R."""
    source: str
    psk: bytes
    g_xr: bytes
    g_xi: bytes
    cky_r: bytes
    cky_i: bytes
    sai_b: bytes
    idir_b: bytes
    ni_b: bytes
    nr_b: bytes
    hash_r: bytes


# Published with ike-scan's psk-crack as example input: a real Firewall-1 NG AI R54 exchange,
# Aggressive Mode, PSK, MD5, ID "test"; psk-crack recovers the key "abc123".
PSK_HASH_R_CASES = [
    PskHashRCase(
        "ike-scan psk-crack example (Firewall-1 NG AI R54, PSK abc123)", b"abc123",
        g_xr=h("9c1e0e07828af45086a4eb559ad8dafb7d655bab38656609426653565ef7e332bed7212cf24a0504"
               "8032240256a169a68ee304ca500abe073d150bc50239350446ab568132aebcf34acd25ce23b30d0d"
               "e9f8e7a89c22ce0dec2dabf0409bc25f0988d5d956916dce220c630d2a1fda846667fdecb20b2dc2"
               "d5c5b8273a07095c"),
        g_xi=h("6f8c74c15bb4dd09b7af8d1c23e7b381a38dddcd4c5afb3b1335ff766f0267df8fdca0ea907ef448"
               "2d8164506817d10ba4aed8f108d32c1b082b91772df956bcd5f7a765759bada21c11f28429c48fcd"
               "7267be7b3aea96421528b9432110fff607a65b7c41091e5d1a10e143d4701147d7cfc211ba5853cf"
               "800d12a11d129724"),
        cky_r=h("6d08132c8abb6931"),
        cky_i=h("eac82ea45cbe59e6"),
        sai_b=h("00000001000000010000002c01010001000000240101000080010001800200018003000180040002"
                "800b0001000c000400007080"),
        idir_b=h("01000000ac100202"),
        ni_b=h("64745a975dbcd95c2abf7d2eeeb93ac4633a03f1"),
        nr_b=h("502c0b3872518fa1e7ff8f5a28a3d797f65e2cb1"),
        hash_r=h("f995ec2968f695aeb1d4e4b437f49d26"),
    ),
    # Second example from the same source (its comment gives the key "abcde"; 3DES proposal).
    PskHashRCase(
        "ike-scan psk-crack second example (PSK abcde)", b"abcde",
        g_xr=h("9f7341ddbb10b1755b8d1b1d0df322ebfe9b61bba84832e8802f5948849dc0067a372778920acced"
               "b26bfb1a9cd6d44a94af22473a700eb933363665a0b569ba6693736dd1f222d77733b00c80830e99"
               "002728ec210919333a83cb880d695dc8e4a9f7c335d7c8beeadd3c5cb0705e98eaf1401e724d6d18"
               "dad0cfd4085fa0ed"),
        g_xi=h("ffec90eebcff9d6ae1ff125bb18feb873270aeaecd46331b44166e19205dee373739c61b3e8de0d9"
               "259498503c39d525d7fb789da67cb297fa2d53f99eb769d2e6cab378647a4241eec639a82bd3bdab"
               "dfc7ecb75791b1637704fb759af418e6664b7ba9bee46f9afa1e37ae0013bae12205fec7e94022f0"
               "c6771cb7e3f34476"),
        cky_r=h("45e3b461eb3bb9bd"),
        cky_i=h("2863d9b328c5f856"),
        sai_b=h("00000001000000010000002c01010001000000240101000080010005800200018003000180040002"
                "800b0001000c000400007080"),
        idir_b=h("011101f4c0a80365"),
        ni_b=h("cb7575191bd1b2a8d81a564fc0eb4e0789f26ca4"),
        nr_b=h("eb51fbc778a6db0676152116dc336af0"),
        hash_r=h("755183cf3195401790cb8257243e1017"),
    ),
]

# A hand-built NAT-D input (RFC 3947 §3.2): CKY-I | CKY-R | 192.168.1.10 | port 500 is the 22 bytes
# 0123456789abcdef fedcba9876543210 c0a8010a 01f4. Expected hashes from coreutils over those bytes
# (`echo -n 0123...01f4 | xxd -r -p | sha1sum` / md5sum / sha256sum); the test also recomputes
# them with hashlib.
NATD_COOKIES = (h("0123456789abcdef"), h("fedcba9876543210"))
NATD_ADDRESS = ("192.168.1.10", 500)
NATD_INPUT = h("0123456789abcdeffedcba9876543210c0a8010a01f4")
NATD_EXPECTED = {
    "sha1": h("a09f357e3716c34a21969e4f28570deec9b8f571"),
    "md5": h("980e168094829c57125b3606573fe516"),
    "sha256": h("171cad19a38a58bdf221abb0741326b292d479984529d16c4eafe5e16f289003"),
}
