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
import socket
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from functools import partial

from ..errors import ConfigError, DecodeError
from .codec import Reader
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


#: `FF 03` and the 2-byte protocol of each protocol we know: the frame head Linux always sends
FRAME_HEAD = {p: b"\xff\x03" + p.to_bytes(2, "big") for p in Proto}


def encode_frame(protocol: int, info: bytes, acfc: bool = False, pfc: bool = False) -> bytes:
    """`FF 03 protocol info`; LCP is never compressed (RFC 1661 §6.5, §6.6)."""
    if not acfc and not pfc:
        head = FRAME_HEAD.get(protocol)
        if head is not None:
            return head + info
    if not _valid_protocol(protocol):
        raise ConfigError(f"0x{protocol:04x} is not a valid PPP protocol number")
    lcp = protocol == Proto.LCP
    head = b"" if acfc and not lcp else b"\xff\x03"
    proto = bytes([protocol]) if pfc and not lcp and protocol < 0x100 else protocol.to_bytes(2, "big")
    return head + proto + bytes(info)


def _valid_protocol(protocol: int) -> bool:
    return 0 < protocol <= 0xFFFF and protocol & 0x0001 == 1 and not protocol & 0x0100


def frame_parts(data: bytes) -> tuple[int, bytes]:
    """(protocol, information field) of a PPP frame with or without FF 03, with a 2- or 1-byte
    protocol field; indexes the bytes directly (it runs once per frame)."""
    if type(data) is not bytes:
        data = bytes(data)
    n = len(data)
    at = 0
    if data[:2] == b"\xff\x03":
        at = 2
    elif n and data[0] == 0xFF:
        raise DecodeError("PPP", 1, "address FF must be followed by control 03")
    if at >= n:
        raise DecodeError("PPP", at, "truncated protocol: need 1 bytes, 0 left")
    protocol = data[at]
    if protocol & 1:                 # PFC: a 1-byte protocol is always a valid number
        return protocol, data[at + 1:]
    if at + 1 >= n:
        raise DecodeError("PPP", at + 1, "truncated protocol: need 1 bytes, 0 left")
    protocol = (protocol << 8) | data[at + 1]
    if not protocol & 1 or protocol & 0x0100:
        raise DecodeError("PPP", at + 1, f"protocol 0x{protocol:04x} is not a valid PPP protocol number")
    return protocol, data[at + 2:]


def decode_frame(data: bytes) -> Frame:
    """A PPP frame with or without FF 03, with a 2- or 1-byte protocol field."""
    return Frame(*frame_parts(data))


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
        v = self.value
        return socket.inet_ntoa(v) if len(v) == 4 else ".".join(map(str, v))


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
    try:   # inet_pton takes exactly what ipaddress.IPv4Address takes: a strict dotted quad
        return Option(kind, socket.inet_pton(socket.AF_INET, address))
    except (OSError, TypeError, UnicodeError):
        raise ConfigError(f"{address!r} is not an IPv4 address") from None


def _check_auth(layer: str, value: bytes, at: int) -> None:
    if len(value) < 2:
        raise DecodeError(layer, at, "Authentication-Protocol option without a protocol")
    proto = int.from_bytes(value[:2], "big")
    if proto == Proto.PAP and len(value) != 2:
        raise DecodeError(layer, at, "PAP's Authentication-Protocol option is 4 bytes (RFC 1334 §3)")
    if proto == Proto.CHAP and len(value) != 3:
        raise DecodeError(layer, at, "CHAP's Authentication-Protocol option is 5 bytes (RFC 1994 §3)")


def decode_options(data: bytes, layer: str = "LCP", base: int = 0) -> tuple[Option, ...]:
    """`type length value` options (RFC 1661 §6), read by indexing the block directly."""
    if type(data) is not bytes:
        data = bytes(data)
    sizes = _IPCP_SIZES if layer == "IPCP" else _LCP_SIZES
    auth = LcpOpt.AUTH if layer == "LCP" else None      # read off the Enum once, not per option
    n = len(data)
    at = 0
    out = []
    while at < n:
        if at + 1 >= n:
            raise DecodeError(layer, base + at + 1, "truncated option length: need 1 bytes, 0 left")
        kind, length = data[at], data[at + 1]
        if length < 2:
            raise DecodeError(layer, base + at + 1, f"option length {length} is below 2")
        end = at + length
        if end > n:
            raise DecodeError(layer, base + at + 2,
                              f"truncated option {kind}: need {length - 2} bytes, {n - at - 2} left")
        value = data[at + 2:end]
        want = sizes.get(kind)
        if want is not None and length - 2 != want:
            raise DecodeError(layer, base + at, f"option {kind} needs {want} value bytes, has {length - 2}")
        if kind == auth:
            _check_auth(layer, value, base + at)
        out.append(Option(kind, value))
        at = end
    return tuple(out)


