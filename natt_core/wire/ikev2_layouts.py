"""The IKEv2 header and payload layouts (RFC 7296 §3), described once.

`wire.ikev2` packs and unpacks through these `Layout`s and `wire.dissect_ikev2` renders the same
parts, so a field's name, size and protection mark exist only here. Reserved fields are shown but
not enforced: RFC 7296 §3.2 says they MUST be ignored on receipt. What a NAT must not rewrite says
why: the NAT detection hashes cover addresses and ports (§2.23), the SK payload is encrypted and
covered by its ICV (§3.14), the IDs are what AUTH signs (§2.15).
"""
from __future__ import annotations

import socket

from .ikev2_numbers import AuthMethod, Exchange, HdrFlag, IdType, Payload, TransformType, TsType, notify2_name
from .layout import (ENCRYPTED, ID_PAYLOAD, NATD_HASH, Layout, Part, named, show_hex, show_reserved,
                     show_short_hex, show_size)


def _flags(value: int, row: dict) -> str:
    names = [n for bit, n in ((HdrFlag.INITIATOR, "I"), (HdrFlag.VERSION, "V"), (HdrFlag.RESPONSE, "R"))
             if value & bit]
    return f"0x{value:02x} {'+'.join(names) or '-'}"


def _critical(value: int, row: dict) -> str:
    return f"0x{value:02x}" + (" critical" if value & 0x80 else "")


def _notify(value: int, row: dict) -> str:
    return f"{value} ({notify2_name(value)})"


def _attr_type(value: int, row: dict) -> str:
    kind = value & 0x7FFF
    return f"{'TV' if value & 0x8000 else 'TLV'} {kind}" + (" (key length)" if kind == 14 else "")


def _ipv4(value: bytes, row: dict) -> str:
    return socket.inet_ntoa(value)


#: RFC 7296 §3.1
HEADER = Layout(
    "IKEv2",
    Part("spi_i", 8, "initiator SPI", show_hex, raw=True),
    Part("spi_r", 8, "responder SPI", show_hex, raw=True),
    Part("next_payload", 1, "next payload", named(Payload)),
    Part("version", 1, "version", lambda v, row: f"{v >> 4}.{v & 15}"),
    Part("exchange", 1, "exchange type", named(Exchange)),
    Part("flags", 1, "flags", _flags),
    Part("message_id", 4, "message ID"),
    Part("length", 4, "length"),
)

#: RFC 7296 §3.2: the critical bit is the top bit of the byte after Next Payload
GENERIC = Layout(
    "IKEv2 payload",
    Part("next", 1, "next payload", named(Payload)),
    Part("flags", 1, "critical / reserved", _critical),
    Part("length", 2, "payload length"),
)

#: §3.3: the SA body is its proposals, nothing else
SA_BODY = Layout("SA", Part("proposals", None, "proposals", nested=True))

#: §3.3.1 (with its Last Substruc / RESERVED / Length words)
PROPOSAL = Layout(
    "Proposal",
    Part("last", 1, "last substruc"),
    Part("reserved", 1, "reserved", show_reserved),
    Part("length", 2, "proposal length"),
    Part("number", 1, "proposal #"),
    Part("protocol", 1, "protocol ID"),
    Part("spi_size", 1, "SPI size"),
    Part("count", 1, "number of transforms"),
    Part("spi", "spi_size", "SPI", show_hex),
    Part("transforms", None, "transforms", nested=True),
)

#: §3.3.2
TRANSFORM = Layout(
    "Transform",
    Part("last", 1, "last substruc"),
    Part("reserved", 1, "reserved", show_reserved),
    Part("length", 2, "transform length"),
    Part("type", 1, "transform type", named(TransformType)),
    Part("reserved2", 1, "reserved", show_reserved),
    Part("id", 2, "transform ID"),
    Part("attributes", None, "attributes", nested=True),
)

#: §3.3.5: AF=1 (TV, a 2-byte value) or AF=0 (TLV)
ATTR_TV = Layout("Attribute", Part("type", 2, "attribute format / type", _attr_type),
                 Part("value", 2, "attribute value"))
ATTR_TLV = Layout("Attribute", Part("type", 2, "attribute format / type", _attr_type),
                  Part("length", 2, "attribute length"),
                  Part("value", "length", "attribute value", show_short_hex))

