"""The lifecycle presets tell their stories in report.json and events: a client that vanishes is found
dead by DPD (RFC 3706), a NAT that forgets its mapping is followed to the new port (RFC 3947 §7), a
client that reboots replaces its old SAs with INITIAL-CONTACT; and tshark reads the DPD exchange."""
from __future__ import annotations

import contextlib
import io
import shutil
import subprocess

import pytest

from natt_core.cli import main as cli_main
from natt_core.lab.schedule import Action
from natt_core.lab.settings import parse_setting

from .conftest import run_preset
from .helpers import L2TP_CALL


def peers(t):
    return t.report["peers"]


def events(t, kind: str, peer: str | None = None) -> list:
    return [e for e in t.events if e.event == kind and (peer is None or e.peer == peer)]


# ------------------------------------------------------------------ dpd-peer-gone
def test_dpd_peer_gone_clears_the_dead_clients_sas_with_a_reason_code():
    t = run_preset("dpd-peer-gone")
    srv = peers(t)["server"]
    assert srv["reason_code"] == "DPD_PEER_DEAD" and "dead peer" in srv["reason"]
    assert (srv["phase1"], srv["phase2"], srv["isakmp_sas"], srv["ipsec_sas"]) == ("established", "established", 0, 0)
    off, = events(t, "HostPower", "client")
    assert off.time == 60.0 and not off.fields["on"]
    probes = [e.time for e in events(t, "MessageSent", "server") if e.fields["label"] == "INFO R-U-THERE"]
    answered = [e.time for e in events(t, "LivenessChecked", "server")]
    assert len(answered) == 1 and answered[0] < 60.0 < probes[1]           # alive once, then silence
    dead, = events(t, "DeadPeerDetected", "server")
    assert dead.fields["code"] == "DPD_PEER_DEAD" and round(dead.time - probes[1]) == 120   # dpd_timeout
    assert [round(b - a) for a, b in zip(probes, probes[1:])] == [30, 30, 30, 30]              # dpd_delay
    assert {e.fields["code"] for e in events(t, "SaDeleted", "server")} == {"DPD_PEER_DEAD"}
    to_client = [h for h in t.hops if h.dropped and h.dst_host == "client"]
    assert to_client and {h.drop_code for h in to_client} == {"HOST_DOWN"}


def test_a_client_without_the_dpd_vendor_id_is_never_asked_and_its_sas_stay():
    t = run_preset("dpd-peer-gone", "client.profile=windows-xp-sp2")
    srv = peers(t)["server"]
    assert srv["reason_code"] is None and (srv["isakmp_sas"], srv["ipsec_sas"]) == (1, 1)
    assert events(t, "DpdNotNegotiated", "server") and not events(t, "DeadPeerDetected")
    assert not [e for e in events(t, "MessageSent", "server") if e.fields["label"] == "INFO R-U-THERE"]


def test_dpd_keeps_quiet_while_traffic_flows_and_is_off_by_default():
    t = run_preset("client-behind-nat", "server.dpd_delay=30", "traffic.server=20,40", "duration=70")
    probes = [e.time for e in events(t, "MessageSent", "server") if e.fields["label"] == "INFO R-U-THERE"]
    assert probes == [] or min(probes) > 40 + 30 - 1e-6     # the HELLOs' answers are traffic received
    plain = run_preset("client-behind-nat")
    assert not [e for e in plain.events if e.event == "MessageSent" and "R-U-THERE" in e.fields["label"]]


# ------------------------------------------------------------------ nat-rebinding
def test_nat_rebinding_the_server_follows_the_new_port_and_the_tunnel_survives():
    t = run_preset("nat-rebinding")
    flushed, = events(t, "NatMappingsFlushed", "nat")
    assert flushed.time == 90.0
    moved, = events(t, "RemoteFollowed", "server")
    assert moved.fields["via"] == "ESP-in-UDP" and 120.0 <= moved.time < 121.0
    assert moved.fields["old"].split(":")[0] == moved.fields["new"].split(":")[0] == "192.168.1.30"
    assert moved.fields["old"] != moved.fields["new"]
    # the keepalives from the new port came first and moved nothing
    first_new = [e for e in events(t, "KeepaliveReceived", "server") if e.fields["src"] == moved.fields["new"]]
    assert first_new and first_new[0].time < moved.time
    r = t.report
    assert r["traffic"]["sent"] == r["traffic"]["delivered"] == L2TP_CALL + 4      # two HELLOs and their ZLBs
    assert all(p["reason_code"] is None for p in peers(t).values())


def test_nat_rebinding_what_if_only_the_server_speaks():
    t = run_preset("nat-rebinding", "traffic.client=none")
    assert not events(t, "RemoteFollowed")
    srv = peers(t)["server"]
    assert srv["reason_code"] == "NAT_MAPPING_FLUSHED" and "flushed" in srv["reason"]
    assert t.report["traffic"]["delivered"] < t.report["traffic"]["sent"]


