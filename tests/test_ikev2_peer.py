"""The IKEv2 peer (natt_core.ike.v2.peer.Peer2): handshakes direct, through NATs and the lab's NAT
device; COOKIE, INVALID_KE, retransmission, wrong PSK, tampering, replay, delete, liveness.

Independent checks: tshark decrypts the IKE_AUTH exchange of a NATed run from the keys the peer
derived (so SK framing, ICVs and the key split are what Wireshark expects), and dissects the
ESP-in-UDP and keepalives on 4500.
"""
from __future__ import annotations

import random
import shutil
import subprocess
from dataclasses import replace

import pytest

from .helpers import CLIENT_IP, NAT_IP, SERVER_IP, SERVER_NAT_IP, SERVER_PRIVATE, Pair, forward, napt
from natt_core.addressing import Datagram, Endpoint
from natt_core.ike.policy import PeerPolicy
from natt_core.ike.states import State2, advance, Msg2
from natt_core.ike.v2.peer import Peer2
from natt_core.ike.v2.proposals import V2Options
from natt_core.errors import ProtocolError
from natt_core.net.nat import Nat
from natt_core.net.nat_config import NatConfig
from natt_core.net.network import Network
from natt_core.pcap import pcap_bytes
from natt_core.reasons import Reason
from natt_core.wire.ikev2 import KE, Notify, Unknown, decode_message, encode_message
from natt_core.wire.ikev2_numbers import NotifyType
from natt_core.wire.udp_encap import classify_4500, Kind


def pair(cp=None, sp=None, *, client_nat=False, server_nat=False, copt=None, sopt=None, seed=1) -> Pair:
    server_ip = SERVER_PRIVATE if server_nat else SERVER_IP
    client = Peer2("client", CLIENT_IP, cp or PeerPolicy(), rng=seed, options=copt)
    server = Peer2("server", server_ip, sp or PeerPolicy(), rng=seed + 1000, options=sopt)
    rewrites = []
    if client_nat:
        rewrites.append(napt(CLIENT_IP, NAT_IP))
    if server_nat:
        fwd = forward(SERVER_NAT_IP, SERVER_PRIVATE)
        fwd.public = SERVER_NAT_IP
        rewrites.append(fwd)
    return Pair(client, server, rewrites)


def established(p: Pair) -> bool:
    return all(any(sa.state is State2.ESTABLISHED for sa in peer.sas.values()) for peer in (p.client, p.server))


def data_both_ways(p: Pair) -> list:
    p.take(p.client.send_udp(b"to server", p.now))
    p.take(p.server.send_udp(b"to client", p.now))
    got = [(e.peer, e.payload) for e in p.events if e.kind == "DataReceived"]
    assert ("server", b"to server") in got and ("client", b"to client") in got
    return got


def codes(p: Pair, kind: str, peer: str | None = None) -> list:
    return [getattr(e, "code", None) for e in p.of(kind, peer)]


# --- handshakes -------------------------------------------------------------------------------

def test_no_nat_stays_on_500_and_uses_plain_esp():
    p = pair().connect()
    assert established(p) and not p.of("Floated")
    assert all(not (e.self_behind_nat or e.peer_behind_nat) for e in p.of("NatDetected"))
    assert len(p.of("NatDetected")) == 2
    data_both_ways(p)
    assert {d.dst.port for _, d in p.wire if d.proto == 17} == {500}
    assert any(d.proto == 50 for _, d in p.wire)
    assert [c.mode for c in p.client.children.values()] == ["transport"]
    assert sum(1 for _, d in p.wire if d.proto == 17) == 4   # four messages, IKEv1 needs nine


def test_client_behind_nat_floats_encapsulates_and_keeps_alive():
    p = pair(client_nat=True).connect()
    assert established(p)
    client_verdict, = p.of("NatDetected", "client")
    server_verdict, = p.of("NatDetected", "server")
    assert client_verdict.self_behind_nat and not client_verdict.peer_behind_nat
    assert server_verdict.peer_behind_nat and not server_verdict.self_behind_nat
    ike = [(d.dst.port, d.payload) for _, d in p.wire if d.proto == 17]
    assert ike[0][0] == 500 and ike[1][0] == 500              # IKE_SA_INIT on 500
    assert all(port == 4500 for port, _ in ike[2:])           # IKE_AUTH on 4500, behind the marker
    assert all(classify_4500(payload)[0] is Kind.IKE for _, payload in ike[2:])
    got = data_both_ways(p)
    assert len(got) == 2
    esp = [d for _, d in p.wire if d.label == "ESP-in-UDP"]
    assert esp and all(d.proto == 17 and 4500 in (d.src.port, d.dst.port) for d in esp)
    fixed = [e for e in p.of("DataReceived") if e.checksum_fixup]
    assert len(fixed) == 2   # transport mode: both inner checksums fixed from the traffic selectors
    p.advance(25.0)
    assert p.of("KeepaliveSent", "client") and not p.of("KeepaliveSent", "server")


