"""The virtual network: clock order, delivery, NAT hops, double NAT, impairments, 1000 clients."""
from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import ConfigError
from natt_core.net.clock import VirtualClock
from natt_core.net.impair import Impairment
from natt_core.net.nat import Forward, Nat, NatConfig
from natt_core.net.network import HopRecord, NatMappingExpired, Network
from natt_core.output import EMPTY, Event, Output
from natt_core.reasons import Reason
from natt_core.wire.ip import decode_datagram
from natt_core.wire.numbers import IPProto

CLIENT, PUBLIC, SERVER = "192.168.11.20", "192.168.1.30", "192.168.1.10"


@dataclass(frozen=True)
class Sent(Event):
    payload: bytes = b""


class Echo:
    """Answers every UDP datagram to where it came from (the observed source, as NAT-T does)."""

    def __init__(self, name: str):
        self.name = name
        self.got: list[tuple[float, Datagram]] = []

    def receive(self, d: Datagram, now: float) -> Output:
        self.got.append((now, d))
        return Output((Datagram(d.dst, d.src, d.proto, b"echo " + d.payload),))

    def on_timer(self, now: float) -> Output:
        return EMPTY

    def next_timer(self) -> float | None:
        return None


class Pinger:
    """Sends `count` UDP datagrams every `interval` seconds, starting at `first`."""

    def __init__(self, name: str, src: Endpoint, dst: Endpoint, interval: float = 1.0,
                 count: int = 3, first: float = 0.0):
        self.name, self.src, self.dst = name, src, dst
        self.interval, self.count, self.due, self.sent = interval, count, first, 0
        self.got: list[tuple[float, Datagram]] = []

    def receive(self, d: Datagram, now: float) -> Output:
        self.got.append((now, d))
        return EMPTY

    def on_timer(self, now: float) -> Output:
        self.sent += 1
        self.due = now + self.interval
        payload = f"{self.name} #{self.sent}".encode()
        return Output((Datagram(self.src, self.dst, IPProto.UDP, payload),), (Sent(now, self.name, payload),))

    def next_timer(self) -> float | None:
        return self.due if self.sent < self.count else None


def recorder(net: Network) -> list[HopRecord]:
    records: list[HopRecord] = []
    net.on_hop.append(records.append)
    return records


def behind_nat(seed: int = 0, impairment: Impairment | None = None, **nat_kw) -> tuple[Network, Pinger, Echo]:
    net = Network(seed)
    net.add_segment("lan")
    net.add_segment("wan", impairment)
    nat_kw.setdefault("port_allocation", "sequential")
    nat = Nat(NatConfig(public_ip=PUBLIC, **nat_kw), random.Random(seed))
    net.add_nat(nat, "lan", "192.168.11.1", "wan")
    client = Pinger("client", Endpoint(CLIENT, 4500), Endpoint(SERVER, 4500))
    server = Echo("server")
    net.add_host(client, "lan", CLIENT, gateway="192.168.11.1")
    net.add_host(server, "wan", SERVER)
    return net, client, server


# ----------------------------------------------------------------- the clock
def test_clock_runs_by_time_then_insertion_order():
    clock, seen = VirtualClock(), []
    for t, tag in ((2.0, "c"), (1.0, "a"), (2.0, "d"), (1.0, "b")):
        clock.call_at(t, lambda now, tag=tag: seen.append((now, tag)))
    cancelled = clock.call_at(1.5, lambda now: seen.append((now, "x")))
    cancelled.cancel()
    assert clock.run_until(1.9) == 2 and clock.now == 1.9
    assert clock.run() == 2
    assert seen == [(1.0, "a"), (1.0, "b"), (2.0, "c"), (2.0, "d")]
    with pytest.raises(ConfigError, match="in the past"):
        clock.call_at(1.0, print)


