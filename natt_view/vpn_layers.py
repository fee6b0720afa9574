"""PPP inside L2TP inside ESP: the fields of a decrypted L2TP data message, for field layouts.

wire.dissect lays out the inner UDP and an L2TP *control* header; a data message (RFC 2661 §3.1,
T bit clear) has a shorter header and carries a PPP frame (RFC 2661 §5.4): LCP (RFC 1661), PAP,
CHAP/MS-CHAPv2 (RFC 1334/1994/2759), IPCP (RFC 1332), or IPv4 with the client's ping. This view
names those fields (fixed fields one by one, options and values as blocks), read with natt_core's
own decoders.
"""
from __future__ import annotations

from natt_core.errors import NattError
from natt_core.l2tp.data import decode_data, is_data
from natt_core.wire.layout import Field
from natt_core.wire.ppp import Proto, decode_frame

_UDP = 8
L2TP_PORT = 1701


def inner_l2tp(plaintext: bytes) -> bytes | None:
    """The L2TP message inside an opened transport-mode ESP payload (inner UDP to/from 1701)."""
    if len(plaintext) < _UDP + 6 or L2TP_PORT not in (int.from_bytes(plaintext[:2], "big"),
                                                      int.from_bytes(plaintext[2:4], "big")):
        return None
    return plaintext[_UDP:]


# ---- the layers of one L2TP data message, laid out -----------------------------------------

def _f(out: list, name: str, at: int, length: int, value: str, layer: str) -> None:
    out.append(Field(name, at, length, value, layer))


def _ppp_fields(out: list, frame: bytes, at: int) -> None:
    """PPP header and its packet's fixed fields (RFC 1661 §2, §5); options and values as blocks."""
    pos = at
    if frame[:2] == b"\xff\x03":
        _f(out, "address / control", pos, 2, "0xff03", "PPP")
        pos += 2
    decoded = decode_frame(frame)
    plen = 1 if frame[pos - at] & 1 else 2
    try:
        pname = Proto(decoded.protocol).name
    except ValueError:
        pname = "?"
    _f(out, "protocol", pos, plen, f"0x{decoded.protocol:04x} ({pname})", "PPP")
    pos += plen
    info = decoded.info
    layer = {Proto.LCP: "LCP", Proto.IPCP: "IPCP", Proto.PAP: "PAP", Proto.CHAP: "CHAP"}.get(decoded.protocol)
    if layer and len(info) >= 4:
        _f(out, "code", pos, 1, str(info[0]), layer)
        _f(out, "identifier", pos + 1, 1, str(info[1]), layer)
        _f(out, "length", pos + 2, 2, str(int.from_bytes(info[2:4], "big")), layer)
        if len(info) > 4:
            what = {"LCP": "options / data", "IPCP": "options", "PAP": "peer-id and password",
                    "CHAP": "value-size, value, name / message"}[layer]
            _f(out, what, pos + 4, len(info) - 4, f"{len(info) - 4} bytes", layer)
    elif decoded.protocol == Proto.IPV4 and len(info) >= 20:
        ihl = (info[0] & 0x0F) * 4
        _f(out, "IPv4 header (client → LNS or back)", pos, ihl,
           f"{'.'.join(map(str, info[12:16]))} → {'.'.join(map(str, info[16:20]))}", "inner IPv4")
        if len(info) > ihl:
            _f(out, "ICMP echo", pos + ihl, len(info) - ihl, f"type {info[ihl]}, {len(info) - ihl} bytes", "ICMP")
    elif info:
        _f(out, "information", pos, len(info), f"{len(info)} bytes", "PPP")


def data_message_fields(plaintext: bytes) -> tuple[Field, ...] | None:
    """The inner UDP, L2TP data header, PPP and its payload of an opened ESP payload, or None when
    it is not an L2TP data message (offsets relative to the plaintext)."""
    l2tp = inner_l2tp(plaintext)
    if l2tp is None or not is_data(l2tp):
        return None
    try:
        tunnel, session, frame = decode_data(l2tp)
        out: list[Field] = []
        for n, name in enumerate(("inner source port", "inner destination port", "inner length",
                                  "inner checksum (over the original addresses)")):
            value = int.from_bytes(plaintext[2 * n:2 * n + 2], "big")
            _f(out, name, 2 * n, 2, f"0x{value:04x}" if n == 3 else str(value), "inner UDP")
        flags = int.from_bytes(l2tp[:2], "big")
        _f(out, "flags / version (data: T=0)", _UDP, 2, f"0x{flags:04x}", "L2TP data")
        at = _UDP + (4 if flags & 0x4000 else 2)          # the L bit adds a length field
        _f(out, "tunnel ID", at, 2, str(tunnel), "L2TP data")
        _f(out, "session ID", at + 2, 2, str(session), "L2TP data")
        head = len(l2tp) - len(frame)
        _ppp_fields(out, frame, _UDP + head)
    except NattError:
        return None
    return tuple(out)


__all__ = ["data_message_fields", "inner_l2tp"]
