"""IKEv2 knobs beyond the shared policy (AES-GCM and PRF suites, group 19, cookies), and the
spelling of a suite. Kept apart from the proposals so `PeerPolicy.v2` can hold them."""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from .suites import GROUPS, PRF, EncrSpec, IntegSpec, encr_spec, integ_spec
from ...net.records import fast_init_all


def parse_suite(text: str) -> tuple[EncrSpec, IntegSpec | None, str]:
    parts = text.split("/")
    encr = encr_spec(parts[0])
    if encr.aead and len(parts) == 2 and parts[1] in PRF:
        return encr, None, parts[1]
    if not encr.aead and len(parts) == 3 and parts[2] in PRF:
        return encr, integ_spec(parts[1]), parts[2]
    raise ConfigError(f"IKEv2 suite {text!r}: write 'cipher/integrity/prf' (e.g. aes-cbc-128/hmac-sha1-96/sha1) "
                      f"or 'aead/prf' (e.g. aes-gcm-16-128/sha256)")


def parse_esp_suite(text: str) -> tuple[EncrSpec, IntegSpec | None]:
    parts = text.split("/")
    encr = encr_spec(parts[0])
    if encr.aead and len(parts) == 1:
        return encr, None
    if not encr.aead and len(parts) == 2:
        return encr, integ_spec(parts[1])
    raise ConfigError(f"ESP suite {text!r}: write 'cipher/integrity' (e.g. aes-cbc-128/hmac-sha1-96) or an AEAD "
                      "alone (aes-gcm-16-128)")


@dataclass(frozen=True)
class V2Options:
    """IKEv2 knobs beyond the shared policy. Suites read `encr/integ/prf` or `encr/prf` (AEAD)."""
    ike_suites: tuple[str, ...] | None = None   #: None: derived from the policy's ciphers and hashes
    groups: tuple[int, ...] | None = None       #: None: the policy's dh_groups
    cookie_threshold: int | None = None         #: half-open SAs before COOKIEs are required; 0 = always
    #: ESP suites 'cipher/integrity' or an AEAD alone ('aes-gcm-16-128'); None: from the policy
    esp_suites: tuple[str, ...] | None = None
    max_init_retries: int = 3

    def __post_init__(self) -> None:
        for s in self.ike_suites or ():
            parse_suite(s)
        for s in self.esp_suites or ():
            parse_esp_suite(s)
        for g in self.groups or ():
            if g not in GROUPS:
                raise ConfigError(f"unsupported IKEv2 DH group {g}; choose one of {', '.join(map(str, GROUPS))}")
        if self.cookie_threshold is not None and not (isinstance(self.cookie_threshold, int)
                                                      and self.cookie_threshold >= 0):
            raise ConfigError("the cookie threshold is a number of half-open SAs: 0 or more")


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
