"""A classroom without internet: every page loads with every request off this machine refused, and
none is even attempted (fonts, icons and scripts all come from the app's own server)."""
from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from .conftest import BROWSER

pytestmark = BROWSER

LOCAL = {"127.0.0.1", "localhost"}


@pytest.fixture()
def offline(page):
    tried: list[str] = []

    def refuse(route):
        tried.append(route.request.url)
        route.abort("internetdisconnected")

    def outside(url: str) -> bool:
        u = urlparse(url)
        return u.scheme in ("http", "https", "ws", "wss") and u.hostname not in LOCAL
    page.route(outside, refuse)
    yield page, tried
    page.unroute(outside)


@pytest.mark.parametrize("path,ready", [
    ("/", "Start here"), ("/nat-d?step=3&present=1", "Step 3 of"), ("/float-4500?step=5", "Step 5 of"),
    ("/playground", "Fill in the form"), ("/reference", "Numbers and RFCs"), ("/diagnose", "No capture yet"),
    ("/troubleshoot", "Choose a symptom"), ("/quiz", "Quiz"),
])
def test_no_request_leaves_the_machine(server, offline, path, ready):
    page, tried = offline
    page.goto(server + path)
    page.get_by_text(ready).first.wait_for()
    page.wait_for_timeout(1500)                                  # late fetches: fonts, icons, images
    assert tried == []
    assert not page.locator("[data-testid='stException']").count()
