"""Acceptance of the lab: every preset and each `--set` variant the lab promises runs through
`natt_core.cli.main` (argument parsing, `--set`, `--out`) and its report.json, read back from disk,
tells the preset's story; report.json and secrets.json have exactly the promised shape. tshark's
reading of the captures and the impaired links are in test_lab_captures.py.
"""
from __future__ import annotations


import pytest
from scapy.layers.inet import IP, UDP
from scapy.utils import rdpcap

from natt_core.lab.presets import PRESETS
from tests.helpers import L2TP_CALL

from .lab_cli import NAT_PUBLIC, cli_run, root, up  # noqa: F401  (root: a fixture)


# ----------------------------------------------------------------- (a) the stories, from the CLI
def story_no_nat(r, s, out, text):
    assert all(up(p) and p["nat_t"] == "rfc3947" and not p["floated"] for p in r["peers"].values())
    assert all(p["behind_nat"] == {"self": False, "peer": False} for p in r["peers"].values())
    assert r["traffic"] == {"sent": L2TP_CALL, "delivered": L2TP_CALL}
    packets = rdpcap(str(out / "internet.pcap"))  # scapy, not our decoder
    assert any(p[IP].proto == 50 for p in packets)
    assert not any(UDP in p and 4500 in (p[UDP].sport, p[UDP].dport) for p in packets)


def story_legacy(r, s, out, text):
    assert all(up(p) and p["nat_t"] is None and not p["floated"] for p in r["peers"].values())
    assert r["traffic"]["delivered"] == 0 < r["traffic"]["sent"]
    assert "inner UDP checksum" in r["peers"]["server"]["reason"]


def story_ah(r, s, out, text):
    assert r["traffic"]["delivered"] == 0 < r["traffic"]["sent"]
    assert "AH ICV mismatch" in r["peers"]["server"]["reason"]


def story_client_behind_nat(r, s, out, text, version="rfc3947"):
    c, srv = r["peers"]["client"], r["peers"]["server"]
    assert up(c) and up(srv) and c["nat_t"] == srv["nat_t"] == version
    assert c["floated"] and srv["floated"]
    assert c["behind_nat"] == {"self": True, "peer": False} and srv["behind_nat"] == {"self": False, "peer": True}
    assert c["keepalives_sent"] >= 2 and srv["keepalives_sent"] == 0  # only the NATed side (RFC 3948 §4)
    assert r["traffic"] == {"sent": L2TP_CALL, "delivered": L2TP_CALL}
    assert {c["mode"] for c in s["child_sas"]} == {"udp-transport"}


def story_ikev2_client_behind_nat(r, s, out, text):
    story_client_behind_nat(r, s, out, text, version="rfc7296")
    sa, = s["ikev2_sas"]
    assert not s["ike_sas"] and sa["ike_version"] == 2 and (out / "ikev2_decryption_table.txt").exists()


def story_ikev2_no_nat(r, s, out, text):
    assert all(up(p) and p["nat_t"] == "rfc7296" and not p["floated"] for p in r["peers"].values())
    assert r["traffic"] == {"sent": L2TP_CALL, "delivered": L2TP_CALL} and s["ikev2_sas"]
    packets = rdpcap(str(out / "internet.pcap"))
    assert any(p[IP].proto == 50 for p in packets)
    assert not any(UDP in p and 4500 in (p[UDP].sport, p[UDP].dport) for p in packets)


def story_ikev2_behind_nat(r, s, out, text):
    """IKEv2 has no AssumeUDPEncapsulationContextOnSendRule: a server behind NAT, or two NATs, connect."""
    assert all(up(p) and p["nat_t"] == "rfc7296" and p["floated"] for p in r["peers"].values())
    assert r["traffic"]["delivered"] == r["traffic"]["sent"] > 0


def story_ikev2_preset(behind: str | None):
    """The IKEv2 presets: the NAT verdicts say who is behind the NAT, and that side keeps it open."""
    def story(r, s, out, text):
        c, srv = r["peers"]["client"], r["peers"]["server"]
        sa, = s["ikev2_sas"]
        assert c["ike_version"] == srv["ike_version"] == 2 and not s["ike_sas"]
        assert c["ike_spis"] == srv["ike_spis"] == f'{sa["spi_i"]}:{sa["spi_r"]}'
        if behind is None:
            story_ikev2_no_nat(r, s, out, text)
            return
        story_ikev2_behind_nat(r, s, out, text)
        natted, other = (c, srv) if behind == "client" else (srv, c)
        assert natted["behind_nat"] == {"self": True, "peer": False} and other["behind_nat"] == {"self": False,
                                                                                                 "peer": True}
        assert natted["keepalives_sent"] > 0 and other["keepalives_sent"] == 0
        assert {c["mode"] for c in s["child_sas"]} == {"udp-transport"}
    return story


