"""IKEv1 fragmentation (FRAGMENTATION Vendor ID, payload 132) as strongSwan implements it: the wire
layout, when a message is split, reassembly with bounded state, and the lab story it fixes."""
from __future__ import annotations

import random
import shutil
import struct
import subprocess

import pytest

from natt_core.addressing import Datagram, Endpoint
from natt_core.ike.fragmentation import MAX_PACKET, MAX_PENDING, announces_fragmentation, split_message
from natt_core.ike.nat_t import VENDOR_IDS, vendor_id
from natt_core.ike.peer import Peer
from natt_core.ike.policy import PeerPolicy
from natt_core.lab.export import export
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_core.reasons import Reason
from natt_core.wire.isakmp import Fragment, Header, decode_message, encode_message
from natt_core.wire.numbers import ExchangeType

SMALL = ["link.mtu=296"]
BOTH = ["client.ike_fragmentation=yes", "server.ike_fragmentation=yes",
        "client.ike_fragment_size=296", "server.ike_fragment_size=296"]
ICOOKIE, RCOOKIE = bytes.fromhex("0011223344556677"), bytes.fromhex("8899aabbccddeeff")


def _run(*settings: str):
    return run(apply_settings(preset("client-behind-nat"), list(settings)))


def test_fragment_payload_has_strongswans_layout():
    # fragment_payload.c: next payload, reserved, length | fragment ID (2) | number (1) | flags (1) | data
    body = Fragment(1, 2, True, b"piece").encode_body()
    assert body == struct.pack("!HBB", 1, 2, 0x01) + b"piece"
    message = encode_message(Header(ICOOKIE, RCOOKIE, 0, ExchangeType.MAIN_MODE), [Fragment(1, 2, True, b"piece")])
    assert message[16] == 132 and message[28:32] == bytes([0, 0]) + (4 + 4 + 5).to_bytes(2, "big")
    header, chain = decode_message(message)
    assert chain.payloads == (Fragment(1, 2, True, b"piece"),)


def test_the_vendor_id_is_recognised_as_strongswan_reads_it():
    md5 = vendor_id(b"FRAGMENTATION")
    assert md5.hex() == "4048b7d56ebce88525e7de7f00d6c2d3"            # isakmp_vendor.c
    assert VENDOR_IDS["fragmentation-ike"].hex() == "4048b7d56ebce88525e7de7f00d6c2d380000000"
    assert announces_fragmentation([md5])                              # Windows: no capabilities
    assert announces_fragmentation([md5 + bytes.fromhex("c0000000")])  # Cisco
    assert not announces_fragmentation([md5 + bytes.fromhex("40000000")])   # base ISAKMP only
    assert not announces_fragmentation([md5[:15]])


def test_a_message_is_split_into_pieces_that_each_fit_and_join_back():
    message = encode_message(Header(ICOOKIE, RCOOKIE, 0, ExchangeType.MAIN_MODE, 0x01), []) + bytes(range(256)) * 8
    assert split_message(message, Header(ICOOKIE, RCOOKIE, 0, 2), 1280 * 4, nat_t=True) is None
    pieces = split_message(message, Header(ICOOKIE, RCOOKIE, 0, 2), 576, nat_t=True)
    assert all(20 + 8 + 4 + len(p) <= 576 for p in pieces)
    frags = []
    for p in pieces:
        header, chain = decode_message(p)
        assert (header.exchange, header.flags, header.message_id, header.next_payload) == (2, 0, 0, 132)
        frags.append(chain.payloads[0])
    assert [f.number for f in frags] == list(range(1, len(pieces) + 1))
    assert [f.last for f in frags] == [False] * (len(pieces) - 1) + [True]
    assert {f.fragment_id for f in frags} == {1}
    assert b"".join(f.data for f in frags) == message
    assert len(frags[0].data) == 576 - 20 - 8 - 4 - 28 - 8            # strongSwan message.c fragment()


def test_ike_fragmentation_on_both_sides_connects_through_a_nat_that_drops_ip_fragments():
    t = _run(*SMALL, "nat.fragments=drop", *BOTH)
    assert t.report["peers"]["client"]["phase2"] == "established"
    assert not any(h.fragment for h in t.hops)                          # no IP fragment anywhere
    labels = {h.label for h in t.hops}
    assert {"MM3 (IKE fragment 1/2)", "MM3 (IKE fragment 2/2)", "MM4 (IKE fragment 1/2)"} <= labels
    assert any(e.event == "IkeFragmentsReassembled" for e in t.events)


def test_ike_fragmentation_on_one_side_only_is_not_used():
    t = _run(*SMALL, "nat.fragments=drop", "client.ike_fragmentation=yes", "client.ike_fragment_size=296")
    assert t.report["peers"]["client"]["reason_code"] == "FRAGMENT_DROPPED"
    mm2 = next(h for h in t.hops if h.label == "MM2")
    assert vendor_id(b"FRAGMENTATION") not in mm2.packet                # the server did not announce it


def test_a_responder_announces_fragmentation_only_to_an_initiator_that_did():
    server = PeerPolicy(ike_fragmentation=True)
    assert any(v[:16] == vendor_id(b"FRAGMENTATION") for v in server.vendor_id_data([]))
    assert not any(v[:16] == vendor_id(b"FRAGMENTATION") for v in server.vendor_id_data([], peer_fragments=False))
    assert not any(v[:16] == vendor_id(b"FRAGMENTATION") for v in PeerPolicy().vendor_id_data([]))


