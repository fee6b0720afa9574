"""The data plane: protecting inner traffic with ESP or AH, and taking it apart again.

Transport mode carries the UDP segment (for L2TP: UDP 1701) whose checksum covers the sender's
own addresses; tunnel mode carries a whole inner IPv4 packet. With NAT-T, ESP rides in UDP 4500
(checksum 0, RFC 3948 §2.1); the receiver fixes the inner checksum with the peer's NAT-OA
addresses (RFC 3948 §3.1.2). A UDP-encapsulated transport SA without the peer's NAT-OA is accepted
as Linux and Windows accept it: ESP authenticated the segment, so the inner checksum check is
skipped (RFC 3948 §3.1.2 allows it) and the DataReceived note says so. Without NAT-T, nothing can
fix it — and the drop reason says so.
"""
from __future__ import annotations

import ipaddress

from ..addressing import Datagram, Endpoint
from ..errors import DecodeError, IntegrityError
from ..reasons import Reason
from ..wire.ip import (UDP_HEADER, decode_datagram, encode_datagram, encode_ipv4_header,
                       encode_udp, incremental_by, packed_ipv4, pseudo_words, udp_words_ok)
from ..wire.numbers import IdType, IPProto, Port
from .events import DataReceived, DataSent, PacketDropped, RemoteFollowed
from .sa import ChildSa
from .states import follows_peer


class _SaMemo:
    """What the data plane derives from one IPsec SA pair once, not per packet: its SPIs as the
    events show them, the inner endpoints of the ports it carries (L2TP: always the same pair; an
    SA's inner addresses never change), the peer's NAT-OA addresses for the RFC 3948 §3.1.2 fix-up
    and the addresses packets arrive with, packed. Kept on the ChildSa itself, so it lives exactly
    as long as the SA; each part is built again when what it came from changes (the send and
    receive paths compare `ports` and `fixup_key` inline)."""
    __slots__ = ("spi_in", "spi_out", "ports", "src", "dst", "words", "inner", "fixup_key", "fixup_delta",
                 "original_packed", "arrived_packed", "original_words", "fixup_tail", "outer", "received")

    def __init__(self, child: ChildSa):
        self.spi_in, self.spi_out = f"{child.spi_in:08x}", f"{child.spi_out:08x}"
        self.ports = self.src = self.dst = self.words = self.inner = None
        self.fixup_key = self.fixup_delta = self.original_words = self.fixup_tail = None
        self.original_packed = self.arrived_packed = None
        self.outer: tuple[Endpoint, Endpoint] | None = None
        #: ((source address and port, destination address and port), the DataReceived text of that
        #: inner UDP, its pseudo-header's address words (`pseudo_words`))
        self.received: tuple[tuple[str, int, str, int], str, int] | None = None

    def outer_ends(self, local: str, remote: str) -> tuple[Endpoint, Endpoint]:
        """Both ends of raw ESP or AH (IP addresses, no ports), built again only when one moves."""
        outer = self.outer
        if outer is None or outer[0].ip != local or outer[1].ip != remote:
            self.outer = (Endpoint(local), Endpoint(remote))
        return self.outer

    def set_ports(self, child: ChildSa, ports: tuple[int, int]) -> None:
        """The inner source and destination of datagrams between these ports, and their addresses'
        pseudo-header words for the UDP checksum."""
        self.src, self.dst = Endpoint(child.local_inner, ports[0]), Endpoint(child.remote_inner, ports[1])
        self.words = pseudo_words(self.src.ip, self.dst.ip)
        self.inner, self.ports = f"UDP {self.src} → {self.dst}", ports

    def set_fixup(self, key: tuple[tuple[str, str], str, str]) -> None:
        """The peer's original addresses from its NAT-OA and the ones a packet arrived with (the
        same two pairs every packet, unless the peer moves): what the change of address words adds
        to a checksum (RFC 1624 eqn. 3, mod 0xFFFF, as net/rewrite.py's Rewrite keeps it) and the
        original pair's pseudo-header words, worked out once."""
        (o_src, o_dst), src, dst = key
        self.original_packed = original = packed_ipv4(o_src) + packed_ipv4(o_dst)
        self.arrived_packed = arrived = packed_ipv4(src) + packed_ipv4(dst)
        self.fixup_delta = (int.from_bytes(arrived, "big") - int.from_bytes(original, "big")) % 0xFFFF
        self.original_words, self.fixup_key = pseudo_words(o_src, o_dst), key
        #: what the fix-up note says after the two checksums (the same words every packet)
        self.fixup_tail = (f": NAT-OA says the sender used {o_src} → {o_dst}, the packet arrived as {src} → {dst} "
                           "(RFC 3948 §3.1.2)")


