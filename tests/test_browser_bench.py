"""`python -m natt_ui.bench --browser` starts the app, times a lesson in headless Chromium and prints
one line per lesson (the figures themselves are never asserted: a benchmark, not a timed test)."""
from __future__ import annotations

import re
import subprocess
import sys

from .conftest import BROWSER, ROOT

pytestmark = BROWSER


def test_the_browser_benchmark_prints_load_and_step_change_per_lesson():
    r = subprocess.run([sys.executable, "-m", "natt_ui.bench", "--browser-only", "--lessons", "nat-d",
                        "--clicks", "2", "--loads", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    line = re.fullmatch(r"browser, nat-d: page load (\d+) ms \(1 load\), step change median "
                        r"(\d+) ms, max \d+ ms \(2 clicks\)\n", r.stdout)
    assert line and int(line.group(1)) > 0 and int(line.group(2)) > 0, r.stdout


def test_an_unknown_argument_exits_2_before_starting_anything():
    r = subprocess.run([sys.executable, "-m", "natt_ui.bench", "--browsr"], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "usage:" in r.stderr and r.stdout == ""
