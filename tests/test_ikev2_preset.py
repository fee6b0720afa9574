"""The ikev2-client-behind-nat preset end to end: report, secrets, exports, and tshark decrypting
IKE_AUTH (ikev2_decryption_table.txt) and the L2TP inside ESP-in-UDP (esp_sa.txt) from the files
the lab writes."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from natt_core.errors import ConfigError
from natt_core.ike.policy import PeerPolicy
from natt_core.lab.export import export
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from tests.helpers import L2TP_CALL


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("ikev2")
    trace = run(preset("ikev2-client-behind-nat"))
    export(trace, out)
    return trace, out


def test_report_tells_the_ikev2_story(written):
    trace, out = written
    report = json.loads((out / "report.json").read_text())
    client, server = report["peers"]["client"], report["peers"]["server"]
    assert client["phase1"] == client["phase2"] == server["phase2"] == "established"
    assert client["nat_t"] == "rfc7296" and client["behind_nat"] == {"self": True, "peer": False}
    assert client["floated"] and client["keepalives_sent"] > 0 and server["keepalives_sent"] == 0
    assert report["traffic"]["delivered"] == report["traffic"]["sent"] > 0
    ike_messages = [s for s in trace.steps if getattr(s, "event", None) == "MessageSent"]
    assert len(ike_messages) == 4


def test_secrets_recompute(written):
    trace, out = written
    sa, = json.loads((out / "secrets.json").read_text())["ikev2_sas"]
    assert sa["psk"] == "natt-lab" and sa["dh_group"] == 14
    assert (out / "ikev2_decryption_table.txt").read_text().startswith(f'{sa["spi_i"]},{sa["spi_r"]},')


def test_ike_version_is_validated():
    with pytest.raises(ConfigError, match="IKE version"):
        PeerPolicy(ike_version=3)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_decrypts_ike_auth_and_l2tp_from_the_exported_tables(written):
    _, out = written
    uat = []
    for line in (out / "ikev2_decryption_table.txt").read_text().splitlines():
        uat += ["-o", f"uat:ikev2_decryption_table:{line}"]
    for line in (out / "esp_sa.txt").read_text().splitlines():
        uat += ["-o", f"uat:esp_sa:{line}"]
    for pcap in ("client-lan.pcap", "internet.pcap"):
        r = subprocess.run(["tshark", "-r", str(out / pcap), "-o", "esp.enable_encryption_decode:TRUE", *uat,
                            "-T", "fields", "-E", "separator=|", "-e", "isakmp.exchangetype", "-e", "isakmp.id.type",
                            "-e", "isakmp.ts.start_ipv4", "-e", "l2tp.avp.message_type", "-e", "_ws.expert"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        rows = [x.split("|") for x in r.stdout.splitlines()]
        auth = [x for x in rows if x[0] == "35"]
        assert len(auth) == 2 and auth[0][1] == "1" and auth[0][2]      # IDi and TS read from inside SK
        assert any(x[3] for x in rows)                                   # L2TP decrypted from ESP-in-UDP
        assert not any("malformed" in x[4].lower() or "incorrect" in x[4].lower() for x in rows)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", ["ikev2-no-nat", "ikev2-client-behind-nat", "ikev2-double-nat",
                                  "ikev2-server-behind-nat"])
def test_tshark_decrypts_ike_auth_and_esp_of_every_ikev2_preset(name, tmp_path):
    """Every capture the preset exports: IKE_AUTH opened with ikev2_decryption_table.txt (IDi and the
    traffic selectors read from inside SK), every ESP packet decrypted with esp_sa.txt to L2TP,
    and no malformed packet or bad checksum anywhere."""
    export(run(preset(name)), tmp_path)
    uat = []
    for line in (tmp_path / "ikev2_decryption_table.txt").read_text().splitlines():
        uat += ["-o", f"uat:ikev2_decryption_table:{line}"]
    for line in (tmp_path / "esp_sa.txt").read_text().splitlines():
        uat += ["-o", f"uat:esp_sa:{line}"]
    pcaps = sorted(tmp_path.glob("*.pcap"))
    assert pcaps
    for pcap in pcaps:
        r = subprocess.run(["tshark", "-r", str(pcap), "-o", "esp.enable_encryption_decode:TRUE", *uat,
                            "-T", "fields", "-E", "separator=|", "-e", "isakmp.exchangetype", "-e", "isakmp.id.type",
                            "-e", "isakmp.ts.start_ipv4", "-e", "esp.spi", "-e", "l2tp.type",
                            "-e", "_ws.expert", "-e", "_ws.malformed"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        rows = [x.split("|") for x in r.stdout.splitlines()]
        auth = [x for x in rows if x[0] == "35"]
        assert len(auth) == 2 and all(x[1] and x[2] for x in auth), (pcap.name, auth)   # IDi/IDr, TSi
        esp = [x for x in rows if x[3]]
        assert esp and all(x[4] for x in esp), pcap.name                 # every ESP packet carries L2TP
        assert not any(x[6] or "malformed" in x[5].lower() or "incorrect" in x[5].lower() for x in rows), pcap.name


@pytest.mark.parametrize("client_version", [1, 2])
def test_a_responder_accepting_both_versions(client_version):
    from dataclasses import replace
    s = replace(preset("client-behind-nat"), client=PeerPolicy(ike_version=client_version),
                server=PeerPolicy(ike_version=(1, 2)))
    report = run(s).report
    server = report["peers"]["server"]
    assert server["phase2"] == "established" and report["traffic"]["delivered"] == L2TP_CALL
    assert server["nat_t"] == ("rfc3947" if client_version == 1 else "rfc7296")


def test_the_other_version_is_dropped_with_a_clear_reason():
    from dataclasses import replace
    from natt_core.reasons import Reason
    v1_to_v2 = run(replace(preset("client-behind-nat"), client=PeerPolicy(), server=PeerPolicy(ike_version=2),
                           duration=30.0))
    drops = [s for s in v1_to_v2.steps if getattr(s, "event", None) == "PacketDropped" and s.peer == "server"]
    assert drops and "speaks IKEv2 only: answered with INVALID_MAJOR_VERSION" in drops[0].text
    assert drops[0].fields.get("code") == Reason.INVALID_MAJOR_VERSION
    assert v1_to_v2.report["peers"]["client"]["phase1"] == "failed"
    v2_to_v1 = run(replace(preset("client-behind-nat"), client=PeerPolicy(ike_version=2), server=PeerPolicy(),
                           duration=30.0))
    drops = [s for s in v2_to_v1.steps if getattr(s, "event", None) == "PacketDropped" and s.peer == "server"]
    assert drops and "speaks IKEv1 only" in drops[0].text
    assert drops[0].fields.get("code") == Reason.INVALID_MAJOR_VERSION


def test_ike_version_settings():
    from natt_core.lab.settings import apply_settings
    s = apply_settings(preset("no-nat"), ["client.ike_version=2", "server.ike_version=2,1"])
    assert s.client.ike_version == 2 and s.server.ike_version == (1, 2)
    for bad in ("client.ike_version=3", "client.ike_version=2,2", "server.ike_version=x"):
        with pytest.raises(ConfigError):
            apply_settings(preset("no-nat"), [bad])


def test_the_playground_steps_through_the_ikev2_preset():
    from pathlib import Path
    from streamlit.testing.v1 import AppTest
    root = Path(__file__).resolve().parents[1]
    at = AppTest.from_file(str(root / "lessons/playground.py"), default_timeout=120).run()
    at.selectbox(key="pg:scenario").set_value("ikev2-client-behind-nat").run()
    assert not at.exception and not at.error
    assert any(s.value.startswith("Step 1 of") and "IKE_SA_INIT" in s.value for s in at.subheader)


def test_the_ikev2_options_are_reachable_through_set():
    """AES-GCM suites, group 19 and the COOKIE threshold from --set lines reach the peers' policies,
    and the run negotiates them."""
    from natt_core.lab.settings import apply_settings
    s = apply_settings(preset("ikev2-client-behind-nat"),
                       ["client.ikev2_suites=aes-gcm-16-128/sha256", "server.ikev2_suites=aes-gcm-16-128/sha256",
                        "client.esp_suites=aes-gcm-16-128", "server.esp_suites=aes-gcm-16-128",
                        "client.ikev2_dh_groups=19", "server.ikev2_dh_groups=19,14", "server.cookie_threshold=0"])
    assert s.client.v2.ike_suites == ("aes-gcm-16-128/sha256",) and s.server.v2.cookie_threshold == 0
    assert s.client.v2.groups == (19,) and s.server.v2.groups == (19, 14)
    trace = run(s)
    sa, = trace.secrets["ikev2_sas"]
    assert sa["encryption"] == "aes-gcm-16-128" and sa["prf"] == "sha256" and sa["dh_group"] == 19
    assert {c["cipher"] for c in trace.secrets["child_sas"]} == {"aes-gcm-16-128"}
    kinds = [e.event for e in trace.events]
    assert "InitRetried" in kinds          # the COOKIE round trip the threshold 0 asks for
    assert kinds.count("ChildSaEstablished") == 2
    with pytest.raises(ConfigError, match="choose one of"):
        apply_settings(preset("ikev2-client-behind-nat"), ["client.ikev2_suites=aes-gcm-16-128"])
