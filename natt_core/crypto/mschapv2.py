"""MS-CHAPv2 (RFC 2759 §8) and the MPPE master keys it yields (RFC 3079 §3.3–§3.4).

Why a second library: MS-CHAPv2 hashes the password with MD4, which `cryptography` does not
offer and OpenSSL 3 keeps in its legacy provider (`hashlib.new("md4")` fails). MD4 comes from
pycryptodome (`Crypto.Hash.MD4`, pinned in requirements.txt); SHA-1 and single DES come from
`cryptography` (3DES-EDE with K1 = K2 = K3 is single DES).

Known-answer vectors: RFC 2759 §9.2 (user "User", password "clientPass") and RFC 3079 §3.5.3
(the same exchange's MasterKey and 128-bit start keys), in tests/test_crypto_mschapv2.py.
"""
from __future__ import annotations


from Crypto.Hash import MD4
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import constant_time
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from ..errors import ConfigError
from .primitives import digest

#: RFC 2759 §8.7 (39 and 41 ASCII bytes, no NUL)
MAGIC1 = b"Magic server to client signing constant"
MAGIC2 = b"Pad to make it do more than one iteration"
#: RFC 3079 §3.4 (27, 84 and 84 bytes)
MPPE_MAGIC1 = b"This is the MPPE Master Key"
MPPE_MAGIC2 = b"On the client side, this is the send key; on the server side, it is the receive key."
MPPE_MAGIC3 = b"On the client side, this is the receive key; on the server side, it is the send key."
SHS_PAD1 = b"\x00" * 40
SHS_PAD2 = b"\xf2" * 40
#: a 7-bit value -> that value shifted left with an odd-parity bit appended (the DES key bytes)
_ODD_PARITY = bytes((b << 1) | (bin(b).count("1") + 1) % 2 for b in range(128))
_ECB = modes.ECB()                 #: ECB mode holds no state: one instance serves every block


def _need(name: str, value: bytes, size: int) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != size:
        raise ConfigError(f"{name} must be {size} bytes")
    return bytes(value)


def md4(data: bytes) -> bytes:
    return MD4.new(bytes(data)).digest()


def nt_password_hash(password: str) -> bytes:
    """NtPasswordHash (§8.3): MD4 of the UTF-16LE password, no terminator; at most 256 characters."""
    if len(password) > 256:
        raise ConfigError("an MS-CHAPv2 password has at most 256 characters (RFC 2759 §8.3)")
    return md4(password.encode("utf-16-le"))


def hash_nt_password_hash(password_hash: bytes) -> bytes:
    """HashNtPasswordHash (§8.4)."""
    return md4(_need("PasswordHash", password_hash, 16))


def user_name_for_hash(user: str) -> bytes:
    """The UserName that enters ChallengeHash: ASCII, any "DOMAIN\\" prefix removed (§8.2)."""
    return user.rsplit("\\", 1)[-1].encode("utf-8")


def challenge_hash(peer_challenge: bytes, authenticator_challenge: bytes, user: str) -> bytes:
    """ChallengeHash (§8.2): first 8 bytes of SHA1(PeerChallenge | AuthenticatorChallenge | UserName)."""
    return digest("sha1", _need("PeerChallenge", peer_challenge, 16)
                  + _need("AuthenticatorChallenge", authenticator_challenge, 16)
                  + user_name_for_hash(user))[:8]


def des_key(key7: bytes) -> bytes:
    """The 7-to-8-byte DES key expansion (§8.6 DesEncrypt): seven key bits per byte, then an odd
    parity bit in the low bit (DES ignores parity; setting it makes the key match RFC 2759 §9.3)."""
    return _des_key(_need("DES key", key7, 7))


def _des_key(key7: bytes) -> bytes:
    bits = int.from_bytes(key7, "big")
    return bytes([_ODD_PARITY[(bits >> shift) & 0x7F] for shift in (49, 42, 35, 28, 21, 14, 7, 0)])