def _payload_types(isakmp: bytes) -> list[int]:
    """Walk the generic payload headers of a plaintext ISAKMP message (RFC 2408 §3.1, §3.2)."""
    types, nxt, at = [], isakmp[16], 28
    while nxt and at + 4 <= len(isakmp):
        types.append(nxt)
        nxt, at = isakmp[at], at + int.from_bytes(isakmp[at + 2:at + 4], "big")
    return types


def story_draft02(r, s, out, text):
    story_client_behind_nat(r, s, out, text, version="draft-02")
    # MM3/MM4 carry NAT-D as payload type 130 (drafts 01-03), never 20; Quick Mode picks 61444.
    on_500 = [bytes(p[UDP].payload) for p in rdpcap(str(out / "client-lan.pcap"))
              if UDP in p and 500 in (p[UDP].sport, p[UDP].dport) and len(p[UDP].payload) > 28]
    mm34 = [m for m in on_500 if 4 in _payload_types(m)]  # the messages with a KE payload
    assert len(mm34) >= 2 and all(_payload_types(m).count(130) == 2 and 20 not in _payload_types(m) for m in mm34)
    assert "(encapsulation 61444)" in text


def story_server_behind_nat(ok):
    def check(r, s, out, text):
        c = r["peers"]["client"]
        assert up(c) == ok and up(r["peers"]["server"]) == ok
        if ok:
            assert c["behind_nat"]["peer"] and c["floated"]
        else:
            assert "AssumeUDPEncapsulationContextOnSendRule is 0" in c["reason"]
    return check


def story_both_behind_nat(ok):
    def check(r, s, out, text):
        c = r["peers"]["client"]
        assert up(c) == ok
        if ok:
            assert c["behind_nat"] == {"self": True, "peer": True} and r["traffic"]["delivered"] == L2TP_CALL
        else:
            assert "error 809" in c["reason"]
    return check


def story_multi_client(n):
    def check(r, s, out, text):
        clients = [k for k in r["peers"] if k != "server"]
        assert clients == [f"client{i}" for i in range(1, n + 1)]
        assert all(up(r["peers"][c]) for c in clients)
        assert r["peers"]["server"]["isakmp_sas"] == r["peers"]["server"]["ipsec_sas"] == n
        mappings = r["nats"]["nat"]["mappings"]
        for port in (500, 4500):  # one translated port per client, per IKE/NAT-T flow
            outside = [m["outside"] for m in mappings if m["proto"] == "udp" and m["inside"].endswith(f":{port}")]
            assert len(outside) == len(set(outside)) == n
            assert all(o.startswith(f"{NAT_PUBLIC}:") for o in outside)
        assert r["traffic"] == {"sent": L2TP_CALL * n, "delivered": L2TP_CALL * n}
    return check


def story_multi_client_helper(r, s, out, text):
    assert up(r["peers"]["client1"]) and r["peers"]["server"]["isakmp_sas"] == 1
    c2 = r["peers"]["client2"]
    assert c2["phase1"] == "failed" and "static-port-500 helper" in c2["reason"]
    assert "held by 192.168.11.20:500" in c2["reason"]


def story_multi_client_linux_server(r, s, out, text):
    """IKE comes up for both clients; the selector-keyed SPD lets only the newest SA's client through."""
    assert all(up(p) for p in r["peers"].values())
    c1, c2 = r["peers"]["client1"]["vpn"], r["peers"]["client2"]["vpn"]
    assert c2["ping"] and not c1["ping"] and c1["reason_code"] == "SPD_POLICY_MISMATCH"
    spd = r["peers"]["server"]["spd"]
    assert spd["keying"] == "selector" and [e["state"] for e in spd["entries"]] == ["replaced", "active"]
    assert len({e["selector"] for e in spd["entries"]}) == 1


def story_keepalive(survives):
    def check(r, s, out, text):
        c, srv = r["peers"]["client"], r["peers"]["server"]
        assert up(c) and up(srv)
        if survives:  # 660 virtual seconds at one keepalive per 20 s
            assert r["traffic"] == {"sent": L2TP_CALL + 2, "delivered": L2TP_CALL + 2} and srv["reason"] is None
            assert c["keepalives_sent"] >= 30
        else:
            assert r["traffic"] == {"sent": L2TP_CALL + 6, "delivered": L2TP_CALL} and "expired" in srv["reason"]
    return check


