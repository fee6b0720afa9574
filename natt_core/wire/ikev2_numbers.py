"""IKEv2 wire numbers as IntEnums (RFC 7296 §3, IANA "IKEv2 Parameters").

Kept apart from `numbers` (IKEv1): the same words (SA, KE, Notify) carry other values in IKEv2.
Decoders keep unknown values as plain ints; `numbers.label()` names either.
"""
from __future__ import annotations

from enum import IntEnum, IntFlag

VERSION = 0x20  #: major 2, minor 0 (RFC 7296 §3.1)


class Exchange(IntEnum):
    IKE_SA_INIT = 34
    IKE_AUTH = 35
    CREATE_CHILD_SA = 36
    INFORMATIONAL = 37


class HdrFlag(IntFlag):
    """Header flags (RFC 7296 §3.1): I = sent by the original initiator, R = a response."""
    INITIATOR = 0x08
    VERSION = 0x10
    RESPONSE = 0x20


class Payload(IntEnum):
    """RFC 7296 §3.2; values 1-32 are IKEv1's."""
    NONE = 0
    SA = 33
    KE = 34
    IDI = 35
    IDR = 36
    CERT = 37
    CERTREQ = 38
    AUTH = 39
    NONCE = 40
    NOTIFY = 41
    DELETE = 42
    VENDOR = 43
    TSI = 44
    TSR = 45
    SK = 46
    CP = 47
    EAP = 48


class Protocol(IntEnum):
    """Protocol ID in proposals, notifies and deletes (RFC 7296 §3.3.1)."""
    NONE = 0
    IKE = 1
    AH = 2
    ESP = 3


class TransformType(IntEnum):
    ENCR = 1
    PRF = 2
    INTEG = 3
    DH = 4
    ESN = 5


class Encr(IntEnum):
    DES3 = 3
    NULL = 11
    AES_CBC = 12
    AES_CTR = 13
    AES_GCM_8 = 18
    AES_GCM_12 = 19
    AES_GCM_16 = 20


class Prf(IntEnum):
    HMAC_MD5 = 1
    HMAC_SHA1 = 2
    HMAC_SHA2_256 = 5
    HMAC_SHA2_384 = 6
    HMAC_SHA2_512 = 7


class Integ(IntEnum):
    NONE = 0
    HMAC_MD5_96 = 1
    HMAC_SHA1_96 = 2
    HMAC_SHA2_256_128 = 12


class Group(IntEnum):
    MODP_1024 = 2
    MODP_2048 = 14
    ECP_256 = 19


class Esn(IntEnum):
    NO = 0
    YES = 1


KEY_LENGTH_ATTR = 14  #: the only transform attribute RFC 7296 defines (§3.3.5), in bits


class IdType(IntEnum):
    IPV4_ADDR = 1
    FQDN = 2
    RFC822_ADDR = 3
    IPV6_ADDR = 5
    DER_ASN1_DN = 9
    KEY_ID = 11


class AuthMethod(IntEnum):
    RSA = 1
    PSK = 2  #: Shared Key Message Integrity Code
    DSS = 3


class TsType(IntEnum):
    IPV4_ADDR_RANGE = 7
    IPV6_ADDR_RANGE = 8


class NotifyType(IntEnum):
    """Error types (< 16384) and status types (RFC 7296 §3.10.1, RFC 5685, RFC 7383)."""
    UNSUPPORTED_CRITICAL_PAYLOAD = 1
    INVALID_IKE_SPI = 4
    INVALID_MAJOR_VERSION = 5
    INVALID_SYNTAX = 7
    INVALID_MESSAGE_ID = 9
    INVALID_SPI = 11
    NO_PROPOSAL_CHOSEN = 14
    INVALID_KE_PAYLOAD = 17
    AUTHENTICATION_FAILED = 24
    SINGLE_PAIR_REQUIRED = 34
    NO_ADDITIONAL_SAS = 35
    INTERNAL_ADDRESS_FAILURE = 36
    FAILED_CP_REQUIRED = 37
    TS_UNACCEPTABLE = 38
    INVALID_SELECTORS = 39
    TEMPORARY_FAILURE = 43
    CHILD_SA_NOT_FOUND = 44
    INITIAL_CONTACT = 16384
    SET_WINDOW_SIZE = 16385
    NAT_DETECTION_SOURCE_IP = 16388
    NAT_DETECTION_DESTINATION_IP = 16389
    COOKIE = 16390
    USE_TRANSPORT_MODE = 16391
    REKEY_SA = 16393
    ESP_TFC_PADDING_NOT_SUPPORTED = 16394
    NON_FIRST_FRAGMENTS_ALSO = 16395
    MOBIKE_SUPPORTED = 16396
    IKEV2_FRAGMENTATION_SUPPORTED = 16430
    SIGNATURE_HASH_ALGORITHMS = 16431

    @property
    def is_error(self) -> bool:
        return self < 16384


_NOTIFY_NAMES = {m.value: m.name for m in NotifyType}


def notify2_name(number: int) -> str:
    """'NO_PROPOSAL_CHOSEN' for 14, as RFC 7296 writes it; 'NOTIFY_<n>' if unknown."""
    return _NOTIFY_NAMES.get(number) or f"NOTIFY_{number}"
