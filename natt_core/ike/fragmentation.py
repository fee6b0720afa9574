"""IKEv1 fragmentation as strongSwan and Windows implement it (no RFC; the FRAGMENTATION Vendor ID).

Why: a Main Mode message bigger than the path (MM5/MM6 with a certificate chain) leaves as IP
fragments, and NATs that drop fragments lose it. With IKE fragmentation the IKE daemon splits the
message itself into UDP datagrams that each fit, so nothing below IKE has to fragment.

Sending (strongSwan message.c `fragment()`, ike_sa.c `generate_message_fragmented`): only once
both peers announced the FRAGMENTATION Vendor ID (MD5("FRAGMENTATION"), 16 bytes as Windows sends
it, or 20 with the capability word 0x80000000 as strongSwan sends it; isakmp_vendor.c), and only a
message whose IP datagram would exceed `ike_fragment_size` (charon.fragment_size = 1280). The
whole encoded message (header included) is cut into pieces of `size - 20 (IPv4) - 8 (UDP) - 4
(non-ESP marker on 4500) - 28 (ISAKMP header) - 8 (fragment payload header)` bytes; each piece
travels in its own ISAKMP message: the SA's cookies, exchange type Main Mode, flags 0, Message ID
0, one payload 132 with fragment ID 1, number 1.. and LAST on the last.

Receiving (message.c `add_fragment_v1`): fragments are accepted for a known SA (whatever the own
setting: "fragmented IKE messages sent by a peer are always accepted"), one message at a time per
SA (a new fragment ID starts over), duplicates ignored, at most MAX_FRAGMENTS pieces and
MAX_PACKET bytes (charon.max_packet = 10000), and at most MAX_PENDING SAs reassembling at once.
Nothing of this is authenticated, so nothing grows past those bounds.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..addressing import Datagram, Endpoint
from ..output import Event
from ..reasons import Reason
from ..wire.isakmp import Fragment, Header, decode_payloads, encode_message
from ..wire.numbers import ExchangeType, IPProto, Port
from ..wire.udp_encap import frame_ike
from .events import PacketDropped
from .nat_t import VENDOR_IDS

MAX_FRAGMENTS = 255      #: strongSwan message.c MAX_FRAGMENTS
MAX_PACKET = 10000       #: charon.max_packet: the largest reassembled message
MAX_PENDING = 64         #: SAs with a partial message at once (oldest forgotten first)
FRAGMENT_ID = 1          #: strongSwan always sends fragment ID 1 (fragment_payload_create_from_data)
IP_UDP = 20 + 8
MARKER = 4
OVERHEAD = 28 + 8        #: ISAKMP header + fragment payload header
_VID = VENDOR_IDS["fragmentation"]
_CAPABLE = 0x80000000    #: "fragmentation of Main and Aggressive Mode messages" (racoon, strongSwan)
_UDP = IPProto.UDP       #: read once: a member read off its Enum class is a slow attribute hook in 3.11


def announces_fragmentation(vids) -> bool:
    """Whether these Vendor IDs include FRAGMENTATION as strongSwan's is_known_vid reads it."""
    for v in vids:
        v = bytes(v)
        if v[:16] == _VID and (len(v) == 16 or (len(v) == 20 and int.from_bytes(v[16:], "big") & _CAPABLE)):
            return True
    return False


