"""Liveness of an established IKEv1 SA: DPD (RFC 3706), INITIAL-CONTACT, status notifications, the
commit bit, and following a peer whose NAT mapping changed (RFC 3947 §7), between two engine peers."""
from __future__ import annotations

from dataclasses import replace

from natt_core.ike.nat_t import DPD_VID
from natt_core.ike.peer import Peer
from natt_core.ike.policy import PeerPolicy
from natt_core.ike.states import State, follows_peer
from natt_core.reasons import Reason
from natt_core.wire.isakmp import Notification
from natt_core.wire.numbers import NotifyType, ProtocolId

from .helpers import CLIENT_IP, NAT_IP, SERVER_NAT_IP, make_pair, napt

#: RFC 3706 §5.1, spelled out: HASHED_VENDOR_ID (14 bytes) then major 1, minor 0
RFC3706_VID = bytes([0xAF, 0xCA, 0xD7, 0x13, 0x68, 0xA1, 0xF1, 0xC9, 0x6B, 0x86, 0x96, 0xFC, 0x77, 0x57, 0x01, 0x00])

ANSWERS = PeerPolicy(vendor_ids=("dpd",))            #: announces DPD (answers), never asks
PROBES = PeerPolicy(dpd_delay=30.0, dpd_timeout=120.0)


def labels(pair, peer: str, kind: str = "MessageSent") -> list[str]:
    return [e.label for e in pair.of(kind, peer)]


def test_the_dpd_vendor_id_is_rfc_3706s_and_announced_only_when_dpd_is_wanted():
    assert DPD_VID == RFC3706_VID
    assert RFC3706_VID in PROBES.vendor_id_data([]) and RFC3706_VID in ANSWERS.vendor_id_data([])
    assert RFC3706_VID not in PeerPolicy().vendor_id_data([])
    assert PROBES.vendor_id_data([b"x"])[-1] == RFC3706_VID        # last, as libreswan sends it


def test_an_idle_peer_is_asked_after_dpd_delay_and_its_ack_echoes_the_number():
    p = make_pair(PROBES, ANSWERS, client_nat=True).connect()
    up = p.now
    p.advance(29.0)
    assert "INFO R-U-THERE" not in labels(p, "client")
    p.advance(2.0)
    sent = [e for e in p.of("MessageSent", "client") if e.label == "INFO R-U-THERE"]
    assert len(sent) == 1 and sent[0].encrypted and 30.0 <= sent[0].time - up + 0.01 < 30.1   # 30 s after QM2
    asked = [e for e in p.of("MessageReceived", "server") if e.label == "INFO R-U-THERE"][0]
    acked = [e for e in p.of("MessageReceived", "client") if e.label == "INFO R-U-THERE-ACK"][0]
    seq = int(asked.payloads[1].split("seq ")[1].rstrip(")"))
    assert acked.payloads[1] == f"N(R-U-THERE-ACK seq {seq})" and 1 <= seq <= 0x8000
    assert p.of("LivenessChecked", "client") and not p.of("PeerRefused")
    assert p.client.isakmp_rows()[0].state == p.server.isakmp_rows()[0].state == "ESTABLISHED"
    p.advance(31.0)      # answered: the next one after another 30 s of silence, with the next number
    second = [e for e in p.of("MessageReceived", "server") if e.label == "INFO R-U-THERE"][1]
    assert int(second.payloads[1].split("seq ")[1].rstrip(")")) == seq + 1


def test_traffic_received_keeps_dpd_quiet():
    p = make_pair(PROBES, ANSWERS, client_nat=True).connect()
    for _ in range(9):
        p.advance(10.0)
        p.take(p.server.send_udp(b"\xc8\x02" + bytes(10), p.now))   # ESP from the server: the client hears it
    assert "INFO R-U-THERE" not in labels(p, "client")


def test_a_peer_that_vanished_is_declared_dead_and_its_sas_cleared():
    p = make_pair(ANSWERS, PROBES, client_nat=True).connect()
    gone = p.now
    p.drop = lambda d: d.dst.ip in (CLIENT_IP, NAT_IP)       # the client is switched off
    p.advance(300.0)
    probes = [e for e in p.of("MessageSent", "server") if e.label == "INFO R-U-THERE"]
    first = probes[0].time
    assert first >= gone + 30.0 and [round(e.time - first) for e in probes] == [0, 30, 60, 90]
    dead, = p.of("DeadPeerDetected", "server")
    assert dead.code is Reason.DPD_PEER_DEAD and dead.probes == 4 and round(dead.time - first) == 120
    sa = next(iter(p.server.sas.values()))
    assert sa.state is State.DELETED and sa.code is Reason.DPD_PEER_DEAD and not sa.children
    assert p.server.children == {} and p.server.ipsec_rows() == ()
    deleted = p.of("SaDeleted", "server")
    assert len(deleted) == 2 and all(e.code is Reason.DPD_PEER_DEAD and not e.by_peer for e in deleted)
    assert p.server.next_timer() is None or p.server.next_timer() > p.now       # nothing left to probe