def test_server_behind_nat_transport():
    p = pair(server_nat=True).connect()
    assert established(p) and p.of("Floated", "client")
    assert p.of("NatDetected", "client")[0].peer_behind_nat
    data_both_ways(p)


def test_tunnel_mode_and_narrowing_with_gcm_and_ecp256():
    opts = V2Options(ike_suites=("aes-gcm-16-128/sha256",), groups=(19,))
    cp = PeerPolicy(mode="tunnel", inner_address="10.10.0.2")
    sp = PeerPolicy(mode="tunnel", inner_address="10.20.0.1")
    p = pair(cp, sp, client_nat=True, copt=opts, sopt=V2Options(ike_suites=("aes-cbc-128/hmac-sha1-96/sha1",
                                                                          "aes-gcm-16-128/sha256"), groups=(14, 19)))
    p.connect()
    assert established(p)
    ike, = p.of("IkeSaEstablished", "client")
    assert (ike.encr, ike.prf, ike.dh_group) == ("aes-gcm-16-128", "sha256", 19)
    child, = p.of("ChildSaEstablished", "client")
    assert child.mode == "udp-tunnel"
    assert child.ts_local == ("10.10.0.2",) and child.ts_remote == ("10.20.0.1",)   # TSr ANY narrowed
    got = data_both_ways(p)
    assert got


def test_esp_aes_gcm_child_sa_and_tamper():
    opts = V2Options(esp_suites=("aes-gcm-16-128",))
    p = pair(client_nat=True, copt=opts, sopt=V2Options(esp_suites=("aes-cbc-128/hmac-sha1-96", "aes-gcm-16-128")))
    p.connect()
    assert established(p)
    child = p.client.latest_child()
    assert child.outbound.cipher == "aes-gcm-16-128" and len(child.outbound.enc_key) == 20
    data_both_ways(p)
    esp, = p.server.send_udp(b"fresh", p.now).datagrams
    bad = bytearray(esp.payload)
    bad[-1] ^= 1
    p.feed([replace(esp, payload=bytes(bad))])
    assert "ICV" in p.of("PacketDropped", "client")[-1].reason
    p.feed([esp, esp])   # the genuine packet is accepted once, then refused as a replay
    assert p.of("DataReceived", "client")[-1].payload == b"fresh"
    assert "replayed" in p.of("PacketDropped", "client")[-1].reason


def test_esp_offer_and_answer_must_agree():
    p = pair(copt=V2Options(esp_suites=("aes-gcm-16-128",))).connect()   # the server speaks CBC only
    assert codes(p, "Refused", "server") == [Reason.NO_PROPOSAL]
    assert codes(p, "PeerRefused", "client") == [Reason.NO_PROPOSAL]
    assert established(p) and not p.client.children   # only the child failed (RFC 7296 §2.21.2)


def test_transport_asked_tunnel_answered_is_refused():
    p = pair(PeerPolicy(mode="transport"), PeerPolicy(mode="tunnel")).connect()
    assert codes(p, "Refused", "client") == [Reason.MODE_MISMATCH]
    assert not p.client.children


# --- failures with codes ----------------------------------------------------------------------

def test_wrong_psk_is_authentication_failed_on_both_sides():
    p = pair(PeerPolicy(psk="one"), PeerPolicy(psk="two"), client_nat=True).connect()
    assert codes(p, "AuthenticationFailed", "server") == [Reason.AUTH_FAILED]
    assert codes(p, "AuthenticationFailed", "client") == [Reason.AUTH_FAILED]
    for peer in (p.client, p.server):
        sa, = peer.sas.values()
        assert sa.state is State2.FAILED and sa.code == Reason.AUTH_FAILED
    sent = [e for e in p.of("MessageSent", "server") if "AUTHENTICATION_FAILED" in e.label]
    assert sent and sent[0].payloads == ("N(AUTHENTICATION_FAILED)",)


