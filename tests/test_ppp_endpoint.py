"""PPP client and server talking directly: LCP, authentication, IPCP, timers, failures with codes;
tshark dissects the frames wrapped in L2TP/UDP/IPv4."""
from __future__ import annotations

import shutil
import subprocess

import pytest
from scapy.layers.inet import ICMP, IP

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import ConfigError
from natt_core.pcap import write_pcap
from natt_core.ppp import PppEndpoint, PppPolicy
from natt_core.ppp import events as ev
from natt_core.ppp.options import AddressPool
from natt_core.reasons import Reason
from natt_core.wire import ppp as wire
from natt_core.wire.ip import encode_datagram


class Link:
    """Delivers frames in order between two endpoints on a virtual clock; can drop or alter frames."""

    def __init__(self, client, server, drop=lambda who, frame, n: False, alter=lambda who, frame: frame):
        self.ends = {"client": client, "server": server}
        self.drop, self.alter = drop, alter
        self.now = 0.0
        self.log: list[tuple[float, str, bytes]] = []
        self.events = {"client": [], "server": []}
        self.queue: list[tuple[str, bytes]] = []
        self.sent = 0

    def _take(self, who, out):
        self.events[who] += out.events
        for f in out.frames:
            self.sent += 1
            if not self.drop(who, f, self.sent):
                self.queue.append((who, self.alter(who, f)))

    def run(self, until: float = 120.0, start=True):
        if start:
            for who in ("client", "server"):
                self._take(who, self.ends[who].start(self.now))
        while self.now <= until:
            while self.queue:
                who, f = self.queue.pop(0)
                self.log.append((self.now, who, f))
                other = "server" if who == "client" else "client"
                self._take(other, self.ends[other].receive(f, self.now))
            timers = [(e.next_timer(), w) for w, e in self.ends.items() if e.next_timer() is not None]
            if not timers:
                break
            t, who = min(timers)
            self.now = max(self.now, t)
            self._take(who, self.ends[who].on_timer(self.now))
        return self

    def of(self, who, kind):
        return [e for e in self.events[who] if isinstance(e, kind)]


def pair(client_policy=None, server_policy=None, **kw):
    c = PppEndpoint("client", client_policy or PppPolicy(user="alice", password="s3cret"), rng=1)
    s = PppEndpoint("server", server_policy or PppPolicy(users={"alice": "s3cret"}, dns=("10.99.0.1", "9.9.9.9")),
                    rng=2)
    return c, s, Link(c, s, **kw).run()


def test_client_and_server_reach_an_assigned_address_with_mschapv2():
    c, s, link = pair()
    assert c.address == "10.99.0.10" and c.peer_address == "10.99.0.1"
    assert s.address == "10.99.0.1" and s.peer_address == "10.99.0.10"
    (assigned,) = link.of("client", ev.AddressAssigned)
    assert assigned.dns == ("10.99.0.1", "9.9.9.9")
    assert [a.method for a in link.of("client", ev.AuthSucceeded)] == ["mschapv2"]
    assert [a.user for a in link.of("server", ev.AuthSucceeded)] == ["alice"]
    phases = [e.state for e in link.events["client"] if isinstance(e, ev.StateReached) and e.layer == "PPP"]
    assert phases == ["Establish", "Authenticate", "Network"]
    assert link.now == 0.0                                   # nothing had to be retransmitted
    # the server asked for MS-CHAPv2 with the option bytes of RFC 2759 §2
    first = wire.decode(link.log[1][2]).packet
    assert link.log[1][1] == "server" and wire.auth_protocol(0xC223, 0x81) in first.options
    # the client's MS-CHAPv2 Response is the 49-byte layout; the Success carries S=
    chap = [wire.decode(f).packet for _, _, f in link.log if wire.decode(f).protocol == wire.Proto.CHAP]
    assert [p.code for p in chap] == [1, 2, 3]
    assert len(chap[1].value) == 49 and chap[1].name == b"alice"
    assert wire.decode_mschapv2_success(chap[2].message).message == "Access granted"


def test_ipv4_and_lcp_echo_through_the_link():
    c, s, link = pair()
    ping = bytes(IP(src=c.address, dst="10.0.0.5") / ICMP(id=7, seq=1) / b"x")
    (frame,) = c.send_ip(ping, link.now).frames
    assert frame[:4] == bytes.fromhex("FF 03 00 21")
    (got,) = s.receive(frame, link.now).events
    assert isinstance(got, ev.IpReceived) and got.packet == ping
    (req,) = c.echo(link.now, b"hello").frames
    (reply,) = s.receive(req, link.now).frames
    (echoed,) = c.receive(reply, link.now).events
    assert isinstance(echoed, ev.EchoReplied) and echoed.magic == s.lcp.magic != 0