def story_rekey(rekeys):
    def check(r, s, out, text):
        c, srv = r["peers"]["client"], r["peers"]["server"]
        gens = c["sa_generations"]
        if rekeys:   # 330 s: a phase-2 rekey every 51 s of 60, one phase-1 rekey at 255 s of 300
            assert up(c) and up(srv) and c["reason"] is None and srv["reason"] is None
            assert len(gens["phase1"]) == 2 and len(gens["phase2"]) == 7
            assert r["traffic"]["sent"] == r["traffic"]["delivered"] and c["vpn"]["l2tp_tunnel"] == "established"
            assert len(s["child_sas"]) == 2 * len(gens["phase2"])      # the rekeyed SAs' keys too
        else:
            assert c["reason_code"] == "IPSEC_SA_EXPIRED" and srv["reason_code"] == "IKE_SA_EXPIRED"
            assert gens["phase2"][0]["ended"] == "expired (seconds)" and len(gens["phase2"]) == 1
    return check


def story_dh(ok):
    def check(r, s, out, text):
        c = r["peers"]["client"]
        if ok:
            assert all(up(p) and p["dh_group"] == 2 for p in r["peers"].values())
            assert [sa["dh_group"] for sa in s["ike_sas"]] == [2]
        else:
            assert c["phase1"] == "failed" and c["phase2"] == "not-started"
            assert "NO-PROPOSAL-CHOSEN" in c["reason"] and s["ike_sas"] == []
    return check


def story_dpd_peer_gone(dead: bool):
    def check(r, s, out, text):
        srv = r["peers"]["server"]
        assert srv["reason_code"] == ("DPD_PEER_DEAD" if dead else None)
        assert (srv["isakmp_sas"], srv["ipsec_sas"]) == ((0, 0) if dead else (1, 1))
    return check


def story_nat_rebinding(survives: bool, hellos: int = 2):
    def check(r, s, out, text):
        assert all(up(p) for p in r["peers"].values())
        if survives:     # every HELLO and its ZLB delivered
            assert r["traffic"]["sent"] == r["traffic"]["delivered"] == L2TP_CALL + 2 * hellos
        else:
            assert r["peers"]["server"]["reason_code"] == "NAT_MAPPING_FLUSHED"
    return check


def story_double_nat(r, s, out, text):
    assert all(up(p) and p["floated"] for p in r["peers"].values())
    assert set(r["nats"]) == {"nat", "cgnat"} and r["traffic"]["delivered"] == L2TP_CALL


def story_aggressive(settings_case):
    def check(r, s, out, text):
        c, srv = r["peers"]["client"], r["peers"]["server"]
        if settings_case == "ok":
            assert all(up(p) and p["phase1_exchange"] == "Aggressive Mode" and p["floated"] for p in (c, srv))
            assert c["behind_nat"] == {"self": True, "peer": False} and r["traffic"]["delivered"] == L2TP_CALL
            assert len(s["ike_sas"]) == 1
        elif settings_case == "refused":
            assert c["reason_code"] == srv["reason_code"] == "AGGRESSIVE_MODE_REFUSED" and c["phase1"] == "failed"
        else:
            assert c["reason_code"] == "AUTH_FAILED" and "HASH_R" in c["reason"] and c["phase1"] == "failed"
    return check


def story_certificates(connects: bool):
    def check(r, s, out, text):
        c, srv = r["peers"]["client"], r["peers"]["server"]
        if not connects:
            assert c["phase1"] == srv["phase1"] == "failed" and c["reason_code"] == "FRAGMENT_DROPPED"
            assert "MM5" in c["reason"] and "pre-shared" not in c["reason"]          # no PSK to blame
            assert c["vpn"]["reason_code"] == "FRAGMENT_DROPPED" and not c["vpn"]["ping"]
        else:
            assert up(c) and up(srv) and c["vpn"]["ping"] and c["floated"]
        assert (out / "certs" / "client.pem").exists() and "certs/ca.pem" in text      # what Wireshark and a real peer use
    return check


