"""Every preset runs and its report tells the story its text promises (and the --set variants)."""
from __future__ import annotations

import pytest

from natt_core.errors import ConfigError
from natt_core.lab.presets import PRESETS, preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings, parse_setting

from .conftest import run_preset
from .helpers import L2TP_CALL

trace_of = run_preset   # the shared memoised runner (tests/conftest.py)


def peers(t):
    return t.report["peers"]


def up(p) -> bool:
    return p["phase1"] == "established" and p["phase2"] == "established"


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_runs_and_has_a_story(name):
    s = PRESETS[name]
    assert s.name == name and s.title and len(s.story) > 60
    t = trace_of(name)
    assert t.report["scenario"] == name and "server" in peers(t)


def test_no_nat_stays_on_500_and_uses_esp_protocol_50():
    t = trace_of("no-nat")
    for p in peers(t).values():
        assert up(p) and p["nat_t"] == "rfc3947" and not p["floated"]
        assert p["behind_nat"] == {"self": False, "peer": False}
    assert any(e.event == "VendorIdsSeen" for e in t.events)
    assert {h.label for h in t.hops} >= {"ESP"} and "ESP-in-UDP" not in {h.label for h in t.hops}
    assert t.report["traffic"]["delivered"] == t.report["traffic"]["sent"] == L2TP_CALL


def test_legacy_behind_nat_ike_completes_but_l2tp_fails_on_inner_checksum():
    t = trace_of("legacy-behind-nat")
    assert all(up(p) and p["nat_t"] is None for p in peers(t).values())
    assert t.report["traffic"]["delivered"] == 0
    assert "inner UDP checksum" in peers(t)["server"]["reason"]


def test_ah_behind_nat_fails_its_icv():
    t = trace_of("ah-behind-nat")
    assert t.report["traffic"]["delivered"] == 0
    assert "AH ICV mismatch" in peers(t)["server"]["reason"]


@pytest.mark.parametrize("name,version", [("client-behind-nat", "rfc3947"), ("client-behind-nat-draft02", "draft-02")])
def test_client_behind_nat_floats_and_carries_l2tp_both_ways(name, version):
    t = trace_of(name)
    c, s = peers(t)["client"], peers(t)["server"]
    assert up(c) and up(s) and c["nat_t"] == s["nat_t"] == version
    assert c["floated"] and c["behind_nat"]["self"] and s["behind_nat"]["peer"]
    assert c["keepalives_sent"] >= 2
    assert t.report["traffic"] == {"sent": L2TP_CALL, "delivered": L2TP_CALL}
    assert (c["vpn"]["l2tp_tunnel"], c["vpn"]["l2tp_session"]) == ("established", "established")
    assert all(c["mode"] == "udp-transport" for c in t.secrets["child_sas"])
    up_events = [e for e in t.events if e.event == "Phase2Established"]
    assert up_events and all("NAT-OA" in e.text for e in up_events)
    assert "ESP-in-UDP" in {h.label for h in t.hops}


@pytest.mark.parametrize("rule,ok", [(None, False), ("1", True), ("2", True)])
def test_server_behind_nat_needs_rule_1_or_2(rule, ok):
    t = trace_of("server-behind-nat", *([f"client.assume_udp_rule={rule}"] if rule else []))
    c = peers(t)["client"]
    assert up(c) == ok
    if not ok:
        assert "AssumeUDPEncapsulationContextOnSendRule is 0" in c["reason"]


@pytest.mark.parametrize("rule,ok", [(None, False), ("1", False), ("2", True)])
def test_both_behind_nat_needs_rule_2(rule, ok):
    t = trace_of("both-behind-nat", *([f"client.assume_udp_rule={rule}"] if rule else []))
    c = peers(t)["client"]
    assert up(c) == ok
    if not ok:
        assert "error 809" in c["reason"]


