"""The dialects a capture can speak: NAT-T Vendor IDs of every draft, vendors, authentication methods.

NAT-T went through nine drafts before RFC 3947, and peers in the field still announce them. Each
Vendor ID is the MD5 of the draft's name (RFC 3947 §3.1 for its own). What a draft changes for a
diagnosis: draft-00/01 had no move to UDP 4500 (no "float"; NAT-D in draft-01 only), drafts 02/03
float and number NAT-D/NAT-OA 130/131 (the numbers Windows and the lab use), drafts 04–08 used
15/16, and RFC 3947 uses 20/21. A NAT-D payload is therefore recognised under any of 15, 20, 130.

Other Vendor IDs are named for who sends them (Cisco, Microsoft and its AuthIP, strongSwan,
libreswan/Openswan, DPD, XAuth, fragmentation). The authentication method comes from the
phase-1 transform (RFC 2409 Appendix A, RFC 4754 for ECDSA, the XAuth/hybrid private values),
so findings speak of the right proof: a shared key, or a signature and its certificate.
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class NattDialect:
    name: str            #: "RFC 3947", "draft-07", …
    rank: int            #: higher is newer
    floats: bool         #: moves IKE to UDP 4500 once a NAT is seen (draft-02 on)
    natd_type: int       #: the NAT-D payload number it uses (0: none defined)


def _md5(text: bytes) -> bytes:
    return hashlib.md5(text).digest()


_DRAFT_NATD = {0: 0, 1: 15, 2: 130, 3: 130, 4: 15, 5: 15, 6: 15, 7: 15, 8: 15}
NATT_VIDS: dict[bytes, NattDialect] = {
    _md5(b"RFC 3947"): NattDialect("RFC 3947", 100, True, 20),
    _md5(b"draft-ietf-ipsec-nat-t-ike"): NattDialect("draft (undated)", 1, False, 15),
    _md5(b"draft-ietf-ipsec-nat-t-ike-02\n"): NattDialect("draft-02 (with newline)", 20, True, 130),
    **{_md5(b"draft-ietf-ipsec-nat-t-ike-%02d" % n): NattDialect(f"draft-{n:02d}", 10 + 10 * n, n >= 2,
                                                                  _DRAFT_NATD[n]) for n in range(9)},
}
NATD_TYPES = (15, 20, 130)       #: NAT-D as drafts 01/04–08, RFC 3947, drafts 02/03 number it
NATOA_TYPES = (16, 21, 131)

DPD = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")              # RFC 3706: a constant
_PREFIX_VIDS = {   # name -> the bytes a Vendor ID starts with (versions follow or overwrite the tail)
    "Cisco Unity": _md5(b"CISCO-UNITY")[:14],
    "Cisco VPN Concentrator": bytes.fromhex("1f07f70eaa6514d3b0fa96542a50"),
    "Cisco FlexVPN": _md5(b"FLEXVPN-SUPPORTED"),
    "Cisco Copyright": _md5(b"Copyright (c) 2009 Cisco Systems, Inc."),
    "Microsoft Windows (MS NT5 ISAKMPOAKLEY)": _md5(b"MS NT5 ISAKMPOAKLEY"),
    "Microsoft AuthIP (MS-MamieExists)": _md5(b"MS-MamieExists"),
    "Microsoft AuthIP (IKE CGA version 1)": _md5(b"IKE CGA version 1"),
    "Microsoft (MS-Negotiation Discovery Capable)": _md5(b"MS-Negotiation Discovery Capable"),
    "Microsoft (Vid-Initial-Contact)": _md5(b"Vid-Initial-Contact"),
    "strongSwan": _md5(b"strongSwan"),
    "XAuth": _md5(b"draft-ietf-ipsra-isakmp-xauth-06.txt")[:8],
    "IKE fragmentation": _md5(b"FRAGMENTATION")[:16],
}
_AUTHIP_VIDS = ("Microsoft AuthIP (MS-MamieExists)", "Microsoft AuthIP (IKE CGA version 1)")
AUTHIP_EXCHANGES = {243: "AuthIP Main Mode", 244: "AuthIP Quick Mode", 245: "AuthIP Extended Mode",
                    246: "AuthIP Notify"}
_WINDOWS = {2: "Windows 2000", 3: "Windows XP", 4: "Windows Server 2003", 5: "Windows Vista",
            6: "Windows 7 / Server 2008 R2", 7: "Windows 8 / Server 2012", 8: "Windows 8.1 / Server 2012 R2",
            9: "Windows 10 / Server 2016"}


@functools.lru_cache(maxsize=4096)
def vid_name(data: bytes) -> str:
    """A readable name for any Vendor ID: the NAT-T version, the vendor, or its hex."""
    if data in NATT_VIDS:
        return f"NAT-T {NATT_VIDS[data].name}"
    if data == DPD:
        return "DPD (RFC 3706)"
    for name, prefix in _PREFIX_VIDS.items():
        if data[:len(prefix)] == prefix:
            if name.startswith("Microsoft Windows") and len(data) == 20:
                version = int.from_bytes(data[16:20], "big")
                return f"Microsoft {_WINDOWS.get(version, f'Windows (version {version})')}"
            return name
    if data[:2] == b"OE" and len(data) >= 8 and data[:12].isascii():
        return "libreswan/Openswan"
    return data.hex()


def natt_dialect(data: bytes) -> NattDialect | None:
    return NATT_VIDS.get(data)


def best_natt(vids: list[bytes]) -> NattDialect | None:
    found = [NATT_VIDS[v] for v in vids if v in NATT_VIDS]
    return max(found, key=lambda d: d.rank) if found else None


def is_authip(names: tuple[str, ...]) -> bool:
    return any(n in _AUTHIP_VIDS for n in names)


# --- authentication methods, RFC 2409 Appendix A and the private XAuth/hybrid values ------------

AUTH_METHODS = {1: "pre-shared key", 2: "DSS signatures", 3: "RSA signatures", 4: "RSA encryption",
                5: "revised RSA encryption", 9: "ECDSA signatures (P-256)", 10: "ECDSA signatures (P-384)",
                11: "ECDSA signatures (P-521)", 64221: "hybrid RSA (initiator)", 64222: "hybrid RSA (responder)",
                65001: "XAuth pre-shared key (initiator)", 65002: "XAuth pre-shared key (responder)",
                65003: "XAuth DSS (initiator)", 65004: "XAuth DSS (responder)",
                65005: "XAuth RSA signatures (initiator)", 65006: "XAuth RSA signatures (responder)",
                65007: "XAuth RSA encryption (initiator)", 65008: "XAuth RSA encryption (responder)"}
_PSK_METHODS = (1, 65001, 65002)


def proof_of(method: int | None) -> str:
    """What MM5/MM6 (or AM2/AM3) prove under this method, in words for a finding."""
    if method is None:
        return "Both sides proved their identity (the method is not visible in this capture)"
    name = AUTH_METHODS.get(method, f"method {method}")
    if method in _PSK_METHODS:
        return f"Both sides proved they hold the same pre-shared key ({name})"
    if method in (4, 5, 65007, 65008):
        return f"Both sides proved their identity with {name} (each decrypted the other's nonce)"
    return f"Both sides proved their identity with {name}: each signed the exchange, and the other " \
           "accepted the certificate"


def auth_failure_words(method: int | None) -> tuple[str, str]:
    """(title, cause) for an authentication step that failed under this method."""
    if method is None or method in _PSK_METHODS:
        return ("The pre-shared keys differ",
                "it could not decrypt or verify MM5 with the key it derived from its own pre-shared key")
    name = AUTH_METHODS.get(method, f"method {method}")
    return (f"Authentication with {name} failed",
            "it did not accept the signature or certificate in MM5 (an untrusted CA, an expired or revoked "
            "certificate, or an identity that does not match the certificate)")
