"""UDP port 4500 framing: the non-ESP marker, NAT-keepalives and the receive demultiplexer.

RFC 3948 §2 (UDP-encapsulated ESP §2.1, IKE behind the non-ESP marker §2.2, NAT-keepalive
§2.3) and RFC 3947 §4 (IKE moves to port 4500 with the marker). IKE and ESP share one port so
one NAT mapping carries both; the first four bytes tell them apart because an ESP SPI is never 0.
"""
from __future__ import annotations

from enum import Enum

from ..errors import DecodeError

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
