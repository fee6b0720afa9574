"""A packet as a flat list of labelled byte ranges, for field layouts and hex views.

`dissect(packet)` walks one raw IPv4 packet the way a receiver would (RFC 791 header, RFC 768
UDP, the port-4500 demultiplexer of RFC 3948 §2, the ISAKMP header and payload chain of RFC 2408
§3, ESP of RFC 4303 §2, AH of RFC 4302 §2) and returns every field with its absolute offset. It
validates with the strict decoders of this package, then renders each header through the same
`Layout` its codec packs and unpacks with (`wire.layout`): names, sizes and protection marks are
described once, next to the codec, never here.
"""
from __future__ import annotations

from typing import Callable, Mapping

from ..errors import DecodeError
from . import isakmp
from .esp import AH_HEADER, ESP_HEADER, ESP_PROTECTED, ESP_SEALED, decode_ah, split_esp
from .isakmp_frame import GENERIC, HEADER
from .isakmp_payloads import BODY_LAYOUTS, PAYLOAD_NAMES, UNKNOWN_BODY
from .isakmp_proposals import PROPOSAL, TRANSFORM, attribute_fields
from .ip import IPV4_HEADER, UDP_HEADER, decode_ipv4_header, decode_udp
from .l2tp import L2TP_HEADER
from .layout import (AH_COVERED, ENCRYPTED, ICV, ID_PAYLOAD, NATD_HASH, SPI, Field, Layout, Part,
                     show_size)
from .numbers import IPProto, PayloadType, Port, label
from .udp_encap import KEEPALIVE_LAYOUT, MARKER_LAYOUT, Kind, classify_4500

__all__ = ["AH_COVERED", "ENCRYPTED", "ICV", "ID_PAYLOAD", "NATD_HASH", "SPI", "Field", "dissect",
           "dissect_inner", "dissect_payload_chain"]


def _blob(label: str, layer: str, protected: str | None = None) -> Layout:
    """Bytes this dissector does not open (no layout inside them to show)."""
    return Layout(layer, Part("data", None, label, show_size, protected))


_IP_PAYLOAD = _blob("payload", "IP payload")
_FRAGMENT = _blob("fragment data (reassembled with the other fragments by the receiver)", "IP fragment")
_UDP_PAYLOAD = _blob("UDP payload", "UDP payload")
_AH_PAYLOAD = _blob("protected payload", "AH payload", AH_COVERED)
_SHORT_L2TP = _blob("L2TP", "L2TP")
_ENCRYPTED_IKE = _blob("encrypted payloads (ID, HASH, SA … under the phase-1 key)", "ISAKMP (encrypted)",
                       ENCRYPTED)
_PADDING = _blob("padding (zeros to the cipher block)", "ISAKMP padding")
_INNER = Layout("inner", Part("data", None, "inner payload",
                              lambda v, row: f"{len(v)} bytes, next header {row['next_header']}"))
_INNER_UDP = {p.name: f"inner {p.label}" for p in UDP_HEADER.parts}


class _Out:
    """Collects fields; `context` goes to every renderer (e.g. the Vendor ID namer)."""

    def __init__(self, vid_name: Callable[[bytes], str] | None = None):
        self.context = {"vid_name": vid_name}
        self.fields: list[Field] = []

    def layout(self, layout: Layout, data: bytes, base: int, at: int = 0, **kw) -> int:
        """Render `layout` over data[at:] (data ends where the structure ends); return the offset
        in data after its non-nested parts."""
        if kw.get("context"):
            kw["context"] = {**self.context, **kw["context"]}
        fields, end = layout.fields(data, at, base, context=kw.pop("context", self.context), **kw)
        self.fields += fields
        return end

    def sorted(self) -> tuple[Field, ...]:
        return tuple(sorted(self.fields, key=lambda f: f.offset))


