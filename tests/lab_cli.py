"""Running a preset through the CLI once per module and reading its files back: shared by the
lab's acceptance tests (the stories) and the tshark checks of its captures."""
from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import pytest

from natt_core.cli import main as cli_main

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed "
                                  "(apt-get install tshark); CI installs it")

CLIENT, NAT_PUBLIC, SERVER = "192.168.11.20", "192.168.1.30", "192.168.1.10"
_runs: dict = {}


def cli_run(tmp_root: Path, name: str, *settings: str) -> tuple[dict, dict, Path, str]:
    """`python -m natt_core run NAME --set ... --out DIR` in-process: (report, secrets, dir, stdout)."""
    key = (name, settings)
    if key not in _runs:
        out = tmp_root / f"{name}-{len(_runs)}"
        argv = ["run", name, *sum((["--set", s] for s in settings), []), "--out", str(out)]
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            code = cli_main(argv)
        assert code == 0, text.getvalue()[-500:]
        _runs[key] = (json.loads((out / "report.json").read_text()),
                      json.loads((out / "secrets.json").read_text()), out, text.getvalue())
    return _runs[key]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("acceptance")


def up(p: dict) -> bool:
    return p["phase1"] == "established" and p["phase2"] == "established"
