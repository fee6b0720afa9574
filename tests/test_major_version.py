"""A peer that receives the other major version answers as strongSwan's receiver does
(src/libcharon/network/receiver.c, "check IKE major version"): INVALID_MAJOR_VERSION for an
opening message (IKEv1 Main/Aggressive Mode to an IKEv2-only peer, IKEv2 IKE_SA_INIT to an
IKEv1-only one, or any unknown version), silence for anything else, and always a drop with the
INVALID_MAJOR_VERSION code. tshark reads the answers independently.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from .helpers import CLIENT_IP, SERVER_IP, Pair
from natt_core.addressing import Datagram, Endpoint
from natt_core.ike.major_version import answer
from natt_core.ike.peer import Peer
from natt_core.ike.policy import PeerPolicy
from natt_core.ike.v2.peer import Peer2
from natt_core.pcap import pcap_bytes
from natt_core.reasons import Reason
from natt_core.wire import ikev2, isakmp
from natt_core.wire.ip import encode_datagram


def dropped(p: Pair, peer: str) -> list:
    return [e for e in p.of("PacketDropped", peer) if e.code is Reason.INVALID_MAJOR_VERSION]


def test_ikev1_main_mode_to_an_ikev2_peer_gets_invalid_major_version_in_ikev2():
    p = Pair(Peer("client", CLIENT_IP, PeerPolicy(retransmit_tries=1), rng=1),
             Peer2("server", SERVER_IP, PeerPolicy(), rng=2)).connect()
    answers = [d for _, d in p.wire if d.src.ip == SERVER_IP]
    assert answers and all(d.dst.port == 500 for d in answers)
    msg = ikev2.decode_message(answers[0].payload)
    mm1 = isakmp.decode_header(next(d for _, d in p.wire if d.src.ip == CLIENT_IP).payload)[0]
    assert msg.header.exchange == 37 and msg.header.is_response and msg.header.message_id == 0
    assert msg.header.spi_i == mm1.icookie and msg.header.spi_r == bytes(8)
    assert [(type(b).__name__, b.notify_type) for b in msg.payloads] == [("Notify", 5)]
    assert dropped(p, "server") and not p.server.sas
    # the IKEv1 client cannot read an IKEv2 answer: it ignores it with the same code
    assert dropped(p, "client") and not p.of("Phase1Established")


def test_ikev2_init_to_an_ikev1_peer_gets_invalid_major_version_in_ikev1():
    p = Pair(Peer2("client", CLIENT_IP, PeerPolicy(ike_version=2, retransmit_tries=1), rng=1),
             Peer("server", SERVER_IP, PeerPolicy(), rng=2)).connect()
    answers = [d for _, d in p.wire if d.src.ip == SERVER_IP]
    header, _ = isakmp.decode_header(answers[0].payload)
    assert header.version == 0x10 and header.exchange == 5
    _, payloads = isakmp.decode_message(answers[0].payload)
    assert [(type(b).__name__, b.notify_type) for b in payloads.payloads] == [("Notification", 5)]
    assert dropped(p, "server") and not p.server.sas
    assert dropped(p, "client")


def test_other_messages_of_the_other_version_are_ignored_and_unknown_versions_answered():
    init = ikev2.encode_message(ikev2.Header(b"\x11" * 8, bytes(8), 0, 34, 0x08, 0), [])
    resp = ikev2.encode_message(ikev2.Header(b"\x11" * 8, b"\x22" * 8, 0, 35, 0x20, 1), [])
    quick = isakmp.encode_message(isakmp.Header(b"\x11" * 8, b"\x22" * 8, 0, 32, 0, 7), [])
    assert answer(init, 1)[0] is not None and answer(resp, 1)[0] is None
    assert answer(quick, 2)[0] is None
    v3 = init[:17] + b"\x30" + init[18:]
    wire, why = answer(v3, 2)
    assert ikev2.decode_message(wire).payloads[0].notify_type == 5 and "version 3" in why
    # a receiving peer: one drop with the code, no answer, no SA
    peer = Peer2("server", SERVER_IP, PeerPolicy(), rng=2)
    out = peer.receive(Datagram(Endpoint(CLIENT_IP, 500), Endpoint(SERVER_IP, 500), 17, quick), 0.0)
    assert not out.datagrams and [e.code for e in out.events] == [Reason.INVALID_MAJOR_VERSION]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_both_answers(tmp_path):
    for client, server, field, major in (
            (Peer("client", CLIENT_IP, PeerPolicy(retransmit_tries=1), rng=1),
             Peer2("server", SERVER_IP, PeerPolicy(), rng=2), "isakmp.notify.msgtype", 2),
            (Peer2("client", CLIENT_IP, PeerPolicy(ike_version=2, retransmit_tries=1), rng=1),
             Peer("server", SERVER_IP, PeerPolicy(), rng=2), "isakmp.notify.msgtype", 1)):
        p = Pair(client, server).connect()
        path = tmp_path / "v.pcap"
        path.write_bytes(pcap_bytes([(t, encode_datagram(d)) for t, d in p.wire if d.src.ip == SERVER_IP][:1]))
        out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "isakmp.mjver",
                              "-e", field, "-e", "_ws.malformed"], capture_output=True, text=True, check=True).stdout
        version, msgtype, malformed = out.strip().split("\t") + [""] * (3 - len(out.strip().split("\t")))
        assert msgtype == "5" and not malformed
        assert int(version, 16) == major
