"""Scenario configuration for the playground: addresses, the second NAT, forwards, traffic, errors.

Every bad value must be a FieldError (a ConfigError) whose `field` is the --set key, and nothing
may run half-configured. The presets must not change: each one round-trips through the form's
values unchanged, and acceptance tests elsewhere pin their behaviour.
"""
from __future__ import annotations

import ipaddress
from dataclasses import replace

import pytest

from natt_core.errors import ConfigError
from natt_core.lab.presets import PRESETS, preset
from natt_core.lab.scenario import Addresses, FieldError, NatSettings, run
from natt_core.lab.settings import KEYS, apply_settings
from natt_core.wire.ip import decode_ipv4_header
from natt_view.scenario_form import FIELDS, check, value_of, values_of

from .conftest import run_preset
from .helpers import L2TP_CALL

trace = run_preset   # the shared memoised runner (tests/conftest.py)


def up(t, peer: str = "client") -> bool:
    p = t.report["peers"][peer]
    return p["phase1"] == "established" and p["phase2"] == "established"


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_through_the_form(name):
    s = PRESETS[name]
    assert s.validate() is s
    settings = [f"{f.key}={value_of(s, f.key)}" for f in FIELDS]
    again = apply_settings(s, settings)
    assert again.client == s.client and again.server == s.server and again.nat == s.nat
    assert (again.topology, again.clients, again.sends, again.duration, again.loss) == \
           (s.topology, s.clients, s.sends, s.duration, s.loss)
    assert check(name, values_of(s)) == ((), {})


def test_form_fields_are_all_settings_keys():
    assert {f.key for f in FIELDS} <= set(KEYS)


def test_every_settings_key_is_a_field_of_the_form():
    """What `--set` can change, the Playground can too (the IKE version and the seed were missing)."""
    assert set(KEYS) - {f.key for f in FIELDS} == set()


def test_addresses_are_used_on_the_wire():
    t = trace("client-behind-nat", "address.nat_public=198.51.100.7", "address.server=203.0.113.10",
              "address.client=10.1.2.3")
    assert up(t)
    internet = [decode_ipv4_header(h.packet)[0] for h in t.hops if h.segment == "internet"]
    assert {ip.src for ip in internet} == {"198.51.100.7", "203.0.113.10"}
    lan = [decode_ipv4_header(h.packet)[0] for h in t.hops if h.segment == "client-lan"]
    assert "10.1.2.3" in {ip.src for ip in lan}


def test_forwarding_only_500_breaks_the_float_at_the_server_nat():
    t = trace("server-behind-nat", "client.assume_udp_rule=2", "nat2.forwards=500")
    drops = [h for h in t.hops if h.dropped]
    assert drops[0].label == "MM5" and "no mapping for UDP" in drops[0].dropped and ":4500" in drops[0].dropped
    assert not up(t)
    assert up(trace("server-behind-nat", "client.assume_udp_rule=2", "nat2.forwards=500,4500"))
    nothing = trace("server-behind-nat", "client.assume_udp_rule=2", "nat2.forwards=none")
    assert [h for h in nothing.hops if h.dropped][0].label == "MM1"


def test_second_nat_settings_reach_the_device():
    static = trace("server-behind-nat", "client.assume_udp_rule=2", "nat2.kind=static")
    assert up(static)
    kinds = {r["kind"] for s in static.snapshots if s.owner == "server-nat" for r in s.rows}
    assert kinds and "forward" not in kinds                          # 1:1 NAT: no forwards needed
    short = trace("double-nat", "nat2.timeout=15", "duration=60")
    expired = [e for e in short.events if e.event == "NatMappingExpired" and e.peer == "cgnat"]
    assert expired                                                    # the carrier NAT forgets after 15 s
    assert not [e for e in trace("double-nat").events if e.event == "NatMappingExpired" and e.peer == "cgnat"]


def test_traffic_settings_schedule_hellos():
    t = trace("client-behind-nat", "traffic.client=20,40", "traffic.server=50")
    # three HELLOs, each acknowledged by a ZLB (RFC 2661 §5.8)
    assert t.report["traffic"]["sent"] == t.report["traffic"]["delivered"] == L2TP_CALL + 3 * 2


@pytest.mark.parametrize("setting,field,words", [
    ("address.client=192.168.1.300", "address.client", "not an IPv4 address"),
    ("address.server=", "address.server", "required"),
    ("nat2.forwards=500,0", "nat2.forwards", "outside 1..65535"),
    ("client.psk=", "client.psk", "must not be empty"),
    ("nat2.kind=carrier-pigeon", "nat2.kind", "choose one of"),
    ("traffic.server=-3", "traffic.server", "0 or more"),
    ("topology=mesh", "topology", "choose one of"),
])
def test_bad_values_name_their_field(setting, field, words):
    with pytest.raises(FieldError) as info:
        apply_settings(preset("client-behind-nat"), [setting])
    assert info.value.field == field and words in str(info.value)
    assert isinstance(info.value, ConfigError)


