"""The shared step view: controls to move through a trace and everything drawn for one step.

`step_controls` keeps the current step in session state (seeded from `?step=`), `render_step`
draws one journey: the diff lens, topology, sequence diagram, the packet on every segment (field
layout and hex), the NAT and SA tables at that moment and the peers' own words.

A row of the sequence diagram is a link to its step. Its href is the page's own deep link with
that step (it works anywhere, by reloading the page from the URL); on the page, a small hidden
component catches the click first and moves the step in place, so the session (what-if switches,
projector mode, open expanders) stays as it is.
"""
from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from natt_core.errors import DecodeError
from natt_core.lab.trace import Trace
from natt_view.decrypt import open_step
from natt_view.diagrams import sequence_svg, topology_dot
from natt_view.packet import diff_lens_text, diff_table_html, field_diff, packet_views_html
from natt_view.rosetta import step_log
from natt_view.steps import Journey, fields_of, journey_changes, journeys
from natt_view.tables import events_html, ipsec_rows, isakmp_rows, nat_devices, nat_rows, peers
from natt_view.theme import CSS, legend_html

from .safe import plain

CIRCLED = "①②③④⑤⑥⑦⑧⑨"

#: a click on `svg.natt-seq a[data-step]` anywhere on the page becomes this component's "jump"
#: trigger (plain clicks only: a middle or modifier click still opens the row's deep link)
_JUMP_JS = """
export default function ({ parentElement, setTriggerValue }) {
  const doc = parentElement.ownerDocument || document;
  const onClick = (event) => {
    const row = event.target.closest ? event.target.closest("svg.natt-seq a[data-step]") : null;
    if (!row || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    setTriggerValue("jump", Number(row.getAttribute("data-step")));
  };
  doc.addEventListener("click", onClick, true);
  return () => doc.removeEventListener("click", onClick, true);
}
"""
_jump_listener = st.components.v2.component("natt_seq_jump", html='<span class="natt-jump"></span>',
                                            js=_JUMP_JS, isolate_styles=False)


def inject_css() -> None:
    """The app's CSS, plus larger text in projector mode; harmless to call on every page run."""
    st.html(CSS)
    if st.session_state.get("projector"):
        st.html('<style>[data-testid="stMainBlockContainer"] { zoom: 1.25; }</style>')


def projector_toggle() -> None:
    """A sidebar switch for classroom projection: everything in the main area 25 % larger."""
    st.sidebar.toggle("Projector: larger text", key="projector",
                      help="Zooms the lesson area for a projector; the sidebar stays as it is.")


def _step_from_query(n: int) -> int | None:
    raw = st.query_params.get("step")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        st.warning(f"Ignoring step={plain(raw)} in the link: it must be a step number from 1 to {n}.")
        return None
    if not 1 <= value <= n:
        st.warning(f"This run has {n} steps; step={plain(raw)} is out of range, showing the nearest one.")
        return min(max(value, 1), n)
    return value


def _ignore() -> None:
    """The jump is read from the component's result; the callback only registers the trigger."""


def _move(key: str, delta: int, n: int) -> None:
    st.session_state[key] = min(max(st.session_state[key] + delta, 1), n)


def step_controls(steps: tuple[Journey, ...], key: str, start: int = 1) -> int:
    """Previous / next buttons (also ← / → keys) and a slider to jump; returns the 1-based step."""
    n = len(steps)
    skey = f"{key}:step"
    if skey not in st.session_state:
        st.session_state[skey] = _step_from_query(n) or min(max(start, 1), n)
    # a click on a row of the sequence diagram (before the slider exists, so it may still be moved)
    jump = _jump_listener(key=f"{key}:seqjump", on_jump_change=_ignore, height=0).jump
    if isinstance(jump, int) and not isinstance(jump, bool):
        st.session_state[skey] = jump
    st.session_state[skey] = min(max(int(st.session_state[skey]), 1), n)
    left, mid, right = st.columns([1.7, 6.6, 1.7], vertical_alignment="bottom")
    left.button("◀ Previous", key=f"{key}:prev", on_click=_move, args=(skey, -1, n), width="stretch",
                disabled=st.session_state[skey] <= 1, shortcut="Left")
    right.button("Next ▶", key=f"{key}:next", on_click=_move, args=(skey, 1, n), width="stretch",
                 disabled=st.session_state[skey] >= n, shortcut="Right", type="primary")
    if n > 1:
        titles = {j.index: j.title() for j in steps}
        mid.select_slider("Jump to step", options=list(range(1, n + 1)), key=skey,
                          format_func=lambda i: f"{i} · {titles[i]}")
    return st.session_state[skey]


