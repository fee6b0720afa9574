"""A class of simulated students over Streamlit's own websocket protocol, without a browser each.

    python -m natt_ui.loadtest --students 40 --steps 8 --url http://127.0.0.1:8501 [--lesson nat-d]

Each student opens its own session on `/_stcore/stream`, runs the lesson page (a `rerun_script`
BackMsg, as a browser sends on load) and then presses Next K times: a `rerun_script` carrying the
Next button's trigger, in the step view's fragment, exactly as the frontend sends it. The time from
sending to the server's `script_finished` ForwardMsg is one step's latency; a step whose heading
does not advance, an exception element or a timeout is an error. Prints one line:
`students=N p50_ms=… p95_ms=… errors=…`. Between presses a student reads for `--think` seconds
on average (0.5 to 1.5 times it, seeded); `--think 0` is the worst case, everyone pressing at once.

Bounded (at most 200 students, 100 steps, 30 s per answer) and loopback only: it refuses a URL
whose host is not this machine, so it cannot be pointed at someone else's server.
"""
from __future__ import annotations

import argparse
import asyncio
import ipaddress
import math
import random
import re
import socket
import statistics
import sys
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

MAX_STUDENTS, MAX_STEPS, ANSWER_TIMEOUT = 200, 100, 30.0
STEP = re.compile(r"^Step (\d+) of (\d+)")


class Refused(ValueError):
    """A URL this tool will not load-test."""


def loopback_ws_url(url: str) -> str:
    """The websocket endpoint for an http(s)://host:port URL whose host resolves only to loopback."""
    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise Refused(f"{url!r} is not an http(s)://host:port URL")
    try:
        addresses = {ai[4][0] for ai in socket.getaddrinfo(u.hostname, u.port or 80)}
    except socket.gaierror as e:
        raise Refused(f"cannot resolve {u.hostname!r}: {e}") from None
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise Refused(f"{u.hostname} is not this machine ({', '.join(sorted(addresses))}): loopback only")
    scheme = "wss" if u.scheme == "https" else "ws"
    base = u.path.rstrip("/")
    return f"{scheme}://{u.netloc}{base}/_stcore/stream"


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Screen:
    """What one script run sent that a student needs: the step shown, the Next button, its fragment."""
    step: int | None = None
    next_id: str | None = None
    fragment: str = ""
    exception: str | None = None
    status: str | None = None


def _rerun(query: str, page: str, widgets=(), fragment: str = "") -> bytes:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    msg = BackMsg()
    rs = msg.rerun_script
    rs.query_string = query
    rs.page_name = page
    if fragment:
        rs.fragment_id = fragment
    for wid in widgets:
        w = rs.widget_states.widgets.add()
        w.id = wid
        w.trigger_value = True
    return msg.SerializeToString()


async def _until_finished(ws) -> Screen:
    """Read ForwardMsgs until the script run ends; collect the step heading and the Next button."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    screen = Screen()
    while True:
        raw = await asyncio.wait_for(ws.recv(), ANSWER_TIMEOUT)
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            el = msg.delta.new_element
            which = el.WhichOneof("type")
            if which == "heading" and (m := STEP.match(el.heading.body)):
                screen.step = int(m.group(1))
            elif which == "button" and "Next" in el.button.label:
                screen.next_id, screen.fragment = el.button.id, msg.delta.fragment_id
            elif which == "exception":
                screen.exception = el.exception.message or el.exception.type
        elif kind == "script_finished":
            status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
            if status != "FINISHED_EARLY_FOR_RERUN":
                screen.status = status
                return screen


async def student(ws_url: str, lesson: str, steps: int, result: Result, think: float = 0.0,
                  rng: random.Random | None = None) -> None:
    import websockets
    try:
        async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=ANSWER_TIMEOUT) as ws:
            await ws.send(_rerun("step=1", lesson))
            screen = await _until_finished(ws)
            if screen.step is None or screen.next_id is None:
                result.errors.append(f"{lesson}: no step view ({screen.exception or screen.status})")
                return
            for _ in range(steps):
                if think > 0:
                    await asyncio.sleep(think * (0.5 + (rng or random).random()))
                before = screen
                start = time.perf_counter()
                await ws.send(_rerun(f"step={before.step}", lesson, [before.next_id], before.fragment))
                screen = await _until_finished(ws)
                result.latencies.append(time.perf_counter() - start)
                if screen.exception:
                    result.errors.append(f"exception: {screen.exception}")
                    return
                if screen.step != before.step + 1:
                    result.errors.append(f"step {before.step} -> {screen.step}")
                    return
                screen.next_id = screen.next_id or before.next_id
                screen.fragment = screen.fragment or before.fragment
    except (OSError, asyncio.TimeoutError, Exception) as e:          # noqa: BLE001 - one student's failure
        result.errors.append(f"{type(e).__name__}: {e}")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]      # nearest rank


async def run(url: str, students: int, steps: int, lesson: str, ramp: float = 0.0, think: float = 0.0,
              seed: int = 1) -> Result:
    ws_url = loopback_ws_url(url)
    result = Result()

    async def one(i: int) -> None:
        await asyncio.sleep(ramp * i / max(students, 1))
        await student(ws_url, lesson, steps, result, think, random.Random(seed * 1000 + i))
    await asyncio.gather(*(one(i) for i in range(students)))
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m natt_ui.loadtest", description=__doc__.split("\n\n")[0])
    ap.add_argument("--students", type=int, required=True, help=f"1 to {MAX_STUDENTS}")
    ap.add_argument("--steps", type=int, required=True, help=f"Next presses per student, 1 to {MAX_STEPS}")
    ap.add_argument("--url", required=True, help="the app, e.g. http://127.0.0.1:8501 (loopback only)")
    ap.add_argument("--lesson", default="nat-d", help="the lesson's url path (default nat-d)")
    ap.add_argument("--ramp", type=float, default=1.0, help="seconds over which the students arrive")
    ap.add_argument("--think", type=float, default=3.0,
                    help="mean seconds a student reads between presses (0: all press at once; max 60)")
    a = ap.parse_args(argv)
    if not 1 <= a.students <= MAX_STUDENTS or not 1 <= a.steps <= MAX_STEPS or not 0 <= a.think <= 60 \
            or not 0 <= a.ramp <= 60:
        ap.error(f"--students must be 1..{MAX_STUDENTS}, --steps 1..{MAX_STEPS}, --think and --ramp 0..60")
    try:
        result = asyncio.run(run(a.url, a.students, a.steps, a.lesson, a.ramp, a.think))
    except Refused as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    ms = [x * 1000 for x in result.latencies]
    p50 = statistics.median(ms) if ms else float("nan")
    print(f"students={a.students} p50_ms={p50:.0f} p95_ms={percentile(ms, 95):.0f} errors={len(result.errors)}")
    for e in sorted(set(result.errors))[:5]:
        print(f"  error: {e}", file=sys.stderr)
    return 0 if not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