def test_no_proposal_chosen():
    p = pair(sp=PeerPolicy(ike_ciphers=("aes-cbc-256",))).connect()
    assert codes(p, "Refused", "server") == [Reason.NO_PROPOSAL]
    assert codes(p, "PeerRefused", "client") == [Reason.NO_PROPOSAL]


def test_tampered_ike_auth_is_dropped_then_retransmission_succeeds():
    p = pair(client_nat=True)
    tampered = []

    def drop(d: Datagram) -> bool:
        if d.label == "IKE_AUTH" and not tampered:
            bad = bytearray(d.payload)
            bad[-5] ^= 0x40
            tampered.append(replace(d, payload=bytes(bad)))
            return True
        return False
    p.drop = drop
    p.connect()
    assert tampered and not established(p)
    p.drop = None
    p.feed(tampered)
    assert codes(p, "PacketDropped", "server") == [Reason.DECRYPT_FAILED]
    p.advance(2.0)
    assert established(p) and p.of("Retransmitted", "client")


def test_replayed_and_repeated_requests():
    p = pair(client_nat=True).connect()
    p.take(p.client.check_liveness(p.now))
    assert p.of("LivenessChecked", "client")
    request = [d for _, d in p.wire if d.label.startswith("INFORMATIONAL (liveness")][-1]
    sent_before = len(p.of("MessageSent", "server"))
    p.feed([replace(request, src=Endpoint(CLIENT_IP, 4500), dst=Endpoint(SERVER_IP, 4500))])
    assert len(p.of("MessageSent", "server")) == sent_before + 1   # the same answer again, no new state
    p.take(p.client.check_liveness(p.now))
    p.feed([replace(request, src=Endpoint(CLIENT_IP, 4500), dst=Endpoint(SERVER_IP, 4500))])  # now an old ID
    assert codes(p, "PacketDropped", "server")[-1] == Reason.MESSAGE_ID_REPLAY
    # a replayed response is dropped by the client too
    answer = [d for _, d in p.wire if d.label == "INFORMATIONAL response"][0]
    p.feed([replace(answer, src=Endpoint(SERVER_IP, 4500), dst=Endpoint(NAT_IP, 65500))])
    assert codes(p, "PacketDropped", "client")[-1] == Reason.MESSAGE_ID_REPLAY


def test_unsupported_critical_payload():
    client = Peer2("client", CLIENT_IP, PeerPolicy(), rng=3)
    p = Pair(client, Peer2("server", SERVER_IP, PeerPolicy(), rng=4))
    out = client.connect(SERVER_IP, 0.0)
    msg = decode_message(out.datagrams[0].payload)
    forged = encode_message(msg.header, (Unknown(222, b"x", True),) + msg.payloads)
    p.feed([replace(out.datagrams[0], payload=forged)])
    assert codes(p, "PacketDropped", "server") == [Reason.UNSUPPORTED_CRITICAL_PAYLOAD]
    assert codes(p, "PeerRefused", "client") == [Reason.UNSUPPORTED_CRITICAL_PAYLOAD]
    # not critical: skipped, the handshake goes on
    p2 = Pair(Peer2("client", CLIENT_IP, PeerPolicy(), rng=3), Peer2("server", SERVER_IP, PeerPolicy(), rng=4))
    out = p2.client.connect(SERVER_IP, 0.0)
    msg = decode_message(out.datagrams[0].payload)
    p2.client._initiated[msg.header.spi_i].init_request = encode_message(msg.header, (Unknown(222, b"x"),) + msg.payloads)
    p2.feed([replace(out.datagrams[0], payload=p2.client._initiated[msg.header.spi_i].init_request)])
    assert established(p2)


def test_cookie_round_trip():
    p = pair(sopt=V2Options(cookie_threshold=0)).connect()
    assert codes(p, "InitRetried", "client") == [Reason.COOKIE_REQUIRED]
    assert codes(p, "Refused", "server") == [Reason.COOKIE_REQUIRED]
    assert established(p)
    inits = [decode_message(d.payload) for _, d in p.wire if d.label == "IKE_SA_INIT"]
    assert len(inits) == 2 and isinstance(inits[1].payloads[0], Notify)
    assert inits[1].payloads[0].notify_type == NotifyType.COOKIE        # the cookie comes first
    assert inits[0].header.spi_i == inits[1].header.spi_i


def test_invalid_ke_retry_with_the_group_asked_for():
    p = pair(PeerPolicy(dh_groups=(2, 14)), PeerPolicy(dh_groups=(14,))).connect()
    assert codes(p, "Refused", "server") == [Reason.INVALID_KE]
    assert codes(p, "InitRetried", "client") == [Reason.INVALID_KE]
    assert established(p)
    assert p.of("IkeSaEstablished", "client")[0].dh_group == 14
    retry = [decode_message(d.payload) for _, d in p.wire if d.label == "IKE_SA_INIT"][-1]
    assert retry.all(KE)[0].group == 14


