"""The troubleshooter page tells Windows error 789 (IPsec negotiation failed: the security layer) from
809 (the server's answers never arrive), by what each message means."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
E789 = ("Error 789: The L2TP connection attempt failed because the security layer encountered a processing "
        "error during initial negotiations with the remote computer.")
E809 = ("Error 809: The network connection between your computer and the VPN server could not be established "
        "because the remote server is not responding.")


def _paste(text: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "lessons/troubleshoot.py"), default_timeout=90).run()
    at.text_area(key="ts:paste").input(text).run()
    assert not at.exception
    return at


def test_error_789_is_a_failed_ipsec_negotiation_not_809():
    at = _paste(E789)
    offered = at.radio(key="ts:match").options
    assert offered[0].startswith("Authentication failed") and not any("809" in o for o in offered)
    assert at.query_params["symptom"] == "psk-mismatch"
    assert any("error 789" in m.value and "error 809" in m.value for m in at.markdown)   # the two told apart


def test_error_809_is_not_taken_for_789():
    at = _paste(E809)
    assert all("809" in o or "UDP 500" in o for o in at.radio(key="ts:match").options)
