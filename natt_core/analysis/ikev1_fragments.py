"""IKEv1 fragments in a capture: put the message back together before it is named.

strongSwan, Windows and Cisco split a big IKEv1 message (MM5/MM6 with certificates, but strongSwan
with `fragmentation = force` splits any message, MM1 and encrypted Quick Mode ones included) into
UDP datagrams that each carry an ISAKMP header whose next payload is 132, the fragment payload:
fragment ID (2 bytes), fragment number (1), flags (1; bit 0 = last fragment), then a slice of the
whole original message, ISAKMP header included (strongSwan's fragment_payload.c; Wireshark's
"Cisco-Fragmentation" dissector reassembles it the same way). The outer header says little: its
exchange type is Main Mode even for a fragmented Quick Mode message. So the fragments are kept
by (initiator cookie, sender, fragment ID) until the last one and every number before it are
there; the joined bytes are then observed as the message they are, at the frame that completed it.

Unauthenticated input never grows without bound: at most MAX_PENDING messages wait, oldest first
out, each with at most MAX_FRAGMENTS pieces.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import DecodeError
from .payloads import walk

FRAGMENT = 132          #: ISAKMP_PAYLOAD_FRAGMENT (strongSwan), "Cisco-Fragmentation" in Wireshark
LAST = 0x01
MAX_PENDING = 1024
MAX_FRAGMENTS = 64


@dataclass
class Pending:
    parts: dict[int, tuple[int, bytes]] = field(default_factory=dict)   #: number -> (frame, data)
    last: int | None = None


@dataclass
class V1Fragments:
    pending: dict[tuple, Pending] = field(default_factory=dict)

    def add(self, frame: int, message: bytes, src) -> tuple[bytes, tuple[int, ...]] | None:
        """Keep one fragment; when it completes its message: (the whole message, its frames in order)."""
        chain, broken = walk(FRAGMENT, message[28:])
        if not chain or len(chain[0].body) < 4:
            raise DecodeError("IKEv1 fragment", 28, broken or "fragment payload shorter than its 4-byte header")
        body = chain[0].body
        fid, number, flags, data = int.from_bytes(body[0:2], "big"), body[2], body[3], body[4:]
        if not 1 <= number <= MAX_FRAGMENTS:
            raise DecodeError("IKEv1 fragment", 34, f"fragment number {number} (1–{MAX_FRAGMENTS} expected)")
        key = (message[0:8], src, fid)
        pending = self.pending.get(key)
        if pending is None:
            if len(self.pending) >= MAX_PENDING:
                self.pending.pop(next(iter(self.pending)))
            pending = self.pending[key] = Pending()
        pending.parts[number] = (frame, data)
        if flags & LAST:
            pending.last = number
        if pending.last is None or len(pending.parts) < pending.last or \
                any(k not in pending.parts for k in range(1, pending.last + 1)):
            return None
        del self.pending[key]
        ordered = [pending.parts[k] for k in range(1, pending.last + 1)]
        return b"".join(d for _, d in ordered), tuple(f for f, _ in ordered)


def is_fragment(message: bytes) -> bool:
    """An IKEv1 datagram whose first payload is the fragment payload (never encrypted itself)."""
    return message[16] == FRAGMENT and not message[19] & 1