def test_without_the_peers_vendor_id_no_r_u_there_is_sent():
    p = make_pair(PeerPolicy(), PROBES, client_nat=True).connect()
    p.advance(200.0)
    assert p.of("DpdNotNegotiated", "server") and "INFO R-U-THERE" not in labels(p, "server")


def test_a_replayed_informational_is_not_acted_on_and_moves_nothing():
    p = make_pair(PROBES, ANSWERS, client_nat=True).connect()
    p.advance(31.0)
    probe = [d for _, d in p.wire if d.label == "INFO R-U-THERE"][0]
    before = list(p.server.sas.values())[0].remote
    replayed = replace(probe, src=replace(probe.src, port=40000))        # same bytes, another port
    out = p.server.receive(replayed, p.now)
    assert [e.code for e in out.events if e.kind == "PacketDropped"] == [Reason.MESSAGE_ID_REPLAY]
    assert not out.datagrams and list(p.server.sas.values())[0].remote == before


def test_status_notifications_are_status_not_refusals():
    p = make_pair(PeerPolicy(), PeerPolicy(), client_nat=True).connect()
    sa = next(iter(p.client.sas.values()))
    p.take(_send(p.client, sa, [Notification(24577, protocol_id=ProtocolId.ISAKMP)], p.now))   # REPLAY-STATUS
    assert not p.of("PeerRefused") and [e.notify for e in p.of("StatusNotifyReceived", "server")] == ["24577"]
    # an error type is still a refusal
    p.take(_send(p.client, sa, [Notification(NotifyType.INVALID_ID_INFORMATION, protocol_id=1)], p.now))
    assert [e.code for e in p.of("PeerRefused", "server")] == [Reason.PEER_REFUSED]


def _send(peer: Peer, sa, payloads, now):
    peer._begin(now)
    peer._send_info(sa, payloads, "INFO test")
    return peer._finish()


def test_initial_contact_replaces_the_sas_of_a_client_that_reconnects():
    p = make_pair(client_nat=True).connect()
    mm5 = [e for e in p.of("MessageSent", "client") if e.label == "MM5"][0]
    assert "Notification" in mm5.payloads
    old = next(iter(p.server.sas.values()))
    # the client reboots: a new peer at the same address, knowing nothing of the old SAs
    p.client = Peer("client", CLIENT_IP, PeerPolicy(), rng=99)
    p.connect()
    ic = p.of("InitialContactReceived", "server")[-1]
    assert ic.identity == CLIENT_IP and ic.replaced == (old.cookies,)
    assert old.state is State.DELETED and not old.children
    assert [r.state for r in p.server.isakmp_rows()].count("ESTABLISHED") == 1 and len(p.server.ipsec_rows()) == 1


def test_without_initial_contact_the_old_sas_pile_up():
    p = make_pair(PeerPolicy(initial_contact=False), client_nat=True).connect()
    p.client = Peer("client", CLIENT_IP, PeerPolicy(initial_contact=False), rng=99)
    p.connect()
    assert not p.of("InitialContactReceived")
    assert [r.state for r in p.server.isakmp_rows()].count("ESTABLISHED") == 2 and len(p.server.ipsec_rows()) == 2


def test_a_second_sa_with_the_same_peer_sends_no_initial_contact():
    p = make_pair(client_nat=True).connect()
    p.connect()            # the same client, a second ISAKMP SA while the first is up
    mm5s = [e for e in p.of("MessageSent", "client") if e.label == "MM5"]
    assert "Notification" in mm5s[0].payloads and "Notification" not in mm5s[1].payloads
    assert [r.state for r in p.server.isakmp_rows()].count("ESTABLISHED") == 2


# ------------------------------------------------------------------ following a new NAT mapping
def rebind(p, offset: int = 50000) -> str:
    """The client's NAT forgets its mapping and picks another public port (RFC 3947 §7)."""
    p.rewrites[0] = napt(CLIENT_IP, NAT_IP, port_offset=offset)
    return f"{NAT_IP}:{4500 + offset}"


def test_a_keepalive_from_a_new_port_moves_nothing_but_esp_does():
    p = make_pair(client_nat=True).connect()
    sa = next(iter(p.server.sas.values()))
    old = str(sa.remote)
    new = rebind(p)
    p.advance(25.0)                              # a keepalive (unauthenticated) from the new port
    assert any(e.src == new for e in p.of("KeepaliveReceived", "server"))
    assert str(sa.remote) == old and not p.of("RemoteFollowed")
    p.take(p.client.send_udp(b"\xc8\x02" + bytes(10), p.now))
    moved, = p.of("RemoteFollowed", "server")
    assert (moved.old, moved.new, moved.via) == (old, new, "ESP-in-UDP")
    p.take(p.server.send_udp(b"\xc8\x02" + bytes(12), p.now))
    assert [e.peer for e in p.of("DataReceived")] == ["server", "client"]
    assert not p.of("RemoteFollowed", "client")          # the NATed side never moves


