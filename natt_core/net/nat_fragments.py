"""What a NAT does with IPv4 fragments (`NatConfig.fragments`: pass, drop, first-only).

Only the first fragment (offset 0) carries the UDP/TCP ports or the SPI a NAT decides on; the
later ones carry nothing but IP addresses and the identification. So a NAT that passes fragments
translates the first one like any packet (ports, and the UDP checksum, which covers the whole
datagram, with the RFC 1624 update) and remembers, per datagram (source, destination, protocol,
identification: RFC 791 §3.2), which address it rewrote, to rewrite the later fragments the same
way -- RFC 4787 REQ-14, which asks for fragments in and out of order. A later fragment that
arrives before its first is held back (at most HOLD fragments, for MEMORY_SECONDS) and sent on,
translated, right after its first fragment.

'drop' is the classic home-router failure (every fragment dropped); 'first-only' passes the first
fragment and drops the rest, as NATs that looked only for ports did. Either way the receiver never
completes the datagram. The memory is bounded: at most MEMORY datagrams, each for MEMORY_SECONDS.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import replace

from ..errors import DecodeError
from ..reasons import Reason
from ..wire.ip import IPV4_HEADER_LEN
from ..wire.numbers import IPProto, label
from .fragments import FragmentInfo, read_fragment
from .rewrite import NO_L4, PacketFields, rewrite

MEMORY = 1024            #: datagrams whose first fragment's translation is remembered
MEMORY_SECONDS = 30.0    #: how long (Linux's ipfrag_time)
HOLD = 64                #: later fragments held back until their first fragment comes


def first_fragment_fields(f: FragmentInfo) -> PacketFields:
    """The ports (UDP/TCP) or SPI (ESP/AH) in a first fragment's payload."""
    body = f.payload
    need = {IPProto.UDP: 8, IPProto.TCP: 4, IPProto.ESP: 4, IPProto.AH: 8}.get(f.proto, 0)
    if len(body) < need:
        raise DecodeError(label(IPProto, f.proto), IPV4_HEADER_LEN,
                          f"first fragment too short for the header: {len(body)} bytes")
    if f.proto in (IPProto.UDP, IPProto.TCP):
        return PacketFields(f.proto, f.src, f.dst, int.from_bytes(body[0:2], "big"), int.from_bytes(body[2:4], "big"))
    if f.proto == IPProto.ESP:
        return PacketFields(f.proto, f.src, f.dst, spi=int.from_bytes(body[0:4], "big"))
    if f.proto == IPProto.AH:
        return PacketFields(f.proto, f.src, f.dst, spi=int.from_bytes(body[4:8], "big"))
    return PacketFields(f.proto, f.src, f.dst)


class NatFragments:
    """Mixed into `Nat`: `_fragment` is called for every packet with MF set or an offset."""

    def __init__(self) -> None:
        #: (outbound, src, dst, proto, ident) -> (time, which address, new address, mapping row)
        self._frag_memory: OrderedDict[tuple, tuple] = OrderedDict()
        #: fragments that came before their first: key -> [(time, packet)], HOLD at most in all
        self._frag_held: OrderedDict[tuple, list] = OrderedDict()

    def _fragment(self, packet: bytes, now: float, outbound: bool):
        from .nat import Translation, _drop   # nat.py mixes this class in
        mode = self.config.fragments
        try:
            f = read_fragment(packet)
            p = first_fragment_fields(f) if f.first else None
        except DecodeError as exc:
            return _drop(str(exc), Reason.MALFORMED)
        where = f"fragment at offset {f.offset} of {label(IPProto, f.proto)} {f.src} -> {f.dst} (id 0x{f.ident:04x})"
        if mode == "drop":
            return _drop(f"{where} dropped: this NAT drops IP fragments (nat.fragments=drop)", Reason.FRAGMENT_DROPPED)
        if not f.first and mode == "first-only":
            return _drop(f"{where} dropped: this NAT passes only the first fragment, the one with the ports "
                         "(nat.fragments=first-only)", Reason.FRAGMENT_DROPPED)
        key = (outbound,) + f.key
        if f.first:
            tr = self._translate_fields(packet, p, now, outbound)
            if tr.packet is not None:
                self._remember(key, now, tr)
                held = self._frag_held.pop(key, ())
                if held:
                    which, ip, row = self._recall(key, now)
                    done = tuple((old, self._later(old, which, ip, row)) for t, old in held if now - t <= MEMORY_SECONDS)
                    tr = replace(tr, released=done)
            return tr
        known = self._recall(key, now)
        if known is None:
            if self.config.kind == "none":
                return Translation(packet)
            return self._hold(key, packet, now, where)
        return self._later(packet, *known)

    def _hold(self, key: tuple, packet: bytes, now: float, where: str):
        from .nat import Translation, _drop
        held = self._frag_held
        while held and now - next(iter(held.values()))[0][0] > MEMORY_SECONDS:
            held.popitem(last=False)
        if sum(map(len, held.values())) >= HOLD:
            return _drop(f"{where}: its first fragment has not come and this NAT already holds {HOLD} "
                         "fragments", Reason.REASSEMBLY_LIMIT)
        held.setdefault(key, []).append((now, packet))
        return Translation(None, note=f"held by {self.config.name}: its first fragment (with the ports) has not "
                                      "come yet; it is sent on right after it")

    def _later(self, packet: bytes, which, ip, row):
        """A later fragment rewritten the way its first fragment was."""
        from .nat import Translation
        out, changes = rewrite(packet, NO_L4, which, ip) if which else (packet, ())
        return Translation(out, changes, None, row, "translated like the first fragment of this datagram")

    def _remember(self, key: tuple, now: float, tr) -> None:
        which = ip = None
        for c in tr.changes:
            if c.name in ("IPv4 source address", "IPv4 destination address"):
                which, ip = c.name.split()[1], c.new
        memory = self._frag_memory
        memory[key] = (now, which, ip, tr.mapping)
        memory.move_to_end(key)
        while len(memory) > MEMORY or (memory and now - next(iter(memory.values()))[0] > MEMORY_SECONDS):
            memory.popitem(last=False)

    def _recall(self, key: tuple, now: float) -> tuple | None:
        entry = self._frag_memory.get(key)
        if entry is None or now - entry[0] > MEMORY_SECONDS:
            return None
        return entry[1:]