STORIES = [
    ("certificates-behind-nat", (), story_certificates(False)),
    ("certificates-behind-nat", ("client.ike_fragmentation=yes", "server.ike_fragmentation=yes"), story_certificates(True)),
    ("certificates-behind-nat", ("nat.fragments=pass",), story_certificates(True)),
    ("no-nat", (), story_no_nat),
    ("legacy-behind-nat", (), story_legacy),
    ("ah-behind-nat", (), story_ah),
    ("client-behind-nat", (), story_client_behind_nat),
    ("client-behind-nat-draft02", (), story_draft02),
    ("server-behind-nat", (), story_server_behind_nat(False)),
    ("server-behind-nat", ("client.assume_udp_rule=1",), story_server_behind_nat(True)),
    ("server-behind-nat", ("client.assume_udp_rule=2",), story_server_behind_nat(True)),
    ("both-behind-nat", (), story_both_behind_nat(False)),
    ("both-behind-nat", ("client.assume_udp_rule=1",), story_both_behind_nat(False)),
    ("both-behind-nat", ("client.assume_udp_rule=2",), story_both_behind_nat(True)),
    ("multi-client", (), story_multi_client(2)),
    ("multi-client", ("clients=7",), story_multi_client(7)),
    ("multi-client-helper", (), story_multi_client_helper),
    ("multi-client-linux-server", (), story_multi_client_linux_server),
    ("keepalive-vs-timeout", (), story_keepalive(False)),
    ("keepalive-vs-timeout", ("client.keepalive_interval=20",), story_keepalive(True)),
    ("dh-group-mismatch", (), story_dh(True)),
    ("dh-group-mismatch", ("client.dh_groups=14",), story_dh(False)),
    ("double-nat", (), story_double_nat),
    ("aggressive-mode-psk", (), story_aggressive("ok")),
    ("aggressive-mode-psk", ("server.mode=main",), story_aggressive("refused")),
    ("aggressive-mode-psk", ("server.psk=another-key",), story_aggressive("mismatch")),
    ("dpd-peer-gone", (), story_dpd_peer_gone(True)),
    ("dpd-peer-gone", ("client.profile=windows-xp-sp2",), story_dpd_peer_gone(False)),
    ("nat-rebinding", (), story_nat_rebinding(True)),
    ("nat-rebinding", ("traffic.client=none",), story_nat_rebinding(False)),
    ("nat-rebinding", ("traffic.client=none", "client.dpd_delay=30"), story_nat_rebinding(True, hellos=1)),
    ("rekey", (), story_rekey(True)),
    ("rekey", ("client.rekey=no",), story_rekey(False)),
    ("ikev2-client-behind-nat", (), story_ikev2_client_behind_nat),
    ("ikev2-client-behind-nat", (), story_ikev2_preset("client")),
    ("ikev2-no-nat", (), story_ikev2_preset(None)),
    ("ikev2-double-nat", (), story_ikev2_preset("client")),
    ("ikev2-server-behind-nat", (), story_ikev2_preset("server")),
    ("ikev2-client-behind-nat", ("server.ike_version=1,2",), story_ikev2_client_behind_nat),
    ("client-behind-nat", ("server.ike_version=1,2",), story_client_behind_nat),
    ("no-nat", ("client.ike_version=2", "server.ike_version=2"), story_ikev2_no_nat),
    ("server-behind-nat", ("client.ike_version=2", "server.ike_version=2"), story_ikev2_behind_nat),
    ("both-behind-nat", ("client.ike_version=2", "server.ike_version=2"), story_ikev2_behind_nat),
    ("double-nat", ("client.ike_version=2", "server.ike_version=2"), story_ikev2_behind_nat),
]


def test_every_preset_has_a_story_here():
    assert {name for name, _, _ in STORIES} == set(PRESETS)


@pytest.mark.parametrize("name,settings,story", STORIES,
                         ids=[f"{n}{'[' + ','.join(s) + ']' if s else ''}" for n, s, _ in STORIES])
def test_the_cli_run_tells_the_story(root, name, settings, story):
    report, secrets, out, text = cli_run(root, name, *settings)
    check_report_shape(report, name)
    check_secrets_shape(secrets)
    story(report, secrets, out, text)


PEER_KEYS = {"role", "phase1", "phase2", "reason", "nat_t", "dh_group", "behind_nat", "floated", "keepalives_sent",
             "ike_version", "ike_spis"}
STATUS = {"established", "failed", "not-started"}


