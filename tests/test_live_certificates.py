"""Live interop with certificates: our engine against strongSwan's charon, RSA and ECDSA signatures.

charon gets the lab PKI's files in its swanctl directories (x509/ its machine certificate,
x509ca/ the lab root and issuing CA, private/ its PKCS#8 key: lab/strongswan_config.py
`swanctl_files`), both directions through a real MASQUERADE NAT. charon's log says which
signature scheme verified ours, and which certificate it trusted; a certificate from the rogue CA
is refused by charon and, the other way round, by us with CERT_UNTRUSTED. Skipped, with the
reason, without root, charon or the network tools.
"""
from __future__ import annotations

from dataclasses import replace

import pytest

from natt_core.lab.presets import preset
from natt_core.live.interop import live_scenario, why_not_live
from natt_core.reasons import Reason

from .conftest import FAST_GIVE_UP

WHY_NOT = why_not_live()
pytestmark = [pytest.mark.live, pytest.mark.skipif(WHY_NOT is not None, reason=f"live tests: {WHY_NOT}")]

MESSAGE = b"signed, then sealed"
LIVE_TAG = "c"     # the lab's namespaces: natt-c<pid>-<n>-…


def scenario(auth: str, client: dict | None = None, server: dict | None = None):
    s = live_scenario(preset("client-behind-nat"))
    return replace(s, client=replace(s.client, auth=auth, **(client or {})),
                   server=replace(s.server, auth=auth, **(server or {})))


def story(r) -> str:
    return "\n".join(e.describe() for e in r.events) + "\n--- charon ---\n" + r.charon_log[-3000:]


SCHEME = {"rsa-sig": "RSA_EMSA_PKCS1_NULL", "ecdsa-sig": "ECDSA_WITH_NULL"}


@pytest.mark.parametrize("auth", ["rsa-sig", "ecdsa-sig"])
def test_our_initiator_with_a_certificate_to_charon(live, auth):
    r = live(scenario(auth), "to-charon", message=MESSAGE)
    assert r.of("Phase2Established"), story(r)
    assert "ESTABLISHED, IKEv1" in r.sas and "INSTALLED, TUNNEL-in-UDP" in r.sas
    # charon verified our SIG_I with the scheme RFC 2409/4754 describe, after trusting our chain
    assert any(f"with {SCHEME[auth]} successful" in line for line in r.charon_log.splitlines()), story(r)
    assert "CN=client.natt-lab.example" in r.charon_log
    assert "NAT-T Lab Root CA" in r.charon_log
    assert [e.payload for e in r.of("DataReceived")] == [b"echo:" + MESSAGE]


@pytest.mark.parametrize("auth", ["rsa-sig", "ecdsa-sig"])
def test_charon_with_a_certificate_to_our_responder(live, auth):
    r = live(scenario(auth), "from-charon", message=MESSAGE)
    assert r.of("Phase2Established"), story(r)
    assert r.initiated and r.initiated[0], r.initiated
    assert "ESTABLISHED, IKEv1" in r.sas
    assert any(f"with {SCHEME[auth]} successful" in line for line in r.charon_log.splitlines()), story(r)
    assert [e.payload for e in r.of("DataReceived")] == [b"echo:" + MESSAGE]


def test_charon_refuses_our_rogue_certificate(live):
    r = live(scenario("rsa-sig", client=dict(cert_issuer="rogue", **FAST_GIVE_UP)), "to-charon", timeout=6.0)
    assert not r.of("Phase2Established"), story(r)
    assert "Rogue Networks" in r.charon_log
    assert not any("successful" in line and "authentication of" in line and "Rogue" in line
                   for line in r.charon_log.splitlines())


def test_we_refuse_charons_untrusted_certificate(live):
    """charon as client with a machine certificate from the rogue CA: our responder says CERT_UNTRUSTED."""
    s = scenario("rsa-sig")
    s = replace(s, client=replace(s.client, cert_issuer="rogue"))
    r = live(s, "from-charon", timeout=4.0)
    assert not r.of("Phase2Established"), story(r)
    assert Reason.CERT_UNTRUSTED in {e.code for e in r.of("AuthenticationFailed")}, story(r)
