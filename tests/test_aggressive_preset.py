"""The aggressive-mode-psk preset: its report tells the story, tshark reads the exchange (AM3 and
Quick Mode decrypted with the exported key table) with no malformed packet, and diagnose names
AM1/AM2/AM3 and the NAT from our own captures."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from natt_core.analysis import diagnose
from natt_core.lab.export import export
from natt_core.reasons import Reason

from .conftest import run_preset

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")


def test_the_report_tells_the_aggressive_mode_story():
    t = run_preset("aggressive-mode-psk")
    c, s = t.report["peers"]["client"], t.report["peers"]["server"]
    for p in (c, s):
        assert (p["phase1"], p["phase2"], p["phase1_exchange"], p["reason_code"]) == (
            "established", "established", "Aggressive Mode", None)
        assert p["floated"] and p["nat_t"] == "rfc3947"
    assert c["behind_nat"] == {"self": True, "peer": False} and s["behind_nat"] == {"self": False, "peer": True}
    assert t.report["traffic"]["delivered"] == t.report["traffic"]["sent"] > 0


def test_a_main_mode_server_refuses_with_a_reason_code():
    t = run_preset("aggressive-mode-psk", "server.mode=main")
    c, s = t.report["peers"]["client"], t.report["peers"]["server"]
    assert (c["phase1"], c["reason_code"]) == ("failed", Reason.AGGRESSIVE_MODE_REFUSED.value)
    assert (s["phase1"], s["reason_code"]) == ("failed", Reason.AGGRESSIVE_MODE_REFUSED.value)


def test_another_psk_fails_at_am2_with_auth_failed():
    t = run_preset("aggressive-mode-psk", "client.psk=wrong-key")
    c = t.report["peers"]["client"]
    assert (c["phase1"], c["reason_code"]) == ("failed", Reason.AUTH_FAILED.value)
    assert "HASH_R" in c["reason"]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("am")
    export(run_preset("aggressive-mode-psk"), out)
    return out


def _tshark(*args: str) -> list[list[str]]:
    done = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=60)
    errors = [line for line in done.stderr.splitlines() if line and not line.startswith("Running as user")]
    assert done.returncode == 0 and not errors, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


@needs_tshark
@pytest.mark.parametrize("pcap", ("client-lan", "internet"))
def test_tshark_reads_am1_am2_and_decrypts_am3(outputs, pcap):
    table = (outputs / "ikev1_decryption_table.txt").read_text().strip()
    rows = _tshark("-r", str(outputs / f"{pcap}.pcap"), "-o", f"uat:ikev1_decryption_table:{table}",
                   "-Y", "isakmp", "-T", "fields", "-E", "occurrence=a", "-e", "isakmp.exchangetype",
                   "-e", "isakmp.flag_e", "-e", "isakmp.typepayload", "-e", "udp.dstport", "-e", "_ws.malformed")
    am = [r for r in rows if r[0] == "4"]
    assert [r[1] for r in am] == ["0", "0", "1"]                 # AM1, AM2 plain; AM3 encrypted
    assert "5" in am[0][2].split(",")                          # IDii in the clear
    assert am[1][2].split(",")[-3:] == ["20", "20", "8"]        # AM2 ends NAT-D, NAT-D, HASH_R
    assert am[2][2] == "20,20,8" and am[2][3] == "4500"         # decrypted AM3 on 4500
    assert all(r[-1] == "" for r in rows) and len(rows) >= 6


@pytest.mark.parametrize("pcap, where", [("client-lan", "inside the initiator's NAT"),
                                         ("internet", "outside the initiator's NAT")])
def test_diagnose_names_the_messages_and_the_nat(outputs, pcap, where):
    d = diagnose((outputs / f"{pcap}.pcap").read_bytes())
    (ex,) = d.exchanges
    assert [m[2] for m in ex.messages] == ["AM1", "AM2", "AM3", "QM1", "QM2", "QM3"]
    assert ex.nat.initiator_behind_nat is True and ex.nat.where.startswith(where)
    reasons = {f.reason for f in ex.findings}
    assert {Reason.AGGRESSIVE_MODE, Reason.FLOATED, Reason.PHASE1_UP, Reason.QUICK_MODE_DONE} <= reasons