def split_message(message: bytes, header: Header, size: int, nat_t: bool) -> list[bytes] | None:
    """The fragment messages of `message` for IP datagrams of at most `size` bytes, or None when
    it fits whole (or would need more than MAX_FRAGMENTS pieces)."""
    room = size - IP_UDP - (MARKER if nat_t else 0)
    if len(message) <= room:
        return None
    room -= OVERHEAD
    count = -(-len(message) // room)
    if room < 1 or count > MAX_FRAGMENTS:
        return None
    frame = Header(header.icookie, header.rcookie, 0, ExchangeType.MAIN_MODE)
    return [encode_message(frame, [Fragment(FRAGMENT_ID, n + 1, n + 1 == count, message[n * room:(n + 1) * room])])
            for n in range(count)]


@dataclass(frozen=True)
class IkeFragmentsSent(Event):
    """A message too big for one datagram went as IKE fragments."""
    label: str
    count: int
    size: int

    def describe(self) -> str:
        return (f"{self.peer} splits {self.label} ({self.size} bytes) into {self.count} IKE fragments "
                "(payload 132): each fits one datagram, so no IP fragment is needed")


@dataclass(frozen=True)
class IkeFragmentsReassembled(Event):
    count: int
    size: int

    def describe(self) -> str:
        return f"{self.peer} reassembles {self.count} IKE fragments into one {self.size}-byte message"


@dataclass
class _Partial:
    fragment_id: int
    pieces: dict[int, bytes] = field(default_factory=dict)
    last: int = 0
    size: int = 0


class IkeFragmentationMixin:
    """Mixed into the IKEv1 `Peer`: splits what it sends, reassembles what it receives."""

    _ike_partial: dict | None = None
    _ike_split_cache: dict | None = None

    def fragmentation_agreed(self, sa) -> bool:
        return self.policy.ike_fragmentation and announces_fragmentation(getattr(sa, "peer_vids", ()))

    def _send_ike_wire(self, sa, dst: Endpoint, wire: bytes, label: str) -> None:
        """Send one IKE message's UDP payload, as IKE fragments when both sides agreed and it is big."""
        pieces = self._ike_pieces(sa, wire) if self.policy.ike_fragmentation and self.fragmentation_agreed(sa) \
            else None
        if pieces is None:
            self._send(dst, sa.local.port, _UDP, wire, label)    # what PeerCore._send_ike_wire does
            return
        for n, piece in enumerate(pieces, 1):
            self._send(dst, sa.local.port, IPProto.UDP, piece, f"{label} (IKE fragment {n}/{len(pieces)})")
        self._emit(IkeFragmentsSent, label=label, count=len(pieces), size=len(wire))

    def _ike_pieces(self, sa, wire: bytes) -> list[bytes] | None:
        """The same datagrams every time the same message goes out (retransmissions, repeats)."""
        cache = self._ike_split_cache
        if cache is None:
            cache = self._ike_split_cache = {}
        if wire in cache:
            return cache[wire]
        nat_t = sa.local.port == Port.NAT_T
        message = wire[MARKER:] if nat_t else wire
        split = split_message(message, Header(sa.icookie, sa.rcookie, 0, ExchangeType.MAIN_MODE),
                              self.policy.ike_fragment_size, nat_t)
        pieces = None if split is None else [frame_ike(m) if nat_t else m for m in split]
        if len(cache) >= 16:
            del cache[next(iter(cache))]
        cache[wire] = pieces
        return pieces

    def _ike_fragment(self, dgram: Datagram, header: Header, body: bytes) -> bytes | None:
        """Add one received fragment; the whole message once the last piece is in, else None."""
        chain = decode_payloads(header.next_payload, body)
        frags = chain.all(Fragment)
        if len(chain.payloads) != 1 or len(frags) != 1:
            self._emit(PacketDropped, reason="an IKE fragment message must carry exactly one fragment payload",
                       code=Reason.MALFORMED)
            return None
        frag = frags[0]
        key = (header.icookie, header.rcookie)
        if key not in self.sas and header.icookie not in self._initiated:   # ours awaiting MM2 counts too
            self._emit(PacketDropped, reason=f"IKE fragment for unknown cookies {header.icookie.hex()}:"
                                             f"{header.rcookie.hex()}", code=Reason.UNKNOWN_SA)
            return None
        partial = self._ike_partial
        if partial is None:
            partial = self._ike_partial = {}
        p = partial.get(key)
        if p is None or p.fragment_id != frag.fragment_id:
            if p is not None and frag.fragment_id < p.fragment_id:
                self._emit(PacketDropped, reason=f"IKE fragment of an older message (ID {frag.fragment_id})",
                           code=Reason.UNEXPECTED_MESSAGE)
                return None
            partial.pop(key, None)
            if len(partial) >= MAX_PENDING:
                del partial[next(iter(partial))]
            p = partial[key] = _Partial(frag.fragment_id)
        if frag.number in p.pieces:
            return None                      # a duplicate piece: ignored, as strongSwan does
        if frag.last and not p.last:
            p.last = frag.number
        p.size += len(frag.data)
        if p.size > MAX_PACKET or len(p.pieces) >= MAX_FRAGMENTS or (p.last and frag.number > p.last):
            del partial[key]
            self._emit(PacketDropped, reason=f"fragmented IKE message too large (over {MAX_PACKET} bytes or "
                                             f"{MAX_FRAGMENTS} fragments): dropped", code=Reason.REASSEMBLY_LIMIT)
            return None
        p.pieces[frag.number] = frag.data
        if not p.last or len(p.pieces) != p.last:
            return None
        del partial[key]
        message = b"".join(p.pieces[n] for n in sorted(p.pieces))
        self._emit(IkeFragmentsReassembled, count=len(p.pieces), size=len(message))
        return message
