"""Server-side time of a lesson step change under Streamlit, measured with AppTest.

`python -m natt_ui.bench` opens lesson 3, clicks Next through every step several times and
prints the median script-run time of a click (the engine run itself is cached after the first).
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]


def step_change_median(page: str = "lessons/03_nat_d.py", key: str = "l3", rounds: int = 3) -> tuple[float, int]:
    at = AppTest.from_file(str(ROOT / page), default_timeout=60).run()
    times = []
    for _ in range(rounds):
        at.session_state[f"{key}:step"] = 1
        at.run()
        while not at.button(key=f"{key}:next").disabled:
            t = time.perf_counter()
            at.button(key=f"{key}:next").click().run()
            times.append(time.perf_counter() - t)
    return statistics.median(times), len(times)


def main() -> int:
    median, n = step_change_median()
    print(f"lesson step change under Streamlit (AppTest script run): {median * 1e3:.1f} ms median of {n} clicks")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
