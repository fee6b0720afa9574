"""Live interop of Aggressive Mode (RFC 2409 §5.4, RFC 3947 §4) with strongSwan's charon through a
real Linux NAT, both directions: our AM initiator to charon (`aggressive = yes` and
charon.i_dont_care_about_security_and_use_aggressive_mode_psk), charon's AM initiator to our
responder, and charon refusing Aggressive Mode when its connection does not allow it. Same lab
and caveats as test_live_interop.py (kernel-libipsec fakes charon's NAT-D, tunnel mode)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from natt_core.lab.presets import preset
from natt_core.live.interop import CLIENT_INNER, SERVER_INNER, live_scenario, why_not_live
from natt_core.live.netns import Addresses
from natt_core.reasons import Reason

WHY_NOT = why_not_live()
pytestmark = [pytest.mark.live, pytest.mark.skipif(WHY_NOT is not None, reason=f"live tests: {WHY_NOT}")]

ADDR = Addresses()
MESSAGE = b"aggressive through the tunnel"
LIVE_TAG = "am"    # the lab's namespaces: natt-am<pid>-<n>-…


def scenario(**server):
    s = live_scenario(preset("aggressive-mode-psk"))
    return replace(s, server=replace(s.server, **server)) if server else s


def story(r) -> str:
    return "\n".join(e.describe() for e in r.events)


def sent(r) -> list[str]:
    return [e.label for e in r.of("MessageSent")]


def test_our_aggressive_initiator_behind_nat_to_charon(live):
    r = live(scenario(), "to-charon", message=MESSAGE)
    assert r.of("Phase2Established"), story(r) + "\n" + r.charon_log[-3000:]
    assert sent(r)[:2] == ["AM1", "AM3"] and [e.label for e in r.of("MessageReceived")][0] == "AM2"
    assert r.of("NatDetected")[0].self_behind_nat                       # the real NAT, from AM2's NAT-D
    assert r.of("Floated")[0].remote == f"{ADDR.server}:4500"           # AM3 on 4500 (RFC 3947 §4)
    assert "is initiating a Aggressive Mode IKE_SA" in r.charon_log
    assert "ESTABLISHED, IKEv1" in r.sas and "INSTALLED, TUNNEL-in-UDP" in r.sas
    assert [data for _, data in r.echo_seen] == [MESSAGE] and r.echo_seen[0][0] == (CLIENT_INNER, 1701)
    assert [e.payload for e in r.of("DataReceived")] == [b"echo:" + MESSAGE]


def test_charon_aggressive_initiator_to_our_responder(live):
    r = live(scenario(), "from-charon", message=MESSAGE)
    assert r.of("Phase2Established"), story(r) + "\n" + r.charon_log[-3000:]
    assert [e.label for e in r.of("MessageReceived")][:2] == ["AM1", "AM3"] and sent(r)[0] == "AM2"
    assert r.initiated and r.initiated[0], r.initiated
    assert "initiating Aggressive Mode IKE_SA" in r.charon_log
    natd = r.of("NatDetected")[0]                                        # judged from AM3, on 4500
    assert natd.peer_behind_nat and natd.peer_seen.startswith(f"{ADDR.nat_public}:")
    assert r.of("Floated")[0].local_port == 4500
    assert f"{CLIENT_INNER}/32[udp/l2f]" in r.sas and f"{SERVER_INNER}/32[udp/l2f]" in r.sas
    assert [e.payload for e in r.of("DataReceived")] == [b"echo:" + MESSAGE]


def test_charon_not_configured_for_aggressive_mode_refuses_and_we_say_why(live):
    r = live(scenario(phase1_mode="main"), "to-charon", timeout=3.0)
    assert not r.of("Phase1Established"), story(r)
    failed = r.of("NegotiationFailed")
    assert failed and failed[0].code is Reason.AGGRESSIVE_MODE_REFUSED, story(r)
    assert "Aggressive Mode PSK disabled" in r.charon_log
    assert "ESTABLISHED" not in r.sas
