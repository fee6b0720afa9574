"""NAT-T versions and their Vendor IDs (RFC 3947 §3.1 and the drafts it replaced).

A peer announces the versions it speaks with Vendor ID payloads in MM1/MM2: each is the MD5 of
an ASCII string. The best version both sides announce decides the NAT-D/NAT-OA payload numbers
(20/21 or 130/131) and the UDP encapsulation modes (3/4 or 61443/61444).
"""
from __future__ import annotations

import functools
from enum import Enum

from ..crypto.primitives import digest
from ..errors import ConfigError
from ..wire.numbers import EncapsulationMode, PayloadType


class NattVersion(Enum):
    """Value = the name used in reports and on the command line; best first."""
    __hash__ = object.__hash__    # members hash by identity, as they compare (see states.TableEnum)
    RFC3947 = "rfc3947"
    DRAFT_03 = "draft-03"
    DRAFT_02 = "draft-02"
    DRAFT_02N = "draft-02n"  #: the draft-02 string with a trailing newline, as Windows sends it

    @property
    def vid_text(self) -> bytes:
        return VID_TEXT[self]

    @property
    def vid(self) -> bytes:
        return _VIDS[self]      # worked out once per version (below): MM1 and MM2 send them

    @property
    def is_draft(self) -> bool:
        return self is not NattVersion.RFC3947

    @property
    def natd_type(self) -> int:
        return PayloadType.NAT_D_DRAFT if self.is_draft else PayloadType.NAT_D

    @property
    def natoa_type(self) -> int:
        return PayloadType.NAT_OA_DRAFT if self.is_draft else PayloadType.NAT_OA

    def encapsulation(self, tunnel: bool) -> EncapsulationMode:
        if self.is_draft:
            return EncapsulationMode.UDP_TUNNEL_DRAFT if tunnel else EncapsulationMode.UDP_TRANSPORT_DRAFT
        return EncapsulationMode.UDP_TUNNEL if tunnel else EncapsulationMode.UDP_TRANSPORT


VID_TEXT = {
    NattVersion.RFC3947: b"RFC 3947",
    NattVersion.DRAFT_03: b"draft-ietf-ipsec-nat-t-ike-03",
    NattVersion.DRAFT_02: b"draft-ietf-ipsec-nat-t-ike-02",
    NattVersion.DRAFT_02N: b"draft-ietf-ipsec-nat-t-ike-02\n",
}
PREFERENCE = tuple(NattVersion)  # declaration order is the preference order

#: What a policy's `nat_t` setting announces (what real peers of each kind send in MM1).
SUPPORT = {
    "none": (),
    "draft-02": (NattVersion.DRAFT_02, NattVersion.DRAFT_02N),
    "draft-03": (NattVersion.DRAFT_03, NattVersion.DRAFT_02, NattVersion.DRAFT_02N),
    "rfc3947": (NattVersion.RFC3947, NattVersion.DRAFT_02N),
}

#: Other Vendor IDs worth recognising in a capture (names for the lesson views). Each is the MD5 of
#: its text, often cut short (XAuth sends 8 bytes) or followed by a version (MS NT5 adds 4 bytes,
#: Cisco Unity overwrites the last 2), so the first 8 bytes are what is compared.
OTHER_VIDS = {
    "XAuth": b"draft-ietf-ipsra-isakmp-xauth-06.txt",
    "Cisco Unity": b"CISCO-UNITY",
    "strongSwan": b"strongSwan",
    "MS NT5 ISAKMPOAKLEY": b"MS NT5 ISAKMPOAKLEY",
    "FRAGMENTATION": b"FRAGMENTATION",
    "MS-Negotiation Discovery Capable": b"MS-Negotiation Discovery Capable",
    "Vid-Initial-Contact": b"Vid-Initial-Contact",
    "IKE CGA version 1": b"IKE CGA version 1",
}
DPD_VID = bytes.fromhex("afcad71368a1f1c96b8696fc77570100")  # RFC 3706: a constant, not an MD5
@functools.lru_cache(maxsize=64)
def vendor_id(text: bytes) -> bytes:
    """A Vendor ID as RFC 3947 defines it: the MD5 of the string, no terminating NUL (computed once
    per string: every MM1/MM2 of every client needs them)."""
    return digest("md5", text)


