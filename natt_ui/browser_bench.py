"""What a person waits for in a real browser: a lesson's page load and a step change.

`python -m natt_ui.bench --browser` starts the app (`streamlit run app.py` on 127.0.0.1, a free
port), opens lessons in headless Chromium and prints, per lesson, the median page load and the
median click-on-Next → settled time. Settled means: the next step's heading is on the page,
Streamlit's status widget is gone and no DOM mutation happened for QUIET_MS (a MutationObserver
stamps every mutation with performance.now(); the figure ends at the last mutation, the quiet
window itself is not counted). Page load runs from navigation start (performance's time origin)
to the first moment the step's heading and packet are present and the status widget is gone.

A measurement, never a test: run it on an otherwise idle machine; `--app DIR` measures another
checkout of the app (say, the commit before a change) so before/after runs can be interleaved.
"""
from __future__ import annotations

import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
QUIET_MS = 100
LESSONS = ("nat-d", "float-4500")

#: in the page: stamp every DOM mutation and the click that starts a step change
_OBSERVE_JS = """() => {
  if (window.__nattBench) return;
  const b = window.__nattBench = { last: performance.now(), click: null };
  new MutationObserver(() => { b.last = performance.now(); })
    .observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
  document.addEventListener("click", () => { b.click = performance.now(); }, true);
}"""

#: in the page: resolve with the settled time once the heading shows step N and the DOM is quiet
_SETTLED_JS = """([n, quiet, limit]) => new Promise((resolve, reject) => {
  const b = window.__nattBench, t0 = performance.now();
  const heading = () => [...document.querySelectorAll("h3")].some((h) => h.textContent.startsWith(`Step ${n} of`));
  const poll = () => {
    const now = performance.now();
    if (now - t0 > limit) return reject(new Error(`step ${n} did not settle in ${limit} ms`));
    if (heading() && !document.querySelector("[data-testid=stStatusWidget]") && now - b.last >= quiet)
      return resolve(b.last - b.click);
    setTimeout(poll, 5);
  };
  poll();
})"""

#: in the page: the first moment (ms since navigation start) the step is drawn and nothing runs
_LOADED_JS = """() => {
  const done = [...document.querySelectorAll("h3")].some((h) => /^Step \\d+ of/.test(h.textContent))
    && document.querySelector(".natt-pk") && !document.querySelector("[data-testid=stStatusWidget]");
  return done ? performance.now() : false;
}"""


@dataclass(frozen=True)
class Figures:
    lesson: str
    loads_ms: tuple[float, ...]
    steps_ms: tuple[float, ...]

    def line(self) -> str:
        """The first load also runs the scenario on the server (cached after): reported apart."""
        first, warm = self.loads_ms[0], self.loads_ms[1:]
        load = (f"page load median {statistics.median(warm):.0f} ms ({len(warm)} loads after a first of {first:.0f} ms)"
                if warm else f"page load {first:.0f} ms (1 load)")
        return (f"{self.lesson}: {load}, step change median {statistics.median(self.steps_ms):.0f} ms, "
                f"max {max(self.steps_ms):.0f} ms ({len(self.steps_ms)} clicks)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_app(app_dir: Path = ROOT):
    """`streamlit run app.py` in `app_dir` on a free loopback port; yields its URL, stops it after."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=app_dir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.25)
        else:
            raise RuntimeError("streamlit did not start within a minute")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure_lesson(page, url: str, lesson: str, loads: int, steps: int, present: bool = False) -> Figures:
    """Load `lesson` at step 1 `loads` times, then click Next `steps` times."""
    query = "?step=1" + ("&present=1" if present else "")
    load_times = []
    for _ in range(max(loads, 1)):
        page.goto(f"{url}/{lesson}{query}")
        load_times.append(page.wait_for_function(_LOADED_JS, polling="raf", timeout=60000).json_value())
    page.evaluate(_OBSERVE_JS)
    page.evaluate(f"new Promise((r) => setTimeout(r, {QUIET_MS * 3}))")      # the load's own tail
    nxt = page.get_by_role("button", name=re.compile("Next"))
    step_times = []
    for n in range(2, steps + 2):
        nxt.first.click()
        step_times.append(page.evaluate(_SETTLED_JS, [n, QUIET_MS, 30000]))
    return Figures(lesson, tuple(load_times), tuple(step_times))


def run_browser_bench(lessons=LESSONS, loads: int = 4, steps: int = 10, app_dir: Path = ROOT,
                      width: int = 1440, height: int = 1000, present: bool = False) -> list[Figures]:
    """Start the app from `app_dir` and measure every lesson in one headless Chromium."""
    from playwright.sync_api import sync_playwright
    with streamlit_app(app_dir) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(30000)
            return [measure_lesson(page, url, lesson, loads, steps, present) for lesson in lessons]
        finally:
            browser.close()
