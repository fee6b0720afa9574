"""PPP as carried in an L2TP data message: the frame, LCP/IPCP, PAP and CHAP (incl. MS-CHAPv2).

* Frame (RFC 1662 §3.1 without flags/FCS, as RFC 2661 §5.4 carries it): `FF 03 protocol info`.
  Linux always sends FF 03; a receiver accepts a frame without it (ACFC) and a 1-byte protocol
  (PFC, RFC 1661 §6.5: the protocol's low octet is odd, the high octet even).
* LCP (RFC 1661 §5) and IPCP (RFC 1332) share the packet format `code id length data`; codes 1-4
  carry options `type length value` (§6); 5/6 data; 7 the rejected packet; 8 protocol + info;
  9/10/11 magic(4) + data. LCP options: 1 MRU, 2 ACCM, 3 Auth-Protocol (PAP C023, CHAP C223 with
  algorithm 5 = MD5 or 0x81 = MS-CHAPv2), 5 Magic-Number, 7 PFC, 8 ACFC (RFC 1661 §6, RFC 1994 §3,
  RFC 2759 §2). IPCP options: 3 IP-Address (RFC 1332 §3.3), 129/131 primary/secondary DNS and
  130/132 NBNS (RFC 1877).
* PAP (RFC 1334 §2.2): Authenticate-Request `peer-id-len peer-id passwd-len passwd`; Ack/Nak `msg-len msg`.
* CHAP (RFC 1994 §4): Challenge/Response `value-size value name`; Success/Failure `message`.
  MS-CHAPv2 (RFC 2759 §4-§6): the 49-byte Response value, "S=<40 hex> M=<text>" and
  "E=691 R=1 C=<32 hex> V=3 M=<text>".

Decoders are strict (lengths, known option sizes, reserved bytes) and raise only DecodeError.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum

from ..errors import ConfigError, DecodeError
from .codec import Reader, Writer
from .ip import decode_ipv4_header
from ..net.records import fast_init_all


class Proto(IntEnum):
    IPV4 = 0x0021
    IPCP = 0x8021
    CCP = 0x80FD
    IPV6CP = 0x8057
    LCP = 0xC021
    PAP = 0xC023
    CHAP = 0xC223


class Code(IntEnum):
    """LCP/IPCP packet codes (RFC 1661 §5)."""
    CONFIGURE_REQUEST = 1
    CONFIGURE_ACK = 2
    CONFIGURE_NAK = 3
    CONFIGURE_REJECT = 4
    TERMINATE_REQUEST = 5
    TERMINATE_ACK = 6
    CODE_REJECT = 7
    PROTOCOL_REJECT = 8
    ECHO_REQUEST = 9
    ECHO_REPLY = 10
    DISCARD_REQUEST = 11


CONFIG_CODES = (1, 2, 3, 4)
MAGIC_CODES = (9, 10, 11)


class LcpOpt(IntEnum):
    MRU = 1
    ACCM = 2
    AUTH = 3
    QUALITY = 4
    MAGIC = 5
    PFC = 7
    ACFC = 8


class IpcpOpt(IntEnum):
    IP_COMPRESSION = 2
    IP_ADDRESS = 3
    PRIMARY_DNS = 129
    PRIMARY_NBNS = 130
    SECONDARY_DNS = 131
    SECONDARY_NBNS = 132


class ChapAlg(IntEnum):
    MD5 = 0x05
    MSCHAP = 0x80
    MSCHAPV2 = 0x81


class AuthCode(IntEnum):
    """CHAP codes (RFC 1994 §4); PAP uses 1 Request, 2 Ack, 3 Nak (RFC 1334 §2.2)."""
    CHALLENGE = 1
    RESPONSE = 2
    SUCCESS = 3
    FAILURE = 4


#: value length an option of this type must have, per control protocol (None: any, >= 0)
_LCP_SIZES = {1: 2, 2: 4, 5: 4, 7: 0, 8: 0}
_IPCP_SIZES = {3: 4, 129: 4, 130: 4, 131: 4, 132: 4}
LAYER = {Proto.LCP: "LCP", Proto.IPCP: "IPCP"}

# ---------------------------------------------------------------------------------------------
# Frame


@dataclass(frozen=True)
class Frame:
    protocol: int
    info: bytes


def encode_frame(protocol: int, info: bytes, acfc: bool = False, pfc: bool = False) -> bytes:
    """`FF 03 protocol info`; LCP is never compressed (RFC 1661 §6.5, §6.6)."""
    if not _valid_protocol(protocol):
        raise ConfigError(f"0x{protocol:04x} is not a valid PPP protocol number")
    lcp = protocol == Proto.LCP
    head = b"" if acfc and not lcp else b"\xff\x03"
    proto = bytes([protocol]) if pfc and not lcp and protocol < 0x100 else protocol.to_bytes(2, "big")
    return head + proto + bytes(info)


def _valid_protocol(protocol: int) -> bool:
    return 0 < protocol <= 0xFFFF and protocol & 0x0001 == 1 and not protocol & 0x0100


def _check_protocol(protocol: int, at: int) -> None:
    if not _valid_protocol(protocol):
        raise DecodeError("PPP", at, f"protocol 0x{protocol:04x} is not a valid PPP protocol number")


def decode_frame(data: bytes) -> Frame:
    """A PPP frame with or without FF 03, with a 2- or 1-byte protocol field."""
    r = Reader(data, "PPP")
    if r.remaining() >= 2 and r.data[:2] == b"\xff\x03":
        r.bytes(2)
    elif r.remaining() and r.data[0] == 0xFF:
        raise DecodeError("PPP", 1, "address FF must be followed by control 03")
    first = r.u8("protocol")
    protocol = first if first & 1 else (first << 8) | r.u8("protocol")
    _check_protocol(protocol, r.offset - 1)
    return Frame(protocol, r.rest())


# ---------------------------------------------------------------------------------------------
# LCP / IPCP


@dataclass(frozen=True)
class Option:
    type: int
    value: bytes = b""

    def encode(self) -> bytes:
        if len(self.value) > 253:
            raise ConfigError(f"PPP option {self.type}: a value of {len(self.value)} bytes is too long")
        return bytes([self.type, 2 + len(self.value)]) + self.value

    @property
    def number(self) -> int:
        return int.from_bytes(self.value, "big")

    @property
    def address(self) -> str:
        return ".".join(str(b) for b in self.value)


def mru(n: int) -> Option:
    return Option(LcpOpt.MRU, n.to_bytes(2, "big"))


def accm(mask: int) -> Option:
    return Option(LcpOpt.ACCM, mask.to_bytes(4, "big"))


def magic_number(n: int) -> Option:
    return Option(LcpOpt.MAGIC, n.to_bytes(4, "big"))


def auth_protocol(protocol: int, algorithm: int | None = None) -> Option:
    return Option(LcpOpt.AUTH, protocol.to_bytes(2, "big") + (b"" if algorithm is None else bytes([algorithm])))


def address_option(kind: int, address: str) -> Option:
    """An IPCP address option (IP-Address, DNS, NBNS); 0.0.0.0 asks the peer for one."""
    import ipaddress
    try:
        return Option(kind, ipaddress.IPv4Address(address).packed)
    except ValueError:
        raise ConfigError(f"{address!r} is not an IPv4 address") from None


def _check_option(layer: str, sizes: dict, opt: Option, at: int) -> None:
    want = sizes.get(opt.type)
    if want is not None and len(opt.value) != want:
        raise DecodeError(layer, at, f"option {opt.type} needs {want} value bytes, has {len(opt.value)}")
    if layer == "LCP" and opt.type == LcpOpt.AUTH:
        if len(opt.value) < 2:
            raise DecodeError(layer, at, "Authentication-Protocol option without a protocol")
        proto = opt.number if len(opt.value) == 2 else int.from_bytes(opt.value[:2], "big")
        if proto == Proto.PAP and len(opt.value) != 2:
            raise DecodeError(layer, at, "PAP's Authentication-Protocol option is 4 bytes (RFC 1334 §3)")
        if proto == Proto.CHAP and len(opt.value) != 3:
            raise DecodeError(layer, at, "CHAP's Authentication-Protocol option is 5 bytes (RFC 1994 §3)")


def decode_options(data: bytes, layer: str = "LCP", base: int = 0) -> tuple[Option, ...]:
    sizes = _IPCP_SIZES if layer == "IPCP" else _LCP_SIZES
    r = Reader(data, layer, base)
    out = []
    while r.remaining():
        at = r.offset
        kind, length = r.u8("option type"), r.u8("option length")
        if length < 2:
            raise DecodeError(layer, at + 1, f"option length {length} is below 2")
        opt = Option(kind, r.bytes(length - 2, f"option {kind}"))
        _check_option(layer, sizes, opt, at)
        out.append(opt)
    return tuple(out)


@dataclass(frozen=True)
class ControlPacket:
    """An LCP or IPCP packet. `options` for codes 1-4, `magic` for 9-11, `data` otherwise (and the
    trailing data of Echo/Discard); `rejected_protocol` for Protocol-Reject."""
    code: int
    identifier: int
    options: tuple[Option, ...] = ()
    data: bytes = b""
    magic: int = 0
    rejected_protocol: int = 0

    def option(self, kind: int) -> Option | None:
        return next((o for o in self.options if o.type == kind), None)

    def encode(self) -> bytes:
        if self.code in CONFIG_CODES:
            body = b"".join(o.encode() for o in self.options)
        elif self.code in MAGIC_CODES:
            body = self.magic.to_bytes(4, "big") + self.data
        elif self.code == Code.PROTOCOL_REJECT:
            body = self.rejected_protocol.to_bytes(2, "big") + self.data
        else:
            body = self.data
        return Writer().u8(self.code).u8(self.identifier).u16(4 + len(body)).raw(body).getvalue()

    @property
    def name(self) -> str:
        try:
            return Code(self.code).name.replace("_", "-").title()
        except ValueError:
            return f"code {self.code}"


def decode_control(data: bytes, layer: str = "LCP", base: int = 0) -> ControlPacket:
    """An LCP (codes 1-11) or IPCP (codes 1-7) packet; trailing padding after Length is ignored
    (RFC 1661 §5: octets outside the Length field are padding)."""
    r = Reader(data, layer, base)
    code, ident, length = r.u8("code"), r.u8("identifier"), r.u16("length")
    top = 11 if layer == "LCP" else 7
    if not 1 <= code <= top:
        raise DecodeError(layer, base, f"unknown {layer} code {code}")
    if length < 4 or length > len(data):
        raise DecodeError(layer, base + 2, f"length {length} but {len(data)} bytes")
    body = r.sub(length - 4, what="packet data")
    if code in CONFIG_CODES:
        return ControlPacket(code, ident, decode_options(body.rest(), layer, body.base))
    if code in MAGIC_CODES:
        return ControlPacket(code, ident, magic=body.u32("magic number"), data=body.rest())
    if code == Code.PROTOCOL_REJECT:
        return ControlPacket(code, ident, rejected_protocol=body.u16("rejected protocol"), data=body.rest())
    return ControlPacket(code, ident, data=body.rest())


# ---------------------------------------------------------------------------------------------
# PAP and CHAP


@dataclass(frozen=True)
class PapPacket:
    code: int
    identifier: int
    peer_id: bytes = b""
    password: bytes = b""
    message: bytes = b""

    def encode(self) -> bytes:
        if self.code == 1:
            body = _lv(self.peer_id) + _lv(self.password)
        else:
            body = _lv(self.message)
        return Writer().u8(self.code).u8(self.identifier).u16(4 + len(body)).raw(body).getvalue()


def _lv(b: bytes) -> bytes:
    if len(b) > 255:
        raise ConfigError(f"a PAP field of {len(b)} bytes is too long (255 at most)")
    return bytes([len(b)]) + b


def _auth_head(data: bytes, layer: str) -> tuple[int, int, Reader]:
    r = Reader(data, layer)
    code, ident, length = r.u8("code"), r.u8("identifier"), r.u16("length")
    if not 1 <= code <= (3 if layer == "PAP" else 4):
        raise DecodeError(layer, 0, f"unknown {layer} code {code}")
    if length < 4 or length > len(data):
        raise DecodeError(layer, 2, f"length {length} but {len(data)} bytes")
    return code, ident, r.sub(length - 4, what="packet data")


def decode_pap(data: bytes) -> PapPacket:
    code, ident, r = _auth_head(data, "PAP")
    if code == 1:
        peer = r.bytes(r.u8("peer-id length"), "peer-id")
        pw = r.bytes(r.u8("password length"), "password")
        r.expect_end()
        return PapPacket(code, ident, peer, pw)
    msg = r.bytes(r.u8("message length"), "message")
    r.expect_end()
    return PapPacket(code, ident, message=msg)


@dataclass(frozen=True)
class ChapPacket:
    code: int
    identifier: int
    value: bytes = b""
    name: bytes = b""
    message: bytes = b""

    def encode(self) -> bytes:
        if self.code in (AuthCode.CHALLENGE, AuthCode.RESPONSE):
            if not 1 <= len(self.value) <= 255:
                raise ConfigError("a CHAP value is 1 to 255 bytes")
            body = bytes([len(self.value)]) + self.value + self.name
        else:
            body = self.message
        return Writer().u8(self.code).u8(self.identifier).u16(4 + len(body)).raw(body).getvalue()


def decode_chap(data: bytes) -> ChapPacket:
    code, ident, r = _auth_head(data, "CHAP")
    if code in (AuthCode.CHALLENGE, AuthCode.RESPONSE):
        size = r.u8("value size")
        if size == 0:
            raise DecodeError("CHAP", 4, "value size 0")
        return ChapPacket(code, ident, r.bytes(size, "value"), r.rest())
    return ChapPacket(code, ident, message=r.rest())


# --- MS-CHAPv2 (RFC 2759) ---------------------------------------------------------------------

MSCHAPV2_RESPONSE_LEN = 49


@dataclass(frozen=True)
class MsChapV2Response:
    """The Response value: PeerChallenge(16) | 8 reserved zeros | NT-Response(24) | Flags(1) (§4)."""
    peer_challenge: bytes
    nt_response: bytes
    flags: int = 0

    def encode(self) -> bytes:
        if len(self.peer_challenge) != 16 or len(self.nt_response) != 24:
            raise ConfigError("MS-CHAPv2: PeerChallenge is 16 bytes and NT-Response 24")
        return self.peer_challenge + b"\x00" * 8 + self.nt_response + bytes([self.flags])


def decode_mschapv2_response(value: bytes) -> MsChapV2Response:
    if len(value) != MSCHAPV2_RESPONSE_LEN:
        raise DecodeError("MS-CHAPv2", 0, f"Response value is {len(value)} bytes, not 49")
    if value[16:24] != b"\x00" * 8:
        raise DecodeError("MS-CHAPv2", 16, "reserved bytes are not zero")
    return MsChapV2Response(value[:16], value[24:48], value[48])


_SUCCESS = re.compile(rb"S=([0-9A-F]{40})(?: M=(.*))?", re.S)
_FAILURE_FIELD = re.compile(rb"([ERCVM])=")


def mschapv2_success(auth_response: str, message: str = "") -> bytes:
    """"S=<40 hex> M=<message>" (§5); the message part is omitted when empty."""
    return auth_response.encode("ascii") + (b" M=" + message.encode() if message else b"")


@dataclass(frozen=True)
class MsChapV2Success:
    auth_response: str
    message: str


def decode_mschapv2_success(message: bytes) -> MsChapV2Success:
    m = _SUCCESS.fullmatch(message)
    if not m:
        raise DecodeError("MS-CHAPv2", 0, "Success message is not 'S=<40 upper-case hex> [M=<text>]'")
    return MsChapV2Success("S=" + m.group(1).decode(), (m.group(2) or b"").decode("utf-8", "replace"))


@dataclass(frozen=True)
class MsChapV2Failure:
    error: int
    retry: bool
    challenge: bytes
    version: int
    message: str

    def encode(self) -> bytes:
        return (f"E={self.error} R={int(self.retry)} C={self.challenge.hex().upper()} V={self.version} "
                f"M={self.message}").encode()


def decode_mschapv2_failure(message: bytes) -> MsChapV2Failure:
    """"E=eeeeeeeeee R=r C=cccc V=vvvv M=<msg>" (§6); M= runs to the end, the others are single tokens."""
    fields: dict[bytes, bytes] = {}
    rest = message
    while rest:
        m = _FAILURE_FIELD.match(rest)
        if not m or m.group(1) in fields:
            raise DecodeError("MS-CHAPv2", len(message) - len(rest), "Failure message field is not E=, R=, C=, V= or M=")
        key = m.group(1)
        if key == b"M":
            fields[key], rest = rest[2:], b""
            break
        token, _, rest = rest[2:].partition(b" ")
        fields[key] = token
    try:
        error = int(fields[b"E"])
        retry = fields.get(b"R", b"0") == b"1"
        challenge = bytes.fromhex(fields.get(b"C", b"").decode("ascii"))
        version = int(fields.get(b"V", b"0"))
    except (KeyError, ValueError, UnicodeDecodeError):
        raise DecodeError("MS-CHAPv2", 0, "Failure message needs E=<number> and well-formed R/C/V") from None
    if challenge and len(challenge) != 16:
        raise DecodeError("MS-CHAPv2", 0, "Failure C= must be 32 hex digits")
    return MsChapV2Failure(error, retry, challenge, version, fields.get(b"M", b"").decode("utf-8", "replace"))


# ---------------------------------------------------------------------------------------------
# One frame, fully decoded


@dataclass(frozen=True)
class Decoded:
    protocol: int
    packet: object = field(default=None)   # ControlPacket, PapPacket, ChapPacket, (IPv4Header, payload) or bytes


def decode(data: bytes) -> Decoded:
    """A frame and its payload, by protocol; unknown protocols keep their bytes (for Protocol-Reject)."""
    frame = decode_frame(data)
    if frame.protocol in LAYER:
        return Decoded(frame.protocol, decode_control(frame.info, LAYER[frame.protocol]))
    if frame.protocol == Proto.PAP:
        return Decoded(frame.protocol, decode_pap(frame.info))
    if frame.protocol == Proto.CHAP:
        return Decoded(frame.protocol, decode_chap(frame.info))
    if frame.protocol == Proto.IPV4:
        return Decoded(frame.protocol, decode_ipv4_header(frame.info))
    return Decoded(frame.protocol, frame.info)


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
