"""Lesson 7 (L2TP/IPsec end to end) in a real browser: fix the forward, jump by phase through the VPN,
walk with Next inside PPP, and read PPP inside L2TP inside ESP for the focused step."""
from __future__ import annotations

import re

from .conftest import BROWSER

pytestmark = BROWSER


def _heading(page, text: str) -> None:
    page.get_by_role("heading", name=re.compile(re.escape(text))).first.wait_for()


def _layers(page) -> str:
    """The 'Layers, outside in: …' line of the focused step, whole."""
    line = page.locator("p").filter(has_text=re.compile("^Layers, outside in:")).first
    line.wait_for()
    return line.inner_text()


def test_walk_the_l2tp_ipsec_lesson_phase_by_phase(server, page):
    page.goto(server + "/l2tp-end-to-end?forwards=500%2C4500&step=1")
    _heading(page, "Step 1 of 36")
    # the navigator: one button per phase, with its number of packets
    for name in ("IKE · 9", "L2TP tunnel · 3", "L2TP session · 5", "PPP LCP · 4", "authentication · 3",
                 "IPCP · 8", "ping · 2"):
        page.get_by_role("button", name=name).wait_for()
    page.get_by_role("button", name="L2TP tunnel · 3").click()
    _heading(page, "This step in the VPN: L2TP tunnel, packet 1 of 3")
    page.wait_for_function("() => new URLSearchParams(location.search).get('step') === '10'")
    page.get_by_role("button", name="authentication · 3").click()
    _heading(page, "This step in the VPN: authentication, packet 1 of 3")
    text = _layers(page)
    assert text.index("ESP") < text.index("L2TP data") < text.index("PPP") < text.index("CHAP")
    page.get_by_role("button", name=re.compile("Next")).click()
    _heading(page, "This step in the VPN: authentication, packet 2 of 3")
    page.get_by_role("button", name=re.compile("Next")).click()
    _heading(page, "This step in the VPN: authentication, packet 3 of 3")
    page.get_by_role("button", name="ping · 2").click()
    _heading(page, "This step in the VPN: ping, packet 1 of 2")
    assert "ICMP" in _layers(page)
    # the field layout of the opened inside names the ping's addresses
    page.get_by_text("10.99.0.10 → 10.99.0.1").first.wait_for()