def test_clock_posted_entries_share_the_order_and_are_never_cancelled():
    clock, seen = VirtualClock(), []
    clock.call_at(1.0, lambda now, tag: seen.append((now, tag)), "timer")
    clock.post(1.0, lambda now, a, b: seen.append((now, a + b)), ("po", "st"))
    early = clock.call_at(0.5, lambda now: seen.append((now, "cancelled")))
    clock.post(0.5, lambda now: seen.append((now, "first")), ())
    early.cancel()
    assert clock.pending() == 3 and clock.next_time() == 0.5
    assert clock.step() and seen == [(0.5, "first")]
    assert clock.run() == 2
    assert seen == [(0.5, "first"), (1.0, "timer"), (1.0, "post")] and clock.pending() == 0


def test_clock_timer_moved_later_keeps_the_order_cancel_and_call_at_give():
    def schedule(move):
        clock, seen = VirtualClock(), []
        log = lambda now, tag: seen.append((now, tag))     # noqa: E731
        moved = clock.call_at(1.0, log, "moved")
        clock.call_at(2.0, log, "before the move")
        clock.call_at(1.5, log, "early")
        move(clock, moved)
        clock.call_at(2.0, log, "after the move")
        assert clock.pending() == 4 and clock.next_time() == 1.5
        assert clock.run_until(1.9) == 1
        assert clock.run() == 3 and clock.pending() == 0
        return seen

    def cancel_and_call_at(clock, timer):
        timer.cancel()
        clock.call_at(2.0, timer.callback, *timer.args)

    expected = [(1.5, "early"), (2.0, "before the move"), (2.0, "moved"), (2.0, "after the move")]
    assert schedule(cancel_and_call_at) == expected
    assert schedule(lambda clock, timer: clock.move_later(timer, 2.0)) == expected


def test_clock_step_limit():
    clock = VirtualClock()

    def again(now):
        clock.call_at(now, again)
    clock.call_at(0.0, again)
    with pytest.raises(ConfigError, match="more than 50 callbacks"):
        clock.run(max_steps=50)


# ----------------------------------------------------------------- one segment
def test_two_hosts_on_one_segment():
    net = Network()
    net.add_segment("lan")
    a = Pinger("a", Endpoint("10.0.0.1", 1000), Endpoint("10.0.0.2", 7), count=2)
    b = Echo("b")
    net.add_host(a, "lan", "10.0.0.1")
    net.add_host(b, "lan", "10.0.0.2")
    records, events = recorder(net), []
    net.on_event.append(events.append)
    net.run(5.0)
    assert [(r.device, r.dst_host, r.direction, r.time) for r in records] == [
        ("a", "b", "local", 0.001), ("b", "a", "local", 0.002),
        ("a", "b", "local", 1.001), ("b", "a", "local", pytest.approx(1.002))]
    assert [r.seq for r in records] == [1, 2, 3, 4] and records[0].sent == 0.0
    assert [d.payload for _, d in a.got] == [b"echo a #1", b"echo a #2"]
    assert [e.payload for e in events] == [b"a #1", b"a #2"]
    assert net.clock.now == 5.0


def test_no_route_is_a_drop_with_a_reason():
    net = Network()
    net.add_segment("lan")
    net.add_host(Pinger("a", Endpoint("10.0.0.1", 1), Endpoint("10.9.9.9", 7), count=1), "lan", "10.0.0.1")
    records = recorder(net)
    net.run(1)
    [r] = records
    assert r.dropped == "no route to 10.9.9.9: nothing on segment 'lan' has that address and a has no gateway"
    assert r.drop_code is Reason.NO_ROUTE
    assert r.dst_host is None


# ----------------------------------------------------------------- through a NAT
def test_host_behind_nat_talks_to_outside_host():
    net, client, server = behind_nat()
    records, changes = recorder(net), []
    net.on_nat_change.append(lambda name, t, rows: changes.append((name, t, rows)))
    client.count = 1
    net.run(1.0)
    assert [(r.segment, r.device, r.dst_host, r.direction) for r in records] == [
        ("lan", "client", "nat", "outbound"), ("wan", "nat", "server", "outbound"),
        ("wan", "server", "nat", "inbound"), ("lan", "nat", "client", "inbound")]
    out_hop, back_hop = records[1], records[3]
    assert out_hop.before == records[0].packet and out_hop.src_host == "client"
    assert [c.name for c in out_hop.changes] == ["IPv4 source address", "UDP source port",
                                                 "IPv4 header checksum", "UDP checksum"]
    assert decode_datagram(out_hop.packet).src == Endpoint(PUBLIC, 49152)
    assert server.got[0][1].src == Endpoint(PUBLIC, 49152)  # what the server observes
    assert back_hop.before == records[2].packet and records[0].before is None
    assert client.got[0][1].dst == Endpoint(CLIENT, 4500)
    [(name, t, rows)] = changes
    assert (name, t, rows[0].outside) == ("nat", 0.001, f"{PUBLIC}:49152")