@pytest.mark.parametrize("n", [2, 5])
def test_multi_client_each_gets_its_own_port_and_sa(n):
    t = trace_of("multi-client", *(() if n == 2 else (f"clients={n}",)))
    ps = peers(t)
    clients = [k for k in ps if k != "server"]
    assert len(clients) == n and all(up(ps[c]) for c in clients)
    assert ps["server"]["ipsec_sas"] == n
    outside = [m["outside"] for m in t.report["nats"]["nat"]["mappings"] if m["inside"].endswith(":4500")]
    assert len(outside) == n == len(set(outside))


def test_multi_client_helper_breaks_the_second_client_and_says_why():
    t = trace_of("multi-client-helper")
    c1, c2, server = peers(t)["client1"], peers(t)["client2"], peers(t)["server"]
    assert up(c1) and up(server) and server["isakmp_sas"] == 1
    assert c2["phase1"] == "failed" and c2["phase2"] == "not-started"
    # The reason names the exact device and rule, and is client2's own: its cookie, not client1's.
    assert c2["reason"].startswith("no answer to MM1 after 10 tries")
    assert "dropped on the way, the first by nat" in c2["reason"] and "static-port-500 helper" in c2["reason"]
    assert "held by 192.168.11.20:500" in c2["reason"]
    drops = [h for h in t.hops if h.dropped]
    assert drops and all(h.src_host == "client2" and h.label == "MM1" for h in drops)
    cookie2 = drops[0].packet[28:36].hex()  # IPv4 (20) + UDP (8), then the initiator cookie
    assert f"initiator cookie {cookie2}" in c2["reason"]
    assert cookie2 not in {sa["initiator_cookie"] for sa in t.secrets["ike_sas"]}  # only client1's SA exists
    assert c1["reason"] is None
    # NAT-T did not help: the refused packets are all port-500 MM1s; client1 itself floated.
    assert c1["floated"] and all(h.packet[20:24] == bytes.fromhex("01f401f4") for h in drops)


def test_multi_client_helper_with_more_clients_leaves_only_the_first_up():
    ps = peers(trace_of("multi-client-helper", "clients=4"))
    assert up(ps["client1"]) and ps["server"]["isakmp_sas"] == 1
    assert all(ps[f"client{i}"]["phase1"] == "failed" and "static-port-500 helper" in ps[f"client{i}"]["reason"]
               for i in (2, 3, 4))


def test_esp_last_client_helper_is_escaped_by_nat_t():
    """UDP-encapsulated ESP rides ordinary per-client UDP 4500 mappings: the helper never sees it."""
    t = trace_of("multi-client-helper", "nat.helper=esp-last-client")
    assert all(up(p) and p["reason"] is None for p in peers(t).values())
    assert t.report["traffic"] == {"sent": 2 * L2TP_CALL, "delivered": 2 * L2TP_CALL}


def test_esp_last_client_helper_breaks_the_first_clients_plain_esp():
    t = trace_of("multi-client-helper", "nat.helper=esp-last-client", "client.nat_t=none", "server.nat_t=none",
                 "mode=tunnel")
    ps = peers(t)
    assert all(up(p) for p in ps.values()) and t.report["traffic"]["delivered"] < t.report["traffic"]["sent"]
    # client1's SCCRP goes to client2; client1's retransmitted SCCRQ (RFC 2661 §5.8) makes it the last
    # ESP sender again, so the helper now sends the SCCRP's retransmission to it and the call comes up
    assert t.report["traffic"]["delivered"] == t.report["traffic"]["sent"] - 1
    assert all(ps[c]["vpn"]["l2tp_session"] == "established" for c in ("client1", "client2"))
    # client1's inbound SPI, from its own SA database (the trace's snapshot, not the reason text).
    (row,) = t.table_at("client1", "ipsec", len(t.steps))
    spi1 = row["spi_in"]
    assert f"SPI 0x{spi1}" in ps["client1"]["reason"] and "delivered by nat to client2" in ps["client1"]["reason"]
    assert "esp-last-client helper" in ps["client1"]["reason"]
    assert ps["client2"]["reason"] is None  # client2 only refused a packet that was never its own


