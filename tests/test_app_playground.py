"""The playground under AppTest: blank form to a run, messages beside bad fields, never a half-run.

"Beside the field" is checked by position: the error element must come right after its input in
the page's element order (Streamlit draws both into the same form column).
"""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
GOOD = {"address.client": "192.168.11.20", "address.nat_public": "198.51.100.7", "address.server": "203.0.113.10",
        "address.server_private": "10.0.0.10", "address.server_nat_public": "203.0.113.40",
        "client.psk": "s3cret", "server.psk": "s3cret"}


def blank() -> AppTest:
    at = AppTest.from_file(str(ROOT / "lessons/playground.py"), default_timeout=60).run()
    assert not at.exception and not at.error
    return at


def fill(at: AppTest, **values: str) -> AppTest:
    for k, v in values.items():
        key = f"pg:f:{k.replace('__', '.')}"
        try:
            at.text_input(key=key).set_value(v)
        except KeyError:
            try:
                at.selectbox(key=key).set_value(v)
            except KeyError:                    # a field this topology does not use: hidden, kept
                at.session_state[key] = v
    at.button(key="pg:submit").click()
    return at.run()


def ran(at: AppTest) -> bool:
    return any('class="natt-topo"' in m.value for m in at.markdown) and any(s.value.startswith("Step ") for s in at.subheader)


def field_error(at: AppTest, key: str) -> str:
    """The error drawn directly after the input `key` (same column), or ''."""
    col = None
    for block in at.main.children.values():
        col = col or _find_parent(block, key)
    assert col is not None, f"no input {key}"
    items = list(col.children.values())
    for i, el in enumerate(items):
        if getattr(el, "key", None) == f"pg:f:{key}":
            nxt = items[i + 1] if i + 1 < len(items) else None
            return nxt.value if nxt is not None and type(nxt).__name__ == "Error" else ""
    return ""


def _find_parent(node, key):
    for child in getattr(node, "children", {}).values():
        if getattr(child, "key", None) == f"pg:f:{key}":
            return node
        found = _find_parent(child, key)
        if found is not None:
            return found
    return None


def test_blank_form_runs_nothing_then_a_filled_form_runs():
    at = blank()
    assert not ran(at) and any("Fill in the form" in i.value for i in at.info)
    at.button(key="pg:submit").click().run()
    assert not ran(at) and not at.exception
    assert "required" in field_error(at, "address.client") and "must not be empty" in field_error(at, "client.psk")
    at = fill(at, **GOOD)
    assert not at.exception and not at.error and ran(at)
    assert any("It works" in s.value for s in at.success)
    assert any("198.51.100.7" in m.value for m in at.markdown if "natt-topo" in m.value)   # the address typed
    assert any("--set 'client.psk=s3cret'" in c.value for c in at.code)
    assert "s3cret" not in str(at.query_params.get("set"))     # a key never goes into the link


@pytest.mark.parametrize("field,value,words", [
    ("address.client", "192.168.11.300", "not an IPv4 address"),
    ("address.server_nat_public", "10.0.0", "not an IPv4 address"),
    ("nat2.forwards", "500,70000", "port 70000 is outside 1..65535"),
    ("nat2.forwards", "five hundred", "port numbers"),
    ("client.psk", "", "must not be empty"),
    ("nat.timeout", "-5", "positive number of seconds"),
    ("clients", "two", "whole number"),
    ("link.loss", "1.5", "from 0 to 1"),
    ("link.duplicate", "2", "from 0 to 1"),
    ("link.reorder", "often", "number from 0 to 1"),
    ("server.keepalive_interval", "0", "positive number of seconds"),
    ("server.keepalive_interval", "soon", "number of seconds"),
])
def test_bad_input_gets_a_message_beside_its_field_and_no_run(field, value, words):
    server_side = field.startswith(("nat2.", "server.keepalive", "address.server_"))    # fields both-nat uses
    at = fill(blank(), **GOOD, **({"topology": "both-nat"} if server_side else {}))
    assert ran(at)
    at = fill(at, **{field: value})
    assert not at.exception
    assert words in field_error(at, field), [e.value for e in at.error]
    assert not ran(at)                                                   # the old run is not shown either
    assert any("Nothing was run" in e.value for e in at.error)


