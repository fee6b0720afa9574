"""IKEv2 messages as labelled byte ranges, for the same field layouts and hex views as IKEv1.

Called by `dissect` when the header's major version is 2 (RFC 7296 §3.1). Fields a NAT must not
(or cannot) rewrite say why: the NAT detection hashes cover the addresses and ports (§2.23), the
SK payload is encrypted and covered by its ICV (§3.14), the IDs are what AUTH signs (§2.15).
"""
from __future__ import annotations

from .ikev2 import GENERIC_LEN, HEADER_LEN, Auth, Encrypted, IDi, IDr, KE, Nonce, Notify, SA, decode_message
from .ikev2_numbers import Exchange, HdrFlag, NotifyType, Payload, notify2_name
from .numbers import label

ENCRYPTED = "encrypted"
ICV = "integrity (ICV)"
NATD_HASH = "NAT-D hash"
ID_PAYLOAD = "ID payload"


def _hex(data: bytes, limit: int = 8) -> str:
    return data[:limit].hex() + ("…" if len(data) > limit else "")


def dissect_ikev2(out, at: int, message: bytes) -> None:
    """Add the fields of one IKEv2 message starting at absolute offset `at` (marker already skipped)."""
    msg = decode_message(message)
    h, lay = msg.header, "IKEv2"
    out.add("initiator SPI", at, 8, h.spi_i.hex(), lay)
    out.add("responder SPI", at + 8, 8, h.spi_r.hex(), lay)
    out.add("next payload", at + 16, 1, f"{h.next_payload} ({label(Payload, h.next_payload)})", lay)
    out.add("version", at + 17, 1, f"{h.version >> 4}.{h.version & 15}", lay)
    out.add("exchange type", at + 18, 1, f"{h.exchange} ({label(Exchange, h.exchange)})", lay)
    flags = [n for bit, n in ((HdrFlag.INITIATOR, "I"), (HdrFlag.VERSION, "V"), (HdrFlag.RESPONSE, "R"))
             if h.flags & bit]
    out.add("flags", at + 19, 1, f"0x{h.flags:02x} {'+'.join(flags) or '-'}", lay)
    out.add("message ID", at + 20, 4, str(h.message_id), lay)
    out.add("length", at + 24, 4, str(h.length), lay)
    pos = at + HEADER_LEN
    for p in msg.payloads:
        ptype = p.payload_type
        size = GENERIC_LEN + len(p.encode_body())
        name = label(Payload, ptype)
        play = f"{name} payload"
        out.add("next payload", pos, 1, str(message[pos - at]), play)
        out.add("critical / reserved", pos + 1, 1, f"0x{message[pos - at + 1]:02x}", play)
        out.add("payload length", pos + 2, 2, str(size), play)
        body, blen = pos + GENERIC_LEN, size - GENERIC_LEN
        if isinstance(p, Notify) and p.notify_type in (NotifyType.NAT_DETECTION_SOURCE_IP,
                                                       NotifyType.NAT_DETECTION_DESTINATION_IP):
            which = "source" if p.notify_type == NotifyType.NAT_DETECTION_SOURCE_IP else "destination"
            out.add("protocol / SPI size", body, 2, f"{p.protocol} / {len(p.spi)}", play)
            out.add("notify type", body + 2, 2, f"{p.notify_type} ({notify2_name(p.notify_type)})", play)
            out.add(f"SHA-1(SPIi | SPIr | {which} IP | {which} port)", body + 4, len(p.data), _hex(p.data), play,
                    NATD_HASH)
        elif isinstance(p, Notify):
            out.add("protocol / SPI size", body, 2, f"{p.protocol} / {len(p.spi)}", play)
            out.add("notify type", body + 2, 2, f"{p.notify_type} ({notify2_name(p.notify_type)})", play)
            out.add("SPI", body + 4, len(p.spi), p.spi.hex(), play)
            out.add("notify data", body + 4 + len(p.spi), len(p.data), _hex(p.data), play)
        elif isinstance(p, KE):
            out.add("DH group", body, 2, str(p.group), play)
            out.add("reserved", body + 2, 2, "0", play)
            out.add("key exchange data", body + 4, len(p.data), _hex(p.data), play)
        elif isinstance(p, Nonce):
            out.add("nonce", body, blen, _hex(p.data), play)
        elif isinstance(p, SA):
            out.add("proposals", body, blen, f"{len(p.proposals)} proposal(s)", play)
        elif isinstance(p, (IDi, IDr, Auth)):
            guard = None if isinstance(p, Auth) else ID_PAYLOAD
            out.add("auth method" if isinstance(p, Auth) else "ID type", body, 1, str(p.kind), play, guard)
            out.add("reserved", body + 1, 3, "0", play, guard)
            out.add("auth data" if isinstance(p, Auth) else "identification data", body + 4, blen - 4, _hex(p.data),
                    play, guard)
        elif isinstance(p, Encrypted):
            out.add("IV | ciphertext | ICV (IDs, AUTH, SA, TS … under SK_e, checked with SK_a)", body, blen,
                    f"{blen} bytes", "IKEv2 SK (encrypted)", ENCRYPTED)
        else:
            out.add("body", body, blen, f"{blen} bytes", play)
        pos += size