def des_encrypt(clear: bytes, key7: bytes) -> bytes:
    """DesEncrypt (§8.6): one DES-ECB block."""
    return _des_encrypt(_need("DES block", clear, 8), _need("DES key", key7, 7))


def _des_encrypt(clear: bytes, key7: bytes) -> bytes:
    enc = Cipher(TripleDES(_des_key(key7) * 3), _ECB).encryptor()
    return enc.update(clear) + enc.finalize()


def challenge_response(challenge: bytes, password_hash: bytes) -> bytes:
    """ChallengeResponse (§8.5): the hash zero-padded to 21 bytes, three DES keys of 7 bytes."""
    z = _need("PasswordHash", password_hash, 16) + b"\x00" * 5
    challenge = _need("Challenge", challenge, 8)
    return _des_encrypt(challenge, z[:7]) + _des_encrypt(challenge, z[7:14]) + _des_encrypt(challenge, z[14:])


def generate_nt_response(authenticator_challenge: bytes, peer_challenge: bytes, user: str, password: str) -> bytes:
    """GenerateNTResponse (§8.1): the 24-byte NT-Response of the client's Response packet."""
    return challenge_response(challenge_hash(peer_challenge, authenticator_challenge, user),
                              nt_password_hash(password))


def generate_authenticator_response(password: str, nt_response: bytes, peer_challenge: bytes,
                                    authenticator_challenge: bytes, user: str) -> str:
    """GenerateAuthenticatorResponse (§8.7): "S=" and 40 upper-case hex digits."""
    return authenticator_response(hash_nt_password_hash(nt_password_hash(password)), nt_response,
                                  challenge_hash(peer_challenge, authenticator_challenge, user))


def authenticator_response(password_hash_hash: bytes, nt_response: bytes, challenge: bytes) -> str:
    """§8.7 from its intermediate values, as pppd's GenerateAuthenticatorResponse takes them: a side
    that has just computed the PasswordHash and the ChallengeHash for the NT-Response reuses them."""
    first = digest("sha1", _need("PasswordHashHash", password_hash_hash, 16)
                   + _need("NT-Response", nt_response, 24) + MAGIC1)
    return "S=" + digest("sha1", first + _need("Challenge", challenge, 8) + MAGIC2).hex().upper()


def check_authenticator_response(password: str, nt_response: bytes, peer_challenge: bytes,
                                 authenticator_challenge: bytes, user: str, received: str) -> bool:
    """CheckAuthenticatorResponse (§8.8), in constant time."""
    want = generate_authenticator_response(password, nt_response, peer_challenge, authenticator_challenge, user)
    return same_authenticator_response(want, received)


def same_authenticator_response(want: str, received: str) -> bool:
    """The comparison of CheckAuthenticatorResponse (§8.8), in constant time."""
    return constant_time.bytes_eq(want.encode(), received.encode("latin-1", "replace"))


def master_key(password: str, nt_response: bytes) -> bytes:
    """GetMasterKey (RFC 3079 §3.4): SHA1(PasswordHashHash | NT-Response | Magic1)[0:16]."""
    pwhh = hash_nt_password_hash(nt_password_hash(password))
    return digest("sha1", pwhh + _need("NT-Response", nt_response, 24) + MPPE_MAGIC1)[:16]


def asymmetric_start_key(master: bytes, key_len: int, is_send: bool, is_server: bool) -> bytes:
    """GetAsymmetricStartKey (RFC 3079 §3.4): 8 (40/56-bit) or 16 (128-bit) bytes."""
    if key_len not in (8, 16):
        raise ConfigError("MPPE start keys are 8 or 16 bytes")
    magic = MPPE_MAGIC3 if is_send == is_server else MPPE_MAGIC2
    return digest("sha1", _need("MasterKey", master, 16) + SHS_PAD1 + magic + SHS_PAD2)[:key_len]