#: §3.4
KE_BODY = Layout("KE", Part("group", 2, "DH group"),
                 Part("reserved", 2, "reserved", show_reserved, raw=True),
                 Part("data", None, "key exchange data", show_short_hex))

#: §3.5; the IDs are what AUTH signs, so a NAT rewriting an address inside breaks AUTH
ID_BODY = Layout("ID", Part("kind", 1, "ID type", named(IdType, False), ID_PAYLOAD),
                 Part("reserved", 3, "reserved", show_reserved, ID_PAYLOAD, raw=True),
                 Part("data", None, "identification data", show_short_hex, ID_PAYLOAD))

#: §3.8
AUTH_BODY = Layout("AUTH", Part("kind", 1, "auth method", named(AuthMethod, False)),
                   Part("reserved", 3, "reserved", show_reserved, raw=True),
                   Part("data", None, "auth data", show_short_hex))

#: §3.9
NONCE_BODY = Layout("Nonce", Part("data", None, "nonce", show_short_hex))

#: §3.10
NOTIFY_BODY = Layout("Notify", Part("protocol", 1, "protocol ID"),
                     Part("spi_size", 1, "SPI size"),
                     Part("notify_type", 2, "notify type", _notify),
                     Part("spi", "spi_size", "SPI", show_hex),
                     Part("data", None, "notify data", show_short_hex))

#: §2.23: the same body, its data the NAT detection hash (the dissector's view of NOTIFY_BODY)
NATD_BODY = Layout("Notify", *NOTIFY_BODY.parts[:-1],
                   Part("data", None, "SHA-1(SPIi | SPIr | {which} IP | {which} port)", show_short_hex,
                        NATD_HASH))

#: §3.11
DELETE_BODY = Layout("Delete", Part("protocol", 1, "protocol ID"),
                     Part("spi_size", 1, "SPI size"),
                     Part("count", 2, "number of SPIs"),
                     Part("spis", None, "SPIs", show_short_hex))

#: §3.12
VENDOR_BODY = Layout("Vendor", Part("data", None, "vendor ID", show_short_hex))

#: §3.13
TS_BODY = Layout("TS", Part("count", 1, "number of TSs"),
                 Part("reserved", 3, "reserved", show_reserved, raw=True),
                 Part("selectors", None, "traffic selectors", nested=True))

#: §3.13.1: TS_IPV4_ADDR_RANGE, the only selector type spoken here
SELECTOR = Layout("Traffic selector", Part("ts_type", 1, "TS type", named(TsType)),
                  Part("ip_proto", 1, "IP protocol ID"),
                  Part("length", 2, "selector length"),
                  Part("start_port", 2, "start port"),
                  Part("end_port", 2, "end port"),
                  Part("start_addr", 4, "starting address", _ipv4, raw=True),
                  Part("end_addr", 4, "ending address", _ipv4, raw=True))

#: §3.14: IV | ciphertext | ICV, opened only with keys (`natt_core.crypto.ikev2_sk`)
SK_BODY = Layout("IKEv2 SK (encrypted)",
                 Part("data", None, "IV | ciphertext | ICV (IDs, AUTH, SA, TS … under SK_e, checked with SK_a)",
                      show_size, ENCRYPTED))

#: a payload this codec keeps opaque (CERT, CP, EAP, unknown types)
UNKNOWN_BODY = Layout("IKEv2 payload", Part("body", None, "body", show_size))

BODY_LAYOUTS: dict[int, Layout] = {
    Payload.SA: SA_BODY, Payload.KE: KE_BODY, Payload.IDI: ID_BODY, Payload.IDR: ID_BODY,
    Payload.AUTH: AUTH_BODY, Payload.NONCE: NONCE_BODY, Payload.NOTIFY: NOTIFY_BODY,
    Payload.DELETE: DELETE_BODY, Payload.VENDOR: VENDOR_BODY, Payload.TSI: TS_BODY, Payload.TSR: TS_BODY,
    Payload.SK: SK_BODY,
}

__all__ = ["ATTR_TLV", "ATTR_TV", "AUTH_BODY", "BODY_LAYOUTS", "DELETE_BODY", "GENERIC", "HEADER", "ID_BODY",
           "KE_BODY", "NATD_BODY", "NONCE_BODY", "NOTIFY_BODY", "PROPOSAL", "SA_BODY", "SELECTOR", "SK_BODY",
           "TRANSFORM", "TS_BODY", "UNKNOWN_BODY", "VENDOR_BODY"]