@pytest.mark.parametrize("name,settings,field", [
    ("client-behind-nat", ["nat.kind=static", "nat.helper=static-port-500"], "nat.helper"),
    ("server-behind-nat", ["nat2.helper=static-port-500"], "nat2.helper"),
    ("server-behind-nat", ["nat2.kind=none"], "nat2.kind"),
    ("server-behind-nat", ["address.client=192.168.1.40"], "address.client"),
    ("client-behind-nat", ["clients=3", "address.client=192.168.10.255"], "address.client"),
    ("client-behind-nat", ["address.client=255.255.255.254", "clients=5"], "clients"),
    ("client-behind-nat", ["traffic.client=90"], "traffic.client"),
    ("server-behind-nat", ["nat.helper=static-port-500"], "nat.helper"),
])
def test_impossible_combinations_name_a_field(name, settings, field):
    with pytest.raises(FieldError) as info:
        apply_settings(preset(name), settings)
    assert info.value.field == field


def test_the_order_of_settings_does_not_matter():
    ok = ["nat.kind=static", "nat.helper=none"]
    for order in (ok, ok[::-1]):
        assert apply_settings(preset("multi-client-helper"), order).nat.kind == "static"


def test_run_refuses_an_invalid_scenario_before_building_anything():
    bad = replace(preset("client-behind-nat"), nat=NatSettings(kind="static", helper="static-port-500"))
    with pytest.raises(FieldError) as info:
        run(bad)
    assert info.value.field == "nat.helper"


def test_a_server_with_nat_t_as_a_client_only_does_not_serve_clients_behind_nat():
    """RFC 3947 support on the server side is a separate feature: a Windows 2000 RRAS server with
    update 818043 announces no NAT-T to clients, so a client behind NAT gets no UDP encapsulation."""
    from natt_core.lab.presets import preset
    from natt_core.lab.scenario import run
    from natt_core.lab.settings import apply_settings
    only = run(apply_settings(preset("client-behind-nat"), ["server.nat_t_role=client-only"]))
    assert only.report["peers"]["client"]["nat_t"] is None and only.report["traffic"]["delivered"] == 0
    with pytest.raises(ConfigError):
        apply_settings(preset("client-behind-nat"), ["server.nat_t_role=sometimes"])


def test_addresses_accept_canonical_dotted_quads_only_as_ipaddress_does():
    assert Addresses(client="10.0.0.20").client == "10.0.0.20"
    assert Addresses(client=ipaddress.IPv4Address("10.0.0.21")).client == "10.0.0.21"
    for bad in ("010.0.0.20", "10.0.0.20\n", " 10.0.0.20", "10.0.0.256", "10.0.0", "10.0.0.2٠", "1.2.3.4.5"):
        with pytest.raises(FieldError):
            Addresses(client=bad)


def test_the_form_runs_either_ike_version():
    """The IKE version is a field of the form like every other --set key with a vocabulary: a
    form set to IKEv2 on both sides runs IKE_SA_INIT + IKE_AUTH through the NAT."""
    offered = {f.key: f.choices for f in FIELDS}
    assert offered["client.ike_version"] == offered["server.ike_version"] == ("1", "2", "1,2")
    values = {**values_of(preset("client-behind-nat")), "client.ike_version": "2", "server.ike_version": "1,2"}
    changed, errors = check("client-behind-nat", values)
    assert not errors and set(changed) == {"client.ike_version=2", "server.ike_version=1,2"}
    t = trace("client-behind-nat", *changed)
    assert up(t) and {"IKE_SA_INIT", "IKE_AUTH"} <= {h.label for h in t.hops}
    assert check("client-behind-nat", {**values, "client.ike_version": "3"})[1] == \
        {"client.ike_version": "IKE version '3': choose one of '1' or '2' or '1,2'"}


def test_the_form_sets_the_seed_that_picks_what_an_impaired_link_does():
    values = {**values_of(preset("client-behind-nat")), "link.duplicate": "0.5", "seed": "7"}
    changed, errors = check("client-behind-nat", values)
    assert not errors and set(changed) == {"link.duplicate=0.5", "seed=7"}
    copies = [[h.copy_of for h in trace("client-behind-nat", "link.duplicate=0.5", f"seed={seed}").hops]
              for seed in (1, 7, 7)]
    assert copies[1] == copies[2] != copies[0]          # the same seed, the same run
    assert check("client-behind-nat", {**values, "seed": "x"})[1].keys() == {"seed"}
