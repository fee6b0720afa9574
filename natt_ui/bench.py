"""What a lesson step change costs on the server: the views alone, and a whole Streamlit script run.

`python -m natt_ui.bench` prints two medians (never asserted in tests):
1. every view of one step drawn from a cached Trace (natt_view: dissection, field layout, hex, diff
   lens, both diagrams, the tables), over all steps of client-behind-nat;
2. the script run of a click on Next in lesson 3 under Streamlit's AppTest (`--no-apptest` skips it).
`--browser` adds what a person waits for in headless Chromium (natt_ui.browser_bench): page load and
click-on-Next → settled on lessons 3 and 4.
The engine benchmarks are `python -m natt_core bench`; this one lives here because the engine never
imports the views.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def step_change_views(repeat: int = 5) -> tuple[float, int]:
    """(median seconds to draw every view of one step, steps timed)."""
    from natt_core.lab.presets import preset
    from natt_core.lab.scenario import run
    from natt_view import steps as steps_module
    from natt_view.diagrams import sequence_svg, topology_dot
    from natt_view.packet import diff_lens_text, field_diff, hex_html, packet_layout_html
    from natt_view.steps import fields_of, journey_changes, journeys
    from natt_view.tables import events_html, ipsec_rows, isakmp_rows, nat_devices, nat_rows, peers

    trace = run(preset("client-behind-nat"))
    steps = journeys(trace)

    def one(j) -> None:
        changed = journey_changes(j)
        for hop in j.hops:
            fields = fields_of(trace, hop.packet)
            packet_layout_html(fields, changed)
            hex_html(hop.packet, fields, changed)
        diff_lens_text(j.hops, fields_of(trace, j.first.packet))
        field_diff(fields_of(trace, j.first.packet), fields_of(trace, j.last.packet))
        topology_dot(trace, j)
        sequence_svg(trace, steps, j.index)
        events_html(j)
        for name in nat_devices(trace):
            nat_rows(trace, name, j.last_step)
        for name in peers(trace):
            isakmp_rows(trace, name, j.last_step), ipsec_rows(trace, name, j.last_step)

    times = []
    for _ in range(repeat):
        clear = getattr(getattr(steps_module, "_fields", None), "cache_clear", None)
        if clear is not None:
            clear()                      # measure the dissection too, not only the cache
        for j in steps:
            t = time.perf_counter()
            one(j)
            times.append(time.perf_counter() - t)
    return statistics.median(times), len(times)


def step_change_median(page: str = "lessons/03_nat_d.py", key: str = "l3", rounds: int = 3) -> tuple[float, int]:
    """(median seconds of the script run after a click on Next, clicks timed) under AppTest."""
    from streamlit.testing.v1 import AppTest
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m natt_ui.bench", description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, metavar="N", help="passes over every step (default 5)")
    p.add_argument("--no-apptest", action="store_true", help="skip the Streamlit script-run figure")
    p.add_argument("--browser", action="store_true", help="also time lessons 3 and 4 in headless Chromium")
    p.add_argument("--lessons", nargs="+", default=None, metavar="SLUG", help="lesson URLs for --browser "
                   "(default: nat-d float-4500)")
    p.add_argument("--clicks", type=int, default=10, metavar="N", help="Next clicks per lesson for --browser")
    p.add_argument("--loads", type=int, default=4, metavar="N", help="page loads per lesson for --browser")
    p.add_argument("--app", type=Path, default=ROOT, metavar="DIR", help="the checkout whose app.py --browser "
                   "starts (default: this one), to time a before and an after")
    p.add_argument("--present", action="store_true", help="--browser in projector mode (present=1)")
    p.add_argument("--browser-only", action="store_true", help="only the browser figures")
    args = p.parse_args(argv)
    if args.browser or args.browser_only:
        from .browser_bench import LESSONS, run_browser_bench
        for figures in run_browser_bench(tuple(args.lessons or LESSONS), loads=args.loads, steps=args.clicks,
                                         app_dir=args.app, present=args.present):
            print(f"browser, {figures.line()}", flush=True)
        if args.browser_only:
            return 0
    median, n = step_change_views(max(args.repeat, 1))
    print(f"step change, all views of one step (natt_view): {median * 1e3:.2f} ms median of {n} steps")
    if not args.no_apptest:
        median, n = step_change_median()
        print(f"lesson step change under Streamlit (AppTest script run): {median * 1e3:.1f} ms median of {n} clicks")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
