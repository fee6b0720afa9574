"""What a crafted link or file name can do to the page: nothing but appear as text.

Each case opens a page with a value that would be a link, a remote image or coloured text if it were
rendered as markdown/HTML, and checks in a real Chromium that the value is shown letter for letter,
that no link or image pointing at it exists, and that the browser never even tried to fetch it.
Also: a pre-shared key never stays in the address bar.
"""
from __future__ import annotations

import re
from urllib.parse import quote, urlparse

import pytest

from .conftest import BROWSER

pytestmark = BROWSER

EVIL = "evil.invalid"
LINK = f"[click here](http://{EVIL}/phish)"
IMAGE = f"![logo](http://{EVIL}/pixel.png)"
HTML = f'<img src="http://{EVIL}/html.png">'


def _to_evil(url: str) -> bool:
    return urlparse(url).hostname == EVIL


@pytest.fixture()
def watched(page):
    """The page, with every request to EVIL recorded (and refused)."""
    seen: list[str] = []

    def refuse(route):
        seen.append(route.request.url)
        route.abort()
    page.route(_to_evil, refuse)
    yield page, seen
    page.unroute(_to_evil)


def _assert_inert(page, seen, text: str) -> None:
    main = page.locator("[data-testid='stMain']")
    main.get_by_text(text, exact=False).first.wait_for()
    assert main.locator(f"a[href*='{EVIL}']").count() == 0
    assert page.locator(f"img[src*='{EVIL}']").count() == 0
    assert seen == []


@pytest.mark.parametrize("path,value", [
    ("/nat-d?step=", IMAGE),                     # the step number
    ("/nat-d?nat=", LINK),                       # a what-if switch
    ("/playground?scenario=", HTML),             # the playground's scenario
    ("/troubleshoot?symptom=", LINK + " :red[alarm]"),
    ("/nat-timeouts?timeout=", IMAGE),           # lesson 10's own parameters
])
def test_a_crafted_link_value_is_shown_as_text(server, watched, path, value):
    page, seen = watched
    page.goto(server + path + quote(value))
    _assert_inert(page, seen, value[:20])


def test_an_upload_file_name_is_shown_as_text(server, watched, tmp_path):
    page, seen = watched
    name = f"{LINK} {IMAGE}.pcap".replace("/", "_")
    page.goto(server + "/diagnose")
    page.locator("input[type=file]").first.set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": b"this is not a capture"}])
    page.get_by_text("could not be read as a capture").wait_for()
    _assert_inert(page, seen, "[click here](http:")
    assert page.locator("[data-testid='stException']").count() == 0      # a message, not a traceback


def test_a_pre_shared_key_never_stays_in_the_link(server, page):
    page.goto(server + "/playground?scenario=client-behind-nat&set=client.psk%3Dhunter2hunter2&set=nat.kind%3Dstatic")
    page.get_by_role("heading", name=re.compile(r"^Step 1 of \d+")).wait_for()
    page.wait_for_function("() => location.search.includes('nat.kind')")
    assert "hunter2" not in page.url and "psk" not in page.url
    page.get_by_text("pre-shared keys are not in this page's link").wait_for()
    hrefs = page.locator("svg.natt-seq a[data-step]").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert hrefs and not any("hunter2" in h for h in hrefs)
