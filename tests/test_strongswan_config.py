"""The swanctl.conf generator and `python -m natt_core config` (no root, no strongSwan needed).

The generated text is parsed back with a small swanctl-syntax reader (sections `name { … }`,
`key = value`), and every proposal is checked against what our engine actually puts on the wire
(`phase1_offer`/`phase2_offer`), so generator and engine cannot drift apart silently.
Algorithm keywords are strongSwan's (docs.strongswan.org, "IKEv1 and IKEv2 Cipher Suites"):
aes128 = AES-CBC 128, 3des = 3DES-CBC, sha1 = HMAC-SHA1(-96), modp1024 = DH group 2 (RFC 2409 §6.2),
modp2048 = DH group 14 (RFC 3526 §3). The live tests load these files into a real charon.
"""
from __future__ import annotations

import base64
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from natt_core.errors import ConfigError
from natt_core.ike.policy import PeerPolicy
from natt_core.ike.proposals import phase1_offer, phase2_offer
from natt_core.lab.presets import PRESETS, preset
from natt_core.lab.strongswan_config import swanctl_conf
from natt_core.wire.numbers import EncapsulationMode, IpsecAttr, Phase1Attr

ROOT = Path(__file__).resolve().parents[1]
# Wire values named by the strongSwan keywords (RFC 2409 App. A, RFC 2407 §4.4.4/§4.5, RFC 3602)
IKE_ENC = {(7, 128): "aes128", (7, 192): "aes192", (7, 256): "aes256", (5, 0): "3des"}
IKE_HASH = {1: "md5", 2: "sha1", 4: "sha256"}
GROUP = {2: "modp1024", 14: "modp2048"}
ESP_ENC = {(12, 128): "aes128", (12, 256): "aes256", (3, 0): "3des"}
ESP_AUTH = {1: "md5", 2: "sha1", 5: "sha256"}


def parse(text: str) -> dict:
    """A swanctl.conf as nested dicts; raises on unbalanced braces or stray lines."""
    root: dict = {}
    stack = [root]
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.endswith("{"):
            section: dict = {}
            stack[-1][line[:-1].strip()] = section
            stack.append(section)
        elif line == "}":
            stack.pop()
            assert stack, "unbalanced }"
        else:
            key, eq, value = line.partition("=")
            assert eq, f"not a key = value line: {raw!r}"
            stack[-1][key.strip()] = value.strip()
    assert len(stack) == 1, "unclosed section"
    return root


def conn(text: str, name: str) -> dict:
    return parse(text)["connections"][name]


def expected_ike(policy: PeerPolicy) -> list[str]:
    """The engine's own MM1 offer, transform by transform, in strongSwan's words."""
    names = []
    for t in phase1_offer(policy).proposals[0].transforms:
        enc = IKE_ENC[(t.get(Phase1Attr.ENCRYPTION), t.get(Phase1Attr.KEY_LENGTH, 0))]
        names.append(f"{enc}-{IKE_HASH[t.get(Phase1Attr.HASH)]}-{GROUP[t.get(Phase1Attr.GROUP)]}")
    return names


def expected_esp(policy: PeerPolicy) -> list[str]:
    offer = phase2_offer(policy, b"\x00\x00\x01\x00", EncapsulationMode.UDP_TUNNEL)
    return [f"{ESP_ENC[(t.transform_id, t.get(IpsecAttr.KEY_LENGTH, 0))]}-{ESP_AUTH[t.get(IpsecAttr.AUTH_ALGORITHM)]}"
            for t in offer.proposals[0].transforms]


# IKEv2 wire values (RFC 7296 §3.3.2, IANA "IKEv2 Transform Type" registries) in strongSwan's words
V2_ENC = {(12, 128): "aes128", (12, 256): "aes256", (20, 128): "aes128gcm16", (20, 256): "aes256gcm16"}
V2_INTEG = {2: "sha1", 12: "sha256"}
V2_PRF = {2: "prfsha1", 5: "prfsha256"}
V2_GROUP = {2: "modp1024", 14: "modp2048", 19: "ecp256"}
IKEV1_PRESETS = [n for n, s in PRESETS.items() if s.client.ike_version == 1 and s.server.ike_version == 1]
IKEV2_PRESETS = [n for n, s in PRESETS.items() if n.startswith("ikev2-")]


def expected_ikev2(policy: PeerPolicy) -> tuple[list[str], list[str]]:
    """The engine's own IKE_SA_INIT and IKE_AUTH offers, transform by transform, in strongSwan's words."""
    from natt_core.ike.v2.proposals import esp_offer, ike_offer
    from natt_core.wire.ikev2_numbers import TransformType as T

    def words(p, with_prf: bool) -> str:
        enc = p.of_type(T.ENCR)[0]
        out = [V2_ENC[(enc.id, enc.key_length)]] + [V2_INTEG[t.id] for t in p.of_type(T.INTEG)]
        if with_prf:
            out += [V2_PRF[t.id] for t in p.of_type(T.PRF)] + [V2_GROUP[t.id] for t in p.of_type(T.DH)]
        return "-".join(out)
    return ([words(p, True) for p in ike_offer(policy, policy.v2).proposals],
            [words(p, False) for p in esp_offer(policy, 0x1000, policy.v2).proposals])