def test_an_r_u_there_from_a_new_port_moves_the_server_and_the_ack_goes_there():
    p = make_pair(PROBES, ANSWERS, client_nat=True).connect()
    new = rebind(p)
    p.advance(31.0)
    moved, = p.of("RemoteFollowed", "server")
    assert moved.new == new and moved.via == "Informational"
    ack = [d for _, d in p.wire if d.label == "INFO R-U-THERE-ACK"][0]
    assert f"{ack.dst.ip}:{ack.dst.port}" == f"{CLIENT_IP}:4500" and p.of("LivenessChecked", "client")


def test_a_quick_mode_from_a_new_port_moves_the_server():
    p = make_pair(client_nat=True).connect()
    new = rebind(p)
    sa = next(iter(p.client.sas.values()))
    p.client._begin(p.now)
    p.client._start_quick_mode(sa)
    p.take(p.client._finish())
    assert p.of("RemoteFollowed", "server")[0].new == new and p.of("RemoteFollowed", "server")[0].via == "Quick Mode"
    assert len(p.server.ipsec_rows()) == 2


def test_a_server_behind_port_forwards_follows_too():
    p = make_pair(PeerPolicy(assume_udp_rule=2), client_nat=True, server_nat=True).connect()
    sa = next(iter(p.server.sas.values()))
    assert sa.natd.self_behind_nat and sa.natd.peer_behind_nat
    new = rebind(p)
    p.take(p.client.send_udp(b"\xc8\x02" + bytes(10), p.now))
    assert p.of("RemoteFollowed", "server")[0].new == new
    p.take(p.server.send_udp(b"\xc8\x02" + bytes(12), p.now))
    assert "client" in [e.peer for e in p.of("DataReceived")]
    # the client, behind a dynamic NAT and the initiator, never follows (RFC 3947 §7)
    assert not follows_peer(True, True, True, initiator=True) and follows_peer(True, True, True, initiator=False)
    assert SERVER_NAT_IP in str(next(iter(p.client.sas.values())).remote)


def test_a_status_notification_in_quick_mode_is_status():
    """QM2 carrying a status notification (here REPLAY-STATUS, 24577, covered by HASH(2)) completes."""
    p = make_pair(client_nat=True)
    answer_oa = p.server._nat_oa
    p.server._nat_oa = lambda sa, i, r: answer_oa(sa, i, r) + [Notification(24577, protocol_id=ProtocolId.ISAKMP)]
    p.connect()
    assert len(p.client.ipsec_rows()) == len(p.server.ipsec_rows()) == 1
    assert not p.of("PeerRefused") and not p.of("PacketDropped")


def test_traffic_for_a_deleted_ipsec_sa_is_not_sent():
    p = make_pair(ANSWERS, PROBES, client_nat=True).connect()
    child = p.server.latest_child()
    p.drop = lambda d: d.dst.ip in (CLIENT_IP, NAT_IP)
    p.advance(300.0)                                    # DPD cleared the SAs
    out = p.server.send_udp(b"\xc8\x02" + bytes(10), p.now, child=child)
    assert not out.datagrams and [e.code for e in out.events] == [Reason.NO_IPSEC_SA]


def test_the_commit_bits_fourth_quick_mode_message_is_taken_as_status():
    """A responder that set the commit bit sends HDR*(E, C), HASH(4), N(CONNECTED) after QM3, HASH(4) =
    prf(SKEYID_a, M-ID | N) as racoon builds it; the initiator notes the status and keeps its SA."""
    from natt_core.crypto.ike_keys import info_hash
    from natt_core.ike.seal import seal
    from natt_core.wire.isakmp import Hash, encode_payloads
    from natt_core.wire.numbers import ExchangeType
    from natt_core.wire.udp_encap import frame_ike
    p = make_pair(client_nat=True).connect()
    sa = next(iter(p.server.sas.values()))
    qe = next(iter(sa.quick.values()))
    child = qe.child
    n = Notification(NotifyType.CONNECTED, protocol_id=ProtocolId.ESP, spi=child.spi_in.to_bytes(4, "big"))
    digest = info_hash(sa.choice.hash, sa.keys.skeyid_a, qe.message_id, encode_payloads([n]))
    message = bytearray(seal(sa, ExchangeType.QUICK_MODE, qe.message_id, [Hash(digest), n], qe.iv).message)
    message[19] |= 0x02                                             # the commit bit
    qm3 = [d for _, d in p.wire if d.label == "QM3"][-1]              # as it reached the server
    p.feed([replace(qm3, src=qm3.dst, dst=qm3.src, payload=frame_ike(bytes(message)), label="QM4")])
    assert [e.notify for e in p.of("StatusNotifyReceived", "client")] == ["CONNECTED"]
    assert not p.of("PacketDropped", "client") and len(p.client.ipsec_rows()) == 1
