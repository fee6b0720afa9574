"""Hosts of the lab: an IKE peer plus the L2TP application that rides on it.

The client starts Main Mode at its start time and, once its IPsec SA is up, opens an L2TP control
connection and one call over it (`natt_core.l2tp.control`: SCCRQ/SCCRP/SCCCN, ICRQ/ICRP/ICCN, with
Ns/Nr, ZLB acks and retransmission); the server answers each tunnel on the SA it came from. Once
the call is up, both ends run PPP (`natt_core.ppp`: LCP, MS-CHAPv2, IPCP) in L2TP data messages,
and the client pings the server's end of the PPP link from the address IPCP gave it.
Scheduled sends (e.g. an L2TP HELLO after ten idle minutes) test whether the NAT mapping is still
there; a HELLO is delivered reliably, so a dead path clears the tunnel (RFC 2661 §6.5).
"""
from __future__ import annotations

import heapq
import itertools
import random
from dataclasses import dataclass

from ..errors import DecodeError
from ..ike.events import DataReceived, PacketDropped, Phase2Established
from ..ipsec.spd import Spd
from ..ike.peer import Peer
from ..l2tp.control import ControlConnection
from ..l2tp.data import data_parts, encode_data
from ..output import Event, Output
from ..ppp import events as ppp_events
from ..ppp.endpoint import PppEndpoint, PppPolicy
from ..ppp.options import AddressPool
from ..reasons import Reason
from ..addressing import Datagram, Endpoint
from ..wire.icmp import ECHO_REPLY, ECHO_REQUEST, ICMP_PROTO, Echo, decode_echo
from ..wire.ip import decode_datagram, encode_datagram
from ..wire.l2tp import MessageType, control_message
from ..net.records import fast_init_all


@dataclass(frozen=True)
class Send:
    """Send one L2TP control message at a virtual time (seconds after the start)."""
    at: float
    sender: str          #: "client" (every client) or "server" (to every client SA)
    message: str = "HELLO"


class _Told(Event):
    """An event whose sentence was written when it happened (its `text`)."""

    def describe(self) -> str:
        return f"{self.peer}: {self.text}"


@dataclass(frozen=True)
class L2tpState(_Told):
    """The L2TP tunnel or call reached a state (RFC 2661 §7), or ended and why."""
    layer: str = "L2TP tunnel"
    state: str = ""
    text: str = ""
    code: Reason | None = None


@dataclass(frozen=True)
class SpdChanged(_Told):
    """The server's security policy database changed, or decided where a packet goes (ipsec/spd.py)."""
    layer: str = "SPD"
    text: str = ""
    code: Reason | None = None


@dataclass(frozen=True)
class PppState(_Told):
    """What the PPP endpoint on a call reported (RFC 1661 phases, authentication, IPCP)."""
    layer: str = "PPP"
    text: str = ""
    code: Reason | None = None


_REACTS_TO = (DataReceived, Phase2Established)     #: the peer's events _react acts on


def _with_subclasses(*classes: type) -> frozenset:
    """The classes and every subclass of theirs: `type(e) in` this set, one lookup per event,
    answers what isinstance(e, classes) does (the event classes are all defined at import)."""
    found, todo = set(), list(classes)
    while todo:
        c = todo.pop()
        if c not in found:
            found.add(c)
            todo += c.__subclasses__()
    return frozenset(found)


_REACTS_TYPES = _with_subclasses(*_REACTS_TO)
_DATA_TYPES = _with_subclasses(DataReceived)
_PHASE2_TYPES = _with_subclasses(Phase2Established)


class _Out:
    """What one call of a host sends and says, gathered in order and made one Output at the end:
    a packet costs two list appends instead of a new Output (and two tuple copies) per layer."""
    __slots__ = ("datagrams", "events")

    def __init__(self):
        self.datagrams: list = []
        self.events: list = []

    def add(self, out: Output) -> None:   # (_react and _send, once per packet, do the same inline)
        self.datagrams += out.datagrams
        self.events += out.events

    def output(self) -> Output:
        return Output(tuple(self.datagrams), tuple(self.events))


