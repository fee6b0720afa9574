"""One vocabulary per setting: the policy's and the NAT's tuples are the only lists of allowed values.

`--set` (natt_core.lab.settings.CHOICES), the lesson switches (natt_ui.switches, field_lesson), the
Playground form (natt_view.scenario_form) and the engine's own tables are checked against them in
both directions: every value offered is accepted, and every accepted value can be offered.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from natt_core.errors import ConfigError
from natt_core.ike import policy, proposals
from natt_core.ike.nat_t import SUPPORT
from natt_core.ike.policy import PeerPolicy
from natt_core.lab import export, strongswan_config
from natt_core.lab.presets import preset
from natt_core.lab.scenario import TOPOLOGIES, run
from natt_core.lab.settings import CHOICES, DH_OFFERS, KEYS, RULE_TEXT, apply_settings, parse_setting, rule_text
from natt_core.net.nat_config import BEHAVIOURS, HELPERS, KINDS, PORT_ALLOCATIONS
from natt_view.scenario_form import FIELDS

ROOT = Path(__file__).resolve().parents[1]
BASE = "client-behind-nat"
#: values a what-if switch or the form deliberately does not offer, and why
NOT_OFFERED = {
    "topology": {"double-nat"},   # the field lessons' topology switch: one NAT per side at most
    "nat2.kind": {"none"},        # the form's second NAT is a NAT; "none" would be no second device
    # lesson 9's case switch picks only the Linux server; the playground form offers every stack
    "server.profile": {p for p in CHOICES["server.profile"] if p != "linux-xl2tpd"},
}


def switches():
    from natt_ui import field_lesson  # noqa: F401  (registers the field lessons' switches)
    from natt_ui.switches import SWITCHES
    return SWITCHES


def offered_by_switches() -> dict[str, set[str]]:
    """--set key -> every value some switch option sets it to."""
    out: dict[str, set[str]] = {}
    for sw in switches().values():
        for option in sw.options:
            for line in sw.settings(option):
                key, value = line.split("=", 1)
                out.setdefault(key, set()).add(value)
    return out


# ------------------------------------------------------------------------- the source tuples

def test_the_choices_are_the_policy_and_nat_tuples_themselves():
    assert set(policy.NAT_T) == set(SUPPORT) == {"none", "draft-02", "draft-03", "rfc3947"}
    assert CHOICES["client.nat_t"] is policy.NAT_T and CHOICES["server.nat_t"] is policy.NAT_T
    assert CHOICES["mode"] is policy.MODES and CHOICES["protocol"] is policy.PROTOCOLS
    assert CHOICES["server.nat_t_role"] is policy.NAT_T_ROLES and CHOICES["topology"] is TOPOLOGIES
    for key, source in (("kind", KINDS), ("helper", HELPERS), ("port_allocation", PORT_ALLOCATIONS)):
        assert CHOICES[f"nat.{key}"] is source and CHOICES[f"nat2.{key}"] is source
    assert CHOICES["nat.mapping"] is BEHAVIOURS and CHOICES["nat.filtering"] is BEHAVIOURS
    assert RULE_TEXT == {"0": 0, "1": 1, "2": 2, "none": None}
    assert {int(g) for offer in DH_OFFERS for g in offer.split(",")} == set(policy.DH_GROUPS)


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_every_choice_is_accepted_by_set_and_by_the_dataclasses(key):
    for value in CHOICES[key]:
        assert parse_setting(f"{key}={value}")[0] == key
        settings = [f"{key}={value}"]
        if key == "nat2.kind" and value == "none":
            with pytest.raises(ConfigError):      # Scenario.validate: a server NAT that is no NAT
                apply_settings(preset("server-behind-nat"), settings)
            continue
        apply_settings(preset(BASE), settings)


@pytest.mark.parametrize("key", sorted(CHOICES))
def test_a_value_outside_the_vocabulary_is_refused(key):
    with pytest.raises(ConfigError, match="choose one of"):
        parse_setting(f"{key}={'5' if key.endswith('dh_groups') else 'draft-04'}")


def test_policy_accepts_exactly_the_nat_t_and_rule_vocabulary():
    for v in policy.NAT_T:
        assert PeerPolicy(nat_t=v).nat_t == v
    for text, rule in RULE_TEXT.items():
        assert PeerPolicy(assume_udp_rule=rule).assume_udp_rule == rule and rule_text(rule) == text
    for bad in ({"nat_t": "draft-01"}, {"assume_udp_rule": 3}, {"dh_groups": (5,)}, {"mode": "beet"}):
        with pytest.raises(ConfigError, match="choose one of"):
            PeerPolicy(**bad)


def test_the_engines_tables_know_every_algorithm_the_policy_allows():
    from natt_core.crypto.primitives import CIPHERS, MODP
    from natt_core.ipsec.esp_sa import INTEGRITY
    assert set(proposals._P1_CIPHER) == set(policy.PHASE1_CIPHERS) <= set(CIPHERS)
    assert set(proposals._HASH) == set(policy.HASHES) == set(strongswan_config.HASH)
    assert set(proposals._ESP_CIPHER) == set(policy.ESP_CIPHERS) == set(strongswan_config.ESP_CIPHER)
    assert set(proposals._INTEGRITY) == set(proposals._AH) == set(policy.INTEGRITIES) == set(INTEGRITY) \
        == set(strongswan_config.INTEGRITY)
    assert set(strongswan_config.IKE_CIPHER) == set(policy.PHASE1_CIPHERS)
    assert set(policy.ESP_CIPHERS) <= set(export.ESP_CIPHERS) and set(policy.INTEGRITIES) <= set(export.ESP_INTEGRITY)
    assert set(policy.DH_GROUPS) <= set(MODP) and set(policy.DH_GROUPS) == set(strongswan_config.MODP)


# ------------------------------------------------------------------------- switches and form

def test_every_switch_option_is_a_valid_set_line_for_the_preset():
    for sw in switches().values():
        for option in sw.options:
            lines = sw.settings(option)
            assert lines, (sw.name, option)
            base = "server-behind-nat" if sw.name in ("winrule", "forwards") else BASE
            apply_settings(preset(base), lines)


def test_the_switches_offer_the_whole_vocabulary_of_the_keys_they_set():
    offered = offered_by_switches()
    for key, values in offered.items():
        assert key in KEYS
        if key in CHOICES:
            assert values <= set(CHOICES[key]), key
            assert set(CHOICES[key]) - values <= NOT_OFFERED.get(key, set()), key


def test_one_windows_rule_switch_in_the_setting_spelling():
    rule_switches = [sw for sw in switches().values()
                     if any(line.startswith("client.assume_udp_rule=") for o in sw.options for line in sw.settings(o))]
    assert [sw.name for sw in rule_switches] == ["winrule"]
    assert set(rule_switches[0].options) == set(RULE_TEXT)


def test_both_nat_t_switches_offer_draft_03():
    sw = switches()
    assert "draft-03" in sw["nat_t"].options and "draft-03" in sw["client_nat_t"].options
    assert sw["nat_t"].settings("draft-03") == ["client.nat_t=draft-03", "server.nat_t=draft-03"]


def test_every_form_choice_list_is_the_settings_vocabulary():
    for f in FIELDS:
        if not f.choices:
            continue
        assert f.key in CHOICES, f.key
        assert set(f.choices) <= set(CHOICES[f.key]), f.key
        assert set(CHOICES[f.key]) - set(f.choices) <= NOT_OFFERED.get(f.key, set()), f.key
        for value in f.choices:
            parse_setting(f"{f.key}={value}")
    assert {f.key for f in FIELDS if f.choices} == set(CHOICES)   # every enumerated key has a list in the form


# ------------------------------------------------------------------------- literal --set lines

def _set_literals(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            key, sep, value = node.value.partition("=")
            if sep and key in KEYS and value:          # "key=" alone is a prefix or an f-string's head
                yield node.value


@pytest.mark.parametrize("path", sorted([*(ROOT / "lessons").glob("*.py"), *(ROOT / "natt_view").glob("*.py"),
                                         *(ROOT / "natt_ui").glob("*.py")]), ids=lambda p: p.name)
def test_every_literal_set_line_in_the_app_parses(path):
    for line in _set_literals(path):
        parse_setting(line)


def test_draft_03_on_both_peers_runs_and_is_chosen():
    trace = run(apply_settings(preset(BASE), ["client.nat_t=draft-03", "server.nat_t=draft-03"]))
    peers = trace.report["peers"]
    assert peers["client"]["nat_t"] == peers["server"]["nat_t"] == "draft-03"
    assert peers["client"]["phase2"] == "established"