def test_retransmission_gives_identical_bytes_and_duplicates_get_the_cached_answer():
    p = pair()
    lost = []
    p.drop = lambda d: d.label == "IKE_SA_INIT response" and not lost and not lost.append(d)
    p.connect()
    assert not established(p)
    p.drop = None
    p.advance(1.5)
    assert established(p)
    inits = [d.payload for _, d in p.wire if d.label == "IKE_SA_INIT"]
    assert len(inits) == 2 and inits[0] == inits[1]
    answers = [d.payload for _, d in p.wire if d.label == "IKE_SA_INIT response"]
    assert len(answers) == 1 and answers[0] == lost[0].payload


def test_gives_up_with_a_code():
    p = pair(PeerPolicy(retransmit_tries=3))
    p.drop = lambda d: d.dst.ip == SERVER_IP
    p.connect()
    p.advance(60)
    sa, = p.client.sas.values()
    assert sa.state is State2.FAILED and sa.code == Reason.GAVE_UP and p.of("GaveUp", "client")


def test_delete_and_peer_forgets():
    p = pair(client_nat=True).connect()
    p.take(p.client.delete(p.now))
    for peer in (p.client, p.server):
        assert all(sa.state is State2.DELETED for sa in peer.sas.values()) and not peer.children
    assert {e.by_peer for e in p.of("SaDeleted", "server")} == {True}
    p.take(p.client.send_udp(b"x", p.now))
    assert p.of("PacketDropped", "client")


def test_delete_child_only():
    p = pair(client_nat=True).connect()
    p.take(p.client.delete_child(p.now))
    assert not p.client.children and not p.server.children
    assert all(sa.state is State2.ESTABLISHED for sa in p.server.sas.values())


def test_responder_follows_a_new_nat_mapping():
    p = pair(client_nat=True).connect()
    p.rewrites[0] = napt(CLIENT_IP, NAT_IP, port_offset=50000)   # the NAT rebinds the client
    p.take(p.client.check_liveness(p.now))
    moved = p.of("RemoteFollowed", "server")
    assert moved[-1].new == f"{NAT_IP}:54500"
    p.take(p.server.send_udp(b"after the move", p.now))
    assert ("client", b"after the move") in [(e.peer, e.payload) for e in p.of("DataReceived")]


def test_state_table_refuses_what_it_lacks():
    assert advance(State2.I_START, Msg2.START) is State2.I_INIT_SENT
    with pytest.raises(ProtocolError):
        advance(State2.R_START, Msg2.AUTH_REQ)
    p = pair().connect()
    auth = [d for _, d in p.wire if d.label == "IKE_AUTH"][0]
    p.feed([auth])   # a repeat of IKE_AUTH is answered from the cache, not processed again
    assert len(p.of("IkeSaEstablished", "server")) == 1


# --- the lab's NAT device, and tshark on the capture ------------------------------------------

def lab_run(psk_server: str = "natt-lab", options: V2Options | None = None):
    net = Network(seed=3)
    net.add_segment("lan")
    net.add_segment("internet")
    net.add_nat(Nat(NatConfig(public_ip="198.51.100.7"), random.Random(7)), "lan", "10.0.0.1", "internet")
    client = Peer2("client", "10.0.0.2", PeerPolicy(), rng=11, options=options)
    server = Peer2("server", "203.0.113.10", PeerPolicy(psk=psk_server), rng=12, options=options)
    net.add_host(client, "lan", "10.0.0.2", gateway="10.0.0.1")
    net.add_host(server, "internet", "203.0.113.10")
    events, hops = [], []
    net.on_event.append(events.append)
    net.on_hop.append(hops.append)
    net.start("client", lambda now: client.connect("203.0.113.10", now))
    net.run(2.0)
    net.start("client", lambda now: client.send_udp(b"hello server", now))
    net.start("server", lambda now: server.send_udp(b"hello client", now))
    net.run(30.0)
    return client, server, events, hops


