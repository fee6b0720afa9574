"""The IPv4 layer the network plays for its hosts and routers (RFC 791, RFC 815, RFC 1191):
fragmenting a packet too big for the next link or dropping it with ICMP Fragmentation Needed,
reassembling fragments before a host sees them, and remembering path MTUs that ICMP taught.

`IpLayer` is a part of `Network` (net/network.py), kept apart because it is one job: it uses the
network's `_record`, `_transmit`, `_pieces`, `deliver` and `_sync_timer`, and its tables
`_reassembly` and `_pmtu`.
"""
from __future__ import annotations

from socket import inet_ntoa
from typing import TYPE_CHECKING

from ..errors import DecodeError
from ..reasons import Reason
from ..wire.ip import decode_datagram
from .fragments import DF, Reassembler, flags_frag, frag_needed, fragment, is_fragment, read_frag_needed
from .nat import FieldChange, decode_drop_code

if TYPE_CHECKING:
    from .network import _Port, _Segment

PMTU_ENTRIES = 256      # destinations whose path MTU one host remembers (from ICMP 3/4)


class IpLayer:
    """Fragments, "too big" and path MTUs: the part of the network below the hosts' sockets."""

    def reassembly(self, host: str) -> Reassembler:
        """The host's IPv4 reassembly queue (bounded; see net.fragments)."""
        return self._reassembly.setdefault(host, Reassembler())

    def path_mtu(self, host: str, dst: str) -> int:
        """What `host` sends to `dst` in one piece: its link's MTU, or less once an ICMP 3/4 said so."""
        mtu = self._hosts[host].seg.mtu
        return min(mtu, self._pmtu.get(host, {}).get(dst, mtu))

    # ----------------------------------------------------------------- fragments and "too big"
    def _too_big(self, seg: _Segment, sender: _Port, packet: bytes, src_host: str, before: bytes | None,
                 changes: tuple[FieldChange, ...], hops: int, label: str, why: str, pid: int,
                 copy_of: int | None) -> None:
        """A router's packet larger than the next link: fragmented, or with DF dropped and answered
        with ICMP Fragmentation Needed from the interface it came in on (RFC 1191 §4)."""
        now = self.clock.now
        if not flags_frag(packet) & DF:
            for piece, ident in self._pieces(fragment(packet, seg.mtu), pid):
                self._transmit(sender, piece, src_host, before, changes, hops, label,
                               f"fragmented by {sender.info.device} for MTU {seg.mtu}", ident, copy_of)
            return
        self._record(now, now, sender, None, packet, before, changes,
                     f"{len(packet)} bytes with DF set, but segment {seg.name!r} carries at most {seg.mtu}: "
                     f"{sender.info.device} drops it and answers ICMP Fragmentation Needed (MTU {seg.mtu})",
                     src_host, why, label, pid, copy_of, Reason.FRAGMENTATION_NEEDED)
        inside = sender.peer
        original = before if before is not None else packet
        self._packets += 1
        self._transmit(inside, frag_needed(inside.info.address, original, seg.mtu), sender.info.device, None, (),
                       hops + 1, "ICMP fragmentation needed", "", self._packets, None)

    def _ip_layer(self, args: tuple, src_host: str, note: str, label: str, pid: int,
                  copy_of: int | None) -> bool:
        """What a host's kernel does before any application sees a packet: reassemble fragments
        (RFC 815, bounded) and learn path MTUs from ICMP 3/4. True when the packet went no further."""
        t, receiver, packet = args[0], args[3], args[4]
        name = receiver.info.device
        if not is_fragment(packet):
            try:
                told = read_frag_needed(inet_ntoa(packet[12:16]), packet[20:])
            except DecodeError as exc:
                self._record(*args, f"{name} cannot decode the packet: {exc}", src_host, note, label, pid,
                             copy_of, Reason.MALFORMED)
                return True
            if told is None:
                return False
            table = self._pmtu.setdefault(name, {})
            if told.dst in table or len(table) < PMTU_ENTRIES:
                table[told.dst] = min(table.get(told.dst, told.mtu), told.mtu)
            self._record(*args, None, src_host, f"{name} now sends at most {told.mtu} bytes to {told.dst} in one "
                         "piece (path MTU)", label, pid, copy_of)
            return True
        done = self.reassembly(name).add(packet, t)
        dgram, dropped, code = None, done.dropped, done.code
        if done.packet is not None:
            try:
                dgram = decode_datagram(done.packet)
            except DecodeError as exc:
                dropped, code = f"{name} reassembled a datagram it cannot decode: {exc}", decode_drop_code(done.packet)
        said = (f"completed the datagram ({done.pieces} fragments reassembled by {name})" if dgram
                else "held for reassembly" if not dropped else "")
        self._record(*args, dropped, src_host, "; ".join(x for x in (note, said) if x), label, pid, copy_of, code)
        if dgram is not None:
            self.deliver(receiver.host.receive(dgram, t), name, pid)
            self._sync_timer(name)
        return True
