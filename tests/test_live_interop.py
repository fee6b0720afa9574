"""Live interop: our engine against strongSwan's charon through a real Linux NAT, both directions.

The client side sits behind a netfilter NAT in its own network namespace (MASQUERADE, or nft
masquerade to ports 40000-40100); charon runs with kernel-libipsec (this kernel has no ESP), so
its traffic is always ESP-in-UDP tunnel mode (RFC 3948). Captures on both sides of the NAT show
what really crossed it. Skipped, with the reason, without root, charon or the network tools.
"""
from __future__ import annotations

import itertools
import os
import subprocess
from dataclasses import replace

import pytest

from natt_core.lab.presets import preset
from natt_core.live.interop import CLIENT_INNER, SERVER_INNER, live_scenario, run_interop, why_not_live
from natt_core.live.netns import PORT_RANGE, Addresses


WHY_NOT = why_not_live()
pytestmark = [pytest.mark.live, pytest.mark.skipif(WHY_NOT is not None, reason=f"live tests: {WHY_NOT}")]

ADDR = Addresses()
MESSAGE = b"through the tunnel"
_serial = itertools.count()
#: charon's answer to a bad MM5 goes to UDP 500 and cannot be verified; our peer gives up on MM5
FAST_GIVE_UP = dict(retransmit_interval=0.25, retransmit_max_interval=0.5, retransmit_tries=3)


@pytest.fixture
def live(tmp_path):
    """run_interop with a unique lab tag; afterwards nothing of the lab may be left running."""
    tags, pids = [], []

    def run(scenario, direction, **kw):
        tag = f"{os.getpid() % 100000}-{next(_serial)}"
        tags.append(tag)
        result = run_interop(scenario, direction, tmp_path / tag, tag=tag, **kw)
        pids.append(result.charon_pid)
        return result
    yield run
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not [t for t in tags if f"natt-{t}-" in namespaces], namespaces
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"charon {pid} still running"


def scenario(**policy):
    s = live_scenario(preset("client-behind-nat"))
    return replace(s, client=replace(s.client, **policy), server=replace(s.server, **policy)) if policy else s


def udp_packets(path):
    from scapy.all import IP, UDP, rdpcap
    return [(p[IP].src, p[UDP].sport, p[IP].dst, p[UDP].dport, bytes(p[UDP].payload), p[UDP].chksum)
            for p in rdpcap(str(path)) if UDP in p]


def story(r) -> str:
    """Our peer's events in plain words, for assertion messages."""
    return "\n".join(e.describe() for e in r.events)


def check_nat_crossing(r, nat: str, ours: str) -> None:
    """The server side of the NAT sees only the NAT's public address; IKE floats to 4500 with the marker;
    our ESP-in-UDP leaves with UDP checksum 0 (RFC 3948 §2.1) and `ours` (our address as seen there)."""
    outside = udp_packets(r.captures["server-side"])
    inside = udp_packets(r.captures["client-side"])
    assert {src for src, *_ in outside} | {dst for _, _, dst, *_ in outside} == {ADDR.nat_public, ADDR.server}
    assert {src for src, *_ in inside} | {dst for _, _, dst, *_ in inside} == {ADDR.client, ADDR.server}
    ike_4500 = [p for p in outside if p[3] == 4500 and p[4][:4] == bytes(4)]
    assert ike_4500 and ike_4500[0][0] == ADDR.nat_public, "no IKE behind the non-ESP marker reached the server on 4500"
    esp = [p for p in outside if 4500 in (p[1], p[3]) and len(p[4]) > 8 and p[4][:4] != bytes(4)]
    assert len(esp) >= 2, "ESP-in-UDP in both directions"
    assert [p[5] for p in esp if p[0] == ours] == [0], "our one ESP-in-UDP datagram, checksum 0"
    if nat == "port-range":
        lo, hi = PORT_RANGE
        assert all(lo <= sport <= hi for src, sport, *_ in outside if src == ADDR.nat_public)
    assert "dport=4500" in r.nat_table


def check_echo(r, our_inner: str, their_inner: str) -> None:
    assert [data for _, data in r.echo_seen] == [MESSAGE]
    assert r.echo_seen[0][0] == (our_inner, 1701)
    got = r.of("DataReceived")
    assert [e.payload for e in got] == [b"echo:" + MESSAGE]
    assert got[0].inner.startswith(f"UDP {their_inner}:1701 → {our_inner}:1701")


@pytest.mark.parametrize("nat", ["masquerade", "port-range"])
def test_our_initiator_behind_nat_to_charon_responder(live, nat):
    r = live(scenario(), "to-charon", nat=nat, message=MESSAGE)
    assert r.of("Phase2Established"), story(r)
    natd = r.of("NatDetected")
    assert natd and natd[0].self_behind_nat, "NAT-D must find the real NAT in front of us"
    assert r.of("Floated")[0].remote == f"{ADDR.server}:4500"
    p1 = r.of("Phase1Established")[0]
    assert p1.nat_t == "rfc3947"
    p2 = r.of("Phase2Established")[0]
    assert (p2.mode, p2.encapsulation) == ("udp-tunnel", 3)    # RFC 3947 §5.1 UDP-Encapsulated-Tunnel
    assert "ESTABLISHED, IKEv1" in r.sas and "INSTALLED, TUNNEL-in-UDP" in r.sas
    assert f"remote '{ADDR.client}' @ {ADDR.nat_public}[" in r.sas
    assert f"out {p2.spi_in}" in r.sas and f"in  {p2.spi_out}" in r.sas
    check_echo(r, CLIENT_INNER, ADDR.server)
    check_nat_crossing(r, nat, ours=ADDR.nat_public)
    assert r.handshake is not None and r.handshake < 2.0


