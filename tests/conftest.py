"""Shared helpers: one memoised preset runner for every test module (`run_preset`), one
`streamlit run app.py` for the browser tests' whole session, and a headless system Chromium page
per module (never `playwright install`)."""
from __future__ import annotations

import functools
import itertools
import os
import subprocess
from pathlib import Path

import pytest

from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
#: the marks of every browser test module: `pytestmark = BROWSER`
BROWSER = [pytest.mark.browser,
           pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (CI installs it)")]


@functools.lru_cache(maxsize=None)
def run_preset(name: str, *settings: str):
    """The Trace of preset `name` with `--set` lines applied, run once per session (Traces are
    frozen, so every test may share one). `from .conftest import run_preset` in a test module."""
    return run(apply_settings(preset(name), list(settings)))


@pytest.fixture(scope="session")
def server():
    """The app on a free loopback port, started once for the browser tests (natt_ui.browser_bench's runner)."""
    from natt_ui.browser_bench import streamlit_app
    with streamlit_app(ROOT) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1500, "height": 1100}, accept_downloads=True)
        pg.set_default_timeout(20000)
        yield pg
        browser.close()


# ------------------------------------------------------------------ live runs against strongSwan

#: charon's answer to a bad MM5 goes to UDP 500 and cannot be verified; our peer gives up on MM5 soon
FAST_GIVE_UP = dict(retransmit_interval=0.25, retransmit_max_interval=0.5, retransmit_tries=3)
_live_serial = itertools.count()


@pytest.fixture
def live(tmp_path, request):
    """run_interop with a unique lab tag (the module's LIVE_TAG first); afterwards nothing of the
    lab may be left running."""
    from natt_core.live.interop import run_interop
    prefix = getattr(request.module, "LIVE_TAG", "")
    tags, pids = [], []

    def run(scenario, direction, **kw):
        tag = f"{prefix}{os.getpid() % 10000}-{next(_live_serial)}"
        tags.append(tag)
        result = run_interop(scenario, direction, tmp_path / tag, tag=tag, **kw)
        pids.append(result.charon_pid)
        return result
    yield run
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not [t for t in tags if f"natt-{t}-" in namespaces], namespaces
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"charon {pid} still running"
