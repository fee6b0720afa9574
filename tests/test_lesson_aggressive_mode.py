"""The Aggressive Mode lesson: the attack view reads the run's capture (natt_view.psk_attack), and
the page runs under AppTest: steps AM1-AM3, the identities in clear, the key recovered with its
number of guesses, and a strong key that resists."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from natt_core.analysis.psk_crack import LESSON_WORDS
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_view.psk_attack import attack_view, identity_text
from natt_view.steps import journeys

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "lessons" / "12_aggressive_mode.py")


def test_the_attack_view_finds_the_lab_key_and_names_the_identities():
    trace = run(preset("aggressive-mode-psk"))
    assert [j.label for j in journeys(trace)][:4] == ["AM1", "AM2", "AM3", "QM1"]
    v = attack_view(trace)
    assert v.initiator_id == "IPv4 address 192.168.11.20" and v.responder_id.startswith("IPv4 address ")
    assert (v.result.psk, v.result.guesses) == ("natt-lab", LESSON_WORDS.index("natt-lab") + 1)
    strong = run(apply_settings(preset("aggressive-mode-psk"), ["client.psk=Zz9-long-random", "server.psk=Zz9-long-random"]))
    assert attack_view(strong).result.psk is None
    assert identity_text(bytes([2, 0, 0, 0]) + b"vpn.example") == "FQDN vpn.example"


def _text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(str(m.value) for m in at.metric)


def test_the_page_steps_through_am1_to_am3_and_cracks_the_key():
    at = AppTest.from_file(PAGE, default_timeout=90).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.subheader[0].value.startswith("Step 1 of ") and "AM1" in at.subheader[0].value
    at.button(key="l12:next").click().run()
    assert "AM2" in at.subheader[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Recovered pre-shared key"] == "natt-lab"
    assert metrics["Guesses tried"] == str(LESSON_WORDS.index("natt-lab") + 1)
    assert "IPv4 address 192.168.11.20" in _text(at)
    at.radio(key="l12:psk").set_value("a random 16-character key").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Recovered pre-shared key"] == "not found"
    assert metrics["Guesses tried"] == str(len(LESSON_WORDS))
    assert at.success and not at.error
