"""Wire numbers as IntEnums (RFC 2407, RFC 2408, RFC 2409, RFC 3947, RFC 3948).

Decoders keep unknown values as plain ints; `label()` gives a readable name for either.
"""
from __future__ import annotations

from enum import IntEnum


def label(enum: type[IntEnum], value: int) -> str:
    """`enum(value).name`, or e.g. 'PayloadType_99' for a value the enum does not know."""
    try:
        return enum(value).name
    except ValueError:
        return f"{enum.__name__}_{value}"


class IPProto(IntEnum):
    """IP protocol numbers the lab carries."""
    ICMP = 1
    IPIP = 4   #: ESP next header for tunnel mode (an inner IPv4 packet)
    TCP = 6
    UDP = 17
    ESP = 50
    AH = 51


class Port(IntEnum):
    IKE = 500
    NAT_T = 4500  #: RFC 3947 §4, RFC 3948 §2.1
    L2TP = 1701


class ExchangeType(IntEnum):
    """RFC 2408 §3.1 / RFC 2409."""
    BASE = 1
    MAIN_MODE = 2  #: Identity Protection
    AUTH_ONLY = 3
    AGGRESSIVE = 4
    INFORMATIONAL = 5
    QUICK_MODE = 32


class Flag(IntEnum):
    ENCRYPTED = 0x01
    COMMIT = 0x02
    AUTH_ONLY = 0x04


class PayloadType(IntEnum):
    """RFC 2408 §3.1; NAT-D/NAT-OA from RFC 3947 §3.2/§5.2 and the drafts (130/131)."""
    NONE = 0
    SA = 1
    PROPOSAL = 2
    TRANSFORM = 3
    KE = 4
    ID = 5
    CERT = 6
    CR = 7
    HASH = 8
    SIG = 9
    NONCE = 10
    NOTIFICATION = 11
    DELETE = 12
    VENDOR_ID = 13
    NAT_D = 20
    NAT_OA = 21
    NAT_D_DRAFT = 130
    NAT_OA_DRAFT = 131
    FRAGMENT = 132  #: IKEv1 fragmentation (a Microsoft/Cisco extension; strongSwan PLV1_FRAGMENT)


class DOI(IntEnum):
    IPSEC = 1  #: RFC 2407


class Situation(IntEnum):
    IDENTITY_ONLY = 1


class ProtocolId(IntEnum):
    """RFC 2407 §4.4.1."""
    ISAKMP = 1
    AH = 2
    ESP = 3


class Phase1Attr(IntEnum):
    """Oakley attribute classes, RFC 2409 Appendix A."""
    ENCRYPTION = 1
    HASH = 2
    AUTH_METHOD = 3
    GROUP = 4
    LIFE_TYPE = 11
    LIFE_DURATION = 12
    KEY_LENGTH = 14


class Phase1Cipher(IntEnum):
    DES_CBC = 1
    TRIPLE_DES_CBC = 5
    AES_CBC = 7  #: RFC 3602 / IANA


class HashAlg(IntEnum):
    MD5 = 1
    SHA1 = 2
    SHA2_256 = 4


class AuthMethod(IntEnum):
    """RFC 2409 Appendix A; ECDSA_256 from RFC 4754 §5 (P-256, HASH_I by HMAC-SHA-256)."""
    PRE_SHARED_KEY = 1
    RSA_SIG = 3
    ECDSA_256 = 9


class LifeType(IntEnum):
    SECONDS = 1
    KILOBYTES = 2


class IpsecAttr(IntEnum):
    """IPsec DOI SA attributes, RFC 2407 §4.5."""
    LIFE_TYPE = 1
    LIFE_DURATION = 2
    GROUP = 3
    ENCAPSULATION_MODE = 4
    AUTH_ALGORITHM = 5
    KEY_LENGTH = 6


class EncapsulationMode(IntEnum):
    """RFC 2407 §4.5; 3/4 from RFC 3947 §5.1; 61443/61444 the draft values (MS-IKEE)."""
    TUNNEL = 1
    TRANSPORT = 2
    UDP_TUNNEL = 3
    UDP_TRANSPORT = 4
    UDP_TUNNEL_DRAFT = 61443
    UDP_TRANSPORT_DRAFT = 61444

    @property
    def rfc_name(self) -> str:
        """UDP_TRANSPORT_DRAFT -> 'UDP-Encapsulated-Transport', the RFC 3947 §5.1 spelling."""
        words = self.name.split("_")
        return ("UDP-Encapsulated-" + words[1].title()) if words[0] == "UDP" else words[0].title()


class EspTransform(IntEnum):
    """IPsec DOI ESP transform IDs, RFC 2407 §4.4.4."""
    ESP_3DES = 3
    ESP_NULL = 11
    ESP_AES = 12


class AhTransform(IntEnum):
    AH_MD5 = 2
    AH_SHA = 3
    AH_SHA2_256 = 5


class AuthAlgorithm(IntEnum):
    """IPsec DOI 'Authentication Algorithm' attribute, RFC 2407 §4.5."""
    HMAC_MD5 = 1
    HMAC_SHA = 2
    HMAC_SHA2_256 = 5


class IdType(IntEnum):
    """RFC 2407 §4.6.2.1."""
    IPV4_ADDR = 1
    FQDN = 2
    USER_FQDN = 3
    IPV4_ADDR_SUBNET = 4
    IPV6_ADDR = 5
    DER_ASN1_DN = 9  #: a certificate subject's DER Name (RFC 2407 §4.6.2.1, RFC 4945 §3.1.5)


class CertEncoding(IntEnum):
    """CERT/CR encodings, RFC 2408 §3.9."""
    X509_SIGNATURE = 4


class NotifyType(IntEnum):
    """RFC 2408 §3.14.1 errors and RFC 2407 §4.6.3 status types."""
    INVALID_PAYLOAD_TYPE = 1
    DOI_NOT_SUPPORTED = 2
    INVALID_MAJOR_VERSION = 5
    INVALID_COOKIE = 4
    INVALID_EXCHANGE_TYPE = 7
    INVALID_FLAGS = 8
    INVALID_MESSAGE_ID = 9
    INVALID_PROTOCOL_ID = 10
    INVALID_SPI = 11
    INVALID_TRANSFORM_ID = 12
    ATTRIBUTES_NOT_SUPPORTED = 13
    NO_PROPOSAL_CHOSEN = 14
    BAD_PROPOSAL_SYNTAX = 15
    PAYLOAD_MALFORMED = 16
    INVALID_KEY_INFORMATION = 17
    INVALID_ID_INFORMATION = 18
    AUTHENTICATION_FAILED = 24
    INVALID_HASH_INFORMATION = 23
    RESPONDER_LIFETIME = 24576
    INITIAL_CONTACT = 24578
    CONNECTED = 16384          #: RFC 2408 §3.14.1: the answer to the commit bit (a status)
    R_U_THERE = 36136          #: RFC 3706 §5.3: Dead Peer Detection request
    R_U_THERE_ACK = 36137      #: RFC 3706 §5.3: its answer, echoing the sequence number


def notify_name(number: int) -> str:
    """'AUTHENTICATION-FAILED' for 24, as logs and RFC 2408 write it; the number if unknown."""
    return NotifyType(number).name.replace("_", "-") if number in NotifyType._value2member_map_ else str(number)
