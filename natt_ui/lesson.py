"""A lesson page in one call: narrative, what-if switches, the run, the steps, the extras.

A lesson module declares a `Lesson` (plain data) and calls `render_lesson(LESSON)`; an optional
`summary(trace)` draws the run's verdict above the steps (folded in projector mode), and an
optional `extra(trace, journey)` draws lesson-specific widgets (the NAT-D workbench, the port-4500
demultiplexer) under the shared step view. Deep links: `?step=N` plus one parameter per switch.
A lesson opens on `start`: a packet label, or a function of the run when the step worth opening on
(say, the first drop) depends on what the switches made the engine do.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import streamlit as st

from natt_core.errors import NattError
from natt_core.lab.trace import Trace
from natt_view.lesson_notes import note_for
from natt_view.diagrams import plain_routers
from natt_view.handout import lesson_handout_html
from natt_view.steps import Journey, journeys
from natt_view.tables import outcome_lines

from .downloads import download_panel
from . import present
from .guard import show_failure
from .present import set_query
from .safe import plain
from .runs import get_trace, scenario_for
from .step_view import inject_css, render_step, step_controls
from .switches import render_switches


@dataclass(frozen=True)
class Lesson:
    key: str                                   #: short id, used for widget keys
    title: str
    goal: str                                  #: one sentence: what the class will be able to answer
    narrative: str                             #: plain-words introduction (markdown)
    preset: str                                #: natt_core.lab.presets name
    settings: tuple[str, ...] = ()             #: --set lines applied before the switches
    switches: tuple[str, ...] = ()             #: names from natt_ui.switches.SWITCHES
    notes: dict[str, str] = field(default_factory=dict)  #: packet label -> what to look at
    #: the step to open on: a packet label, or `start(trace, steps) -> index` (default: step 1)
    start: str | Callable[[Trace, tuple[Journey, ...]], int] | None = None
    extra: Callable[[Trace, Journey], None] | None = None
    pace: str = ""                             #: e.g. "10 minutes"
    summary: Callable[[Trace], None] | None = None   #: drawn above the steps: the run's verdict first


def _start_index(trace: Trace, steps: tuple[Journey, ...],
                 start: str | Callable[[Trace, tuple[Journey, ...]], int] | None) -> int:
    """The 1-based step a fresh page opens on; a computed index is clamped to the run's steps."""
    if callable(start):
        return min(max(int(start(trace, steps)), 1), len(steps))
    for j in steps:
        if j.label == start:
            return j.index
    return 1


def load_run(preset: str, settings: tuple[str, ...]) -> Trace | None:
    """The cached trace, or None after showing a readable error (never a traceback)."""
    try:
        return get_trace(preset, settings)
    except NattError as e:
        st.error(f"This combination cannot run: {plain(e, 400)}")
        return None


def handout_button(trace: Trace, lesson: Lesson, settings: tuple[str, ...] = ()) -> None:
    """'Printable handout (HTML)' under the downloads: the whole run expanded for paper. It is built
    only when clicked (a callable `data`), so moving through the steps costs nothing."""
    def build() -> bytes:
        return lesson_handout_html(trace, lesson.title, lesson.goal, lesson.narrative, lesson.notes,
                                   pace=lesson.pace, settings=lesson.settings + tuple(settings)).encode("utf-8")
    scenario = trace.report.get("scenario", "run")
    st.sidebar.download_button("Printable handout (HTML)", build, file_name=f"{lesson.key}-{scenario}-handout.html",
                               mime="text/html", key=f"{lesson.key}:dl:handout", on_click="ignore", width="stretch",
                               icon=":material/print:",
                               help="Every step of this run expanded (with the what-if switches as set now): "
                                    "open it in a browser and print it, A4.")


def render_lesson(lesson: Lesson) -> tuple[Trace, Journey] | None:
    """Draw a whole lesson page; returns (trace, current journey) or None if it could not run."""
    inject_css()
    st.title(lesson.title, anchor=False)
    st.markdown(f"**Goal:** {lesson.goal}" + (f" · *pace: {lesson.pace}*" if lesson.pace else ""))
    with st.expander("The story in plain words", expanded=not present.on()):
        st.markdown(lesson.narrative)
    try:
        base = scenario_for(lesson.preset, lesson.settings)
    except NattError as e:
        st.error(f"This lesson's scenario is invalid: {e}")
        return None
    st.sidebar.markdown("### What if…")
    settings, params = render_switches(lesson.switches, base, lesson.key)
    trace = load_run(lesson.preset, lesson.settings + settings)
    if trace is None:
        return None
    steps = journeys(trace)
    if not steps:
        st.warning("Nothing was sent in this run.")
        return None
    for router in plain_routers(trace):
        st.info(f"In this run the box in the middle (**{router}**) is a **plain router, not a NAT**: it forwards "
                "every packet without rewriting an address or a port, so nothing here is translated.",
                icon=":material/router:")
    with st.sidebar.expander("Outcome of this run", expanded=True):
        for line in outcome_lines(trace):
            st.markdown(line)
    download_panel(trace, lesson.key, scenario=scenario_for(lesson.preset, lesson.settings + settings))
    handout_button(trace, lesson, settings)
    if lesson.summary is not None:
        # on a projector the step is the screen: the verdict (also in the sidebar) folds above it
        with st.expander("Verdict of this run", expanded=False) if present.on() else st.container():
            lesson.summary(trace)
    return trace, _step_view(trace, steps, lesson, params)


@st.fragment
def _step_view(trace: Trace, steps: tuple[Journey, ...], lesson: Lesson, params: dict[str, str]) -> Journey | None:
    """Everything that depends on the step, as a fragment: Next, Previous, the keys and a sequence row
    rerun only this part, not the narrative, switches, downloads and sidebar above it."""
    try:                       # a fragment rerun does not pass through app.py's run_page
        index = step_controls(steps, lesson.key, start=_start_index(trace, steps, lesson.start))
        set_query({"step": str(index), **params})
        j = steps[index - 1]
        render_step(trace, index, note=note_for(lesson.notes, j.label, trace.scenario), steps=steps)
        if lesson.extra is not None:
            lesson.extra(trace, j)
        return j
    except Exception as error:                   # noqa: BLE001 - shown as a message with its reason code
        show_failure(error, f"lesson {lesson.key}")
        return None