#: each version's Vendor ID (`vendor_id` of its text)
_VIDS = {version: vendor_id(text) for version, text in VID_TEXT.items()}


def versions_for(setting: str) -> tuple[NattVersion, ...]:
    try:
        return SUPPORT[setting]
    except KeyError:
        raise ConfigError(f"unknown NAT-T support {setting!r}; choose one of {', '.join(SUPPORT)}") from None


#: the place among a policy's `vendor_ids` where its NAT-T Vendor IDs go (first when it is absent)
NAT_T_SLOT = "nat-t"


def ms_nt5_vid(version: int) -> bytes:
    """MS NT5 ISAKMPOAKLEY: MD5 of the text, then a 4-byte big-endian version (2 Windows 2000,
    4 XP SP2/Server 2003, 5 Vista; ike-scan's fingerprint labels, Wireshark's ms_nt5_isakmpoakley_type)."""
    return vendor_id(OTHER_VIDS["MS NT5 ISAKMPOAKLEY"]) + version.to_bytes(4, "big")


#: the other Vendor IDs a policy may announce, by the name its `vendor_ids` uses (see ike/profiles.py)
VENDOR_IDS: dict[str, bytes] = {
    "ms-nt5-v2": ms_nt5_vid(2), "ms-nt5-v4": ms_nt5_vid(4), "ms-nt5-v5": ms_nt5_vid(5),
    # Windows sends FRAGMENTATION "without capabilities", the plain 16-byte MD5 (strongSwan isakmp_vendor.c)
    "fragmentation": vendor_id(OTHER_VIDS["FRAGMENTATION"]),
    # strongSwan sends it with the capability word 0x80000000: "fragmentation of Main and Aggressive
    # Mode messages" (isakmp_vendor.c, after racoon)
    "fragmentation-ike": vendor_id(OTHER_VIDS["FRAGMENTATION"]) + (0x80000000).to_bytes(4, "big"),
    "vid-initial-contact": vendor_id(OTHER_VIDS["Vid-Initial-Contact"]),
    "ms-negotiation-discovery": vendor_id(OTHER_VIDS["MS-Negotiation Discovery Capable"]),
    "ike-cga-v1": vendor_id(OTHER_VIDS["IKE CGA version 1"]),
    "xauth": vendor_id(OTHER_VIDS["XAuth"])[:8],   # XAuth is sent as the MD5's first 8 bytes
    "dpd": DPD_VID,
}


#: each NAT-T Vendor ID and each other known one's first 8 bytes, hashed once at import
_VERSION_BY_VID = {vendor_id(text): version for version, text in VID_TEXT.items()}
_OTHER_BY_PREFIX = {vendor_id(text)[:8]: name for name, text in reversed(OTHER_VIDS.items())}


def version_of_vid(data: bytes) -> NattVersion | None:
    return _VERSION_BY_VID.get(data if type(data) is bytes else bytes(data))


def vid_name(data: bytes) -> str:
    """A readable name for any Vendor ID (for events and views); named once per distinct Vendor ID
    (every MM1 and MM2 names the same few; bounded, so hostile input cannot grow the table)."""
    if data.__class__ is not bytes:
        data = bytes(data)
    name = _NAMES.get(data)
    if name is None:
        name = _vid_name(data)
        if len(_NAMES) < 1024:
            _NAMES[data] = name
    return name


_NAMES: dict[bytes, str] = {}


def _vid_name(data: bytes) -> str:
    version = version_of_vid(data)
    if version:
        return f"NAT-T {version.value}"
    if data == DPD_VID:
        return "DPD (RFC 3706)"
    name = _OTHER_BY_PREFIX.get(bytes(data[:8])) if len(data) >= 8 else None
    if name == "MS NT5 ISAKMPOAKLEY" and len(data) == 20:
        return f"{name} v{int.from_bytes(data[16:], 'big')}"
    return name or data.hex()


def best_common(ours: tuple[NattVersion, ...], theirs: tuple[NattVersion, ...]) -> NattVersion | None:
    """The most preferred version both sides announced, or None (then no NAT-T)."""
    for version in PREFERENCE:
        if version in ours and version in theirs:
            return version
    return None