class _Link:
    """One control connection, the PPP endpoint on its call, and the IPsec SA its packets ride on."""

    def __init__(self, cc: ControlConnection, child):
        self.cc, self.child, self.reported = cc, child, 0
        self.ppp: PppEndpoint | None = None
        self.auth = "not-started"
        self.ping = False
        self.misdirected = False       #: the SPD sent its packets through another client's SA
        self.order = 0                 #: its place in the host's `links` (timers fire in that order)
        self.due: float | None = None  #: when its control connection or PPP next wants the clock


class L2tpHost:
    """A network host: the sans-IO IKE peer with an L2TP client (LAC) or server (LNS) on top."""

    def __init__(self, peer: Peer, role: str, server_ip: str | None = None, start_at: float = 0.0,
                 sends: tuple[Send, ...] = (), ppp: PppPolicy | None = None, spd: Spd | None = None):
        self.peer = peer
        self.name = peer.name     #: the peer's (a restarted host's fresh peer has the same name)
        self.spd = spd if role == "server" else None   #: which SA protects L2TP to which client
        self.refused: dict[int, tuple[str, Reason]] = {}  #: the client's inbound SPI -> why we dropped its L2TP
        self.ppp_policy = ppp or PppPolicy()
        self.pool = AddressPool(*self.ppp_policy.pool) if role == "server" else None
        self.role = role
        self.server_ip = server_ip
        self._agenda = sorted([(start_at, "connect", None)] if role == "client" else [])
        self._agenda += sorted((s.at, "send", s.message) for s in sends)
        self._agenda.sort(key=lambda item: item[0])
        self.links: dict[int, _Link] = {}      #: by our inbound SPI
        #: by id() of the IKE SA its child had when it was bound: a server finds a rekeyed tunnel at once
        self._by_ike: dict[int, _Link] = {}
        # every link's next timer in a heap (stale entries skipped), so a server with a thousand
        # tunnels does not ask each of them on every packet
        self._due: list[tuple[float, int, _Link]] = []
        self._seq = itertools.count()
        self._next_id = 1
        self.sent = 0

    def restart(self, peer: Peer, now: float) -> None:
        """Switched on again after a power cut (lab/schedule.py): a fresh IKE peer that remembers no
        SA and no tunnel; a client connects anew at once, scheduled sends still to come stay."""
        self.peer, self.links, self._due, self._by_ike = peer, {}, [], {}
        self.name = peer.name
        self._agenda = [a for a in self._agenda if a[1] != "connect"]
        if self.role == "client":
            self._agenda.insert(0, (now, "connect", None))

    def close(self) -> None:
        """The run is over (Network.close): the peer parts its SAs' reference cycles."""
        self.peer.close()

    def next_timer(self) -> float | None:
        """The earliest of the peer's timer, the next scheduled action and the links' timers."""
        t = self.peer.next_timer()
        if self._agenda and (t is None or self._agenda[0][0] < t):
            t = self._agenda[0][0]
        if not self._due:
            return t
        links, _, link = self._due[0]     # the heap's top is nearly always current: no call to check it
        if link.due != links or self.links.get(link.child.spi_in) is not link:
            links = self._links_due()
        return links if links is not None and (t is None or links < t) else t

    def _touch(self, link: _Link) -> None:
        """Note a link's next timer after anything that may have moved it (its cc or PPP was called);
        a timer that did not move keeps the entry it has in the heap."""
        due = link.cc.next_timer()
        if link.ppp is not None and (p := link.ppp.next_timer()) is not None and (due is None or p < due):
            due = p
        if due == link.due:
            return
        link.due = due
        if due is not None:
            heapq.heappush(self._due, (due, next(self._seq), link))

    def _links_due(self) -> float | None:
        """The earliest link timer; entries a later _touch replaced, or of a link no longer in
        `links`, are dropped on the way."""
        while self._due:
            t, _, link = self._due[0]
            if link.due == t and self.links.get(link.child.spi_in) is link:
                return t
            heapq.heappop(self._due)
        return None

    def on_timer(self, now: float) -> Output:
        out = _Out()
        while self._agenda and self._agenda[0][0] <= now:
            _, action, message = self._agenda.pop(0)
            if action == "connect":
                self._react(self.peer.connect(self.server_ip, now), now, out)
            else:
                self._send_all(MessageType[message], now, out)
        due: dict[int, _Link] = {}
        while (t := self._links_due()) is not None and t <= now:
            link = heapq.heappop(self._due)[2]
            link.due = None          # its entry is gone: _touch below makes the next one
            due[id(link)] = link
        for link in sorted(due.values(), key=lambda k: k.order):      # as they stand in `links`
            t = link.cc.next_timer()
            if t is not None and t <= now:
                self._emit(link, link.cc.on_timer(now), now, out)
            t = link.ppp.next_timer() if link.ppp else None
            if t is not None and t <= now:
                self._ppp(link, link.ppp.on_timer(now), now, out)
            self._touch(link)
        t = self.peer.next_timer()
        if t is not None and t <= now:
            self._react(self.peer.on_timer(now), now, out)
        return out.output()

    def receive(self, dgram, now: float) -> Output:
        result = self.peer.receive(dgram, now)
        for event in result.events:
            if type(event) in _REACTS_TYPES:
                out = _Out()
                self._react(result, now, out)
                return out.output()
        return result       # nothing for L2TP or PPP to do (an IKE message): the peer's output as it is

    def _send_all(self, kind: MessageType, now: float, out: _Out) -> None:
        """A scheduled send on every tunnel: HELLO and StopCCN through the control connection."""
        for link in list(self.links.values()):
            if kind == MessageType.HELLO:
                self._emit(link, link.cc.hello(now), now, out)
            elif kind == MessageType.STOPCCN:
                self._emit(link, link.cc.stop(now), now, out)
            else:       # any other message type, unsequenced, to show what a peer does with it
                self._send(link, control_message(kind, tunnel_id=link.cc.peer_tunnel, host_name=self.name), now, out)

    def _send(self, link: _Link, data: bytes, now: float, out: _Out) -> None:
        """One L2TP packet of a link, protected by the SA the SPD names for its peer: the link's own
        SA, except on a selector-keyed server whose selector a newer SA took (RFC 3948 §5.2)."""
        child = self.spd.outbound(link.child) if self.spd else link.child
        self.peer.send_udp(data, now, child=child, into=out)     # straight into `out`, no Output of its own
        if child is not link.child and not link.misdirected:
            link.misdirected = True
            out.events.append(SpdChanged(
                now, self.name, "SPD", f"L2TP for tunnel {link.cc.peer_tunnel} of {link.child.ike.remote} "
                f"leaves through the SA of {child.ike.remote} (SPI out 0x{child.spi_out:08x}): the policy "
                f"for {self.spd.selector_of(child)} names that SA now", Reason.SPD_SELECTOR_TAKEN))

    def _install(self, child, now: float, out: _Out) -> None:
        """Note a new IPsec SA in the server's SPD; say when it took another client's selector."""
        old = self.spd.install(child, now)
        sel = self.spd.selector_of(child)
        if old is None:
            text = f"SPD: {sel} -> the SA of {child.ike.remote} (SPI out 0x{child.spi_out:08x}), keyed {self.spd.keying}"
            out.events.append(SpdChanged(now, self.name, "SPD", text))
            return
        text = (f"SPD: {sel} now names the SA of {child.ike.remote} (SPI out 0x{child.spi_out:08x}); the policy "
                f"of {old.child.ike.remote} (SPI out 0x{old.child.spi_out:08x}) had the same selector and is replaced: "
                "both clients are behind one NAT and the kernel keys policies by selector")
        out.events.append(SpdChanged(now, self.name, "SPD", text, Reason.SPD_SELECTOR_TAKEN))

    def _emit(self, link: _Link, packets: list[bytes], now: float, out: _Out) -> None:
        """Send a control connection's packets on its SA and report its new states as events."""
        for data in packets:
            self._send(link, data, now, out)
        notes = link.cc.notes
        if link.reported < len(notes):
            out.events += [L2tpState(n.time, self.name, n.layer, n.state or "", n.text, n.code)
                           for n in notes[link.reported:]]
            link.reported = len(notes)
        if link.ppp is None and link.cc.session_state == "established":     # the call is up: PPP starts
            role = "client" if link.cc.role == "lac" else "server"
            link.ppp = PppEndpoint(role, self.ppp_policy, rng=random.Random(f"ppp-{self.name}-{link.cc.tunnel_id}"),
                                   pool=self.pool, client_id=f"{link.child.ike.remote}/{link.cc.peer_tunnel}")
            self._ppp(link, link.ppp.start(now), now, out)
        self._touch(link)

    def _ppp(self, link: _Link, result, now: float, out: _Out) -> None:
        """Send PPP frames as L2TP data messages of the call; report what PPP said (after what the
        frames and any answer to them sent and said)."""
        if link.cc.session_state == "established":
            for frame in result.frames:
                self._send(link, encode_data(link.cc.peer_tunnel, link.cc.peer_session, frame), now, out)
        notes = []
        for e in result.events:
            kind = type(e)      # PPP's event classes have no subclasses: one lookup, not a chain of isinstance
            if kind is ppp_events.AuthSucceeded:
                link.auth = "succeeded"
            elif kind is ppp_events.AuthFailed or (kind is ppp_events.LinkFailed and e.code == Reason.PPP_AUTH_FAILED):
                link.auth = "failed"
            elif kind is ppp_events.StateReached and e.state == "Authenticate" and link.auth == "not-started":
                link.auth = "started"
            notes.append(PppState(now, self.name, "PPP", e.describe(), getattr(e, "code", None)))
            if kind is ppp_events.AddressAssigned and link.cc.role == "lac":
                notes.append(PppState(now, self.name, "PPP", f"pings {e.peer_address} from {e.address} through the VPN"))
                self._ppp(link, link.ppp.send_ip(_ping(e.address, e.peer_address, ECHO_REQUEST), now), now, out)
            elif kind is ppp_events.IpReceived:
                self._icmp(link, e.packet, now, notes, out)
        self._touch(link)
        out.events += notes

    def _icmp(self, link: _Link, packet: bytes, now: float, notes: list, out: _Out) -> None:
        """The LNS answers an echo to its end of the link; the LAC notes the reply to its ping."""
        try:
            d = decode_datagram(packet)
            echo = decode_echo(d.payload) if d.proto == ICMP_PROTO else None
        except DecodeError as exc:
            notes.append(PppState(now, self.name, "PPP", f"IPv4 packet dropped: {exc}", Reason.INNER_MALFORMED))
            return
        if echo is None or d.dst.ip != link.ppp.address:
            return
        if echo.type == ECHO_REQUEST:
            notes.append(PppState(now, self.name, "PPP", f"answers the ping from {d.src.ip}"))
            reply = encode_datagram(Datagram(d.dst, d.src, ICMP_PROTO, echo.reply().encode()))
            self._ppp(link, link.ppp.send_ip(reply, now), now, out)
        elif echo.type == ECHO_REPLY and echo.ident == _PING_ID:
            link.ping = True
            notes.append(PppState(now, self.name, "PPP", f"ping reply from {d.src.ip}: the VPN carries IP both ways"))

    def _new_link(self, child, role: str) -> _Link:
        link = _Link(ControlConnection(role, self._next_id, host_name=self.name, session_id=self._next_id), child)
        self._next_id = self._next_id % 0xFFFF + 1
        self.links[child.spi_in] = link
        self._by_ike.setdefault(id(child.ike), link)
        link.order = next(self._seq)
        return link

    def _tunnel_of(self, ike) -> _Link | None:
        """The tunnel already carried under this IKE SA (a phase-2 rekey), or None. The index holds
        until a phase-1 rekey re-homes IPsec SAs onto a new IKE SA (the peer then has `retired` SAs):
        from then on every link is asked."""
        if getattr(self.peer, "retired", None):
            return next((k for k in self.links.values() if k.child.ike is ike), None)
        link = self._by_ike.get(id(ike))
        return link if link is not None and link.child.ike is ike and self.links.get(link.child.spi_in) is link \
            else None

    def _rebind(self, link: _Link, child) -> _Link:
        """Carry the tunnel on to the newer SA (quick mode re-key): L2TP does not notice IPsec."""
        self.links = {spi: k for spi, k in self.links.items() if k is not link}
        link.child = child
        self._by_ike.setdefault(id(child.ike), link)
        self.links[child.spi_in] = link
        link.order = next(self._seq)           # re-inserted: last in `links`, as the dict has it
        self._touch(link)
        return link

    def _react(self, result: Output, now: float, out: _Out) -> None:
        """The peer's output, then what L2TP and PPP do about its events, into `out`."""
        out.datagrams += result.datagrams
        out.events += result.events
        for event in result.events:     # ESP payloads are most of them: asked first
            kind = type(event)
            if kind in _DATA_TYPES:
                spi = int(event.spi, 16)
                if self.spd is not None and (child := self.peer.children.get(spi)) is not None:
                    verdict = self.spd.inbound(child)
                    if not verdict.ok:
                        self.refused.setdefault(child.spi_out, (verdict.text, verdict.code))
                        out.events.append(PacketDropped(now, self.name, f"policy check: {verdict.text}", verdict.code,
                                                        layer="IPsec", spi=f"{spi:08x}"))
                        continue
                link = self.links.get(spi)
                if link is not None:
                    try:
                        data = data_parts(event.payload)     # None: a control message
                    except DecodeError:
                        continue
                    if data is not None:
                        if link.ppp is not None and data[0] == link.cc.tunnel_id and data[1] == link.cc.session_id:
                            self._ppp(link, link.ppp.receive(data[2], now), now, out)
                        continue
                if link is None and self.role == "server":
                    child = self.peer.children.get(spi)
                    if child is None:
                        continue
                    link = self._tunnel_of(child.ike)
                    link = self._rebind(link, child) if link else self._new_link(child, "lns")
                if link is None:
                    continue
                try:
                    packets = link.cc.receive(event.payload, now)
                except DecodeError:
                    continue
                self._emit(link, packets, now, out)
            elif kind in _PHASE2_TYPES:
                if self.spd is not None:
                    child = self.peer.children.get(int(event.spi_in, 16))
                    if child is not None and not child.tunnel:
                        self._install(child, now, out)
                elif self.role == "client":
                    child = self.peer.children.get(int(event.spi_in, 16))
                    if child is None or child.spi_in in self.links:
                        continue
                    if self.links:                      # a new SA for the same tunnel (phase 2 re-key)
                        self._rebind(next(iter(self.links.values())), child)
                        continue
                    link = self._new_link(child, "lac")
                    self._emit(link, link.cc.start(now), now, out)

    def spd_rows(self) -> tuple:
        """The server's SPD as table rows (empty for a client)."""
        return self.spd.rows() if self.spd else ()

    def vpn(self) -> dict:
        """The client's VPN, layer by layer, as report.json shows it, with the first failing layer's
        reason (L2TP, then PPP)."""
        link = next(iter(self.links.values()), None)
        tunnel = link.cc.tunnel_state if link else "not-started"
        session = link.cc.session_state if link and link.cc.session_state != "idle" else "not-started"
        ended = next((n for n in reversed(link.cc.notes) if n.code), None) if link else None
        reason, code = (ended.text, ended.code) if ended else (None, None)
        ppp = link.ppp if link else None
        if reason is None and ppp is not None and ppp.failed is not None:
            reason, code = ppp.failed.describe(), ppp.failed.code
        return {"l2tp_tunnel": tunnel, "l2tp_session": session, "ppp_auth": link.auth if link else "not-started",
                "address": ppp.address if ppp else None, "ping": bool(link and link.ping), "reason": reason,
                "reason_code": code.value if code else None}


_PING_ID = 0x4C32      #: the echo identifier of the client's ping ("L2")


_PING_DATA = bytes(range(0x61, 0x61 + 23)) + bytes(range(0x61, 0x61 + 9))     #: "abc...wabcdefghi"


def _ping(src: str, dst: str, kind: int) -> bytes:
    """An IPv4 ICMP echo (RFC 792) of 32 bytes of data, as Windows' ping sends."""
    echo = Echo(kind, _PING_ID, 1, _PING_DATA).encode()
    return encode_datagram(Datagram(Endpoint(src), Endpoint(dst), ICMP_PROTO, echo))



#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
