"""The engine never depends on the app: no module of natt_core imports natt_view, natt_ui, lessons
or streamlit, at the top or inside a function (docs/ENGINE.md, "Layers")."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("natt_view", "natt_ui", "lessons", "streamlit")


def imported_modules(source: str) -> set[str]:
    """Every absolute module name an `import` or `from … import` in `source` names, anywhere."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) \
                in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value))
    return names


def forbidden_in(source: str) -> set[str]:
    return {m for m in imported_modules(source) if m.split(".")[0] in FORBIDDEN}


def test_the_check_sees_imports_at_the_top_inside_functions_and_dynamic_ones():
    assert forbidden_in("import streamlit as st") == {"streamlit"}
    assert forbidden_in("def f():\n    from natt_view.steps import journeys\n") == {"natt_view.steps"}
    assert forbidden_in("import importlib\nimportlib.import_module('natt_ui.bench')") == {"natt_ui.bench"}
    assert forbidden_in("from lessons import quiz") == {"lessons"}
    assert forbidden_in("from .lab import scenario\nimport natt_core.wire\nimport natt_viewer") == set()


@pytest.mark.parametrize("path", sorted((ROOT / "natt_core").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_natt_core_imports_nothing_of_the_app(path):
    assert forbidden_in(path.read_text()) == set()


def test_relative_imports_stay_inside_natt_core():
    for path in (ROOT / "natt_core").rglob("*.py"):
        depth = len(path.relative_to(ROOT / "natt_core").parts) - 1     # packages above the module, inside natt_core
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                assert node.level - 1 <= depth, f"{path}: relative import leaves natt_core"
