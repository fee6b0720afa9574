"""Lesson 11 in a real browser: walk the IKEv1 run with Next and watch the IKEv2 column follow."""
from __future__ import annotations

import re

from .conftest import BROWSER

pytestmark = BROWSER

#: IKEv1 step -> the IKEv2 step shown beside it (client-behind-nat and its IKEv2 twin)
FOLLOWS = {1: 1, 2: 2, 3: 1, 4: 2, 5: 3, 6: 4, 7: 3, 8: 4, 9: 4}


def _heading(page, text: str) -> None:
    page.get_by_role("heading", name=re.compile("^" + re.escape(text))).wait_for()


def test_walk_lesson_11_side_by_side(server, page):
    page.goto(server + "/ikev1-vs-ikev2?step=1")
    _heading(page, "IKEv1 · step 1 of 36")
    for n in range(2, 10):
        page.get_by_role("button", name=re.compile("Next")).click()
        _heading(page, f"IKEv1 · step {n} of 36")
        _heading(page, f"IKEv2 · step {FOLLOWS[n]} of 31")
        # the link is written by the history component once the step is drawn
        page.wait_for_function("n => new URLSearchParams(location.search).get('step') === String(n)", arg=n)
    assert "Quick Mode" in page.locator("[data-testid='stAlert']").first.inner_text() or \
        "IPsec SA" in page.locator("[data-testid='stAlert']").first.inner_text()
    page.goto(server + "/ikev1-vs-ikev2?step=5")
    _heading(page, "IKEv2 · step 3 of 31 — IKE_AUTH")
    page.locator(".natt-lens").nth(1).wait_for()             # drawn just after the heading, not with it
    assert page.locator(".natt-lens").count() == 2          # the same diff lens on both sides
