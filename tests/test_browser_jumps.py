"""Navigation from the pictures in a real browser: headless Chromium drives a real `streamlit run app.py`.

A click on a row of the sequence diagram opens that step in place (same page, same session, the
what-if switch kept); pointing at a byte of the hex dump outlines its field's cell in the field
layout, and a click pins it. Colours are read back with getComputedStyle, so a CSS rule that the
sanitiser or the browser drops makes these tests fail. Uses the system Chromium (/usr/bin/chromium).
"""
from __future__ import annotations

import re

from natt_view.theme import POINTED

from .conftest import BROWSER

pytestmark = BROWSER

POINTED_RGB = "rgb({}, {}, {})".format(*(int(POINTED[i:i + 2], 16) for i in (1, 3, 5)))


def _heading(page, n: int):
    return page.get_by_role("heading", name=re.compile(rf"^Step {n} of \d+"))


def _outline(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).outlineStyle + ' ' + getComputedStyle(e).outlineColor")


def test_click_a_sequence_row_to_open_that_step(server, page):
    page.goto(server + "/nat-d?step=1&nat=static")
    _heading(page, 1).wait_for()
    page.locator(".natt-keys[data-live]").wait_for(state="attached")    # the click listener is on the page
    page.evaluate("() => { window.__sameDocument = true }")       # gone if the click reloaded the page
    page.locator("svg.natt-seq a[data-step='5']").click()
    _heading(page, 5).wait_for()
    page.wait_for_function("() => location.search.includes('step=5')")
    assert "nat=static" in page.url
    assert page.evaluate("() => window.__sameDocument === true")
    static = page.locator("[data-testid='stSidebar']").get_by_role("radio", name="static", exact=True)
    assert static.is_checked()
    # the highlighted row followed the click (the page's rule for the current row, not the picture)
    page.wait_for_function("""() => {
        const t = Array.from(document.querySelectorAll("svg.natt-seq a[data-step='5'] text"));
        return t.some(e => getComputedStyle(e).fontWeight === '700');
    }""")
    assert page.evaluate("""() => Array.from(document.querySelectorAll("svg.natt-seq a[data-step='4'] text"))
        .every(e => getComputedStyle(e).fontWeight !== '700')""")
    page.locator("svg.natt-seq a[data-step='2']").click()          # and back up the ladder
    _heading(page, 2).wait_for()
    page.wait_for_function("() => location.search.includes('step=2')")


def test_pointing_at_a_byte_lights_up_its_field_in_the_layout(server, page):
    page.goto(server + "/nat-d?step=3")
    _heading(page, 3).wait_for()
    box = page.locator(".natt-pk").first
    box.wait_for()
    byte = box.locator(".natt-hex b[title^='IPv4: source address']")   # its first bytes
    field = byte.get_attribute("data-f")
    cell = box.locator(f"table.natt-rfc td[data-f='{field}']").first
    other = box.locator("table.natt-rfc td[data-f='0']").first      # version / IHL: a different field
    assert "source address" in cell.inner_text()
    assert not _outline(cell).endswith(POINTED_RGB)
    byte.hover()
    page.wait_for_function("""([sel, rgb]) => getComputedStyle(document.querySelector(sel)).outlineColor === rgb""",
                           arg=[f".natt-pk table.natt-rfc td[data-f='{field}']", POINTED_RGB])
    assert _outline(cell) == f"solid {POINTED_RGB}"
    assert not _outline(other).endswith(POINTED_RGB)
    siblings = box.locator(f".natt-hex b[data-f='{field}']")
    assert " ".join(siblings.all_text_contents()).split() == ["c0", "a8", "0b", "14"]   # all four address bytes
    assert all(_outline(siblings.nth(i)) == f"solid {POINTED_RGB}" for i in range(siblings.count()))
    byte.click()                                                    # a click pins it after the pointer leaves
    page.mouse.move(5, 5)
    assert _outline(cell) == f"solid {POINTED_RGB}"
    other.hover()                                                   # and the layout points back at the hex
    first_byte = box.locator(".natt-hex b[data-f='0']").first
    assert _outline(first_byte) == f"solid {POINTED_RGB}"
