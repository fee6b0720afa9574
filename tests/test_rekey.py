"""SA lifetimes and rekeying (RFC 2409 §5.5, RFC 2407 §4.5 and §4.6.3.1, RFC 2408 §3.15): lifetimes
on the wire as the RFCs spell them, RESPONDER-LIFETIME built as scapy builds it, seconds and
kilobytes enforced, make-before-break rekeys in the lab with no ESP packet lost, old SAs deleted on
both peers, and tshark reading the Delete and notification payloads."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from natt_core.errors import ConfigError
from natt_core.ike.lifetimes import Life, read_responder_lifetime, responder_lifetime
from natt_core.ike.policy import PeerPolicy
from natt_core.ike.proposals import phase1_offer, phase2_offer
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_core.reasons import Reason
from natt_core.wire.isakmp import decode_payloads, encode_payloads
from natt_core.wire.numbers import PayloadType
from natt_view.steps import journeys
from natt_view.tunnel import MARKS, events, lanes, lost_packets, summary, tunnel_svg

from .helpers import make_pair

ROOT = Path(__file__).resolve().parents[1]
# RFC 2407 §4.5, written out by hand: TV attributes (AF bit set), class 1 SA Life Type (1 seconds,
# 2 kilobytes), class 2 SA Life Duration
P2_SECONDS_60 = bytes.fromhex("80010001" "8002003c")
P2_KB_500 = bytes.fromhex("80010002" "800201f4")
# RFC 2409 App. A: class 11 Life Type, class 12 Life Duration (300 s)
P1_SECONDS_300 = bytes.fromhex("800b0001" "800c012c")


# ------------------------------------------------------------------ on the wire

def test_lifetimes_go_on_the_wire_as_the_rfcs_spell_them():
    p2 = phase2_offer(PeerPolicy(ipsec_lifetime=60, ipsec_lifetime_kb=500), b"\x01\x02\x03\x04", 4).encode_body()
    assert P2_SECONDS_60 + P2_KB_500 in p2
    assert P1_SECONDS_300 in phase1_offer(PeerPolicy(ike_lifetime=300)).encode_body()
    assert P2_KB_500 not in phase2_offer(PeerPolicy(ipsec_lifetime=60), b"\x01\x02\x03\x04", 4).encode_body()


def test_responder_lifetime_is_the_notification_scapy_builds():
    isakmp = pytest.importorskip("scapy.layers.isakmp")
    spi = bytes.fromhex("c05903e6")
    theirs = bytes(isakmp.ISAKMP_payload_Notify(next_payload=0, doi=1, proto=3, SPIsize=4, notify_msg_type=24576,
                                                SPI=spi, notify_data=P2_SECONDS_60 + P2_KB_500))
    ours = encode_payloads([responder_lifetime(3, spi, Life(60, 500))])
    assert ours == theirs
    (notify,) = decode_payloads(PayloadType.NOTIFICATION, theirs).payloads
    assert read_responder_lifetime(notify) == Life(60, 500)


@pytest.mark.parametrize("bad", [{"ipsec_lifetime": 5}, {"ike_lifetime": 59}, {"ipsec_lifetime_kb": -1},
                                 {"ipsec_lifetime": 60.5}, {"rekey": "yes"}])
def test_lifetimes_too_short_or_not_whole_are_refused(bad):
    with pytest.raises(ConfigError):
        PeerPolicy(**bad)


def test_lifetime_settings_are_set_keys():
    s = apply_settings(preset("rekey"), ["client.ike_lifetime=600", "server.ipsec_lifetime_kb=64", "client.rekey=no"])
    assert (s.client.ike_lifetime, s.server.ipsec_lifetime_kb, s.client.rekey) == (600, 64, False)
    with pytest.raises(ConfigError):
        apply_settings(preset("rekey"), ["client.rekey=maybe"])


# ------------------------------------------------------------------ negotiated and enforced

def test_the_initiator_adopts_the_responders_shorter_lifetime():
    pair = make_pair(PeerPolicy(ipsec_lifetime=120, ipsec_lifetime_kb=1000),
                     PeerPolicy(ipsec_lifetime=60, ipsec_lifetime_kb=400), client_nat=True).connect()
    (adopted,) = pair.of("LifetimeAdopted", "client")
    assert (adopted.offered, adopted.adopted) == ("120 s, 1000 KB", "60 s, 400 KB")
    assert pair.client.latest_child().life == pair.server.latest_child().life == Life(60, 400)


def test_a_longer_responder_lifetime_is_not_imposed():
    pair = make_pair(PeerPolicy(ipsec_lifetime=60), PeerPolicy(ipsec_lifetime=3600)).connect()
    assert not pair.of("LifetimeAdopted")
    assert pair.client.latest_child().life == pair.server.latest_child().life == Life(60)


def test_hard_lifetime_in_seconds_clears_both_phases_without_rekey():
    pair = make_pair(PeerPolicy(ike_lifetime=120, ipsec_lifetime=30, rekey=False), client_nat=True).connect()
    pair.advance(29)
    assert not pair.of("SaExpired")
    pair.advance(2)
    expired = {(e.peer, e.phase): e for e in pair.of("SaExpired")}
    assert expired[("client", 2)].code is Reason.IPSEC_SA_EXPIRED and expired[("client", 2)].limit == "seconds"
    assert not pair.client.children and not pair.server.children      # the Delete reached the server
    assert [e.by_peer for e in pair.of("SaDeleted", "server")] == [True]
    out = pair.client.send_udp(b"late", pair.now)
    assert [e.code for e in out.events if e.kind == "PacketDropped"] == [Reason.NO_IPSEC_SA]
    pair.advance(100)
    assert any(e.phase == 1 and e.code is Reason.IKE_SA_EXPIRED for e in pair.of("SaExpired"))
    assert all(sa.state.value == "DELETED" for p in (pair.client, pair.server) for sa in p.sas.values())


def _send(pair, peer, size: int, times: int) -> None:
    for _ in range(times):
        pair.take(peer.send_udp(bytes(size), pair.now))


def test_kilobyte_limit_expires_an_sa_without_rekey():
    pair = make_pair(PeerPolicy(ipsec_lifetime_kb=1, rekey=False)).connect()
    _send(pair, pair.client, 92, 10)     # 100 inner bytes each (UDP header + 92): the 11th would pass 1024
    assert not pair.of("SaExpired")
    _send(pair, pair.client, 92, 1)
    (e,) = [e for e in pair.of("SaExpired") if e.peer == "client"]
    assert (e.limit, e.code) == ("kilobytes", Reason.IPSEC_SA_EXPIRED)


def test_kilobyte_soft_limit_rekeys_and_traffic_moves():
    pair = make_pair(PeerPolicy(ipsec_lifetime_kb=1)).connect()
    first = pair.client.latest_child()
    _send(pair, pair.client, 92, 9)      # 900 bytes: past 85 % of 1024
    (started,) = pair.of("SaRekeyStarted")
    assert started.phase == 2 and "KB" in started.why
    second = pair.client.latest_child()
    assert second is not first and first.replaced_by is second
    out = pair.client.send_udp(b"next", pair.now, child=first)     # an application still holding the old SA
    assert [e.spi for e in out.events if e.kind == "DataSent"] == [f"{second.spi_out:08x}"]
    pair.take(out)
    assert not pair.of("PacketDropped")


def test_phase2_rekey_is_make_before_break_and_the_old_sa_is_deleted_on_both_peers():
    pair = make_pair(PeerPolicy(ipsec_lifetime=40), client_nat=True).connect()
    old_c, old_s = pair.client.latest_child(), pair.server.latest_child()
    pair.advance(34.5)     # soft: 85 % of 40 s
    (started,) = pair.of("SaRekeyStarted")
    assert started.sa == old_c.name
    assert pair.client.children.get(old_c.spi_in) is old_c          # both SAs installed for a while
    _send(pair, pair.server, 50, 1)                                  # the server's traffic is on the new SA
    assert pair.of("DataReceived", "client")[-1].spi == f"{pair.client.latest_child().spi_in:08x}"
    pair.advance(6)
    assert old_c.spi_in not in pair.client.children and old_s.spi_in not in pair.server.children
    deleted = [(e.peer, e.by_peer, e.sa) for e in pair.of("SaDeleted")]
    assert ("client", False, old_c.name) in deleted and ("server", True, old_s.name) in deleted
    assert not pair.of("PacketDropped")


def test_phase1_rekey_rehomes_the_ipsec_sas_and_deletes_the_old_isakmp_sa():
    pair = make_pair(PeerPolicy(ike_lifetime=100, ipsec_lifetime=3600), client_nat=True).connect()
    child = pair.client.latest_child()
    old = child.ike
    pair.advance(86)
    new = child.ike
    assert new is not old and new.state.value == "ESTABLISHED" and old.state.value == "DELETED"
    assert [e.sa for e in pair.of("SaDeleted")] == [old.cookies, old.cookies]     # client, then server
    server_child = pair.server.latest_child()
    assert server_child.ike.cookies == new.cookies and server_child.ike.state.value == "ESTABLISHED"
    assert not pair.of("Phase2Established")[2:]                      # no new Quick Mode: re-homed
    _send(pair, pair.client, 40, 1)
    assert pair.of("DataReceived", "server") and not pair.of("PacketDropped")
    pair.advance(10)
    assert not pair.of("Retransmitted") and new.state.value == "ESTABLISHED"     # MM6 ended the exchange


# ------------------------------------------------------------------ the lab preset

@pytest.fixture(scope="module")
def rekey_run():
    return run(preset("rekey"))


def test_the_rekey_preset_shows_several_phase2_rekeys_and_one_phase1_rekey(rekey_run):
    counts = summary(rekey_run)
    gens = rekey_run.report["peers"]["client"]["sa_generations"]
    assert len(gens["phase1"]) == 2 and len(gens["phase2"]) >= 6
    assert counts["expiries"] == 0 and counts["rekeys"] >= 7
    assert not [e for e in rekey_run.steps if getattr(e, "event", "") in ("Retransmitted", "PacketDropped", "GaveUp")]
    for side in ("client", "server"):
        g = rekey_run.report["peers"][side]["sa_generations"]
        assert all(x["replaced_by"] and x["end"] is not None for x in g["phase1"][:-1] + g["phase2"][:-1])
        assert g["phase1"][-1]["end"] is None and g["phase2"][-1]["end"] is None
        assert rekey_run.report["peers"][side]["isakmp_sas"] == 1 and rekey_run.report["peers"][side]["ipsec_sas"] == 1
    assert rekey_run.report["peers"]["client"]["vpn"]["l2tp_tunnel"] == "established"


def test_no_esp_packet_is_lost_across_the_rekeys(rekey_run):
    esp = [j for j in journeys(rekey_run) if j.label == "ESP-in-UDP"]
    assert len(esp) > 100 and not any(j.dropped for j in esp)
    assert not lost_packets(rekey_run)
    assert rekey_run.report["traffic"]["sent"] == rekey_run.report["traffic"]["delivered"]
    # the traffic really moved: the server received on every generation's inbound SPI
    spis = {e.fields["spi"] for e in rekey_run.steps if getattr(e, "event", "") == "DataReceived" and e.peer == "server"}
    assert len(spis) == len(rekey_run.report["peers"]["server"]["sa_generations"]["phase2"])


def test_without_rekey_the_sas_expire_with_a_reason():
    trace = run(apply_settings(preset("rekey"), ["client.rekey=no"]))
    expired = [e for e in trace.steps if getattr(e, "event", "") == "SaExpired"]
    assert {e.fields["code"] for e in expired} >= {"IPSEC_SA_EXPIRED", "IKE_SA_EXPIRED"}
    assert lost_packets(trace)
    assert trace.report["peers"]["client"]["sa_generations"]["phase2"][0]["ended"] == "expired (seconds)"


def test_the_tunnel_view_has_a_lane_per_generation_and_marks_by_kind(rekey_run):
    names = [lane.name for lane in lanes(rekey_run)]
    assert names[0].startswith("client · ISAKMP #1") and any(n.startswith("server · IPsec #7") for n in names)
    evs = events(rekey_run)
    assert {e.kind for e in evs} <= set(MARKS) and {"SaRekeyStarted", "SaRekeyed", "SaDeleted"} <= {e.kind for e in evs}
    svg = tunnel_svg(rekey_run, 100.0)
    assert svg.startswith("<svg") and svg.count("<rect") >= len([n for n in names if "events" not in n])


# ------------------------------------------------------------------ tshark

@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_decrypts_the_deletes_and_responder_lifetime_with_nothing_malformed(tmp_path):
    r = subprocess.run([sys.executable, "-m", "natt_core", "run", "rekey", "--out", str(tmp_path)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    uat = []
    for line in (tmp_path / "ikev1_decryption_table.txt").read_text().splitlines():
        uat += ["-o", f"uat:ikev1_decryption_table:{line}"]
    pcap = str(tmp_path / "internet.pcap")
    plain = subprocess.run(["tshark", "-r", pcap, *uat], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and plain.stdout and "Malformed" not in plain.stdout
    fields = subprocess.run(["tshark", "-r", pcap, *uat, "-Y", "isakmp.exchangetype == 5 || "
                             "isakmp.notify.msgtype == 24576", "-T", "fields", "-e", "isakmp.notify.msgtype",
                             "-e", "isakmp.delete.protoid", "-e", "isakmp.delete.spi"],
                            capture_output=True, text=True, timeout=60)
    rows = [line.split("\t") for line in fields.stdout.splitlines()]
    report = json.loads((tmp_path / "report.json").read_text())
    client = report["peers"]["client"]["sa_generations"]
    deleted_esp = {row[2] for row in rows if row[1] == "3"}
    assert deleted_esp == {g["sa"].split("/")[0] for g in client["phase2"][:-1]}     # the client's inbound SPIs
    assert {row[2] for row in rows if row[1] == "1"} == {client["phase1"][0]["sa"].replace(":", "")}
    assert sum(row[0] == "24576" for row in rows) == len(client["phase2"])          # one per QM2


def test_a_run_that_would_rekey_without_end_is_refused_up_front():
    with pytest.raises(ConfigError) as exc:
        apply_settings(preset("client-behind-nat"), ["duration=86400", "client.ipsec_lifetime=10"])
    assert exc.value.field == "client.ipsec_lifetime" and "rekeys" in str(exc.value)
    apply_settings(preset("client-behind-nat"), ["duration=86400", "client.ipsec_lifetime=10", "client.rekey=no"])


def test_rekeyed_isakmp_sas_leave_the_sa_list_but_keep_their_keys(rekey_run):
    last = {}
    for snap in rekey_run.snapshots:
        if snap.table == "isakmp":
            last[snap.owner] = snap.rows
    assert [len(last["client"]), len(last["server"])] == [1, 1]
    assert len(rekey_run.secrets["ike_sas"]) == 2        # both generations, for Wireshark's decryption table


def test_a_new_lifecycle_kind_is_drawn_with_one_line(rekey_run, monkeypatch):
    from natt_view import tunnel
    monkeypatch.setitem(tunnel.MARKS, "KeepaliveSent", tunnel.Mark("•", "#000", "keepalive"))
    monkeypatch.setitem(tunnel.MARKS, "DataSent", tunnel.Mark("·", "#000", "data"))
    evs = [e for e in tunnel.events(rekey_run) if e.kind == "DataSent"]
    assert evs and {e.lane for e in evs} == {"client · events", "server · events"}    # no `sa`: the peer's lane
    assert "client · events" in [lane.name for lane in tunnel.lanes(rekey_run)]
    assert tunnel.tunnel_svg(rekey_run).count(">·<title>") == len(evs)