def test_real_profiles_agree_on_fragmentation():
    t = _run("client.profile=windows-xp-sp2", "server.profile=strongswan")
    mm2 = next(h for h in t.hops if h.label == "MM2")
    assert VENDOR_IDS["fragmentation-ike"] in mm2.packet                # strongSwan answers with capabilities
    assert t.report["peers"]["client"]["phase2"] == "established"


def _responder_with_sa() -> tuple[Peer, bytes, bytes]:
    client = Peer("client", "192.168.11.20", PeerPolicy(), rng=1)
    server = Peer("server", "192.168.1.10", PeerPolicy(ike_fragmentation=True), rng=2)
    mm1 = client.connect("192.168.1.10", 0.0).datagrams[0]
    mm2 = server.receive(mm1, 0.01).datagrams[0]
    return server, mm2.payload[:8], mm2.payload[8:16]


def _fragment_dgram(icookie: bytes, rcookie: bytes, fid: int, number: int, last: bool, data: bytes) -> Datagram:
    wire = encode_message(Header(icookie, rcookie, 0, ExchangeType.MAIN_MODE), [Fragment(fid, number, last, data)])
    return Datagram(Endpoint("192.168.11.20", 500), Endpoint("192.168.1.10", 500), 17, wire)


def test_random_fragments_leave_bounded_state():
    server, icookie, rcookie = _responder_with_sa()
    rng = random.Random(3)
    for n in range(3000):
        forged = rng.random() < 0.5
        i, r = (rng.randbytes(8), rng.randbytes(8)) if forged else (icookie, rcookie)
        out = server.receive(_fragment_dgram(i, r, rng.randrange(1, 50), rng.randrange(1, 256), rng.random() < 0.1,
                                             rng.randbytes(rng.randrange(1, 1200))), 1.0 + n * 0.001)
        assert len(server._ike_partial or {}) <= min(MAX_PENDING, len(server.sas))
        partial = (server._ike_partial or {}).get((icookie, rcookie))
        assert partial is None or partial.size <= MAX_PACKET
        if forged:
            assert [e.code for e in out.events] == [Reason.UNKNOWN_SA]
    assert len(server.sas) == 1


def test_a_fragmented_message_over_max_packet_is_dropped_with_a_code():
    server, icookie, rcookie = _responder_with_sa()
    codes = []
    for number in range(1, 12):
        out = server.receive(_fragment_dgram(icookie, rcookie, 1, number, False, bytes(1000)), 1.0)
        codes += [e.code for e in out.events if hasattr(e, "code")]
    assert codes == [Reason.REASSEMBLY_LIMIT]
    assert not server._ike_partial


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_dissects_and_reassembles_the_ike_fragments(tmp_path):
    export(_run(*SMALL, "nat.fragments=drop", *BOTH), tmp_path)
    pcap = str(tmp_path / "internet.pcap")
    bad = subprocess.run(["tshark", "-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 0 and bad.stdout == "", bad.stdout
    r = subprocess.run(["tshark", "-r", pcap, "-Y", "isakmp.frag.last == 1", "-T", "fields",
                        "-e", "isakmp.frag.packetid", "-e", "isakmp.frag.seq", "-e", "isakmp.fragments"],
                       capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in r.stdout.splitlines()]
    # MM3 and MM4: fragment ID 1, the last is #2, and tshark reassembled each (isakmp.fragments)
    assert len(rows) == 2 and all(row[:2] == ["0x0001", "2"] and row[2] for row in rows), rows


def test_an_ike_fragment_dissects_through_its_layout():
    from natt_core.wire.dissect import dissect
    t = _run(*SMALL, "nat.fragments=drop", *BOTH)
    last = next(h for h in t.hops if h.label == "MM3 (IKE fragment 2/2)")
    fields = {f.name: f for f in dissect(last.packet)}
    assert fields["fragment ID"].value == "1" and fields["fragment number"].value == "2"
    assert fields["flags"].value == "0x01 (LAST)" and fields["fragment ID"].layer == "IKE fragment payload"
    assert fields["fragment data (a piece of the whole IKE message)"].end == len(last.packet)


def test_every_big_message_on_500_and_4500_crosses_as_ike_fragments(tmp_path):
    tiny = ["client.ike_fragmentation=yes", "server.ike_fragmentation=yes",
            "client.ike_fragment_size=128", "server.ike_fragment_size=128"]
    t = _run(*tiny)
    assert t.report["peers"]["client"]["phase2"] == "established"
    split = {h.label.split(" (")[0] for h in t.hops if "(IKE fragment" in h.label}
    assert {"MM2", "MM3", "MM4", "QM1", "QM2"} <= split                 # MM2 too: before the cookie is known
    assert all(len(h.packet) <= 128 for h in t.hops if "(IKE fragment" in h.label)
    qm1 = next(h for h in t.hops if h.label.startswith("QM1 (IKE fragment 1/"))
    assert qm1.packet[20 + 8:20 + 12] == bytes(4)                        # on 4500, behind the non-ESP marker
    if shutil.which("tshark"):
        export(t, tmp_path)
        bad = subprocess.run(["tshark", "-r", str(tmp_path / "client-lan.pcap"), "-Y",
                              "_ws.malformed || _ws.expert.severity >= error"], capture_output=True, text=True, timeout=60)
        assert bad.returncode == 0 and bad.stdout == "", bad.stdout