def test_wrong_password_fails_with_code_on_both_sides():
    c, s, link = pair(PppPolicy(user="alice", password="wrong"))
    assert c.address is None and s.address is None
    (cf,) = link.of("client", ev.AuthFailed)
    (sf,) = link.of("server", ev.AuthFailed)
    assert cf.code is sf.code is Reason.PPP_AUTH_FAILED
    assert "E=691" in cf.reason
    assert c.failed.layer == "authentication" and c.failed.code is Reason.PPP_AUTH_FAILED
    # the link is terminated (LCP Terminate-Request/Ack), no IPCP was ever sent
    codes = [(wire.decode(f).protocol, wire.decode(f).packet.code) for _, _, f in link.log]
    assert (wire.Proto.LCP, 5) in codes and (wire.Proto.LCP, 6) in codes
    assert not any(p == wire.Proto.IPCP for p, _ in codes)


def test_unknown_user_fails_too():
    c, s, link = pair(PppPolicy(user="mallory", password="s3cret"))
    (sf,) = link.of("server", ev.AuthFailed)
    assert "unknown user" in sf.reason and sf.code is Reason.PPP_AUTH_FAILED


@pytest.mark.parametrize("method", ["chap-md5", "pap"])
def test_chap_md5_and_pap_by_policy(method):
    c, s, link = pair(PppPolicy(auth=(method,), user="alice", password="s3cret"),
                      PppPolicy(auth=("mschapv2", method), users={"alice": "s3cret"}))
    assert c.address == "10.99.0.10"
    assert [a.method for a in link.of("server", ev.AuthSucceeded)] == [method]
    # the client Nak'd MS-CHAPv2 with its own choice (RFC 1661 §6.2)
    naks = [wire.decode(f).packet for _, who, f in link.log if who == "client"
            and wire.decode(f).protocol == wire.Proto.LCP and wire.decode(f).packet.code == 3]
    assert naks and naks[0].options[0] == wire.auth_protocol(*((0xC223, 5) if method == "chap-md5" else (0xC023,)))


def test_chap_md5_response_is_rfc_1994():
    c, s, link = pair(PppPolicy(auth=("chap-md5",), user="alice", password="s3cret"),
                      PppPolicy(auth=("chap-md5",), users={"alice": "s3cret"}))
    import hashlib
    chap = [wire.decode(f).packet for _, _, f in link.log if wire.decode(f).protocol == wire.Proto.CHAP]
    assert chap[1].value == hashlib.md5(bytes([chap[0].identifier]) + b"s3cret" + chap[0].value).digest()


def test_wrong_pap_password():
    c, s, link = pair(PppPolicy(auth=("pap",), user="alice", password="x"), PppPolicy(auth=("pap",), users={"alice": "y"}))
    assert link.of("client", ev.AuthFailed)[0].code is Reason.PPP_AUTH_FAILED


def test_no_common_authentication_protocol():
    c, s, link = pair(PppPolicy(auth=("pap",), user="alice", password="s3cret"), PppPolicy(auth=("mschapv2",)))
    assert s.failed.code is Reason.PPP_AUTH_PROTOCOL_REFUSED
    assert c.address is None


def test_a_server_that_does_not_know_the_password_is_caught_by_the_client():
    def forge(who, frame):
        d = wire.decode(frame)
        if d.protocol == wire.Proto.CHAP and d.packet.code == 3:
            bad = wire.ChapPacket(3, d.packet.identifier, message=b"S=" + b"0" * 40 + b" M=ok")
            return wire.encode_frame(wire.Proto.CHAP, bad.encode())
        return frame
    c, s, link = pair(alter=forge)
    (cf,) = link.of("client", ev.AuthFailed)
    assert cf.code is Reason.PPP_AUTHENTICATOR_INVALID and c.address is None


def test_lost_frames_are_retransmitted_on_the_restart_timer():
    # lose the first LCP Configure-Request of each side, and the first CHAP Challenge
    lost = {1, 2}
    def drop(who, frame, n):
        d = wire.decode(frame)
        if d.protocol == wire.Proto.CHAP and d.packet.code == 1 and "chap" not in lost:
            lost.add("chap")
            return True
        return n in {1, 2}
    c, s, link = pair(drop=drop)
    assert c.address == "10.99.0.10"
    assert link.now == pytest.approx(6.0)    # two Restart-timer periods of 3 s: LCP, then the Challenge


def test_silence_ends_lcp_after_max_configure():
    c = PppEndpoint("client", PppPolicy(max_configure=4, restart=2.0), rng=1)
    out = c.start(0.0)
    sent, now = len(out.frames), 0.0
    events = list(out.events)
    while c.next_timer() is not None:
        now = c.next_timer()
        o = c.on_timer(now)
        sent += len(o.frames)
        events += o.events
    assert sent == 4 and now == 8.0
    assert c.failed.layer == "LCP" and c.failed.code is Reason.LCP_NEGOTIATION_FAILED


def test_pool_exhausted_is_an_ipcp_failure():
    pool = AddressPool("10.99.0.10", "10.99.0.10")
    policy = PppPolicy(users={"alice": "s3cret", "bob": "pw"})
    first = Link(PppEndpoint("client", PppPolicy(user="alice", password="s3cret"), rng=1),
                 PppEndpoint("server", policy, rng=2, pool=pool, client_id="one")).run()
    assert first.ends["client"].address == "10.99.0.10"
    second = Link(PppEndpoint("client", PppPolicy(user="bob", password="pw"), rng=3),
                  PppEndpoint("server", policy, rng=4, pool=pool, client_id="two")).run()
    assert second.ends["server"].failed.code is Reason.IPCP_FAILED
    assert second.ends["client"].address is None