def test_unsolicited_inbound_dies_at_the_nat():
    net = Network()
    net.add_segment("lan"), net.add_segment("wan")
    net.add_nat(Nat(NatConfig(public_ip=PUBLIC), random.Random(1)), "lan", "192.168.11.1", "wan")
    net.add_host(Pinger("probe", Endpoint(SERVER, 4500), Endpoint(PUBLIC, 4500), count=1), "wan", SERVER)
    records = recorder(net)
    net.run(1)
    [r] = records
    assert (r.segment, r.dst_host, r.direction) == ("wan", "nat", "inbound")
    assert r.dropped.startswith(f"no mapping for UDP {SERVER}:4500 -> {PUBLIC}:4500")
    assert r.drop_code is Reason.NAT_NO_MAPPING


def test_mapping_expires_on_the_virtual_clock_without_keepalives():
    net, client, server = behind_nat(udp_timeout=30.0)
    client.count, client.interval = 2, 40.0   # the second datagram comes after the timeout
    events, records = [], recorder(net)
    net.on_event.append(events.append)
    net.run(100.0)
    expired = [e for e in events if isinstance(e, NatMappingExpired)]
    assert [(e.time, e.peer, e.row.outside) for e in expired] == [
        (30.001, "nat", f"{PUBLIC}:49152"), (70.001, "nat", f"{PUBLIC}:49153")]
    assert "removed the idle UDP mapping 192.168.11.20:4500 <-> 192.168.1.30:49152 at t=30.001s" \
        in expired[0].describe()
    outside_ports = [decode_datagram(r.packet).src.port for r in records
                     if r.segment == "wan" and r.device == "nat"]
    assert outside_ports == [49152, 49153]  # a new mapping: the server sees a new port
    assert net.nat("nat").table(100.0) == ()


def test_keepalives_keep_the_mapping():
    net, client, server = behind_nat(udp_timeout=30.0)
    client.count, client.interval = 6, 20.0  # like NAT-T keepalives every 20 s
    events = []
    net.on_event.append(events.append)
    net.run(101.0)
    assert not [e for e in events if isinstance(e, NatMappingExpired)]
    assert {d.src.port for _, d in server.got} == {49152} and len(client.got) == 6


def test_double_nat():
    net = Network(seed=3)
    for seg in ("home", "isp", "internet"):
        net.add_segment(seg)
    outer = Nat(NatConfig(name="cgnat", public_ip="203.0.113.1", port_allocation="sequential",
                          port_range=(20000, 20099)), random.Random(1))
    inner = Nat(NatConfig(name="homenat", public_ip="100.64.0.2", port_allocation="sequential",
                          port_range=(30000, 30099)), random.Random(2))
    net.add_nat(outer, "isp", "100.64.0.1", "internet")
    net.add_nat(inner, "home", "192.168.1.1", "isp", gateway="100.64.0.1")
    client = Pinger("client", Endpoint("192.168.1.10", 500), Endpoint("198.51.100.7", 500), count=1)
    server = Echo("server")
    net.add_host(client, "home", "192.168.1.10", gateway="192.168.1.1")
    net.add_host(server, "internet", "198.51.100.7")
    records = recorder(net)
    net.run(1)
    assert [(r.segment, r.device, r.dst_host, r.direction) for r in records] == [
        ("home", "client", "homenat", "outbound"), ("isp", "homenat", "cgnat", "outbound"),
        ("internet", "cgnat", "server", "outbound"), ("internet", "server", "cgnat", "inbound"),
        ("isp", "cgnat", "homenat", "inbound"), ("home", "homenat", "client", "inbound")]
    assert server.got[0][1].src == Endpoint("203.0.113.1", 20000)
    assert decode_datagram(records[1].packet).src == Endpoint("100.64.0.2", 30000)
    assert client.got[0][1].src == Endpoint("198.51.100.7", 500)