def encode_options(options) -> bytes:
    """The option block of a Configure packet: one join over the options' `type length value`."""
    parts = []
    for o in options:
        value = o.value
        size = 2 + len(value)
        if size > 255:
            raise ConfigError(f"PPP option {o.type}: a value of {size - 2} bytes is too long")
        parts += (bytes((o.type, size)), value)
    return b"".join(parts)


#: `code identifier length` of LCP, IPCP, PAP and CHAP packets (RFC 1661 §5, RFC 1334 §2.2, RFC 1994 §4)
_PACKET_HEAD = struct.Struct("!BBH")


def _packet_head(data: bytes, layer: str, base: int, top: int) -> tuple[int, int, int]:
    """(code, identifier, length), checked: a known code, 4 <= length <= the bytes there are."""
    n = len(data)
    if n < 4:
        what, at, size = (("code", 0, 1), ("identifier", 1, 1), ("length", 2, 2), ("length", 2, 2))[n]
        raise DecodeError(layer, base + at, f"truncated {what}: need {size} bytes, {n - at} left")
    code, ident, length = _PACKET_HEAD.unpack_from(data)
    if not 1 <= code <= top:
        raise DecodeError(layer, base, f"unknown {layer} code {code}")
    if length < 4 or length > n:
        raise DecodeError(layer, base + 2, f"length {length} but {n} bytes")
    return code, ident, length


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
        code = self.code
        if code in CONFIG_CODES:
            body = encode_options(self.options)
        elif code in MAGIC_CODES:
            body = self.magic.to_bytes(4, "big") + self.data
        elif code == Code.PROTOCOL_REJECT:
            body = self.rejected_protocol.to_bytes(2, "big") + self.data
        else:
            body = self.data
        return _PACKET_HEAD.pack(code, self.identifier, 4 + len(body)) + body

    @property
    def name(self) -> str:
        try:
            return Code(self.code).name.replace("_", "-").title()
        except ValueError:
            return f"code {self.code}"


def decode_control(data: bytes, layer: str = "LCP", base: int = 0) -> ControlPacket:
    """An LCP (codes 1-11) or IPCP (codes 1-7) packet; trailing padding after Length is ignored
    (RFC 1661 §5: octets outside the Length field are padding)."""
    if type(data) is not bytes:
        data = bytes(data)
    top = 11 if layer == "LCP" else 7
    if len(data) >= 4:       # the head of a sound packet read here; _packet_head names any fault
        code, ident, length = _PACKET_HEAD.unpack_from(data)
        if not 1 <= code <= top or length < 4 or length > len(data):
            _packet_head(data, layer, base, top)
    else:
        _packet_head(data, layer, base, top)
    if code in CONFIG_CODES:
        return ControlPacket(code, ident, decode_options(data[4:length], layer, base + 4))
    if code in MAGIC_CODES:
        if length < 8:
            raise DecodeError(layer, base + 4, f"truncated magic number: need 4 bytes, {length - 4} left")
        return ControlPacket(code, ident, magic=int.from_bytes(data[4:8], "big"), data=data[8:length])
    if code == Code.PROTOCOL_REJECT:
        if length < 6:
            raise DecodeError(layer, base + 4, f"truncated rejected protocol: need 2 bytes, {length - 4} left")
        return ControlPacket(code, ident, rejected_protocol=int.from_bytes(data[4:6], "big"), data=data[6:length])
    return ControlPacket(code, ident, data=data[4:length])


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
        return _PACKET_HEAD.pack(self.code, self.identifier, 4 + len(body)) + body


def _lv(b: bytes) -> bytes:
    if len(b) > 255:
        raise ConfigError(f"a PAP field of {len(b)} bytes is too long (255 at most)")
    return bytes([len(b)]) + b


def _auth_head(data: bytes, layer: str) -> tuple[int, int, Reader]:
    if type(data) is not bytes:
        data = bytes(data)
    code, ident, length = _packet_head(data, layer, 0, 3 if layer == "PAP" else 4)
    return code, ident, Reader(data[4:length], layer, 4)


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
        return _PACKET_HEAD.pack(self.code, self.identifier, 4 + len(body)) + body


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


def decode_payload(protocol: int, info: bytes):
    """The packet a frame's information field holds, by protocol (see `Decoded.packet`)."""
    decode = _PAYLOAD_DECODERS.get(protocol)
    return info if decode is None else decode(info)


#: protocol -> the decoder of its packets: one lookup per frame instead of a chain of Enum reads
_PAYLOAD_DECODERS = {Proto.LCP: partial(decode_control, layer="LCP"),
                     Proto.IPCP: partial(decode_control, layer="IPCP"),
                     Proto.CHAP: decode_chap, Proto.PAP: decode_pap, Proto.IPV4: decode_ipv4_header}


def decode(data: bytes) -> Decoded:
    """A frame and its payload, by protocol; unknown protocols keep their bytes (for Protocol-Reject)."""
    protocol, info = frame_parts(data)
    return Decoded(protocol, decode_payload(protocol, info))


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