def test_looped_back_magic_number_is_naked():
    c = PppEndpoint("client", PppPolicy(), rng=1)
    (req,) = c.start(0).frames
    (nak,) = c.receive(req, 0).frames          # our own request, looped back
    p = wire.decode(nak).packet
    assert p.code == 3 and p.options[0].type == wire.LcpOpt.MAGIC and p.options[0].number != c.lcp.magic


def test_garbage_and_early_frames_are_dropped_with_codes():
    c = PppEndpoint("client", PppPolicy(), rng=1)
    c.start(0)
    (d,) = c.receive(b"\xff\x03\xc0", 0).events
    assert d.code is Reason.MALFORMED
    ipcp = wire.encode_frame(wire.Proto.IPCP, wire.ControlPacket(1, 1).encode())
    assert c.receive(ipcp, 0).events[0].code is Reason.UNEXPECTED_MESSAGE
    with pytest.raises(ConfigError):
        c.send_ip(b"x", 0)
    with pytest.raises(ConfigError):
        PppPolicy(auth=("kerberos",))


def test_unknown_protocol_is_protocol_rejected_once_open():
    c, s, link = pair()
    (rej,) = c.receive(wire.encode_frame(0x80FD, b"\x01\x01\x00\x04"), link.now).frames   # CCP
    p = wire.decode(rej).packet
    assert p.code == 8 and p.rejected_protocol == 0x80FD


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")
def test_tshark_dissects_ppp_in_l2tp_without_malformed_packets(tmp_path):
    c, s, link = pair()
    ping = bytes(IP(src=c.address, dst="10.99.0.1") / ICMP(id=7, seq=1) / b"abc")
    link.log.append((link.now, "client", c.send_ip(ping, link.now).frames[0]))
    records = []
    for t, who, frame in link.log:
        l2tp = bytes.fromhex("0002") + (7 if who == "client" else 3).to_bytes(2, "big") + (9).to_bytes(2, "big") + frame
        src, dst = ("192.168.11.20", "203.0.113.10") if who == "client" else ("203.0.113.10", "192.168.11.20")
        records.append((t, encode_datagram(Datagram(Endpoint(src, 1701), Endpoint(dst, 1701), 17, l2tp))))
    path = tmp_path / "ppp.pcap"
    write_pcap(path, records)
    fields = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-E", "separator=|", "-e", "frame.protocols",
                             "-e", "_ws.malformed", "-e", "_ws.expert.message"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(fields) == len(records)
    assert not any("malformed" in line.lower() for line in fields), fields
    joined = "\n".join(fields)
    for proto in ("l2tp", "lcp", "chap", "ipcp", "icmp"):
        assert f":{proto}" in joined, (proto, fields)
    acked = subprocess.run(["tshark", "-r", str(path), "-Y", "ipcp && ppp.code == 2", "-T", "fields",
                            "-e", "ipcp.opt.ip_address", "-e", "ipcp.opt.pri_dns_address"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert "10.99.0.10" in acked and "10.99.0.1" in acked
    chap = subprocess.run(["tshark", "-r", str(path), "-Y", "chap.code == 3", "-T", "fields", "-e", "chap.message"],
                          capture_output=True, text=True, check=True).stdout
    assert chap.startswith("S=") and "M=Access granted" in chap


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([0xC021, 0x8021, 0xC223, 0xC023, 0x0021, 0x80FD]), st.binary(max_size=60),
       st.sampled_from(["start", "open"]))
def test_any_frame_in_any_phase_gives_events_never_exceptions(proto, body, phase):
    if phase == "open":
        c, s, link = pair()
    else:
        c = PppEndpoint("client", PppPolicy(), rng=1)
        s = PppEndpoint("server", PppPolicy(), rng=2)
        c.start(0.0), s.start(0.0)
    for end in (c, s):
        out = end.receive(wire.encode_frame(proto, body), 1.0)
        assert all(hasattr(e, "describe") for e in out.events)
        end.on_timer(100.0)


def test_max_failure_turns_naks_into_a_reject():
    s = PppEndpoint("server", PppPolicy(max_failure=3), rng=2)
    s.start(0.0)
    stubborn = wire.encode_frame(wire.Proto.LCP, wire.ControlPacket(1, 9, (wire.mru(64),)).encode())
    codes = [wire.decode(s.receive(stubborn, 0.0).frames[0]).packet.code for _ in range(5)]
    assert codes == [3, 3, 3, 4, 4]          # RFC 1661 §4.6 Max-Failure: after 3 Naks, Configure-Reject


def test_chap_md5_known_answer():
    from natt_core.ppp.auth import chap_md5
    # RFC 1994 §4.1 value = MD5(Identifier | secret | Challenge); vector from the project's L2TP/PPP facts (§2.4)
    assert chap_md5(1, "secret", bytes(range(16))).hex() == "740e86463bda3a4d7017d6e0fba0699d"