def test_server_behind_nat_with_forwards_and_static_nat():
    for kw in ({"forwards": (Forward(IPProto.UDP, 4500, Endpoint("10.1.1.5", 4500)),)},
               {"kind": "static"}):
        net = Network()
        net.add_segment("dmz"), net.add_segment("internet")
        net.add_nat(Nat(NatConfig(public_ip="203.0.113.1", **kw), random.Random(0)),
                    "dmz", "10.1.1.1", "internet")
        server = Echo("server")
        net.add_host(server, "dmz", "10.1.1.5", gateway="10.1.1.1")  # static: bound by default
        client = Pinger("client", Endpoint("198.51.100.7", 4500), Endpoint("203.0.113.1", 4500), count=1)
        net.add_host(client, "internet", "198.51.100.7")
        net.run(1)
        assert server.got[0][1].dst == Endpoint("10.1.1.5", 4500)
        assert client.got[0][1].src == Endpoint("203.0.113.1", 4500)


def test_plain_router_routes_to_addresses_behind_it():
    net = Network()
    net.add_segment("lan"), net.add_segment("wan")
    net.add_nat(Nat(NatConfig(kind="none", public_ip="198.51.100.1"), random.Random(0)),
                "lan", "10.0.0.1", "wan")
    inside = Echo("inside")
    net.add_host(inside, "lan", "10.0.0.5", gateway="10.0.0.1")
    net.add_host(Pinger("outside", Endpoint("198.51.100.7", 1), Endpoint("10.0.0.5", 7), count=1),
                 "wan", "198.51.100.7")
    records = recorder(net)
    net.run(1)
    assert inside.got[0][1].src == Endpoint("198.51.100.7", 1)  # nothing rewritten
    assert all(not r.changes and r.dropped is None for r in records) and len(records) == 4


# ----------------------------------------------------------------- impairments
def impaired_run(seed: int) -> list[tuple]:
    bad = Impairment(loss=0.2, duplicate=0.2, reorder=0.2, delay=0.01, jitter=0.005)
    net, client, _ = behind_nat(seed=seed, impairment=bad)
    client.count, client.interval = 40, 0.002  # back to back, so reordering can overtake
    records = recorder(net)
    net.run(5)
    return [(r.time, r.segment, r.device, r.packet, r.dropped, r.note, r.seq) for r in records]


def test_impairments_are_seeded_and_reproducible():
    first = impaired_run(11)
    assert first == impaired_run(11)
    assert first != impaired_run(12)
    drops = [r for r in first if r[4]]
    assert drops and all(r[4].startswith("lost on segment 'wan' (delay 10 ms, jitter 5 ms") for r in drops)
    assert any(r[5] == "duplicate copy" for r in first)
    assert any("reordered" in r[5] for r in first)
    wan_out = [r for r in first if r[1] == "wan" and r[2] == "nat" and not r[4]]
    payloads = [decode_datagram(r[3]).payload for r in wan_out]
    numbers = [int(p.split(b"#")[1]) for p in payloads]
    assert numbers != sorted(numbers)  # a later datagram overtook an earlier one


def test_impairment_validation_and_plan():
    with pytest.raises(ConfigError, match="loss must be 0.0..1.0"):
        Impairment(loss=1.5)
    with pytest.raises(ConfigError, match="delay must be >= 0.0"):
        Impairment(delay=-1)
    assert Impairment(loss=1.0).delays(random.Random(0)) == []
    assert Impairment(duplicate=1.0, delay=0.01).delays(random.Random(0)) == [0.01, 0.02]
    assert Impairment().delays(random.Random(0)) == [0.001]