def test_through_the_lab_nat():
    client, server, events, hops = lab_run()
    kinds = [e.kind for e in events]
    assert kinds.count("IkeSaEstablished") == 2 and "Floated" in kinds
    got = {(e.peer, e.payload) for e in events if e.kind == "DataReceived"}
    assert got == {("server", b"hello server"), ("client", b"hello client")}
    assert any(e.kind == "KeepaliveSent" and e.peer == "client" for e in events)
    outside = [h for h in hops if h.segment == "internet" and h.dropped is None]
    assert outside and all(h.packet[9] == 17 for h in outside)   # UDP only: ESP rides in 4500


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("options", [None, V2Options(ike_suites=("aes-gcm-16-128/sha256",), esp_suites=("aes-gcm-16-128",))],
                         ids=["cbc", "gcm"])
def test_tshark_decrypts_ike_auth_of_a_nated_run(tmp_path, options):
    client, server, events, hops = lab_run(options=options)
    sa, = client.sas.values()
    k, c = sa.keys, sa.choice
    integ = c.integ.wireshark_ike if c.integ else "NONE [RFC4306]"
    uat = (f'{sa.spi_i.hex()},{sa.spi_r.hex()},{k.sk_ei.hex()},{k.sk_er.hex()},"{c.encr.wireshark_ike}",'
           f'{k.sk_ai.hex()},{k.sk_ar.hex()},"{integ}"')
    esp = []
    for child in client.children.values():
        for d in (child.inbound, child.outbound):
            label = c.encr.wireshark_esp if options else "AES-CBC [RFC3602]"
            auth = ('"NULL","0x"' if options else f'"HMAC-SHA-1-96 [RFC2404]","0x{d.auth_key.hex()}"')
            esp += ["-o", f'uat:esp_sa:"IPv4","*","*","0x{d.spi:08x}","{label}","0x{d.enc_key.hex()}",{auth}']
    path = tmp_path / "run.pcap"
    path.write_bytes(pcap_bytes((h.time, h.packet) for h in hops if h.segment == "internet" and h.dropped is None))
    inner = subprocess.run(["tshark", "-r", str(path), "-o", "esp.enable_encryption_decode:TRUE",
                            "-o", "esp.enable_authentication_check:TRUE", *esp, "-T", "fields",
                            "-e", "udp.payload", "-e", "esp.sequence"],
                           capture_output=True, text=True, timeout=60, check=True).stdout
    for text in (b"hello server", b"hello client"):
        assert text.hex() in inner                                    # tshark decrypted our ESP
    out = subprocess.run(["tshark", "-r", str(path), "-o", f"uat:ikev2_decryption_table:{uat}", "-T", "fields",
                          "-E", "separator=|", "-e", "isakmp.exchangetype", "-e", "isakmp.id.type",
                          "-e", "isakmp.auth.method", "-e", "isakmp.notify.msgtype", "-e", "udpencap.nat_keepalive",
                          "-e", "esp.spi", "-e", "_ws.expert"],
                         capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    rows = [r.split("|") for r in out]
    auth = [r for r in rows if r[0] == "35"]
    assert len(auth) == 2 and all(r[2] == "2" for r in auth) and auth[0][1] == "1"
    assert "16391" in auth[0][3]                                         # USE_TRANSPORT_MODE, decrypted
    assert any(r[5] for r in rows) and any(r[4] for r in rows)          # ESP-in-UDP and a keepalive
    assert not any("malformed" in r[6].lower() or "incorrect" in r[6].lower() for r in rows)


# --- bad input never escapes as an exception ---------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402


def _recorded_run():
    p = pair(PeerPolicy(pfs_group=2), PeerPolicy(pfs_group=2), client_nat=True).connect()
    data_both_ways(p)
    p.take(p.client.check_liveness(p.now))
    p.take(p.server.rekey_child(p.now))
    p.take(p.client.rekey_ike(p.now))
    return p


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_datagrams_only_produce_events(data):
    p = _recorded_run()
    index = data.draw(st.integers(0, len(p.wire) - 1))
    _, d = p.wire[index]
    payload = bytearray(d.payload)
    for _ in range(data.draw(st.integers(1, 3))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(payload)))
    for candidate in (bytes(payload), bytes(payload[:cut])):
        target = p.server if d.dst.ip == SERVER_IP else p.client
        out = target.receive(replace(d, payload=candidate), p.now + 1)
        assert all(hasattr(e, "describe") for e in out.events)


