"""The offline dictionary attack on Aggressive Mode's HASH_R: known answers from ike-scan's
psk-crack examples, our own capture cracked from AM1/AM2 alone, and (when installed) the real
psk-crack agreeing on the line we export."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from natt_core.analysis.psk_crack import (LESSON_WORDS, HashRMaterial, crack, from_psk_crack_line,
                                          material_from_capture, material_from_messages, psk_crack_line)
from natt_core.errors import DecodeError
from natt_core.lab.export import capture_files
from natt_core.pcap import pcap_bytes

from .conftest import run_preset
from .vectors_crypto import PSK_HASH_R_CASES


@pytest.mark.parametrize("case", PSK_HASH_R_CASES, ids=lambda c: c.source)
def test_the_published_psk_crack_examples_give_up_their_keys(case):
    line = ":".join(getattr(case, f).hex() for f in ("g_xr", "g_xi", "cky_r", "cky_i", "sai_b", "idir_b",
                                                      "ni_b", "nr_b", "hash_r"))
    material = from_psk_crack_line(line)
    assert material.hash_name == "md5" and psk_crack_line(material) == line
    words = ["password", "abc", "abcd", case.psk.decode(), "later"]
    assert crack(material, words).psk == case.psk.decode()
    assert crack(material, words).guesses == words.index(case.psk.decode()) + 1
    assert crack(material, ["password", "abc"]) == type(crack(material, []))(None, 2)


def _capture(name: str, *settings: str) -> bytes:
    trace = run_preset(name, *settings)
    return pcap_bytes(capture_files(trace)["internet"])


def test_our_capture_gives_up_the_lab_key_from_am1_and_am2_alone():
    material = material_from_capture(_capture("aggressive-mode-psk"))
    assert material.hash_name == "sha1" and len(material.hash_r) == 20
    result = crack(material, LESSON_WORDS)
    assert result.psk == "natt-lab" and result.guesses == LESSON_WORDS.index("natt-lab") + 1
    other = material_from_capture(_capture("aggressive-mode-psk", "client.psk=s3cret-99", "server.psk=s3cret-99"))
    assert crack(other, LESSON_WORDS) == type(result)(None, len(LESSON_WORDS))
    assert crack(other, [*LESSON_WORDS, "s3cret-99"]).psk == "s3cret-99"


def test_main_mode_offers_nothing_to_attack():
    with pytest.raises(DecodeError, match="no Aggressive Mode"):
        material_from_capture(_capture("client-behind-nat"))


@pytest.mark.parametrize("bad", [b"", b"\x00" * 40, bytes(28)])
def test_bad_messages_are_a_decode_error(bad):
    with pytest.raises(DecodeError):
        material_from_messages(bad, bad)
    with pytest.raises(DecodeError):
        from_psk_crack_line("00:11")


@pytest.mark.skipif(shutil.which("psk-crack") is None, reason="ike-scan's psk-crack is not installed")
def test_the_real_psk_crack_agrees_on_the_line_we_export(tmp_path):
    material = material_from_capture(_capture("aggressive-mode-psk"))
    (tmp_path / "am.txt").write_text(psk_crack_line(material) + "\n")
    (tmp_path / "words.txt").write_text("\n".join(LESSON_WORDS) + "\n")
    out = subprocess.run(["psk-crack", "-d", str(tmp_path / "words.txt"), str(tmp_path / "am.txt")],
                         capture_output=True, text=True, timeout=60).stdout
    assert 'key "natt-lab" matches' in out and "SHA1" in out
    assert isinstance(material, HashRMaterial)
