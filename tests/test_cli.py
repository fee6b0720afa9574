"""The command line: `python -m natt_core scenarios | run NAME [--set ...] [--seed N] [--out DIR]`."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from natt_core.lab.presets import PRESETS
from tests.helpers import L2TP_CALL

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "natt_core", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    r = cli("run", "client-behind-nat", "--out", str(out))
    assert r.returncode == 0, r.stderr
    return r, out


def test_scenarios_lists_every_preset_one_line_each():
    r = cli("scenarios")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(PRESETS)


def test_run_prints_a_ladder(written):
    r, _ = written
    assert "MM1" in r.stdout and "ESP-in-UDP" in r.stdout
    assert "nat rewrote IPv4 source address 192.168.11.20->192.168.1.30" in r.stdout
    assert "floats to UDP 4500" in r.stdout


def test_run_shows_drop_reasons():
    r = cli("run", "keepalive-vs-timeout", "--seed", "3")
    assert r.returncode == 0 and "DROPPED by nat: no mapping" in r.stdout
    r = cli("run", "keepalive-vs-timeout", "--set", "client.keepalive_interval=20")
    assert r.returncode == 0 and "DROPPED" not in r.stdout


def test_run_writes_every_file(written):
    _, out = written
    names = {p.name for p in out.iterdir()}
    assert names == {"client-lan.pcap", "internet.pcap", "esp_sa.txt", "ikev1_decryption_table.txt",
                     "secrets.json", "report.json"}
    secrets = json.loads((out / "secrets.json").read_text())
    assert set(secrets) == {"format", "ike_sas", "child_sas"}
    assert secrets["format"] == "natt-lab-secrets/1"
    report = json.loads((out / "report.json").read_text())
    assert report["scenario"] == "client-behind-nat" and report["traffic"]["delivered"] == L2TP_CALL
    esp = (out / "esp_sa.txt").read_text().splitlines()
    assert len(esp) == len(secrets["child_sas"]) == 2
    for line, sa in zip(esp, secrets["child_sas"]):
        assert line == (f'"IPv4","*","*","0x{sa["spi"]}","AES-CBC [RFC3602]","0x{sa["encryption_key"]}",'
                        f'"HMAC-SHA-1-96 [RFC2404]","0x{sa["integrity_key"]}"')
    ike = (out / "ikev1_decryption_table.txt").read_text().splitlines()
    assert ike == [f'{sa["initiator_cookie"]},{sa["encryption_key"]}' for sa in secrets["ike_sas"]]


@pytest.mark.parametrize("args,hint", [
    (("run", "nope"), "no-nat"),
    (("run", "no-nat", "--set", "bogus=1"), "client.nat_t"),
    (("run", "no-nat", "--set", "mode=sideways"), "tunnel"),
    (("run", "no-nat", "--set", "client.assume_udp_rule=7"), "0, 1, 2"),
    (("run", "no-nat", "--set", "clients=0"), "1..1000"),
    (("run", "no-nat", "--seed", "x"), "seed"),
    (("frobnicate",), "scenarios"),
])
def test_bad_input_exits_2_with_one_line(args, hint):
    r = cli(*args)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert hint in r.stderr


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_the_captures_and_decrypts_l2tp(written):
    _, out = written
    uat = []
    for line in (out / "esp_sa.txt").read_text().splitlines():
        uat += ["-o", f"uat:esp_sa:{line}"]
    for pcap in ("client-lan.pcap", "internet.pcap"):
        plain = subprocess.run(["tshark", "-r", str(out / pcap)], capture_output=True, text=True, timeout=30)
        assert plain.returncode == 0 and plain.stdout and "Malformed" not in plain.stdout
        l2tp = subprocess.run(["tshark", "-r", str(out / pcap), "-o", "esp.enable_encryption_decode:TRUE", *uat,
                               "-Y", "l2tp"], capture_output=True, text=True, timeout=30)
        assert l2tp.returncode == 0 and len(l2tp.stdout.splitlines()) > 0, l2tp.stderr
        assert "SCCRQ" in l2tp.stdout and "SCCRP" in l2tp.stdout


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    """`run ... | head -3`: the pipe closes under the ladder; no BrokenPipeError, files still written.

    30 clients make a ladder far larger than a pipe's buffer, so the writer surely hits the closed pipe."""
    proc = subprocess.Popen([sys.executable, "-m", "natt_core", "run", "multi-client", "--set", "clients=30",
                             "--out", str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = [proc.stdout.readline() for _ in range(3)]
    proc.stdout.close()  # as `head -3` does
    _, err = proc.communicate(timeout=60)
    assert first[0].startswith(b"multi-client:")
    assert proc.returncode == 0 and b"Traceback" not in err and b"BrokenPipe" not in err, err
    assert (tmp_path / "report.json").exists() and (tmp_path / "internet.pcap").exists()