@pytest.mark.parametrize("pfs", [None, 14])
@pytest.mark.parametrize("starter", ["client", "server"])
def test_rekey_child_sa(pfs, starter):
    p = pair(PeerPolicy(pfs_group=pfs), PeerPolicy(pfs_group=pfs), client_nat=True).connect()
    old = {name: set(getattr(p, name).children) for name in ("client", "server")}
    peer = getattr(p, starter)
    p.take(peer.rekey_child(p.now))
    request = [e for e in p.of("MessageSent", starter) if e.label == "CREATE_CHILD_SA (rekey)"]
    assert request and request[0].payloads[0] == "N(REKEY_SA)" and ("KE" in request[0].payloads) == bool(pfs)
    for name in ("client", "server"):
        now = set(getattr(p, name).children)
        assert len(now) == 1 and not now & old[name]      # a new pair, the old one deleted
    assert len(p.of("SaDeleted")) == 2
    data_both_ways(p)


def test_rekey_with_mismatched_pfs_keeps_the_old_child():
    p = pair(PeerPolicy(pfs_group=14), PeerPolicy(pfs_group=None), client_nat=True).connect()
    before = set(p.client.children)
    p.take(p.client.rekey_child(p.now))
    assert codes(p, "PeerRefused", "client") == [Reason.PEER_REFUSED]
    assert set(p.client.children) == before
    data_both_ways(p)


def test_rekey_ike_sa_from_both_sides_keeps_the_child_sas():
    p = pair(client_nat=True).connect()
    spis = (set(p.client.children), set(p.server.children))
    first = next(iter(p.client.sas.values()))
    for starter in ("client", "server"):
        p.take(getattr(p, starter).rekey_ike(p.now))
        for peer in (p.client, p.server):
            live = [sa for sa in peer.sas.values() if sa.state is State2.ESTABLISHED]
            assert len(live) == 1 and live[0].children
            assert live[0].role == ("initiator" if peer.name == starter else "responder")   # §2.18
        data_both_ways(p)
    assert (set(p.client.children), set(p.server.children)) == spis     # the CHILD_SAs moved, unchanged
    live, = [sa for sa in p.client.sas.values() if sa.state is State2.ESTABLISHED]
    assert live.spi_i != first.spi_i and live.keys.sk_d != first.keys.sk_d
    assert first.state is State2.DELETED and len(p.of("IkeSaEstablished", "client")) == 3
    p.take(p.client.check_liveness(p.now))
    assert p.of("LivenessChecked", "client")


def test_a_failed_responder_still_answers_a_retransmitted_ike_auth():
    p = pair(PeerPolicy(psk="one"), PeerPolicy(psk="two"))
    lost = []
    p.drop = lambda d: d.label.startswith("IKE_AUTH response") and not lost and not lost.append(d)
    p.connect()
    assert lost and codes(p, "AuthenticationFailed", "server") == [Reason.AUTH_FAILED]
    p.drop = None
    p.advance(1.5)                          # the client retransmits IKE_AUTH; the cached answer comes back
    assert codes(p, "AuthenticationFailed", "client") == [Reason.AUTH_FAILED]
    again = [d.payload for _, d in p.wire if d.label.startswith("IKE_AUTH response")]
    assert again == [lost[0].payload]


def test_an_unknown_critical_payload_inside_sk_is_answered_and_the_sa_goes_on():
    from natt_core.ike.v2.sk import seal
    from natt_core.wire.ikev2 import Header
    from natt_core.wire.ikev2_numbers import Exchange, HdrFlag
    p = pair().connect()
    sa, = p.client.sas.values()
    mid = sa.next_mid_out
    sa.next_mid_out += 1
    sa.pending_mid = mid
    forged = seal(Header(sa.spi_i, sa.spi_r, 0, Exchange.INFORMATIONAL, HdrFlag.INITIATOR, mid),
                  [Unknown(200, b"?", True)], sa.send_cipher, bytes(16))
    p.feed([Datagram(Endpoint(CLIENT_IP, 500), Endpoint(SERVER_IP, 500), 17, forged)])
    assert codes(p, "PacketDropped", "server") == [Reason.UNSUPPORTED_CRITICAL_PAYLOAD]
    p.take(p.client.check_liveness(p.now))
    assert p.of("LivenessChecked", "client")


def test_initiator_may_start_on_4500():
    """§2.23: IKE may use 4500 (with the non-ESP marker) from the first IKE_SA_INIT on."""
    p = pair(client_nat=True)
    p.take(p.client.connect(SERVER_IP, p.now, remote_port=4500))
    assert established(p) and not p.of("Floated", "client")
    ike = [d for _, d in p.wire if d.proto == 17 and d.label.startswith("IKE")]
    assert all(d.dst.port == 4500 and d.payload[:4] == bytes(4) for d in ike)
    data_both_ways(p)