@pytest.mark.parametrize("changes,field,words", [
    ({"nat.kind": "static", "nat.helper": "static-port-500"}, "nat.helper", "needs kind 'napt'"),
    ({"topology": "server-nat", "nat2.helper": "static-port-500"}, "nat2.helper", "conflicts with the forward"),
    ({"address.client": "198.51.100.7"}, "address.client", "already used"),
    ({"traffic.server": "100", "duration": "60"}, "traffic.server", "outside the run"),
])
def test_impossible_combinations_are_named(changes, field, words):
    at = fill(fill(blank(), **GOOD), **changes)
    assert not at.exception and not ran(at)
    assert words in field_error(at, field), [e.value for e in at.error]


def test_forwarding_only_500_fails_at_the_float_and_the_step_view_follows():
    at = fill(blank(), **GOOD)
    at = fill(at, topology="server-nat", **{"client.assume_udp_rule": "2", "nat2.forwards": "500"})
    assert ran(at)
    failure = " ".join(w.value for w in at.warning)
    assert "It fails at step 5 (MM5)" in failure and "server-nat" in failure
    at.button(key="pg:run:jump:fail").click().run()
    assert at.session_state["pg:run:step"] == 5 and "MM5" in at.subheader[0].value
    at = fill(at, **{"nat2.forwards": "500,4500"})
    assert any("It works" in s.value for s in at.success)


def test_starting_from_a_preset_loads_it_into_the_form():
    at = blank()
    at.selectbox(key="pg:scenario").set_value("keepalive-vs-timeout").run()
    assert not at.exception and ran(at)
    assert at.text_input(key="pg:f:nat.timeout").value == "30"
    assert at.text_input(key="pg:f:traffic.server").value == "600"
    assert any("It fails" in w.value for w in at.warning)
    at = fill(at, **{"client.keepalive_interval": "20"})
    assert any("It works" in s.value for s in at.success)


def test_a_shared_link_reproduces_the_run_and_a_bad_one_runs_nothing():
    at = fill(blank(), **GOOD)
    at = fill(at, **{"nat.kind": "static"})
    params = {k: at.query_params[k] for k in at.query_params}
    sets = params["set"] if isinstance(params["set"], list) else [params["set"]]
    assert "nat.kind=static" in sets and "address.nat_public=198.51.100.7" in sets
    again = AppTest.from_file(str(ROOT / "lessons/playground.py"), default_timeout=60)
    again.query_params["scenario"] = "client-behind-nat"
    again.query_params["set"] = sets
    again.query_params["step"] = "3"
    again.run()
    assert not again.exception and ran(again) and again.session_state["pg:run:step"] == 3
    assert again.text_input(key="pg:f:address.nat_public").value == "198.51.100.7"
    bad = AppTest.from_file(str(ROOT / "lessons/playground.py"), default_timeout=60)
    bad.query_params["scenario"] = "client-behind-nat"
    bad.query_params["set"] = ["address.client=999.1.1.1"]
    bad.run()
    assert not bad.exception and not ran(bad)
    assert "not an IPv4 address" in field_error(bad, "address.client")


def steps_total(at: AppTest) -> int:
    heading = next(s.value for s in at.subheader if s.value.startswith("Step "))
    return int(heading.split(" of ")[1].split()[0])


def test_nat_behaviour_link_and_server_keepalive_fields_reach_the_run():
    at = fill(blank(), **GOOD)
    assert at.selectbox(key="pg:f:nat.mapping").value == "endpoint-independent"       # the preset's values
    assert at.selectbox(key="pg:f:nat.filtering").value == "address-and-port-dependent"
    assert at.session_state["pg:f:server.keepalive_interval"] == "20"               # hidden: client-nat
    assert at.text_input(key="pg:f:link.duplicate").value == "0"
    at = fill(at, topology="both-nat", **{"client.assume_udp_rule": "2"})
    assert ran(at)
    before = steps_total(at)
    at = fill(at, **{"server.keepalive_interval": "5", "nat.mapping": "address-dependent",
                     "nat.filtering": "endpoint-independent"})
    assert ran(at) and not at.exception
    command = " ".join(c.value for c in at.code)
    for line in ("server.keepalive_interval=5", "nat.mapping=address-dependent", "nat.filtering=endpoint-independent"):
        assert f"--set '{line}'" in command
    assert steps_total(at) > before                    # the server behind its NAT now keeps it open more often
    at = fill(at, **{"server.keepalive_interval": "20", "link.duplicate": "0.2"})
    assert ran(at) and "--set 'link.duplicate=0.2'" in " ".join(c.value for c in at.code)
    assert steps_total(at) > before                    # duplicated packets are steps of their own


