"""IKEv2 algorithms by the project's names, with their transform IDs and key sizes.

One table per transform type (RFC 7296 §3.3.2); `natt_core.crypto.primitives` does the work.
Names are the ones secrets.json and the policy use ("aes-gcm-16-128", "hmac-sha1-96", "sha256").
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ...errors import ConfigError
from ...wire.ikev2_numbers import Encr, Group, Integ, Prf


@dataclass(frozen=True)
class EncrSpec:
    name: str
    transform_id: int
    key_bits: int         #: the Key Length attribute
    key_len: int          #: bytes of SK_e / ESP key, salt included for GCM
    iv_len: int
    block: int            #: padding unit (1 for GCM: strongSwan sends PadLen 0)
    aead_icv: int = 0     #: ICV bytes for AEAD, 0 for CBC
    wireshark_ike: str = ""
    wireshark_esp: str = ""

    # asked for every protected message: worked out once per (module-level, immutable) suite
    @cached_property
    def aead(self) -> bool:
        return bool(self.aead_icv)

    @cached_property
    def cbc_name(self) -> str:
        """The `primitives.CIPHERS` name for CBC suites."""
        return f"aes-cbc-{self.key_bits}"


ENCR: dict[str, EncrSpec] = {s.name: s for s in (
    EncrSpec("aes-cbc-128", Encr.AES_CBC, 128, 16, 16, 16, 0, "AES-CBC-128 [RFC3602]", "AES-CBC [RFC3602]"),
    EncrSpec("aes-cbc-256", Encr.AES_CBC, 256, 32, 16, 16, 0, "AES-CBC-256 [RFC3602]", "AES-CBC [RFC3602]"),
    EncrSpec("aes-gcm-16-128", Encr.AES_GCM_16, 128, 20, 8, 1, 16, "AES-GCM-128 with 16 octet ICV [RFC5282]",
             "AES-GCM with 16 octet ICV [RFC4106]"),
    EncrSpec("aes-gcm-16-256", Encr.AES_GCM_16, 256, 36, 8, 1, 16, "AES-GCM-256 with 16 octet ICV [RFC5282]",
             "AES-GCM with 16 octet ICV [RFC4106]"),
)}


@dataclass(frozen=True)
class IntegSpec:
    name: str
    transform_id: int
    hash_name: str
    key_len: int
    icv_len: int
    wireshark_ike: str


INTEG: dict[str, IntegSpec] = {s.name: s for s in (
    IntegSpec("hmac-sha1-96", Integ.HMAC_SHA1_96, "sha1", 20, 12, "HMAC_SHA1_96 [RFC2404]"),
    IntegSpec("hmac-sha256-128", Integ.HMAC_SHA2_256_128, "sha256", 32, 16, "HMAC_SHA2_256_128 [RFC4868]"),
)}

PRF: dict[str, int] = {"sha1": Prf.HMAC_SHA1, "sha256": Prf.HMAC_SHA2_256}
GROUPS: tuple[int, ...] = (Group.MODP_2048, Group.MODP_1024, Group.ECP_256)


def encr_spec(name: str) -> EncrSpec:
    try:
        return ENCR[name]
    except KeyError:
        raise ConfigError(f"unknown IKEv2 cipher {name!r}; choose one of {', '.join(ENCR)}") from None


def integ_spec(name: str | None) -> IntegSpec | None:
    if name is None:
        return None
    try:
        return INTEG[name]
    except KeyError:
        raise ConfigError(f"unknown IKEv2 integrity {name!r}; choose one of {', '.join(INTEG)}") from None


def _first_by(pairs) -> dict:
    """A reverse table from the tables above: the first entry of each key, as a search would find it."""
    out: dict = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


_ENCR_BY_WIRE = _first_by(((s.transform_id, s.key_bits), s) for s in ENCR.values())
_INTEG_BY_WIRE = _first_by((s.transform_id, s) for s in INTEG.values())
_PRF_BY_WIRE = _first_by((i, n) for n, i in PRF.items())


def encr_by_wire(transform_id: int, key_bits: int | None) -> EncrSpec | None:
    return _ENCR_BY_WIRE.get((transform_id, key_bits))


def integ_by_wire(transform_id: int) -> IntegSpec | None:
    return _INTEG_BY_WIRE.get(transform_id)


def prf_by_wire(transform_id: int) -> str | None:
    return _PRF_BY_WIRE.get(transform_id)