def dissect(packet: bytes, esp_sizes: Mapping[int, tuple[int, int]] | None = None,
            vid_name: Callable[[bytes], str] | None = None) -> tuple[Field, ...]:
    """Every field of an IPv4 packet, in offset order.

    `esp_sizes` maps an ESP SPI to (IV length, ICV length) when the SA is known, so the IV and
    ICV can be told apart from the ciphertext; without it they are shown as one protected block.
    `vid_name` names a Vendor ID (the names live with the NAT-T versions, above this layer).
    Raises DecodeError for bytes that are not a well-formed packet.
    """
    data = bytes(packet)
    ip, body = decode_ipv4_header(data, fragments=True)
    out = _Out(vid_name)
    at = out.layout(IPV4_HEADER, data, 0, ah=ip.proto == IPProto.AH)
    if ip.flags_frag & 0x3FFF:
        _fragment(out, at, ip, body)
    elif ip.proto == IPProto.UDP:
        _udp(out, at, body, esp_sizes or {})
    elif ip.proto == IPProto.ESP:
        _esp(out, at, body, esp_sizes or {})
    elif ip.proto == IPProto.AH:
        _ah(out, at, body)
    else:
        out.layout(_IP_PAYLOAD, body, at)
    return out.sorted()


def _fragment(out: _Out, at: int, ip, body: bytes) -> None:
    """A piece of a datagram (RFC 791 §2.3): the first carries the UDP header (its length and
    checksum are the whole datagram's), the rest only data; the receiver reassembles them."""
    if not ip.flags_frag & 0x1FFF and ip.proto == IPProto.UDP and len(body) >= UDP_HEADER.size:
        at += out.layout(UDP_HEADER, body, at, labels={"length": "length (of the whole datagram)",
                                                      "checksum": "checksum (over the whole datagram)"})
        body = body[UDP_HEADER.size:]
    out.layout(_FRAGMENT, body, at)


def _udp(out: _Out, base: int, segment: bytes, esp_sizes) -> None:
    udp, payload = decode_udp(segment, base)
    at = base + out.layout(UDP_HEADER, segment, base)
    ports = {udp.sport, udp.dport}
    if Port.NAT_T in ports:
        kind, rest = classify_4500(payload)
        if kind is Kind.KEEPALIVE:
            out.layout(KEEPALIVE_LAYOUT, payload, at)
        elif kind is Kind.IKE:
            _isakmp(out, at + out.layout(MARKER_LAYOUT, payload, at), rest)
        else:
            _esp(out, at, payload, esp_sizes)
    elif Port.IKE in ports:
        _isakmp(out, at, payload)
    elif Port.L2TP in ports:
        _l2tp(out, at, payload, None)
    else:
        out.layout(_UDP_PAYLOAD, payload, at)


def _esp(out: _Out, base: int, data: bytes, esp_sizes) -> None:
    header, rest = split_esp(data)
    at = base + out.layout(ESP_HEADER, data, base)
    sizes = esp_sizes.get(header.spi)
    if sizes is None:
        out.layout(ESP_SEALED, rest, at)
        return
    iv_len, icv_len = sizes
    if iv_len + icv_len > len(rest):
        raise DecodeError("ESP", at, f"{len(rest)} bytes cannot hold a {iv_len}-byte IV and a "
                                     f"{icv_len}-byte ICV")
    out.layout(ESP_PROTECTED, rest, at, context={"iv_len": iv_len, "icv_len": icv_len})


def _ah(out: _Out, base: int, data: bytes) -> None:
    ah, rest = decode_ah(data)
    at = base + out.layout(AH_HEADER, data[:ah.length], base)
    if ah.next_header == IPProto.UDP and len(rest) >= UDP_HEADER.size:
        out.layout(UDP_HEADER, rest, at, layer="inner UDP", protected=AH_COVERED, labels=_INNER_UDP)
        _l2tp(out, at + UDP_HEADER.size, rest[UDP_HEADER.size:], AH_COVERED)
    else:
        out.layout(_AH_PAYLOAD, rest, at)


def _l2tp(out: _Out, at: int, data: bytes, protected: str | None) -> None:
    """L2TP header words (RFC 2661 §3.1); the AVPs as one block. Lenient: only a view."""
    layout = L2TP_HEADER if len(data) >= L2TP_HEADER.size else _SHORT_L2TP
    out.layout(layout, data, at, protected=protected)


# --- ISAKMP --------------------------------------------------------------------------------------

