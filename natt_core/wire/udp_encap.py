"""UDP port 4500 framing: the non-ESP marker, NAT-keepalives and the receive demultiplexer.

RFC 3948 §2 (UDP-encapsulated ESP §2.1, IKE behind the non-ESP marker §2.2, NAT-keepalive
§2.3) and RFC 3947 §4 (IKE moves to port 4500 with the marker). IKE and ESP share one port so
one NAT mapping carries both; the first four bytes tell them apart because an ESP SPI is never 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..errors import DecodeError
from .ip import IPV4_HEADER_LEN, decode_ipv4_header, decode_udp
from .layout import Layout, Part, hexed
from .numbers import IPProto, Port
from ..net.records import fast_init_all

NON_ESP_MARKER = b"\x00\x00\x00\x00"
KEEPALIVE = b"\xff"


class Kind(Enum):
    """What a UDP payload on port 4500 carries."""
    KEEPALIVE = "NAT-keepalive"  #: a single 0xFF byte; the receiver ignores it
    IKE = "IKE"                  #: non-ESP marker + ISAKMP message
    ESP = "ESP"                  #: the payload is an ESP packet starting with its SPI


def classify_4500(payload: bytes) -> tuple[Kind, bytes]:
    """Demultiplex a port-4500 payload; IKE comes back without its marker.

    The order is the RFC's: exactly one 0xFF byte is a keepalive, four zero bytes start IKE,
    anything else is ESP (its SPI decides the SA). Fewer than four bytes otherwise is neither.
    """
    if payload == KEEPALIVE:
        return Kind.KEEPALIVE, b""
    if len(payload) < 4:
        raise DecodeError("UDP-encap", 0, f"{len(payload)} bytes: neither a keepalive "
                                          "nor room for a marker or an SPI")
    if payload[:4] == NON_ESP_MARKER:
        return Kind.IKE, payload[4:]
    return Kind.ESP, bytes(payload)


def frame_ike(ike: bytes) -> bytes:
    """An IKE message as sent on port 4500: the non-ESP marker, then the message."""
    return NON_ESP_MARKER + ike


@dataclass(frozen=True)
class Carried:
    """What one IPv4 packet carries for IPsec, as a receiver demultiplexes it."""
    kind: str                 #: "ike", "esp", "keepalive" or "ah"
    src: tuple[str, int]      #: (address, UDP port; 0 for ESP/AH as IP protocols 50/51)
    dst: tuple[str, int]
    data: bytes               #: the ISAKMP message (marker stripped), the ESP/AH packet, or b""


def carried(packet: bytes) -> Carried | None:
    """IKE on UDP 500, anything on 4500 (RFC 3948 §2), ESP or AH as IP protocols; None for other
    traffic. Malformed headers raise DecodeError."""
    ip, body = decode_ipv4_header(packet)
    if ip.proto in (IPProto.ESP, IPProto.AH):
        return Carried("esp" if ip.proto == IPProto.ESP else "ah", (ip.src, 0), (ip.dst, 0), body)
    if ip.proto != IPProto.UDP:
        return None
    udp, payload = decode_udp(body, IPV4_HEADER_LEN)
    ends = (ip.src, udp.sport), (ip.dst, udp.dport)
    if Port.NAT_T in (udp.sport, udp.dport):
        kind, rest = classify_4500(payload)
        return Carried({Kind.IKE: "ike", Kind.ESP: "esp", Kind.KEEPALIVE: "keepalive"}[kind], *ends,
                       rest if kind is Kind.IKE else payload if kind is Kind.ESP else b"")
    return Carried("ike", *ends, payload) if Port.IKE in (udp.sport, udp.dport) else None


#: RFC 3948 §2.2 and §2.3 as a view shows them
MARKER_LAYOUT = Layout("UDP-encap", Part("marker", 4, "non-ESP marker",
                                         lambda v, row: "00 00 00 00 → IKE follows", raw=True))
KEEPALIVE_LAYOUT = Layout("UDP-encap", Part("keepalive", 1, "NAT-keepalive", hexed(2)))


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