# ----------------------------------------------------------------- scale
def test_thousand_clients_behind_one_napt_get_distinct_ports():
    net = Network(seed=5)
    net.add_segment("lan"), net.add_segment("wan")
    net.add_nat(Nat(NatConfig(public_ip=PUBLIC, port_allocation="random"), random.Random(5)),
                "lan", "10.0.0.1", "wan")
    server = Echo("server")
    net.add_host(server, "wan", SERVER)
    clients = []
    for i in range(1000):
        ip = f"10.0.{1 + i // 250}.{1 + i % 250}"
        c = Pinger(f"c{i}", Endpoint(ip, 4500), Endpoint(SERVER, 4500), interval=20.0, count=3,
                   first=i * 0.001)
        clients.append(c)
        net.add_host(c, "lan", ip, gateway="10.0.0.1")
    tables, records = [], recorder(net)
    net.on_nat_change.append(lambda name, t, rows: tables.append(len(rows)))
    net.run(60.0)     # how fast is `python -m natt_core bench`'s business, never a test's
    ports = {}
    for _, d in server.got:
        ports.setdefault(d.src.port, set()).add(d.payload.split(b" ")[0])
    assert len(ports) == 1000 and all(len(names) == 1 for names in ports.values())
    assert all(len(c.got) == 3 for c in clients) and len(records) == 12_000
    assert tables[-1] == 1000


def test_a_packet_the_host_cannot_decode_is_a_drop():
    class Corrupting(Nat):
        """A broken NAT that flips a payload byte without fixing the UDP checksum."""

        def outbound(self, packet, now):
            tr = super().outbound(packet, now)
            return type(tr)(tr.packet[:-1] + bytes([tr.packet[-1] ^ 1]), tr.changes, None, tr.mapping)

    net = Network()
    net.add_segment("lan"), net.add_segment("wan")
    net.add_nat(Corrupting(NatConfig(public_ip=PUBLIC), random.Random(0)), "lan", "192.168.11.1", "wan")
    server = Echo("server")
    net.add_host(Pinger("client", Endpoint(CLIENT, 1), Endpoint(SERVER, 7), count=1), "lan", CLIENT,
                 gateway="192.168.11.1")
    net.add_host(server, "wan", SERVER)
    records = recorder(net)
    net.run(1)
    assert records[-1].dropped == "server cannot decode the packet: UDP at offset 26: bad checksum"
    assert records[-1].dst_host == "server" and server.got == []


# ----------------------------------------------------------------- misuse
def test_topology_errors():
    net = Network()
    net.add_segment("lan")
    with pytest.raises(ConfigError, match="segments: lan"):
        net.add_host(Echo("x"), "nowhere", "10.0.0.1")
    net.add_host(Echo("x"), "lan", "10.0.0.1")
    with pytest.raises(ConfigError, match="already used by x"):
        net.add_host(Echo("y"), "lan", "10.0.0.1")
    with pytest.raises(ConfigError, match="must be a new"):
        net.add_host(Echo("x"), "lan", "10.0.0.2")
    with pytest.raises(ConfigError, match="unknown host 'nobody'"):
        net.deliver(EMPTY, "nobody")
    with pytest.raises(ConfigError, match="must be a new"):
        net.add_segment("lan")


def test_a_host_that_never_moves_its_timer_is_reported():
    class Stuck(Echo):
        def next_timer(self):
            return 1.0

    net = Network()
    net.add_segment("lan")
    net.add_host(Stuck("stuck"), "lan", "10.0.0.1")
    with pytest.raises(ConfigError, match="keeps asking for a timer at t=1.0"):
        net.run(2.0)


def test_start_delivers_immediately():
    net = Network()
    net.add_segment("lan")
    echo = Echo("b")
    a = Pinger("a", Endpoint("10.0.0.1", 9), Endpoint("10.0.0.2", 7), count=0)
    net.add_host(a, "lan", "10.0.0.1"), net.add_host(echo, "lan", "10.0.0.2")
    net.start("a", lambda now: Output((Datagram(a.src, a.dst, IPProto.UDP, b"hi"),)))
    net.run(0.01)
    assert echo.got[0][1].payload == b"hi" and a.got[0][1].payload == b"echo hi"
