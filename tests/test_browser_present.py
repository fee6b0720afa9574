"""Teaching from the app in a real browser: projector mode that stays on and lives in the link,
browser Back/Forward through the steps, arrow keys that all count, and a lesson that remembers its
step when you come back to it."""
from __future__ import annotations

import re

from .conftest import BROWSER

pytestmark = BROWSER


def _heading(page, n: int):
    return page.get_by_role("heading", name=re.compile(rf"^Step {n} of \d+"))


def _ready(page, n: int) -> None:
    _heading(page, n).wait_for()
    page.locator(".natt-keys[data-live]").wait_for(state="attached")  # the ←/→ listeners are on the page
    page.wait_for_function(f"() => location.search.includes('step={n}')")


def _projector(page):
    return page.locator("[data-testid='stSidebar']").get_by_role("switch", name="Projector mode")


def test_projector_mode_comes_from_the_link_and_stays_on_every_page(server, page):
    page.goto(server + "/nat-d?step=3&present=1")
    _ready(page, 3)
    assert _projector(page).is_checked()
    page.locator("[data-testid='stSidebar']").get_by_role("link", name=re.compile("The float to 4500")).click()
    page.get_by_role("heading", name="The float to 4500").wait_for()
    page.wait_for_function("() => location.search.includes('present=1')")
    assert _projector(page).is_checked()
    page.locator("[data-testid='stSidebar']").get_by_role("link", name=re.compile("Numbers and RFCs")).click()
    page.wait_for_function("() => location.pathname.endsWith('/reference') && location.search.includes('present=1')")
    assert _projector(page).is_checked()
    # on: larger (zoomed) main area; the step's details are folded below the pictures and the packet
    page.goto(server + "/nat-d?step=3&present=1")
    _ready(page, 3)
    zoom = page.locator("[data-testid='stMainBlockContainer']").evaluate("e => getComputedStyle(e).zoom")
    assert float(zoom) > 1
    assert page.get_by_text("Details of this step").is_visible()
    # off: the link loses present=1, the page its zoom
    _projector(page).click(force=True)
    page.wait_for_function("() => !location.search.includes('present')")
    assert not _projector(page).is_checked()


def test_browser_back_and_forward_move_between_steps(server, page):
    page.goto(server + "/nat-d?step=2")
    _ready(page, 2)
    nxt = page.get_by_role("button", name=re.compile("Next"))
    for n in (3, 4):
        nxt.click()
        _ready(page, n)
    page.go_back()
    _ready(page, 3)
    page.go_back()
    _ready(page, 2)
    page.go_forward()
    _ready(page, 3)


def test_every_arrow_key_press_counts(server, page):
    page.goto(server + "/nat-d?step=1")
    _ready(page, 1)
    page.locator("h1").first.click()                     # focus on the page, not in a widget
    for _ in range(5):
        page.keyboard.press("ArrowRight")               # faster than the server reruns
    _ready(page, 6)
    for _ in range(2):
        page.keyboard.press("ArrowLeft")
    _ready(page, 4)
    page.keyboard.press("ArrowRight")                   # after reruns: still one listener, one step
    _ready(page, 5)


def test_a_lesson_remembers_its_step_and_switches(server, page):
    page.goto(server + "/nat-d?step=5&nat=static")
    _ready(page, 5)
    side = page.locator("[data-testid='stSidebar']")
    side.get_by_role("link", name=re.compile("Main Mode in six")).click()
    page.get_by_role("heading", name="Main Mode in six messages").wait_for()
    side.get_by_role("link", name=re.compile("NAT-D: who")).click()
    _ready(page, 5)
    assert "nat=static" in page.url
    assert side.get_by_role("radio", name="static", exact=True).is_checked()


def test_the_packet_layout_opens_at_the_field_the_step_is_about(server, page):
    page.goto(server + "/nat-d?step=3")
    _ready(page, 3)
    box = page.locator(".natt-pk[data-focus]").first
    box.wait_for()
    focus = box.get_attribute("data-focus")
    cell = box.locator(f".natt-rfc [data-f='{focus}']")
    assert "NAT-D" in cell.get_attribute("title")
    page.wait_for_function("""f => { const b = document.querySelector('.natt-pk[data-focus]');
        const pane = b.querySelector('.natt-scroll'), c = b.querySelector('.natt-rfc [data-f="' + f + '"]');
        const p = pane.getBoundingClientRect(), r = c.getBoundingClientRect();
        return r.top >= p.top && r.bottom <= p.bottom; }""", arg=focus)
