"""The protocol-level load test: students over Streamlit's websocket protocol, loopback only.

A real `streamlit run app.py` (the browser tests' server fixture) is driven by simulated students;
every Next must move the lesson one step on, as a browser sees it."""
from __future__ import annotations

import asyncio
import re

import pytest

from natt_ui.loadtest import Refused, loopback_ws_url, main, percentile, run


@pytest.mark.parametrize("url", ["http://192.0.2.1:8501", "https://203.0.113.9", "ftp://127.0.0.1:8501",
                                 "not a url"])
def test_it_refuses_anything_but_this_machine(url):
    with pytest.raises(Refused):
        loopback_ws_url(url)


def test_the_websocket_endpoint_is_streamlits_own():
    assert loopback_ws_url("http://127.0.0.1:8501") == "ws://127.0.0.1:8501/_stcore/stream"
    assert loopback_ws_url("http://localhost:9000/lab/") == "ws://localhost:9000/lab/_stcore/stream"


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 95) == 95 and percentile([7.0], 95) == 7


def test_students_step_through_a_lesson_on_the_real_server(server):
    result = asyncio.run(run(server, students=3, steps=3, lesson="float-4500"))
    assert result.errors == [] and len(result.latencies) == 9


def test_one_line_report(server, capsys):
    assert main(["--students", "2", "--steps", "2", "--url", server, "--think", "0", "--ramp", "0"]) == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"students=2 p50_ms=\d+ p95_ms=\d+ errors=0", line), line


def test_bounds_are_enforced():
    with pytest.raises(SystemExit):
        main(["--students", "5000", "--steps", "2", "--url", "http://127.0.0.1:1"])