@pytest.mark.parametrize("name", IKEV2_PRESETS)
@pytest.mark.parametrize("peer", ["server", "client"])
def test_every_ikev2_preset_gives_an_ikev2_config_matching_the_engines_offer(name, peer):
    s = PRESETS[name]
    c = conn(swanctl_conf(s, peer), name)
    policy = s.server if peer == "server" else s.client
    assert c["version"] == "2" and "aggressive" not in c
    ike, esp = expected_ikev2(policy)
    assert c["proposals"].split(", ") == ike == ["aes128-sha1-prfsha1-modp2048-modp1024"]
    assert c["children"][name]["esp_proposals"].split(", ") == esp


def test_ikev2_gcm_and_group_19_from_set_reach_the_config():
    from natt_core.lab.settings import apply_settings
    s = apply_settings(preset("ikev2-client-behind-nat"),
                       ["server.ikev2_suites=aes-gcm-16-256/sha256,aes-cbc-256/hmac-sha256-128/sha256",
                        "server.esp_suites=aes-gcm-16-128", "server.ikev2_dh_groups=19,14"])
    c = conn(swanctl_conf(s, "server"), s.name)
    ike, esp = expected_ikev2(s.server)
    assert c["proposals"].split(", ") == ike == ["aes256gcm16-prfsha256-ecp256-modp2048",
                                                 "aes256-sha256-prfsha256-ecp256-modp2048"]
    assert c["children"][s.name]["esp_proposals"] == "aes128gcm16" and esp == ["aes128gcm16"]


def test_a_peer_answering_both_versions_is_version_0():
    s = preset("client-behind-nat")
    s = replace(s, server=replace(s.server, ike_version=(1, 2)))
    c = conn(swanctl_conf(s, "server"), s.name)
    assert c["version"] == "0"
    assert c["proposals"].split(", ")[:1] == ["aes128-sha1-prfsha1-modp2048-modp1024"]
    assert set(expected_ike(s.server)) <= set(c["proposals"].split(", "))


@pytest.mark.parametrize("name", IKEV1_PRESETS)
@pytest.mark.parametrize("peer", ["server", "client"])
def test_every_preset_gives_a_well_formed_ikev1_config(name, peer):
    s = PRESETS[name]
    c = conn(swanctl_conf(s, peer), name)
    policy = s.server if peer == "server" else s.client
    assert (c["version"], c["aggressive"], c["encap"]) == ("1", "yes" if policy.aggressive else "no", "no")
    auth = "pubkey" if policy.uses_certificates else "psk"                   # swanctl: certificates are pubkey
    assert c["local"]["auth"] == c["remote"]["auth"] == auth
    assert c["proposals"].split(", ") == expected_ike(policy)
    child = c["children"][name]
    assert child["mode"] == policy.mode
    if policy.protocol == "esp":
        assert child["esp_proposals"].split(", ") == expected_esp(policy)
    else:
        assert child["ah_proposals"].split(", ") == [ESP_AUTH[2]]


def test_server_side_of_client_behind_nat():
    text = swanctl_conf(preset("client-behind-nat"), "server")
    c = conn(text, "client-behind-nat")
    assert (c["local_addrs"], c["remote_addrs"]) == ("192.168.1.10", "%any")
    assert (c["local"]["id"], c["remote"]["id"]) == ("192.168.1.10", "%any")   # ID_IPV4_ADDR, as the engine sends
    child = c["children"]["client-behind-nat"]
    assert child["local_ts"] == child["remote_ts"] == "dynamic[udp/1701]"        # L2TP transport mode
    assert parse(text)["secrets"]["ike-client-behind-nat"]["secret"] == '"natt-lab"'


def test_client_side_dials_the_server_and_knows_its_id():
    c = conn(swanctl_conf(preset("client-behind-nat"), "client"), "client-behind-nat")
    assert (c["local_addrs"], c["remote_addrs"]) == ("192.168.11.20", "192.168.1.10")
    assert c["remote"]["id"] == "192.168.1.10"


def test_server_behind_nat_uses_private_address_and_public_target():
    s = preset("server-behind-nat")
    server = conn(swanctl_conf(s, "server"), s.name)
    client = conn(swanctl_conf(s, "client"), s.name)
    assert server["local_addrs"] == "10.0.0.10"
    assert client["remote_addrs"] == "192.168.1.40" and client["remote"]["id"] == "10.0.0.10"