@pytest.mark.parametrize("nat", ["masquerade", "port-range"])
def test_charon_initiator_behind_nat_to_our_responder(live, nat):
    r = live(scenario(), "from-charon", nat=nat, message=MESSAGE)
    assert r.of("Phase2Established"), story(r)
    assert r.initiated and r.initiated[0], r.initiated
    natd = r.of("NatDetected")[0]
    assert natd.peer_behind_nat and not natd.self_behind_nat
    assert natd.peer_seen.startswith(f"{ADDR.nat_public}:")
    assert r.of("Floated")[0].local_port == 4500
    p2 = r.of("Phase2Established")[0]
    assert (p2.mode, p2.encapsulation) == ("udp-tunnel", 3)
    assert "ESTABLISHED, IKEv1" in r.sas and "INSTALLED, TUNNEL-in-UDP" in r.sas
    assert f"local  '{ADDR.client}' @ {ADDR.client}[4500]" in r.sas
    assert f"{CLIENT_INNER}/32[udp/l2f]" in r.sas and f"{SERVER_INNER}/32[udp/l2f]" in r.sas
    check_echo(r, SERVER_INNER, CLIENT_INNER)
    check_nat_crossing(r, nat, ours=ADDR.server)
    assert r.handshake is not None and r.handshake < 2.0


SUITES = {
    "aes128-sha1-modp2048": (dict(ike_ciphers=("aes-cbc-128",), dh_groups=(14,), esp_ciphers=("aes-cbc-128",)),
                             "AES_CBC-128/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_2048", "ESP:AES_CBC-128/HMAC_SHA1_96"),
    "3des-sha1-modp1024": (dict(ike_ciphers=("3des-cbc",), dh_groups=(2,), esp_ciphers=("3des-cbc",)),
                           "3DES_CBC/HMAC_SHA1_96/PRF_HMAC_SHA1/MODP_1024", "ESP:3DES_CBC/HMAC_SHA1_96"),
}


@pytest.mark.parametrize("direction", ["to-charon", "from-charon"])
@pytest.mark.parametrize("suite", list(SUITES))
def test_cipher_suites_both_directions(live, suite, direction):
    policy, charon_ike, charon_esp = SUITES[suite]
    r = live(scenario(**policy), direction, message=MESSAGE)
    assert r.of("Phase2Established"), story(r)
    p1 = r.of("Phase1Established")[0]
    assert (p1.cipher, p1.hash, p1.dh_group) == (policy["ike_ciphers"][0], "sha1", policy["dh_groups"][0])
    assert r.of("Phase2Established")
    assert charon_ike in r.sas and charon_esp in r.sas
    assert [e.payload for e in r.of("DataReceived")] == [b"echo:" + MESSAGE]


def test_wrong_psk_on_our_initiator_fails_cleanly_on_both_sides(live):
    s = scenario()
    s = replace(s, client=replace(s.client, psk="not-the-servers-key", **FAST_GIVE_UP))
    r = live(s, "to-charon", timeout=4.0)
    assert not r.of("Phase1Established") and not r.of("Phase2Established")
    assert r.of("AuthenticationFailed"), story(r)
    assert [row.state for row in r.driver.peer.isakmp_rows()] == ["FAILED"]
    assert "ESTABLISHED" not in r.sas
    assert any("could not decrypt payloads" in line for line in r.charon_log.splitlines())


def test_wrong_psk_on_charon_initiator_fails_cleanly_on_both_sides(live):
    s = scenario()
    s = replace(s, server=replace(s.server, psk="not-the-clients-key"))
    r = live(s, "from-charon", timeout=4.0)
    assert not r.of("Phase1Established") and not r.of("Phase2Established")
    failed = r.of("AuthenticationFailed")
    assert failed, story(r)
    assert "pre-shared keys differ" in failed[0].reason
    assert r.initiated is not None and not r.initiated[0]
    assert "ESTABLISHED" not in r.sas
    assert "establishing IKE_SA failed" in r.initiated[1] or "initiate failed" in r.initiated[1]


def test_a_real_strongswan_capture_is_diagnosed_without_keys(live):
    """The server-side tcpdump of a real charon exchange, read back by the diagnosis: the float and
    both phases are seen; the NAT verdict names the initiator (charon fakes only its own NAT-D)."""
    from natt_core.analysis import diagnose
    r = live(scenario(), "from-charon", nat="masquerade", message=MESSAGE)
    assert r.of("Phase2Established"), story(r)
    d = diagnose(r.captures["server-side"].read_bytes())
    titles = [f.title for f in d.findings]
    assert "Floated to UDP 4500 at MM5" in titles and "Phase 1 established (MM6 answered MM5)" in titles
    assert "Quick Mode completed" in titles
    assert d.exchanges[0].nat.initiator_behind_nat
    assert any(f.title.startswith("ESP-in-UDP") for f in d.findings)