def _isakmp(out: _Out, at: int, message: bytes) -> None:
    if len(message) > 17 and message[17] >> 4 == 2:      # IKEv2 (RFC 7296 §3.1)
        from .dissect_ikev2 import dissect_ikev2
        dissect_ikev2(out, at, message)
        return
    header, body = isakmp.decode_header(message)
    start = at + out.layout(HEADER, message, at)
    if header.encrypted:
        out.layout(_ENCRYPTED_IKE, body, start)
        return
    _chain(out, start, header.next_payload, body, 0)


def _chain(out: _Out, start: int, first: int, body: bytes, max_padding: int) -> None:
    chain = isakmp.decode_payloads(first, body, base=start, max_padding=max_padding)
    kind, pos, natd_seen = first, start, 0
    for payload, raw in zip(chain.payloads, chain.raw):
        _payload(out, pos, kind, raw, natd_seen)
        natd_seen += isinstance(payload, isakmp.NatD)
        kind, pos = raw[0], pos + len(raw)
    out.layout(_PADDING, body[pos - start:], pos)


# --- plaintexts after decryption (offsets relative to the plaintext) -----------------------------------

def dissect_payload_chain(first_type: int, plaintext: bytes, max_padding: int = 0,
                          vid_name: Callable[[bytes], str] | None = None) -> tuple[Field, ...]:
    """The fields of a decrypted ISAKMP payload chain (RFC 2409 App. B: zero padding may follow)."""
    out = _Out(vid_name)
    _chain(out, 0, first_type, bytes(plaintext), max_padding)
    return out.sorted()


def dissect_inner(next_header: int, payload: bytes) -> tuple[Field, ...]:
    """What an ESP SA carried: an inner UDP segment (transport mode) or an inner IPv4 packet (tunnel)."""
    data = bytes(payload)
    if next_header == IPProto.IPIP:
        return dissect(data)
    out = _Out()
    if next_header == IPProto.UDP and len(data) >= UDP_HEADER.size:
        labels = {**_INNER_UDP, "checksum": "inner checksum (over the original addresses)"}
        out.layout(UDP_HEADER, data, 0, layer="inner UDP", labels=labels)
        _l2tp(out, UDP_HEADER.size, data[UDP_HEADER.size:], None)
    else:
        out.layout(_INNER, data, 0, context={"next_header": next_header})
    return out.sorted()


def _payload(out: _Out, at: int, kind: int, raw: bytes, natd_seen: int) -> None:
    """One payload: its generic header, then its body's layout; an SA opens its proposals."""
    layer = f"{PAYLOAD_NAMES.get(kind, label(PayloadType, kind))} payload"
    body = out.layout(GENERIC, raw, at, layer=layer)
    # RFC 3947 §3.2: the first NAT-D hashes the destination, the later ones the sender itself
    which = "destination" if natd_seen == 0 else "source"
    end = out.layout(BODY_LAYOUTS.get(kind, UNKNOWN_BODY), raw, at, body, layer=layer,
                     context={"which": which})
    if kind == PayloadType.SA:
        _proposals(out, at, raw, end)


def _proposals(out: _Out, base: int, raw: bytes, pos: int) -> None:
    """Proposal and transform headers, and each SA attribute (RFC 2408 §3.3, §3.5, §3.6)."""
    while pos < len(raw):
        length = int.from_bytes(raw[pos + 2:pos + 4], "big")
        proposal = raw[pos:pos + length]
        protocol = proposal[5]
        layer = f"Proposal #{proposal[4]}"
        t = out.layout(GENERIC, proposal, base + pos, layer=layer)
        t = out.layout(PROPOSAL, proposal, base + pos, t, layer=layer)
        while t < len(proposal):
            t_len = int.from_bytes(proposal[t + 2:t + 4], "big")
            transform = proposal[t:t + t_len]
            tlayer = f"Transform #{transform[4]}"
            a = out.layout(GENERIC, transform, base + pos + t, layer=tlayer)
            a = out.layout(TRANSFORM, transform, base + pos + t, a, layer=tlayer,
                           context={"protocol": protocol})
            out.fields += attribute_fields(transform[a:], base + pos + t + a, tlayer, protocol)
            t += t_len
        pos += length