def test_server_behind_nat_in_tunnel_mode_protects_the_address_the_client_dialled():
    """Behind port forwards the client's Quick Mode IDcr is the NAT's public address (what it dialled),
    not the server's private one; the server's selector must say the same or charon refuses QM1."""
    s = preset("server-behind-nat")
    s = replace(s, client=replace(s.client, mode="tunnel", inner_address="10.99.1.1"),
                server=replace(s.server, mode="tunnel", inner_address="10.99.2.1"))
    server = conn(swanctl_conf(s, "server"), s.name)
    assert (server["local_addrs"], server["local"]["id"]) == ("10.0.0.10", "10.0.0.10")
    child = server["children"][s.name]
    assert (child["local_ts"], child["remote_ts"]) == ("192.168.1.40/32[udp/1701]", "10.99.1.1/32[udp/1701]")
    client = conn(swanctl_conf(s, "client"), s.name)
    assert (client["local_addrs"], client["remote_addrs"]) == ("192.168.11.20", "192.168.1.40")
    assert client["children"][s.name]["remote_ts"] == "10.99.2.1/32[udp/1701]"


def test_tunnel_mode_selectors_mirror_the_engines_quick_mode_ids():
    s = preset("client-behind-nat")
    s = replace(s, client=replace(s.client, mode="tunnel", inner_address="10.99.1.1"),
                server=replace(s.server, mode="tunnel", inner_address="10.99.2.1"))
    server = conn(swanctl_conf(s, "server"), s.name)["children"][s.name]
    client = conn(swanctl_conf(s, "client"), s.name)["children"][s.name]
    # our initiator proposes IDci = its inner address, IDcr = the server address it dialled (udp/1701)
    assert (server["local_ts"], server["remote_ts"]) == ("192.168.1.10/32[udp/1701]", "10.99.1.1/32[udp/1701]")
    # our responder sends from its inner address
    assert (client["local_ts"], client["remote_ts"]) == ("10.99.1.1/32[udp/1701]", "10.99.2.1/32[udp/1701]")


def test_dh_group_mismatch_server_offers_only_group_2():
    c = conn(swanctl_conf(preset("dh-group-mismatch"), "server"), "dh-group-mismatch")
    assert c["proposals"] == "aes128-sha1-modp1024, 3des-sha1-modp1024"


def test_pfs_fqdn_and_lifetimes_are_carried_over():
    s = preset("client-behind-nat")
    s = replace(s, server=replace(s.server, pfs_group=14, identity="vpn.example.test", ike_lifetime=3600,
                                  ipsec_lifetime=1200, esp_ciphers=("aes-cbc-256",)))
    c = conn(swanctl_conf(s, "server"), s.name)
    assert c["local"]["id"] == "vpn.example.test" and c["rekey_time"] == "3600s"
    child = c["children"][s.name]
    assert child["esp_proposals"] == "aes256-sha1-modp2048" and child["rekey_time"] == "1200s"


def test_a_psk_that_cannot_be_quoted_is_written_as_base64():
    s = preset("client-behind-nat")
    psk = 'quote " and \\ backslash'
    s = replace(s, server=replace(s.server, psk=psk))
    secret = parse(swanctl_conf(s, "server"))["secrets"][f"ike-{s.name}"]["secret"]
    assert secret.startswith("0s") and base64.b64decode(secret[2:]).decode() == psk


def test_what_swanctl_cannot_say_becomes_a_note():
    text = swanctl_conf(preset("legacy-behind-nat"), "server")
    assert "# note: this server announces NAT-T 'none'" in text
    assert "AH cannot cross a NAT" in swanctl_conf(preset("ah-behind-nat"), "server")
    assert "keep_alive = 60s" in swanctl_conf(preset("keepalive-vs-timeout"), "client")
    assert "AssumeUDPEncapsulationContextOnSendRule=0" in swanctl_conf(preset("server-behind-nat"), "client")


def test_unknown_peer_is_a_config_error():
    with pytest.raises(ConfigError, match="choose one of server, client"):
        swanctl_conf(preset("no-nat"), "router")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "natt_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def test_cli_prints_the_config_with_settings_applied():
    r = cli("config", "client-behind-nat", "--for", "strongswan", "--set", "server.psk=s3cret",
            "--set", "mode=tunnel", "--set", "server.dh_groups=14")
    assert r.returncode == 0, r.stderr
    c = conn(r.stdout, "client-behind-nat")
    assert c["children"]["client-behind-nat"]["mode"] == "tunnel"
    assert c["proposals"] == "aes128-sha1-modp2048, 3des-sha1-modp2048"
    assert parse(r.stdout)["secrets"]["ike-client-behind-nat"]["secret"] == '"s3cret"'


def test_cli_peer_client():
    r = cli("config", "client-behind-nat", "--for", "strongswan", "--peer", "client")
    assert r.returncode == 0 and conn(r.stdout, "client-behind-nat")["remote_addrs"] == "192.168.1.10"


@pytest.mark.parametrize("args, message", [
    (("config", "no-such", "--for", "strongswan"), "unknown scenario 'no-such'"),
    (("config", "no-nat", "--for", "racoon"), "invalid choice: 'racoon'"),
    (("config", "no-nat"), "--for"),
    (("config", "no-nat", "--for", "strongswan", "--set", "nope=1"), "unknown --set key 'nope'"),
    (("config", "no-nat", "--for", "strongswan", "--peer", "nat"), "invalid choice: 'nat'"),
])
def test_cli_errors_are_one_line_and_exit_2(args, message):
    r = cli(*args)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and message in r.stderr