def check_report_shape(r: dict, name: str) -> None:
    assert r["scenario"] == name and {"scenario", "peers", "traffic", "nats"} <= set(r)
    names = list(r["peers"])
    assert names[-1] == "server" and (names[:-1] == ["client"] or names[:-1] == [f"client{i}" for i in
                                                                                  range(1, len(names))])
    for peer_name, p in r["peers"].items():
        assert PEER_KEYS <= set(p)
        assert p["role"] == ("responder" if peer_name == "server" else "initiator")
        assert p["phase1"] in STATUS and p["phase2"] in STATUS
        assert p["reason"] is None or (isinstance(p["reason"], str) and p["reason"])
        assert p["nat_t"] in ("rfc3947", "draft-02", "draft-02n", "draft-03", "rfc7296", None)
        assert p["dh_group"] is None or isinstance(p["dh_group"], int)
        assert set(p["behind_nat"]) == {"self", "peer"} and all(isinstance(v, bool) for v in p["behind_nat"].values())
        assert isinstance(p["floated"], bool) and isinstance(p["keepalives_sent"], int)
        assert p["ike_version"] in (1, 2, None) and (p["ike_spis"] is None or _hex(p["ike_spis"].replace(":", ""), 32))
    assert set(r["traffic"]) == {"sent", "delivered"}
    for nat in r["nats"].values():
        for m in nat["mappings"]:
            assert set(m) == {"proto", "inside", "outside"} and m["proto"] in ("udp", "tcp", "esp", "ah", "ip")


def _hex(value: str, length: int | None = None) -> bool:
    return isinstance(value, str) and (length is None or len(value) == length) and bytes.fromhex(value) is not None


def check_secrets_shape(s: dict) -> None:
    """natt-lab-secrets/1, exactly the fields promised, in the promised encodings."""
    assert set(s) - {"ikev2_sas", "certificates"} == {"format", "ike_sas", "child_sas"} and s["format"] == "natt-lab-secrets/1"
    for sa in s.get("ikev2_sas", ()):
        assert _hex(sa["spi_i"], 16) and _hex(sa["spi_r"], 16) and sa["ike_version"] == 2
        assert all(_hex(sa[k]) for k in ("skeyseed", "sk_d", "sk_ei", "sk_er", "sk_pi", "sk_pr"))
    modulus_bytes = {1: 96, 2: 128, 5: 192, 14: 256}  # RFC 2409 §6.1/6.2, RFC 3526 §2/§3
    key_bytes = {"3des-cbc": 24, "aes-cbc-128": 16, "aes-cbc-192": 24, "aes-cbc-256": 32}
    for sa in s["ike_sas"]:
        assert set(sa) == {"initiator_cookie", "responder_cookie", "psk", "auth", "dh_group", "dh_shared_secret",
                           "hash", "cipher", "skeyid", "skeyid_d", "skeyid_a", "skeyid_e", "encryption_key",
                           "quick_modes", "ivs"}
        assert sa["auth"] in ("psk", "rsa-sig", "ecdsa-sig")
        assert _hex(sa["initiator_cookie"], 16) and _hex(sa["responder_cookie"], 16)
        assert isinstance(sa["psk"], str) and sa["hash"] in ("md5", "sha1", "sha256")
        assert _hex(sa["dh_shared_secret"], 2 * modulus_bytes[sa["dh_group"]])
        assert _hex(sa["encryption_key"], 2 * key_bytes[sa["cipher"]])
        assert all(_hex(sa[k]) for k in ("skeyid", "skeyid_d", "skeyid_a", "skeyid_e"))
        block = 8 if sa["cipher"] == "3des-cbc" else 16                       # RFC 2451, RFC 3602
        for r in sa["ivs"]:
            assert set(r) == {"message_id", "first_block", "iv"} and _hex(r["message_id"], 8)
            assert _hex(r["first_block"], 2 * block) and _hex(r["iv"], 2 * block)
        for qm in sa["quick_modes"]:
            assert set(qm) == {"message_id", "pfs_dh_shared_secret"} and _hex(qm["message_id"], 8)
            assert qm["pfs_dh_shared_secret"] is None or _hex(qm["pfs_dh_shared_secret"])
    for c in s["child_sas"]:
        assert set(c) == {"spi", "cipher", "encryption_key", "integrity", "integrity_key", "mode"}
        assert _hex(c["spi"], 8) and c["integrity"] in ("hmac-sha1-96", "hmac-sha256-128", "hmac-md5-96")
        assert c["mode"] in ("tunnel", "transport", "udp-tunnel", "udp-transport")
        assert c["cipher"] is None or _hex(c["encryption_key"], 2 * key_bytes[c["cipher"]])