def test_nat_rebinding_client_dpd_teaches_the_server_its_new_port():
    t = run_preset("nat-rebinding", "traffic.client=none", "client.dpd_delay=30")
    moved = events(t, "RemoteFollowed", "server")
    assert moved and moved[0].fields["via"] == "Informational" and moved[0].time > 90
    assert t.report["traffic"]["sent"] == t.report["traffic"]["delivered"]
    assert peers(t)["server"]["reason_code"] is None


def test_a_server_behind_port_forwards_follows_the_rebound_client_too():
    t = run_preset("nat-rebinding", "topology=both-nat", "client.assume_udp_rule=2")
    assert peers(t)["server"]["behind_nat"] == {"self": True, "peer": True}
    assert events(t, "RemoteFollowed", "server")
    assert t.report["traffic"]["sent"] == t.report["traffic"]["delivered"]


# ------------------------------------------------------------------ INITIAL-CONTACT with a rebooting client
def test_a_rebooted_client_replaces_its_sas_with_initial_contact():
    t = run_preset("client-behind-nat", "client.reboot_at=30", "duration=60")
    srv = peers(t)["server"]
    assert (srv["isakmp_sas"], srv["ipsec_sas"]) == (1, 1) and srv["reason_code"] is None
    first, ic = events(t, "InitialContactReceived", "server")     # the first connection replaced nothing
    assert first.fields["replaced"] == [] and first.time < 30 < ic.time
    assert ic.fields["identity"] == "192.168.11.20" and len(ic.fields["replaced"]) == 1
    assert {e.fields["code"] for e in events(t, "SaDeleted", "server")} == {"INITIAL_CONTACT"}
    assert peers(t)["client"]["vpn"]["ping"] and len(events(t, "Phase1Established", "client")) == 2


def test_without_initial_contact_a_rebooted_clients_sas_pile_up():
    t = run_preset("client-behind-nat", "client.reboot_at=30", "duration=60", "client.initial_contact=no")
    srv = peers(t)["server"]
    assert (srv["isakmp_sas"], srv["ipsec_sas"]) == (2, 2) and not events(t, "InitialContactReceived")


def test_action_settings_are_checked():
    assert parse_setting("nat.flush_at=90,200") == ("nat.flush_at", (90.0, 200.0))
    with pytest.raises(Exception, match="outside the run"):
        run_preset("client-behind-nat", "nat.flush_at=100")
    with pytest.raises(Exception, match="no second NAT"):
        run_preset("client-behind-nat", "nat2.flush_at=10")
    with pytest.raises(Exception, match="at least 1"):
        run_preset("client-behind-nat", "server.dpd_delay=0.001")
    with pytest.raises(Exception):
        Action(1.0, "flush", "client")


# ------------------------------------------------------------------ tshark reads the DPD exchange
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_decrypts_the_dpd_informationals_with_the_exported_key(tmp_path):
    out = tmp_path / "run"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli_main(["run", "dpd-peer-gone", "--out", str(out)]) == 0
    key = (out / "ikev1_decryption_table.txt").read_text().strip()
    fields = ("isakmp.exchangetype", "isakmp.flag_e", "isakmp.notify.msgtype", "isakmp.notify.data.dpd.are_you_there",
              "isakmp.notify.data.dpd.are_you_there_ack", "isakmp.vid_bytes", "_ws.malformed")
    cmd = ["tshark", "-r", str(out / "internet.pcap"), "-o", f"uat:ikev1_decryption_table:{key}", "-T", "fields",
           "-E", "occurrence=a", *sum((["-e", f] for f in fields), [])]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    rows = [dict(zip(fields, line.split("\t"))) for line in run.stdout.splitlines()]
    assert rows and all(r["_ws.malformed"] == "" for r in rows)
    assert any("afcad71368a1f1c96b8696fc77570100" in r["isakmp.vid_bytes"] for r in rows)   # the DPD Vendor ID
    info = [r for r in rows if r["isakmp.exchangetype"] == "5"]
    asks = [int(r["isakmp.notify.data.dpd.are_you_there"]) for r in info if r["isakmp.notify.msgtype"] == "36136"]
    acks = [int(r["isakmp.notify.data.dpd.are_you_there_ack"]) for r in info if r["isakmp.notify.msgtype"] == "36137"]
    assert all(r["isakmp.flag_e"] == "1" for r in info) and len(asks) == 5 and acks == asks[:1]
    assert asks == list(range(asks[0], asks[0] + 5))          # a new number for every R-U-THERE (RFC 3706 §7)


def test_exported_configs_carry_the_scenarios_dpd():
    from natt_core.lab.libreswan_config import ipsec_conf
    from natt_core.lab.presets import preset
    from natt_core.lab.strongswan_config import swanctl_conf
    gone = preset("dpd-peer-gone")
    assert "dpd_delay = 30s" in swanctl_conf(gone, "server") and "dpd_timeout = 120s" in swanctl_conf(gone, "server")
    assert "dpddelay=30" in ipsec_conf(gone, "server") and "dpdtimeout=120" in ipsec_conf(gone, "server")
    plain = preset("client-behind-nat")
    assert "dpd" not in swanctl_conf(plain, "server") and "dpd" not in ipsec_conf(plain, "server")