#: the inner UDP header's ports and checksum in one unpack (the struct compiled from its layout)
_UDP_FIELDS = UDP_HEADER.struct.unpack_from

# The members every ESP packet sent or received is built or checked with, named once (as in
# ike/core.py: a member read off its Enum class costs ~70 ns in Python 3.11)
_UDP, _ESP, _IPIP, _NAT_T = IPProto.UDP, IPProto.ESP, IPProto.IPIP, Port.NAT_T

_MEMO = "_dataplane_memo"   #: its attribute on the ChildSa; read per packet as `child.__dict__.get(_MEMO)`


def _new_memo(child: ChildSa) -> _SaMemo:
    memo = child.__dict__[_MEMO] = _SaMemo(child)
    return memo


class DataPlaneMixin:
    def _current_child(self, child):
        """The SA traffic for a replaced or deleted `child` goes to (ike/rekey.py follows rekeys;
        here: itself). Asked only when `child` is one of those: otherwise it is the SA itself."""
        return child

    def _kilobytes_counted(self, child) -> None:
        """The data plane counted bytes on an SA with a kilobyte limit (ike/rekey.py enforces it;
        nothing here)."""

    def _authenticated_from(self, sa, dgram: Datagram, via: str, may_move: bool = True) -> None:
        """A packet that authenticated (ESP/AH: anti-replay included) came from `dgram.src`: RFC 3947
        §7, RFC 7296 §2.23: the non-NATed side follows it, and says so. IKEv1 peers refine this in
        dpd.py (liveness, the responder behind port forwards)."""
        if may_move and dgram.src != sa.remote and follows_peer(sa.floated, bool(sa.natd and sa.natd.self_behind_nat)):
            old, sa.remote = sa.remote, dgram.src
            self._emit(RemoteFollowed, old=str(old), new=str(dgram.src), via=via)

    def latest_child(self) -> ChildSa | None:
        for sa in reversed(self.sas.values()):      # newest first, without copying every SA
            if sa.children:
                return sa.children[-1]
        return None

    def send_udp(self, payload: bytes, now: float, *, sport: int = Port.L2TP, dport: int = Port.L2TP,
                 child: ChildSa | None = None, into=None):
        """Protect one inner UDP datagram (L2TP by default) with an IPsec SA and send it.

        `into`: an output being gathered (its `datagrams` and `events` lists, lab/apps.py's host
        sending several packets per call) that takes the datagram and events as they are made;
        nothing is returned then, where otherwise they come back as an Output of their own."""
        if into is None:
            self._begin(now)
        else:
            self.now, self._out_datagrams, self._out_events = now, into.datagrams, into.events
        asked = child or self.latest_child()
        # the SA itself, unless a rekey replaced it or it is gone (ike/rekey.py follows the chain)
        child = asked if asked is not None and asked.replaced_by is None and asked.live else self._current_child(asked)
        if child is None or self.children.get(child.spi_in) is not child:
            why = "no IPsec SA to protect the traffic with" if asked is None else (
                f"the IPsec SA {asked.spi_in:08x}/{asked.spi_out:08x} it was meant for has been deleted")
            self._emit(PacketDropped, reason=why, code=Reason.NO_IPSEC_SA, layer="IPsec")
            return self._finish() if into is None else None
        memo = child.__dict__.get(_MEMO) or _new_memo(child)
        if memo.ports != (sport, dport):
            memo.set_ports(child, (sport, dport))
        if child.tunnel:
            inner, next_header = encode_datagram(Datagram(memo.src, memo.dst, IPProto.UDP, payload)), IPProto.IPIP
        else:
            inner, next_header = encode_udp(memo.src, memo.dst, payload, words=memo.words), _UDP
        sa = child.ike
        if child.protocol == "ah":
            ident = self.next_ident()
            data = child.outbound.protect(self.address, sa.remote.ip, ident, next_header, inner)
            local, remote = memo.outer_ends(self.address, sa.remote.ip)
            self._out_datagrams.append(Datagram(local, remote, IPProto.AH, data, ident=ident, label="AH"))
        else:
            esp = child.outbound.protect(next_header, inner, self.rng)
            if child.udp_encapsulated:
                self._send(sa.remote, _NAT_T, _UDP, esp, "ESP-in-UDP", zero_checksum=True)
                self._note_sent(sa)
            else:
                self._send(memo.outer_ends(self.address, sa.remote.ip)[1], 0, _ESP, esp, "ESP")
        child.bytes_out += len(inner)       # for kilobyte lifetimes (ike/rekey.py)
        if child.life is not None and child.life.kilobytes:
            self._kilobytes_counted(child)
        # one event per packet, appended as _send_ike appends MessageSent (no `_emit` call)
        self._out_events.append(DataSent(self.now, self.name, memo.spi_out, memo.inner, len(payload)))
        return self._finish() if into is None else None

    def _receive_ipsec(self, dgram: Datagram, data: bytes, layer: str) -> None:
        """ESP (raw or from UDP 4500) or AH: find the SA by SPI, verify, decrypt, check the inner packet."""
        at = 4 if layer == "AH" else 0   # AH: next header, length, reserved, then the SPI (RFC 4302 §2)
        spi = int.from_bytes(data[at:at + 4], "big") if len(data) >= at + 4 else 0
        child = self.children.get(spi)
        if child is None:
            self._emit(PacketDropped, reason=f"no IPsec SA with SPI 0x{spi:08x}", code=Reason.NO_IPSEC_SA, layer=layer,
                       spi=f"{spi:08x}")
            return
        try:
            if layer == "AH":
                header = encode_ipv4_header(dgram.src.ip, dgram.dst.ip, IPProto.AH, len(data), dgram.ident, dgram.ttl)
                next_header, inner = child.inbound.verify(header, data)
            else:
                next_header, inner = child.inbound.unprotect(data)
        except (IntegrityError, DecodeError) as exc:
            self._emit(PacketDropped, reason=self._explain_integrity(child, dgram, layer, exc),
                       code=self._integrity_code(child, dgram, layer, exc), layer=layer, spi=f"{spi:08x}")
            return
        child.bytes_in += len(inner)
        if child.life is not None and child.life.kilobytes:
            self._kilobytes_counted(child)
        udp = child.udp_encapsulated       # only ESP-in-UDP may move the peer (RFC 3947 §7)
        self._authenticated_from(child.ike, dgram, "ESP-in-UDP" if udp else layer, udp)
        if next_header == _IPIP:
            self._deliver_tunnel(child, inner)
        elif next_header == _UDP:
            self._deliver_transport(child, dgram, inner)
        else:
            self._emit(PacketDropped, reason=f"inner protocol {next_header} is not carried here",
                       code=Reason.INNER_PROTOCOL, layer=layer, spi=f"{spi:08x}")

    @staticmethod
    def _integrity_code(child: ChildSa, dgram: Datagram, layer: str, exc: Exception) -> Reason:
        """REPLAY, ICV or MALFORMED; an AH ICV failure is AH_AFTER_NAT when the packet's source is not
        the address the peer authenticated as (its IPv4 ID) or NAT-D found a NAT (RFC 3715 §2.1(a))."""
        if isinstance(exc, DecodeError):
            return Reason.MALFORMED
        code = getattr(exc, "code", None) or Reason.ICV
        if layer != "AH" or code is not Reason.ICV:
            return code
        sa = child.ike
        claimed = sa.id_received
        moved = (len(claimed) == 8 and claimed[0] == IdType.IPV4_ADDR
                 and str(ipaddress.IPv4Address(claimed[4:])) != dgram.src.ip)
        return Reason.AH_AFTER_NAT if moved or (sa.natd and sa.natd.nat_detected) else Reason.ICV

    def _explain_integrity(self, child: ChildSa, dgram: Datagram, layer: str, exc: Exception) -> str:
        if layer == "AH":
            return (f"{exc} — AH's ICV covers the IP addresses; the packet arrived from {dgram.src.ip}, so a NAT "
                    "that rewrote the source breaks it (RFC 3715 §2.1(a); UDP encapsulation cannot help AH)")
        return str(exc)

    def _deliver_tunnel(self, child: ChildSa, inner: bytes) -> None:
        try:
            d = decode_datagram(inner)
        except DecodeError as exc:
            self._emit(PacketDropped, reason=f"inner packet after decryption: {exc}", code=Reason.INNER_MALFORMED,
                       layer="ESP", spi=f"{child.spi_in:08x}")
            return
        memo = child.__dict__.get(_MEMO) or _new_memo(child)
        self._emit(DataReceived, spi=memo.spi_in, inner=f"UDP {d.src} → {d.dst}", payload=d.payload)

    def _deliver_transport(self, child: ChildSa, dgram: Datagram, segment: bytes) -> None:
        n = len(segment)
        if n < 8:
            self._emit(PacketDropped, reason="inner UDP header truncated", code=Reason.INNER_MALFORMED, layer="ESP",
                       spi=f"{child.spi_in:08x}")
            return
        memo = child.__dict__.get(_MEMO) or _new_memo(child)
        src, dst = dgram.src.ip, self.address
        sport, dport, _, checksum = _UDP_FIELDS(segment)
        # the inner text and pseudo-header words are the same for every packet of the SA's L2TP flow
        received = memo.received
        if received is None or received[0] != (src, sport, dst, dport):
            received = memo.received = ((src, sport, dst, dport), f"UDP {src}:{sport} → {dst}:{dport}",
                                        pseudo_words(src, dst))
        fixup, original, words = None, child.peer_original, received[2]
        if checksum and original and original != (src, dst):
            if memo.fixup_key != (original, src, dst):
                memo.set_fixup((original, src, dst))
            # RFC 1624 eqn. 3 over the address words, their difference worked out once per SA;
            # RFC 768: a computed 0 is sent as all ones
            fixed = incremental_by(checksum, memo.fixup_delta, memo.original_packed, memo.arrived_packed) or 0xFFFF
            fixup = f"inner UDP checksum 0x{checksum:04x} fixed up to 0x{fixed:04x}{memo.fixup_tail}"
            # the fixed-up checksum verifies over the arrived addresses exactly when the one received
            # verifies over the sender's (RFC 1624: both sums differ by the same address words), so
            # the fixed-up segment is never built: nothing after this check reads its checksum
            words = memo.original_words
        verified = udp_words_ok(words, segment)    # udp_checksum_ok from the flow's pseudo-header words
        if not verified and child.udp_encapsulated and not child.peer_original:
            fixup = (f"inner UDP checksum 0x{checksum:04x} does not verify for {src} → {dst} and the peer sent no "
                     "NAT-OA to fix it with; ESP authenticated the segment, so the check is skipped, as Linux "
                     "and Windows do (RFC 3948 §3.1.2)")
        elif not verified:
            self._emit(PacketDropped, layer="ESP", spi=f"{child.spi_in:08x}", code=Reason.CHECKSUM_AFTER_NAT,
                       reason=(
                f"inner UDP checksum 0x{checksum:04x} does not verify for {src} → {dst}: the sender computed it "
                "over its own original addresses and a NAT rewrote the outer header; ESP hid the checksum from "
                "the NAT and, without NAT-OA, there is nothing to fix it with (RFC 3715 §2.1(b))"))
            return
        self._out_events.append(DataReceived(self.now, self.name, memo.spi_in, received[1], segment[8:], fixup))