def test_a_bad_nat_behaviour_in_a_link_is_named_beside_its_field():
    at = AppTest.from_file(str(ROOT / "lessons/playground.py"), default_timeout=60)
    at.query_params["scenario"] = "client-behind-nat"
    at.query_params["set"] = ["nat.mapping=sometimes", "link.reorder=-0.1"]
    at.run()
    assert not at.exception and not ran(at)
    message = field_error(at, "nat.mapping")
    assert "sometimes is not on the list" in message and "choose one of endpoint-independent" in message
    assert at.selectbox(key="pg:f:nat.mapping").value == "endpoint-independent"      # a valid value is shown
    at.run()                                                                          # and the message stays
    assert "sometimes is not on the list" in field_error(at, "nat.mapping")
    assert "from 0 to 1" in field_error(at, "link.reorder")


def test_sequence_row_links_carry_the_playground_run():
    """A row's href is the shared link of this run at that step: it reproduces run and step."""
    from urllib.parse import parse_qs
    at = fill(fill(blank(), **GOOD), **{"nat.kind": "static"})
    svg = next(m.value for m in at.markdown if 'class="natt-seq"' in m.value)
    href = html.unescape(re.search(r'data-step="4" href="([^"]*)"', svg).group(1))
    query = parse_qs(href[1:])
    assert query["step"] == ["4"] and query["scenario"] == ["client-behind-nat"]
    assert "nat.kind=static" in query["set"] and "s3cret" not in href      # no key in a link
    again = AppTest.from_file(str(ROOT / "lessons/playground.py"), default_timeout=60)
    for k, v in query.items():
        again.query_params[k] = v if k == "set" else v[0]
    again.run()
    assert not again.exception and ran(again) and again.session_state["pg:run:step"] == 4
    assert again.selectbox(key="pg:f:nat.kind").value == "static"


def test_the_blank_form_asks_only_for_what_its_topology_uses():
    at = blank()
    keys = {w.key for w in at.text_input}
    assert {"pg:f:address.client", "pg:f:address.nat_public", "pg:f:address.server"} <= keys
    assert not keys & {"pg:f:address.server_private", "pg:f:address.server_nat_public", "pg:f:nat2.timeout"}
    at = fill(at, **{k: v for k, v in GOOD.items() if k not in ("address.server_private", "address.server_nat_public")})
    assert ran(at) and not at.error
    at.selectbox(key="pg:f:topology").set_value("server-nat").run()
    keys = {w.key for w in at.text_input}
    assert {"pg:f:address.server_private", "pg:f:address.server_nat_public"} <= keys
    assert "pg:f:address.server" not in keys and "pg:f:nat.timeout" not in keys


def test_the_nat_inside_address_follows_the_client_subnet():
    at = fill(blank(), **{**GOOD, "address.client": "10.20.30.40"})
    assert ran(at)
    topo = " ".join(m.value for m in at.markdown if "natt-topo" in m.value)
    assert "in 10.20.30.1" in topo and "192.168.11.1" not in topo


def test_profiles_and_ppp_settings_from_the_form_reach_the_run():
    """A peer profile chosen in the form changes the run (a Linux server: two clients behind one NAT
    collide in its SPD); a wrong PPP password fails at the PPP layer; passwords stay out of the link."""
    at = blank()
    at.selectbox(key="pg:scenario").set_value("multi-client").run()
    assert ran(at) and any("It works" in s.value for s in at.success)
    assert "linux-xl2tpd" in at.selectbox(key="pg:f:server.profile").options
    at = fill(at, **{"server.profile": "linux-xl2tpd"})
    assert ran(at) and not at.exception
    assert "--set 'server.profile=linux-xl2tpd'" in " ".join(c.value for c in at.code)
    assert any("It fails" in w.value and "same selector" in w.value for w in at.warning)
    at = fill(at, **{"server.profile": "none", "client.ppp_password": "not-the-password"})
    assert ran(at) and any("It fails" in w.value for w in at.warning)
    assert "PPP_AUTH_FAILED" in " ".join(m.value for m in at.sidebar.markdown)
    assert any("PPP_AUTH_FAILED" in w.value for w in at.warning)
    sets = at.query_params.get("set") or []
    assert not any("ppp_password" in s for s in (sets if isinstance(sets, list) else [sets]))


def test_the_verdict_names_the_real_failure_not_an_early_resent_packet():
    at = fill(fill(blank(), **GOOD), **{"link.loss": "0.2", "server.psk": "other"})
    assert ran(at)
    failure = " ".join(w.value for w in at.warning)
    assert "no IPsec SA" in failure and "AUTH_FAILED" in failure, failure
    assert "is not what ended the run" in failure and "LINK_LOSS" in failure     # the early loss, named as such
    at.button(key="pg:run:jump:fail").click().run()
    assert "MM5" in at.subheader[0].value