def _packet_tab(trace: Trace, j: Journey, n: int, changed: frozenset[int]) -> None:
    hop = j.hops[n]
    try:
        fields = fields_of(trace, hop.packet)
    except DecodeError as e:
        st.error(f"These bytes do not parse: {e}")
        return
    st.html(packet_views_html(hop.packet, fields, changed))


def _step_link():
    """href for step N: the page's current query (switches, playground settings) with step=N."""
    query = [(k, v) for k in st.query_params if k != "step" for v in st.query_params.get_all(k)]
    return lambda n: "?" + urlencode([("step", str(n))] + query)


def _charon_log(trace: Trace, j: Journey) -> None:
    """The lines strongSwan's charon really logged on receiving this message (recorded, not made up)."""
    log = step_log(trace, j)
    if log is None:
        return
    with st.expander("What strongSwan 5.9.8 logs for this message"):
        st.caption(f"charon as {log.role} ({log.about}) in a live run through a Linux NAT, tunnel mode, "
                   "kernel-libipsec. Addresses, cookies and SPIs are that run's, not this lesson's.")
        st.code("\n".join(log.shown()), language=None, wrap_lines=True)


def render_step(trace: Trace, index: int, note: str | None = None, steps: tuple[Journey, ...] | None = None) -> Journey:
    """Draw step `index` (1-based) of the trace; returns its Journey for page-specific extras."""
    steps = steps if steps is not None else journeys(trace)
    j = steps[index - 1]
    changed = journey_changes(j)
    st.subheader(f"Step {index} of {len(steps)} — {j.title()}", anchor=False)
    if note:
        st.info(note)
    try:
        first_fields = fields_of(trace, j.first.packet)
    except DecodeError:
        first_fields = None
    lens = diff_lens_text(j.hops, first_fields)
    st.html(f'<div class="natt-lens{" drop" if j.dropped else ""}"><b>Diff lens:</b> {lens}</div>')
    st.graphviz_chart(topology_dot(trace, j), width="stretch")
    left, right = st.columns([1, 1], gap="medium")
    with left:
        st.markdown("**Sequence**")
        svg = sequence_svg(trace, steps, index, link=_step_link())
        st.markdown(f'<div class="natt-seqbox">{svg}</div>', unsafe_allow_html=True)
        st.caption("Click a row to open that step.")
        st.markdown("**What the peers said**")
        st.html(events_html(j))
        _charon_log(trace, j)
    with right:
        st.markdown("**The packet on each segment**")
        st.html(legend_html())
        names = [f"{CIRCLED[n] if n < len(CIRCLED) else n + 1} {h.segment}"
                 + (" · as sent" if n == 0 else f" · after {h.device}") for n, h in enumerate(j.hops)]
        opened = open_step(trace, j)
        extra = (["Diff inside ↔ outside"] if len(j.hops) > 1 else []) + (["Decrypted inside"] if opened else [])
        tabs = st.tabs(names + extra)
        for n in range(len(j.hops)):
            with tabs[n]:
                _packet_tab(trace, j, n, changed)
        if opened is not None:
            with tabs[-1]:
                st.caption(f"What the NAT could not read: {opened.how}.")
                if opened.fields:
                    st.html(packet_views_html(opened.plaintext, opened.fields))
        if len(j.hops) > 1:
            with tabs[len(j.hops)]:
                try:
                    rows = field_diff(fields_of(trace, j.first.packet), fields_of(trace, j.last.packet))
                except DecodeError as e:
                    st.error(f"These bytes do not parse: {e}")
                else:
                    st.html(diff_table_html(rows, f"on {j.first.segment}", f"on {j.last.segment}"))
    render_tables(trace, j)
    return j


def _table(rows: list[dict], empty: str) -> None:
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    else:
        st.caption(empty)


def render_tables(trace: Trace, j: Journey) -> None:
    """NAT tables, then every peer's SAs in one table per phase, so both views sit row by row."""
    at = j.last_step
    st.markdown(f"#### State after this step (t = {trace.steps[at].time:.3f} s)")
    nats = nat_devices(trace)
    for col, name in zip(st.columns(len(nats)) if nats else [], nats):
        with col:
            st.markdown(f"**NAT table of {name}**")
            _table(nat_rows(trace, name, at), "Empty: no live translation at this moment (none yet, or all expired).")
    names = peers(trace)
    st.markdown("**ISAKMP SAs (phase 1)** — cookies and endpoints *as each peer sees them*")
    _table([r for p in names for r in isakmp_rows(trace, p, at)], "none yet")
    st.markdown("**IPsec SAs (phase 2)** — SPIs, mode, encapsulation value, NAT-OA")
    _table([r for p in names for r in ipsec_rows(trace, p, at)], "none yet")