def test_keepalive_slower_than_timeout_loses_the_hello():
    t = trace_of("keepalive-vs-timeout")
    # the HELLO and its five retransmissions (RFC 2661 §5.8) all die at the NAT
    assert t.report["traffic"] == {"sent": L2TP_CALL + 6, "delivered": L2TP_CALL}
    assert "expired" in peers(t)["server"]["reason"]
    late = [h for h in t.hops if h.time >= 600 and h.dropped]
    assert late and "no mapping" in late[0].dropped


def test_keepalive_every_20s_keeps_the_tunnel_for_ten_minutes():
    t = trace_of("keepalive-vs-timeout", "client.keepalive_interval=20")
    assert t.report["traffic"] == {"sent": L2TP_CALL + 2, "delivered": L2TP_CALL + 2}   # HELLO and its ZLB
    assert peers(t)["server"]["reason"] is None
    assert any(e.event == "DataReceived" and e.peer == "client" and e.time >= 600 for e in t.events)


def test_dh_groups_agree_on_2_or_fail_with_no_proposal():
    assert all(p["dh_group"] == 2 and up(p) for p in peers(trace_of("dh-group-mismatch")).values())
    c = peers(trace_of("dh-group-mismatch", "client.dh_groups=14"))["client"]
    assert c["phase1"] == "failed" and "NO-PROPOSAL-CHOSEN" in c["reason"]


def test_double_nat_floats_through_both_nats():
    t = trace_of("double-nat")
    assert all(up(p) and p["floated"] for p in peers(t).values())
    assert set(t.report["nats"]) == {"nat", "cgnat"}
    assert t.report["traffic"]["delivered"] == L2TP_CALL


@pytest.mark.parametrize("name,client_nat,server_nat,cgnat", [
    ("ikev2-no-nat", False, False, False), ("ikev2-client-behind-nat", True, False, False),
    ("ikev2-double-nat", True, False, True), ("ikev2-server-behind-nat", False, True, False)])
def test_ikev2_presets_detect_the_nat_where_it_is(name, client_nat, server_nat, cgnat):
    t = trace_of(name)
    c, srv = peers(t)["client"], peers(t)["server"]
    assert up(c) and up(srv) and c["ike_version"] == srv["ike_version"] == 2
    assert c["behind_nat"] == {"self": client_nat, "peer": server_nat}
    assert srv["behind_nat"] == {"self": server_nat, "peer": client_nat}
    assert c["floated"] == srv["floated"] == (client_nat or server_nat)
    assert (c["keepalives_sent"] > 0) == client_nat and (srv["keepalives_sent"] > 0) == server_nat
    assert ("cgnat" in t.report["nats"]) == cgnat and t.report["traffic"]["delivered"] == L2TP_CALL
    assert sum(1 for e in t.events if e.event == "MessageSent") == 4    # IKE_SA_INIT and IKE_AUTH, no retries


def test_mode_tunnel_sets_both_peers():
    s = apply_settings(preset("client-behind-nat"), ["mode=tunnel"])
    assert s.client.mode == s.server.mode == "tunnel"
    t = run(s)
    assert {c["mode"] for c in t.secrets["child_sas"]} == {"udp-tunnel"}


@pytest.mark.parametrize("text", ["bogus=1", "clients=0", "clients=x", "mode=sideways", "client.nat_t=draft-99",
                                  "client.assume_udp_rule=3", "client.dh_groups=5", "nat.kind=cone",
                                  "link.loss=2", "nat.timeout=-1", "client.psk=", "noequals"])
def test_bad_settings_raise_config_error(text):
    with pytest.raises(ConfigError):
        apply_settings(preset("client-behind-nat"), [text])


def test_unknown_preset_names_the_choices():
    with pytest.raises(ConfigError, match="no-nat"):
        preset("nope")


def test_parse_setting_values():
    assert parse_setting("client.dh_groups=14,2") == ("client.dh_groups", (14, 2))
    assert parse_setting("link.loss=0.25") == ("link.loss", 0.25)
