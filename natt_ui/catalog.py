"""The page catalogue: every lessons/*.py file read (not run) for its menu entry.

A page's docstring gives its title (first line) and a one-line description (the next paragraph);
optional comment lines `# section: Playground|Reference` and `# url: slug` place it. Files whose
name starts with "_" are shared code. app.py builds the navigation from this; the start page lists it.
"""
from __future__ import annotations

import ast
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("Lessons", "Playground", "Reference")


@dataclass(frozen=True)
class PageInfo:
    path: Path
    section: str
    title: str
    description: str
    slug: str


def page_info(path: Path) -> PageInfo:
    """Read one page file's docstring and comment lines without importing it."""
    text = path.read_text(encoding="utf-8")
    try:
        doc = ast.get_docstring(ast.parse(text)) or path.stem
    except SyntaxError:              # a page being edited still gets a menu entry; running it shows the error
        doc = path.stem
    parts = [p.strip() for p in doc.strip().split("\n\n")]
    title = parts[0].splitlines()[0].rstrip(".")
    description = " ".join(parts[1].split()) if len(parts) > 1 else ""
    section = re.search(r"^# section:\s*(\w+)", text, re.M)
    url = re.search(r"^# url:\s*([\w-]+)", text, re.M)
    slug = url.group(1) if url else re.sub(r"^\d+_", "", path.stem).replace("_", "-")
    return PageInfo(path, section.group(1) if section else "Lessons", title, description, slug)


_PARSE = threading.Lock()


@lru_cache(maxsize=256)
def _cached_info(path: Path, mtime_ns: int) -> PageInfo:
    # one parse per file version, under a lock: app.py runs for every session at once, and CPython
    # 3.11's ast.parse is not safe to run in several threads together ("recursion depth mismatch")
    with _PARSE:
        return page_info(path)


def catalog(root: Path = ROOT) -> list[PageInfo]:
    """Every page, in file-name order (read once per file version, not on every run)."""
    return [_cached_info(p, p.stat().st_mtime_ns) for p in sorted((root / "lessons").glob("*.py"))
            if not p.name.startswith("_")]
