"""`python -m natt_core bench`: a typo is refused before anything runs, and --no-live (or
NATT_BENCH_NO_LIVE=1) keeps the live lab out. The figures themselves are never asserted."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LIVE_SKIPPED = "live interop with strongSwan: skipped (--no-live"


def bench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "NATT_BENCH_NO_LIVE"} | (env or {})
    return subprocess.run([sys.executable, "-m", "natt_core", "bench", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args", [("--nolive",), ("--no-live", "--clients", "ten"), ("--repeat", "0"), ("extra",)])
def test_unknown_or_malformed_arguments_exit_2_before_any_work(args):
    r = bench(*args)
    assert r.returncode == 2 and "usage: python -m natt_core bench" in r.stderr
    assert r.stdout == ""                               # nothing measured, nothing live started


def test_the_cli_entry_refuses_the_same_typos():
    from natt_core.cli import main
    assert main(["bench", "--nolive"]) == 2


def test_no_live_runs_the_engine_figures_only():
    r = bench("--no-live", "--repeat", "1", "--clients", "2", "--diagnose-packets", "200", "--forged-mm1s", "100")
    assert r.returncode == 0, r.stderr
    assert "ratio engine handshake / unavoidable crypto" in r.stdout and "(2/2 connected)" in r.stdout
    assert LIVE_SKIPPED in r.stdout


def test_the_environment_variable_keeps_the_live_lab_out_too():
    r = bench("--repeat", "1", "--clients", "1", "--diagnose-packets", "200", "--forged-mm1s", "100", env={"NATT_BENCH_NO_LIVE": "1"})
    assert r.returncode == 0, r.stderr
    assert LIVE_SKIPPED in r.stdout


def test_live_is_wanted_only_without_either_switch():
    from natt_core.bench import live_wanted, parser
    assert live_wanted(parser().parse_args([]), environ={})
    assert live_wanted(parser().parse_args([]), environ={"NATT_BENCH_NO_LIVE": "0"})
    assert not live_wanted(parser().parse_args([]), environ={"NATT_BENCH_NO_LIVE": "1"})
    assert not live_wanted(parser().parse_args(["--no-live"]), environ={})


def test_the_view_benchmark_runs_on_the_ui_side():
    r = subprocess.run([sys.executable, "-m", "natt_ui.bench", "--repeat", "1", "--no-apptest"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "step change, all views of one step (natt_view)" in r.stdout


def test_the_scenario_baseline_counts_what_the_run_encrypted():
    """IKEv1 encrypts MM5, MM6 and the three Quick Mode messages (RFC 2409 §5, §5.5); every ESP
    packet the peers sent (one DataSent event each) is counted once, not once per segment."""
    from natt_core.bench import scenario_crypto, scenario_crypto_counted
    from .conftest import run_preset
    trace = run_preset("client-behind-nat")
    counted = scenario_crypto_counted(trace)
    assert len(counted.ike_ciphertexts) == 5 and all(n % 16 == 0 for n in counted.ike_ciphertexts)
    assert len(counted.esp_packets) == sum(1 for e in trace.events if e.event == "DataSent") > 0
    assert all(n > 0 and n % 16 == 0 and signed == n + 8 + 16 for n, signed in counted.esp_packets)
    assert counted.mschapv2 and (counted.esp_cipher, counted.esp_integrity) == ("aes-cbc-128", "hmac-sha1-96")
    scenario_crypto(counted)()   # runs: the work itself is timed only by the bench


def test_the_engine_baseline_counts_each_encrypted_message_of_the_handshake():
    """IKEv1: MM5, MM6, QM1-QM3 carry flag E (RFC 2408 §3.1); IKEv2: the IKE_AUTH request and
    response carry SK (RFC 7296 §3.14). Each ciphertext is whole AES blocks."""
    from natt_core.bench import engine_crypto, engine_handshake, ike_ciphertexts
    for version, count in ((1, 5), (2, 2)):
        sent: list[bytes] = []
        engine_handshake(version=version, sent=sent)
        sizes = ike_ciphertexts(sent)
        assert len(sizes) == count and all(n > 0 and n % 16 == 0 for n in sizes), (version, sizes)
        engine_crypto(14, 2, sizes)()   # runs: the work itself is timed only by the bench
