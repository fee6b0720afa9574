"""A packet as a flat list of labelled byte ranges, for field layouts and hex views.

`dissect(packet)` walks one raw IPv4 packet the way a receiver would (RFC 791 header, RFC 768
UDP, the port-4500 demultiplexer of RFC 3948 §2, the ISAKMP header and payload chain of RFC 2408
§3, ESP of RFC 4303 §2, AH of RFC 4302 §2) and returns every field with its absolute offset. It
reuses the strict decoders of this package to validate, then records where each field sits.

Each field also says whether a NAT *can* rewrite it without breaking the packet: `protected`
names why not (encrypted, covered by an ICV, a NAT-D hash over the addresses, an ID payload the
peer checks). That is the lesson of RFC 3715 §2 in byte form.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Mapping

from ..errors import DecodeError
from . import isakmp
from .esp import AH_FIXED_LEN, ESP_HEADER_LEN, decode_ah, split_esp
from .ip import IPV4_HEADER_LEN, UDP_HEADER_LEN, decode_ipv4_header, decode_udp
from .numbers import (AhTransform, AuthAlgorithm, AuthMethod, EncapsulationMode, EspTransform,
                      ExchangeType, HashAlg, IdType, IpsecAttr, IPProto, LifeType, PayloadType,
                      Phase1Attr, Phase1Cipher, Port, ProtocolId, label)
from .udp_encap import Kind, classify_4500

ENCRYPTED = "encrypted"
ICV = "integrity (ICV)"
AH_COVERED = "integrity (AH ICV covers it)"
NATD_HASH = "NAT-D hash"
ID_PAYLOAD = "ID payload"
SPI = "SPI (selects the SA)"


@dataclass(frozen=True)
class Field:
    """One labelled byte range of a packet; `offset` is absolute from the IPv4 header."""
    name: str
    offset: int
    length: int
    value: str
    layer: str
    protected: str | None = None  #: why a NAT cannot rewrite these bytes, or None

    @property
    def end(self) -> int:
        return self.offset + self.length


class _Out:
    """Collects fields; `at` is the absolute offset of the next byte."""

    def __init__(self, data: bytes, vid_name: Callable[[bytes], str] | None = None):
        self.data = data
        self.vid_name = vid_name
        self.fields: list[Field] = []

    def add(self, name: str, offset: int, length: int, value: str, layer: str,
            protected: str | None = None) -> None:
        if length > 0:
            self.fields.append(Field(name, offset, length, value, layer, protected))

    def raw(self, offset: int, length: int) -> bytes:
        return self.data[offset:offset + length]

    def int(self, offset: int, length: int) -> int:
        return int.from_bytes(self.raw(offset, length), "big")


def _short_hex(data: bytes, limit: int = 8) -> str:
    text = data[:limit].hex()
    return text + ("…" if len(data) > limit else "")


def dissect(packet: bytes, esp_sizes: Mapping[int, tuple[int, int]] | None = None,
            vid_name: Callable[[bytes], str] | None = None) -> tuple[Field, ...]:
    """Every field of an IPv4 packet, in offset order.

    `esp_sizes` maps an ESP SPI to (IV length, ICV length) when the SA is known, so the IV and
    ICV can be told apart from the ciphertext; without it they are shown as one protected block.
    `vid_name` names a Vendor ID (the names live with the NAT-T versions, above this layer).
    Raises DecodeError for bytes that are not a well-formed packet.
    """
    data = bytes(packet)
    ip, body = decode_ipv4_header(data)
    out = _Out(data, vid_name)
    _ipv4(out, ip)
    if ip.proto == IPProto.UDP:
        _udp(out, body, esp_sizes or {})
    elif ip.proto == IPProto.ESP:
        _esp(out, IPV4_HEADER_LEN, body, esp_sizes or {})
    elif ip.proto == IPProto.AH:
        _ah(out, IPV4_HEADER_LEN, body)
    else:
        out.add("payload", IPV4_HEADER_LEN, len(body), f"{len(body)} bytes", "IP payload")
    return tuple(sorted(out.fields, key=lambda f: f.offset))


def _ipv4(out: _Out, ip) -> None:
    """Under AH the ICV covers the immutable header fields too, addresses included (RFC 4302 §3.3.3.1)."""
    lay = "IPv4"
    ah = AH_COVERED if ip.proto == IPProto.AH else None
    out.add("version / IHL", 0, 1, f"{ip.version_ihl >> 4} / {ip.version_ihl & 15}", lay, ah)
    out.add("DSCP / ECN", 1, 1, f"0x{ip.tos:02x}", lay)
    out.add("total length", 2, 2, str(ip.total_length), lay, ah)
    out.add("identification", 4, 2, f"0x{ip.ident:04x}", lay, ah)
    flags = "DF" if ip.flags_frag & 0x4000 else "-"
    out.add("flags / fragment offset", 6, 2, f"{flags}, offset {ip.flags_frag & 0x1FFF}", lay)
    out.add("TTL", 8, 1, str(ip.ttl), lay)
    out.add("protocol", 9, 1, f"{ip.proto} ({label(IPProto, ip.proto)})", lay, ah)
    out.add("header checksum", 10, 2, f"0x{ip.checksum:04x}", lay)
    out.add("source address", 12, 4, ip.src, lay, ah)
    out.add("destination address", 16, 4, ip.dst, lay, ah)


def _udp(out: _Out, segment: bytes, esp_sizes) -> None:
    base = IPV4_HEADER_LEN
    udp, payload = decode_udp(segment, base)
    lay = "UDP"
    out.add("source port", base, 2, str(udp.sport), lay)
    out.add("destination port", base + 2, 2, str(udp.dport), lay)
    out.add("length", base + 4, 2, str(udp.length), lay)
    out.add("checksum", base + 6, 2, f"0x{udp.checksum:04x}" + (" (not used)" if udp.checksum == 0 else ""), lay)
    at = base + UDP_HEADER_LEN
    ports = {udp.sport, udp.dport}
    if Port.NAT_T in ports:
        kind, rest = classify_4500(payload)
        if kind is Kind.KEEPALIVE:
            out.add("NAT-keepalive", at, 1, "0xff", "UDP-encap")
        elif kind is Kind.IKE:
            out.add("non-ESP marker", at, 4, "00 00 00 00 → IKE follows", "UDP-encap")
            _isakmp(out, at + 4, rest)
        else:
            _esp(out, at, payload, esp_sizes)
    elif Port.IKE in ports:
        _isakmp(out, at, payload)
    elif Port.L2TP in ports:
        _l2tp(out, at, payload, None)
    else:
        out.add("UDP payload", at, len(payload), f"{len(payload)} bytes", "UDP payload")


def _esp(out: _Out, at: int, data: bytes, esp_sizes) -> None:
    header, rest = split_esp(data)
    lay = "ESP"
    out.add("SPI", at, 4, f"0x{header.spi:08x}", lay, SPI)
    out.add("sequence number", at + 4, 4, str(header.seq), lay, ICV)
    at += ESP_HEADER_LEN
    sizes = esp_sizes.get(header.spi)
    if sizes is None:
        out.add("IV + ciphertext + ICV", at, len(rest), f"{len(rest)} bytes", lay, ENCRYPTED)
        return
    iv_len, icv_len = sizes
    if iv_len + icv_len > len(rest):
        raise DecodeError("ESP", at, f"{len(rest)} bytes cannot hold a {iv_len}-byte IV and a "
                                     f"{icv_len}-byte ICV")
    out.add("IV", at, iv_len, _short_hex(rest[:iv_len]), lay, ICV)
    cipher_len = len(rest) - iv_len - icv_len
    out.add("ciphertext (payload + padding + pad length + next header)", at + iv_len, cipher_len,
            f"{cipher_len} bytes", lay, ENCRYPTED)
    out.add("ICV", at + iv_len + cipher_len, icv_len, _short_hex(rest[-icv_len:] if icv_len else b""),
            lay, ICV)


def _ah(out: _Out, at: int, data: bytes) -> None:
    ah, rest = decode_ah(data)
    lay = "AH"
    out.add("next header", at, 1, f"{ah.next_header} ({label(IPProto, ah.next_header)})", lay, AH_COVERED)
    out.add("payload length", at + 1, 1, f"{ah.payload_len} ({ah.length} bytes)", lay, AH_COVERED)
    out.add("reserved", at + 2, 2, "0", lay, AH_COVERED)
    out.add("SPI", at + 4, 4, f"0x{ah.spi:08x}", lay, SPI)
    out.add("sequence number", at + 8, 4, str(ah.seq), lay, AH_COVERED)
    out.add("ICV", at + AH_FIXED_LEN, len(ah.icv), _short_hex(ah.icv), lay, ICV)
    at += ah.length
    if ah.next_header == IPProto.UDP and len(rest) >= UDP_HEADER_LEN:
        sport, dport, length, csum = (int.from_bytes(rest[i:i + 2], "big") for i in (0, 2, 4, 6))
        lay = "inner UDP"
        out.add("inner source port", at, 2, str(sport), lay, AH_COVERED)
        out.add("inner destination port", at + 2, 2, str(dport), lay, AH_COVERED)
        out.add("inner length", at + 4, 2, str(length), lay, AH_COVERED)
        out.add("inner checksum", at + 6, 2, f"0x{csum:04x}", lay, AH_COVERED)
        inner = rest[UDP_HEADER_LEN:]
        _l2tp(out, at + UDP_HEADER_LEN, inner, AH_COVERED)
    else:
        out.add("protected payload", at, len(rest), f"{len(rest)} bytes", "AH payload", AH_COVERED)


def _l2tp(out: _Out, at: int, data: bytes, protected: str | None) -> None:
    """L2TP header words (RFC 2661 §3.1); the AVPs as one block."""
    if len(data) < 12:
        out.add("L2TP", at, len(data), f"{len(data)} bytes", "L2TP", protected)
        return
    names = ("flags / version", "length", "tunnel ID", "session ID", "Ns", "Nr")
    for i, name in enumerate(names):
        value = int.from_bytes(data[2 * i:2 * i + 2], "big")
        out.add(name, at + 2 * i, 2, f"0x{value:04x}" if i == 0 else str(value), "L2TP", protected)
    out.add("AVPs", at + 12, len(data) - 12, f"{len(data) - 12} bytes", "L2TP", protected)


# --- ISAKMP --------------------------------------------------------------------------------------

def _isakmp(out: _Out, at: int, message: bytes) -> None:
    if len(message) > 17 and message[17] >> 4 == 2:      # IKEv2 (RFC 7296 §3.1)
        from .dissect_ikev2 import dissect_ikev2
        dissect_ikev2(out, at, message)
        return
    header, body = isakmp.decode_header(message)
    lay = "ISAKMP"
    out.add("initiator cookie", at, 8, header.icookie.hex(), lay)
    out.add("responder cookie", at + 8, 8, header.rcookie.hex(), lay)
    out.add("next payload", at + 16, 1, _ptype(header.next_payload), lay)
    out.add("version", at + 17, 1, f"{header.version >> 4}.{header.version & 15}", lay)
    out.add("exchange type", at + 18, 1, f"{header.exchange} ({label(ExchangeType, header.exchange)})", lay)
    flags = [n for bit, n in ((1, "E"), (2, "C"), (4, "A")) if header.flags & bit]
    out.add("flags", at + 19, 1, f"0x{header.flags:02x} {'+'.join(flags) or '-'}", lay)
    out.add("message ID", at + 20, 4, f"0x{header.message_id:08x}", lay)
    out.add("length", at + 24, 4, str(header.length), lay)
    start = at + isakmp.HEADER_LEN
    if header.encrypted:
        out.add("encrypted payloads (ID, HASH, SA … under the phase-1 key)", start, len(body),
                f"{len(body)} bytes", "ISAKMP (encrypted)", ENCRYPTED)
        return
    _chain(out, start, header.next_payload, body, 0)


def _chain(out: _Out, start: int, first: int, body: bytes, max_padding: int) -> None:
    chain = isakmp.decode_payloads(first, body, base=start, max_padding=max_padding)
    kind, pos, natd_seen = first, start, 0
    for payload, raw in zip(chain.payloads, chain.raw):
        _payload(out, pos, kind, payload, raw, natd_seen)
        natd_seen += isinstance(payload, isakmp.NatD)
        kind, pos = raw[0], pos + len(raw)
    out.add("padding (zeros to the cipher block)", pos, start + len(body) - pos, f"{start + len(body) - pos} bytes",
            "ISAKMP padding")


# --- plaintexts after decryption (offsets relative to the plaintext) -----------------------------------

def dissect_payload_chain(first_type: int, plaintext: bytes, max_padding: int = 0,
                          vid_name: Callable[[bytes], str] | None = None) -> tuple[Field, ...]:
    """The fields of a decrypted ISAKMP payload chain (RFC 2409 App. B: zero padding may follow)."""
    out = _Out(bytes(plaintext), vid_name)
    _chain(out, 0, first_type, bytes(plaintext), max_padding)
    return tuple(sorted(out.fields, key=lambda f: f.offset))


def dissect_inner(next_header: int, payload: bytes) -> tuple[Field, ...]:
    """What an ESP SA carried: an inner UDP segment (transport mode) or an inner IPv4 packet (tunnel)."""
    data = bytes(payload)
    if next_header == IPProto.IPIP:
        return dissect(data)
    out = _Out(data)
    if next_header == IPProto.UDP and len(data) >= UDP_HEADER_LEN:
        sport, dport, length, csum = (int.from_bytes(data[i:i + 2], "big") for i in (0, 2, 4, 6))
        lay = "inner UDP"
        out.add("inner source port", 0, 2, str(sport), lay)
        out.add("inner destination port", 2, 2, str(dport), lay)
        out.add("inner length", 4, 2, str(length), lay)
        out.add("inner checksum (over the original addresses)", 6, 2, f"0x{csum:04x}", lay)
        _l2tp(out, UDP_HEADER_LEN, data[UDP_HEADER_LEN:], None)
    else:
        out.add("inner payload", 0, len(data), f"{len(data)} bytes, next header {next_header}", "inner")
    return tuple(sorted(out.fields, key=lambda f: f.offset))


def _ptype(value: int) -> str:
    return f"{value} ({label(PayloadType, value)})"


def _payload(out: _Out, at: int, kind: int, p, raw: bytes, natd_seen: int) -> None:
    name = _PAYLOAD_NAMES.get(kind, label(PayloadType, kind))
    lay = f"{name} payload"
    natd = isinstance(p, isakmp.NatD)
    id_ = isinstance(p, isakmp.ID)
    guard = NATD_HASH if natd else ID_PAYLOAD if id_ else None
    out.add("next payload", at, 1, _ptype(raw[0]), lay)
    out.add("reserved", at + 1, 1, "0", lay)
    out.add("payload length", at + 2, 2, str(len(raw)), lay)
    body = at + isakmp.GENERIC_HEADER_LEN
    size = len(raw) - isakmp.GENERIC_HEADER_LEN
    if isinstance(p, isakmp.SA):
        out.add("DOI", body, 4, f"{p.doi} (IPsec)" if p.doi == 1 else str(p.doi), lay)
        out.add("situation", body + 4, 4, f"0x{p.situation:08x}", lay)
        _proposals(out, body + 8, raw[isakmp.GENERIC_HEADER_LEN + 8:])
    elif isinstance(p, isakmp.VendorID):
        name = f" = {out.vid_name(p.data)}" if out.vid_name else ""
        out.add("Vendor ID (MD5 of a string)", body, size, _short_hex(p.data) + name, lay)
    elif natd:
        # RFC 3947 §3.2: the first NAT-D hashes the destination, the later ones the sender itself
        which = "destination" if natd_seen == 0 else "source"
        out.add(f"HASH(CKY-I | CKY-R | {which} IP | {which} port)", body, size, _short_hex(p.hash),
                lay, guard)
    elif id_:
        out.add("ID type", body, 1, label(IdType, p.id_type), lay, guard)
        out.add("protocol ID", body + 1, 1, str(p.protocol), lay, guard)
        out.add("port", body + 2, 2, str(p.port), lay, guard)
        text = (str(ipaddress.ip_address(p.data)) if p.id_type == IdType.IPV4_ADDR
                else p.data.decode("ascii", "replace"))
        out.add("identification data", body + 4, size - 4, text, lay, guard)
    elif isinstance(p, isakmp.NatOA):
        out.add("ID type", body, 1, label(IdType, p.id_type), lay)
        out.add("reserved", body + 1, 3, "0", lay)
        out.add("original address", body + 4, size - 4, p.ip, lay)
    elif isinstance(p, isakmp.Notification):
        out.add("DOI", body, 4, str(p.doi), lay)
        out.add("protocol ID", body + 4, 1, label(ProtocolId, p.protocol_id), lay)
        out.add("SPI size", body + 5, 1, str(len(p.spi)), lay)
        out.add("notify type", body + 6, 2, str(p.notify_type), lay)
        out.add("SPI", body + 8, len(p.spi), p.spi.hex(), lay)
        out.add("notification data", body + 8 + len(p.spi), len(p.data), _short_hex(p.data), lay)
    else:
        what = {PayloadType.KE: "g^x (public DH value)", PayloadType.NONCE: "nonce data",
                PayloadType.HASH: "hash data"}.get(kind, "payload data")
        out.add(what, body, size, f"{size} bytes {_short_hex(raw[4:])}", lay)


_PAYLOAD_NAMES = {PayloadType.SA: "SA", PayloadType.KE: "KE", PayloadType.ID: "ID", PayloadType.HASH: "HASH",
                  PayloadType.NONCE: "Nonce", PayloadType.NOTIFICATION: "Notification",
                  PayloadType.DELETE: "Delete", PayloadType.VENDOR_ID: "Vendor ID",
                  PayloadType.NAT_D: "NAT-D", PayloadType.NAT_D_DRAFT: "NAT-D (draft)",
                  PayloadType.NAT_OA: "NAT-OA", PayloadType.NAT_OA_DRAFT: "NAT-OA (draft)"}


def _proposals(out: _Out, at: int, data: bytes) -> None:
    """Proposal and transform headers, and each SA attribute (RFC 2408 §3.3, §3.5, §3.6)."""
    pos = 0
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        spi_size, count = data[pos + 6], data[pos + 7]
        lay = f"Proposal #{data[pos + 4]}"
        out.add("proposal header", at + pos, 4, f"next {data[pos]}, length {length}", lay)
        out.add("proposal # / protocol / SPI size / transforms", at + pos + 4, 4,
                f"#{data[pos + 4]}, {label(ProtocolId, data[pos + 5])}, {spi_size}, {count}", lay)
        out.add("SPI", at + pos + 8, spi_size, data[pos + 8:pos + 8 + spi_size].hex(), lay)
        t = pos + 8 + spi_size
        end = pos + length
        while t + 8 <= end:
            t_len = int.from_bytes(data[t + 2:t + 4], "big")
            tlay = f"Transform #{data[t + 4]}"
            out.add("transform header", at + t, 4, f"next {data[t]}, length {t_len}", tlay)
            ids = {ProtocolId.ESP: EspTransform, ProtocolId.AH: AhTransform}.get(data[pos + 5])
            tid = f"{data[t + 5]} ({label(ids, data[t + 5])})" if ids else f"{data[t + 5]} (KEY_IKE)"
            out.add("transform # / ID", at + t + 4, 4, f"#{data[t + 4]}, {tid}", tlay)
            _attributes(out, at + t + 8, data[t + 8:t + t_len], tlay, data[pos + 5])
            t += max(t_len, 8)
        pos += max(length, 8)


_VALUE_NAMES = {(Phase1Attr, Phase1Attr.ENCRYPTION): Phase1Cipher, (Phase1Attr, Phase1Attr.HASH): HashAlg,
                (Phase1Attr, Phase1Attr.AUTH_METHOD): AuthMethod, (Phase1Attr, Phase1Attr.LIFE_TYPE): LifeType,
                (IpsecAttr, IpsecAttr.ENCAPSULATION_MODE): EncapsulationMode,
                (IpsecAttr, IpsecAttr.AUTH_ALGORITHM): AuthAlgorithm, (IpsecAttr, IpsecAttr.LIFE_TYPE): LifeType}


def _attributes(out: _Out, at: int, data: bytes, lay: str, protocol: int) -> None:
    """Attribute classes are Oakley's in phase 1 (RFC 2409 App. A), the IPsec DOI's in phase 2."""
    classes = Phase1Attr if protocol == ProtocolId.ISAKMP else IpsecAttr
    pos = 0
    while pos + 4 <= len(data):
        af_type = int.from_bytes(data[pos:pos + 2], "big")
        kind = af_type & 0x7FFF
        name = label(classes, kind).replace("_", " ").lower()
        if af_type & 0x8000:
            value = int.from_bytes(data[pos + 2:pos + 4], "big")
            text = str(value)
            names = _VALUE_NAMES.get((classes, kind))
            if names is not None:
                text += f" ({label(names, value)})"
            out.add(name, at + pos, 4, text, lay)
            pos += 4
        else:
            size = int.from_bytes(data[pos + 2:pos + 4], "big")
            value = data[pos + 4:pos + 4 + size]
            out.add(name, at + pos, 4 + size, str(int.from_bytes(value, "big")) if size <= 4
                    else f"0x{value.hex()}", lay)
            pos += 4 + size
