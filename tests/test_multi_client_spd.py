"""Several clients behind one NAT (RFC 3948 §5.2, seed 004): the server's SPD decides who connects.

A per-SA server (Windows Server 2003 RRAS-like) serves every client; a selector-keyed Linux server
sees one selector for two clients and lets only the newest SA's client through; a NAT with an IPsec
helper breaks client2 before its IKE starts. Also the PPP --set keys: a wrong PPP password fails at
the PPP layer with its reason code.
"""
from __future__ import annotations

import json

import pytest

from natt_core.ipsec.spd import Selector, Spd, keying_for
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_core.errors import ConfigError


def report(name: str, *settings: str) -> dict:
    return json.loads(json.dumps(run(apply_settings(preset(name), list(settings))).report))


def vpns(r: dict) -> dict:
    return {n: p["vpn"] for n, p in r["peers"].items() if n != "server"}


def test_multi_client_every_client_connects_and_the_spd_has_one_entry_each():
    r = report("multi-client")
    assert all(v["ping"] for v in vpns(r).values())
    spd = r["peers"]["server"]["spd"]
    assert spd["keying"] == "per-sa" and [e["state"] for e in spd["entries"]] == ["active", "active"]
    # one selector (the NAT's public address), told apart by the translated port and the SPIs
    assert len({e["selector"] for e in spd["entries"]}) == 1
    assert len({e["peer"] for e in spd["entries"]}) == 2
    # the entries name the clients' SAs: the server's outbound SPI is the client's inbound one
    t = run(preset("multi-client"))
    client_in = {row["spi_in"] for name in ("client1", "client2") for s in t.snapshots
                 if s.owner == name and s.table == "ipsec" for row in s.rows}
    assert {e["spi_out"] for e in spd["entries"]} <= client_in and len(client_in) >= 2
    assert {v["address"] for v in vpns(r).values()} == {"10.99.0.10", "10.99.0.11"}


def test_a_windows_rras_server_serves_several_clients_behind_one_nat():
    r = report("multi-client", "server.profile=windows-server-2003-rras", "clients=3")
    assert [v["ping"] for v in vpns(r).values()] == [True, True, True]
    assert r["peers"]["server"]["spd"]["keying"] == "per-sa"


def test_a_linux_server_lets_only_the_newest_client_through():
    r = report("multi-client-linux-server")
    c1, c2 = vpns(r)["client1"], vpns(r)["client2"]
    assert all(p["phase1"] == p["phase2"] == "established" for p in r["peers"].values())   # IKE is not the problem
    assert c2["ping"] and c2["address"] == "10.99.0.10"
    assert not c1["ping"] and c1["address"] is None and c1["reason_code"] == "SPD_POLICY_MISMATCH"
    assert "same selector" in c1["reason"]
    entries = r["peers"]["server"]["spd"]["entries"]
    assert r["peers"]["server"]["spd"]["keying"] == "selector"
    assert [e["state"] for e in entries] == ["replaced", "active"]
    assert entries[0]["selector"] == entries[1]["selector"] == "192.168.1.10:1701/udp <-> 192.168.1.30:1701/udp"
    assert entries[0]["peer"] != entries[1]["peer"] and "selector taken" in entries[0]["note"]


def test_a_linux_server_steals_the_first_clients_traffic_in_the_trace():
    t = run(preset("multi-client-linux-server"))
    spd = [e for e in t.events if e.event == "SpdChanged"]
    assert any(e.fields.get("code") == "SPD_SELECTOR_TAKEN" and "replaced" in e.text for e in spd)
    assert any("leaves through the SA of" in e.text for e in spd)      # client1's L2TP encrypted for client2
    drops = [e for e in t.events if e.event == "PacketDropped" and e.fields.get("code") == "SPD_POLICY_MISMATCH"]
    assert drops and all(e.peer == "server" for e in drops)
    snaps = [s for s in t.snapshots if s.owner == "server" and s.table == "spd"]
    assert snaps and [row["state"] for row in snaps[-1].rows] == ["replaced", "active"]


def test_a_linux_server_with_one_client_behind_the_nat_is_fine():
    r = report("multi-client-linux-server", "clients=1")
    assert vpns(r)["client"]["ping"]


def test_the_helper_nat_breaks_client2_before_ike_for_another_reason():
    r = report("multi-client-helper")
    c2 = r["peers"]["client2"]
    assert c2["phase1"] == "failed" and c2["reason_code"] == "NAT_PORT_TAKEN"
    assert c2["vpn"]["l2tp_tunnel"] == "not-started"
    assert vpns(r)["client1"]["ping"]


def test_spd_unit_selector_collision_and_rekey():
    class Ike:
        def __init__(self, port):
            from natt_core.addressing import Endpoint
            self.local, self.remote = Endpoint("192.0.2.1", 4500), Endpoint("198.51.100.7", port)
            self.icookie = self.rcookie = bytes(8)

    class Child:
        tunnel = False

        def __init__(self, ike, spi):
            self.ike, self.spi_in, self.spi_out = ike, spi, spi + 1

    a, b = Ike(40001), Ike(40002)
    per_sa, linux = Spd("per-sa"), Spd("selector")
    for spd in (per_sa, linux):
        assert spd.install(Child(a, 0x10), 0.0) is None
    assert per_sa.install(Child(b, 0x20), 1.0) is None
    taken = linux.install(Child(b, 0x20), 1.0)
    assert taken is not None and taken.child.spi_in == 0x10
    first = linux.entries[0].child
    assert not linux.inbound(first).ok and linux.outbound(first).spi_in == 0x20
    assert per_sa.inbound(per_sa.entries[0].child).ok and per_sa.outbound(per_sa.entries[0].child).spi_in == 0x10
    # a phase-2 re-key of the same ISAKMP SA moves the entry on; the old SA still passes
    assert linux.install(Child(b, 0x30), 2.0) is None
    assert linux.inbound(linux.entries[1].child).ok
    assert Spd.selector_of(first) == Selector("192.0.2.1", "198.51.100.7")
    assert keying_for("linux-xl2tpd") == "selector" and keying_for("windows-server-2003-rras") == "per-sa"


@pytest.mark.parametrize("settings, code, auth", [
    (("client.ppp_password=wrong",), "PPP_AUTH_FAILED", "failed"),
    (("server.ppp_password=changed",), "PPP_AUTH_FAILED", "failed"),
    (("client.ppp_auth=chap-md5", "client.ppp_password=wrong"), "PPP_AUTH_FAILED", "failed"),
    (("client.ppp_auth=pap",), None, "succeeded"),
    (("client.ppp_user=alice", "client.ppp_password=pw", "server.ppp_user=alice", "server.ppp_password=pw"),
     None, "succeeded"),
])
def test_ppp_set_keys_fail_or_pass_at_the_ppp_layer(settings, code, auth):
    r = report("client-behind-nat", *settings)
    v = r["peers"]["client"]["vpn"]
    assert r["peers"]["client"]["phase2"] == "established" and v["l2tp_session"] == "established"
    assert v["ppp_auth"] == auth and v["reason_code"] == code and v["ping"] == (code is None)


def test_ppp_set_keys_refuse_bad_values():
    for bad in ("client.ppp_auth=mschap", "client.ppp_password=", "server.ppp_auth=pap,eap"):
        with pytest.raises(ConfigError):
            apply_settings(preset("client-behind-nat"), [bad])
