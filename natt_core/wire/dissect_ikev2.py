"""IKEv2 messages as labelled byte ranges, for the same field layouts and hex views as IKEv1.

Called by `dissect` when the header's major version is 2 (RFC 7296 §3.1). It validates with the
strict codec (`wire.ikev2`), then renders every header, payload, proposal, transform, attribute
and traffic selector through the `Layout` the codec packs and unpacks with (`wire.ikev2_layouts`):
names, sizes and the marks of what a NAT cannot rewrite are described there, never here.
"""
from __future__ import annotations

from .ikev2 import decode_message, decode_payloads
from .ikev2_layouts import (ATTR_TLV, ATTR_TV, BODY_LAYOUTS, GENERIC, HEADER, NATD_BODY, PROPOSAL, SELECTOR,
                            TRANSFORM, UNKNOWN_BODY)
from .ikev2_numbers import NotifyType, Payload, TransformType
from .layout import Field
from .numbers import label

_NATD = {NotifyType.NAT_DETECTION_SOURCE_IP: "source", NotifyType.NAT_DETECTION_DESTINATION_IP: "destination"}


def dissect_ikev2(out, at: int, message: bytes) -> None:
    """Add the fields of one IKEv2 message starting at absolute offset `at` (marker already skipped)."""
    msg = decode_message(message)
    _chain(out, at, msg.header.next_payload, message, out.layout(HEADER, message, at), len(msg.payloads))


def dissect_ikev2_chain(first_type: int, plaintext: bytes) -> tuple[Field, ...]:
    """The fields of an opened SK payload's inner chain (IDs, AUTH, SA, TS …), offsets relative
    to the plaintext; raises DecodeError as the codec does."""
    from .dissect import _Out
    data = bytes(plaintext)
    count = len(decode_payloads(first_type, data, base=0, allow_sk=False))
    out = _Out()
    _chain(out, 0, first_type, data, 0, count)
    return out.sorted()


def _chain(out, at: int, kind: int, data: bytes, pos: int, count: int) -> None:
    """`count` payloads of data[pos:], already validated by the codec; data[0] sits at `at`."""
    for _ in range(count):
        size = int.from_bytes(data[pos + 2:pos + 4], "big")
        raw = data[pos:pos + size]
        _payload(out, at + pos, kind, raw)
        kind, pos = raw[0], pos + size


def _payload(out, at: int, kind: int, raw: bytes) -> None:
    """Generic header, then the body's layout; SA and TS open their substructures."""
    layer = f"{label(Payload, kind)} payload"
    body = out.layout(GENERIC, raw, at, layer=layer)
    layout = BODY_LAYOUTS.get(kind, UNKNOWN_BODY)
    kw = {"layer": None if kind == Payload.SK else layer}
    which = _NATD.get(int.from_bytes(raw[body + 2:body + 4], "big")) if kind == Payload.NOTIFY else None
    if which:
        layout, kw["context"] = NATD_BODY, {"which": which}
    end = out.layout(layout, raw, at, body, **kw)
    if kind == Payload.SA:
        for start, proposal in _substructures(raw, end):
            _proposal(out, at + start, proposal)
    elif kind in (Payload.TSI, Payload.TSR):
        while end < len(raw):
            end = out.layout(SELECTOR, raw[:end + SELECTOR.size], at, end, layer=f"{layer} selector")


def _substructures(data: bytes, pos: int):
    """(offset, bytes) of each proposal or transform from `pos` on (their Length at +2)."""
    while pos < len(data):
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        yield pos, data[pos:pos + length]
        pos += length


def _proposal(out, at: int, proposal: bytes) -> None:
    """A proposal (RFC 7296 §3.3.1), its transforms (§3.3.2) and their attributes (§3.3.5)."""
    layer = f"Proposal #{proposal[4]}"
    end = out.layout(PROPOSAL, proposal, at, layer=layer)
    for start, transform in _substructures(proposal, end):
        tlayer = f"Transform {label(TransformType, transform[4])} {int.from_bytes(transform[6:8], 'big')}"
        a = out.layout(TRANSFORM, transform, at + start, layer=tlayer)
        while a < len(transform):
            if transform[a] & 0x80:
                a = out.layout(ATTR_TV, transform[:a + ATTR_TV.size], at + start, a, layer=tlayer)
            else:
                length = int.from_bytes(transform[a + 2:a + 4], "big")
                a = out.layout(ATTR_TLV, transform[:a + ATTR_TLV.size + length], at + start, a, layer=tlayer)
