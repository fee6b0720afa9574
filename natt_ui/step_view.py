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

import re
from html import escape
from functools import lru_cache
from urllib.parse import urlencode

import streamlit as st

from natt_core.errors import DecodeError
from natt_core.lab.trace import Trace
from natt_view.decrypt import open_step
from natt_view.handout import topology_svg
from natt_view.matrix import CSS as GRID_CSS, wide_grid_html
from natt_view.diagrams import current_row_css, sequence_svg, topology_dot
from natt_view.packet import diff_lens_text, diff_table_html, field_diff, link_css, packet_views_html
from natt_view.rosetta import step_log
from natt_view.steps import Journey, fields_of, journey_changes, journeys
from natt_view.tables import events_html, ipsec_rows, isakmp_rows, nat_devices, nat_rows, peers, spd_rows
from natt_view.theme import CSS, legend_html

from . import present
from .safe import plain

CIRCLED = "①②③④⑤⑥⑦⑧⑨"

#: Browser side of the step controls. `natt_step_keys` (mounted before the buttons) turns a plain
#: click on a sequence row and every ←/→ press into a "jump" trigger carrying the *absolute* step
#: wanted, so presses made while the server is still busy are never lost. While one jump is on its
#: way, later presses only move the target; the newest is sent when the first has landed, so a
#: burst of presses costs two reruns, not one interrupted rerun per press. `natt_step_sync`
#: (mounted once the step is known) tells the page which step is shown, and scrolls each packet
#: layout to the field the step is about. The page holds one pair of listeners, whichever run
#: mounted them: a rerun that calls the component again replaces them instead of adding more.
_STATE_JS = "const S = (window.__nattSteps = window.__nattSteps || {});"
_KEYS_JS = _STATE_JS + """
export default function ({ parentElement, data, setTriggerValue }) {
  const doc = parentElement.ownerDocument || document;
  const st = S[data.key] || (S[data.key] = { target: null, sent: null, at: 0, n: 1, held: null });
  // the step this run started from: presses made before natt_step_sync has mounted count from it
  st.n = data.n;
  if (st.target === null) st.target = data.step;
  st.send = (to) => { st.sent = to; st.held = null; st.at = Date.now(); setTriggerValue("jump", to); };
  const go = (to) => {
    if (st.target === null) return;
    to = Math.min(Math.max(to, 1), st.n);
    if (to === st.target) return;
    st.target = to;
    if (st.sent !== null && Date.now() - st.at < 2500) st.held = to;     // sent when the last jump lands
    else st.send(to);
  };
  const onClick = (event) => {
    const row = event.target.closest ? event.target.closest("svg.natt-seq a[data-step]") : null;
    if (!row || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    go(Number(row.getAttribute("data-step")));
  };
  const onKey = (event) => {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    if (event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
    const t = event.target;
    if (t && t.closest && t.closest("input, textarea, select, [contenteditable=true], [role=slider], [role=tab], " +
                                    "[role=radio], [role=option], [role=listbox], [role=combobox]")) return;
    event.preventDefault();
    go(st.target + (event.key === "ArrowRight" ? 1 : -1));
  };
  if (S.off) S.off();
  doc.addEventListener("click", onClick, true);
  doc.addEventListener("keydown", onKey, true);
  const off = () => {
    doc.removeEventListener("click", onClick, true); doc.removeEventListener("keydown", onKey, true);
    if (S.off === off) S.off = null;
  };
  S.off = off;
  const mark = parentElement.querySelector(".natt-keys");
  if (mark) mark.setAttribute("data-live", "");        // the listeners are on: ←/→ count from now
  return off;
}
"""
_SYNC_JS = _STATE_JS + """
function scrollToFocus(doc) {
  for (const box of doc.querySelectorAll(".natt-pk[data-focus]")) {
    const f = box.getAttribute("data-focus");
    if (box.dataset.scrolled === f) continue;         // no layout read for a box already done
    const cell = box.querySelector('.natt-rfc [data-f="' + f + '"]');
    const pane = box.querySelector(".natt-scroll");
    if (!cell || !pane || !pane.clientHeight) continue;
    // client rects are zoomed in projector mode, scrollTop is not: measure the zoom, then correct twice
    const zoom = pane.getBoundingClientRect().height / pane.offsetHeight || 1;
    for (let i = 0; i < 3; i++) {
      const d = (cell.getBoundingClientRect().top - pane.getBoundingClientRect().top) / zoom - 40;
      if (Math.abs(d) < 2) break;
      pane.scrollTop += d;
    }
    box.dataset.scrolled = f;
  }
}
export default function ({ parentElement, data }) {
  const doc = parentElement.ownerDocument || document;
  const st = S[data.key] || (S[data.key] = { target: null, sent: null, at: 0, n: 1, held: null });
  st.n = data.n;
  if (st.sent === null || st.sent === data.step || Date.now() - st.at > 2500) {
    if (st.held !== null && st.held !== data.step && st.send) st.send(st.held);     // the newest press
    else { st.target = data.step; st.sent = null; st.held = null; }
  }
  if (data.present && st.shown !== undefined && st.shown !== data.step) {
    // projector: a new step scrolls the controls to the top, so the step fills the screen below them
    const prev = [...doc.querySelectorAll("button")].find((b) => b.textContent.includes("Previous"));
    const row = prev && prev.closest('[data-testid="stHorizontalBlock"]');
    if (row) row.scrollIntoView({ block: "start", behavior: "instant" });   // scroll-margin: natt_ui.present
  }
  st.shown = data.step;
  scrollToFocus(doc);
  let queued = false;                                  // one check per frame, however many mutations
  const seen = new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; scrollToFocus(doc); });
  });
  seen.observe(doc.body, { childList: true, subtree: true });
  const stop = setTimeout(() => seen.disconnect(), 4000);
  return () => { clearTimeout(stop); seen.disconnect(); };
}
"""
_keys = st.components.v2.component("natt_step_keys", html='<span class="natt-jump natt-keys"></span>', js=_KEYS_JS,
                                   isolate_styles=False)
_sync = st.components.v2.component("natt_step_sync", html='<span class="natt-jump"></span>', js=_SYNC_JS,
                                   isolate_styles=False)


#: fields whose hover rules (natt_view.packet.link_css) the page holds once; a packet's own HTML
#: carries rules only beyond these, so a step change adds no stylesheet for them
LINKED = 128


def inject_css() -> None:
    """The app's CSS; harmless to call on every page run (projector mode adds its own: natt_ui.present).
    The same body on every run, so the browser keeps it (a step change does not restyle the page)."""
    st.html(CSS + GRID_CSS + link_css(LINKED))


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


def _query_step() -> int | None:
    try:
        return int(st.query_params.get("step", ""))
    except ValueError:
        return None


def step_controls(steps: tuple[Journey, ...], key: str, start: int = 1) -> int:
    """Previous / next buttons (and ← / →, see _KEYS_JS) and a list to jump; returns the 1-based step.

    The list is a select box, not a slider: a slider measures itself (a forced layout of the whole
    page) on every step. The step is kept three ways: the list's widget state; a copy that outlives the page (Streamlit
    forgets a page's widgets when you leave it, the lesson should not); and the link's `?step=`,
    which is a browser history entry per step, so a query that differs from the one this page last
    wrote is Back or Forward and wins."""
    n = len(steps)
    skey, kept, written = f"{key}:step", f"{key}:step:kept", f"{key}:step:url"
    asked = _query_step()
    if skey not in st.session_state:
        st.session_state[skey] = _step_from_query(n) or st.session_state.get(kept) or min(max(start, 1), n)
    elif asked is not None and written in st.session_state and asked != st.session_state[written]:
        st.session_state[skey] = asked                                  # Back / Forward
    # a click on a sequence row or an arrow key (before the list exists, so it may still be moved)
    jump = _keys(key=f"{key}:seqjump", data={"key": key, "n": n, "step": st.session_state[skey]},
                 on_jump_change=_ignore, height=0).jump
    if isinstance(jump, int) and not isinstance(jump, bool):
        st.session_state[skey] = jump
    st.session_state[skey] = min(max(int(st.session_state[skey]), 1), n)
    left, mid, right = st.columns([1.7, 6.6, 1.7], vertical_alignment="bottom")
    left.button("◀ Previous", key=f"{key}:prev", on_click=_move, args=(skey, -1, n), width="stretch",
                disabled=st.session_state[skey] <= 1, help="Previous step (← key)")
    right.button("Next ▶", key=f"{key}:next", on_click=_move, args=(skey, 1, n), width="stretch",
                 disabled=st.session_state[skey] >= n, type="primary", help="Next step (→ key)")
    if n > 1:
        titles = {j.index: j.title() for j in steps}
        mid.selectbox("Jump to step", options=list(range(1, n + 1)), key=skey,
                      format_func=lambda i: f"{i} · {titles[i]}")
    index = st.session_state[skey]
    st.session_state[kept] = st.session_state[written] = index
    _sync(key=f"{key}:sync", data={"key": key, "n": n, "step": index, "present": present.on()}, height=0)
    return index


def _packet_tab(trace: Trace, j: Journey, n: int, changed: frozenset[int]) -> None:
    def build(t: Trace) -> str:
        fields = fields_of(t, j.hops[n].packet)
        return focused(packet_views_html(j.hops[n].packet, fields, changed, linked=LINKED), focus_field(fields))
    try:
        html_ = step_memo(trace, j, f"packet:{n}", build)
    except DecodeError as e:
        st.error(f"These bytes do not parse: {e}")
        return
    st.html(html_)


def step_memo(trace: Trace, j: Journey, what: str, build):
    """`build(trace)` for one step's part, computed once per trace (a run is shared by every student
    and never changes), so going back and forth through the steps redraws HTML without rebuilding it.
    An exception is not kept: it is raised again on the next visit."""
    which = f"{j.index}:{j.packet_id}:{j.last_step}:{len(j.hops)}:{len(j.events)}"
    return trace.memo(f"natt_ui.step:{which}:{what}", build)


#: what a step is about, by layer, most telling first: the layout opens at the first field found
FOCUS_LAYERS = ("NAT-D", "NAT-OA", "Vendor ID", "UDP-encap", "ESP", "AH", "Delete", "Notification", "ID payload",
                "Hash payload", "SA payload")


def focus_field(fields) -> int | None:
    """The number (dissection position, `data-f`) of the field a step is about, or None."""
    fields = list(fields)
    for layer in FOCUS_LAYERS:
        for n, f in enumerate(fields):
            if f.layer.startswith(layer):
                return n
    return None


def focused(views_html: str, focus: int | None) -> str:
    """Mark a packet box with its focus field (scrolled to by _SYNC_JS) and outline that field's
    layout cells (`data-at`, styled by the page's CSS; in the hex, data-f is followed by tabindex)."""
    if focus is None:
        return views_html
    box = f'<div class="natt-pk" data-focus="{focus}">'
    marked = views_html.replace(f' data-f="{focus}" title="', f' data-f="{focus}" data-at title="')
    return marked.replace('<div class="natt-pk">', box, 1)


@lru_cache(maxsize=1024)
def _topology_html(dot: str) -> str | None:
    """Graphviz's SVG for this DOT, drawn once per process (runs are deterministic, so a step's DOT
    repeats for every student), sized to its column; None without the `dot` binary."""
    svg = topology_svg(dot)
    if svg is None:
        return None
    svg = re.sub(r'<svg width="[^"]*" height="[^"]*"', '<svg width="100%"', svg, count=1)
    svg = re.sub(r"<!--.*?-->", "", svg).replace("\n", " ")        # one markdown HTML block
    return f'<div class="natt-topo" data-dot-lines="{dot.count(chr(10)) + 1}">{svg}</div>'


def topology(dot: str) -> None:
    """The topology, drawn on the server (a browser-side Graphviz re-layout on every step is slow)."""
    html_ = _topology_html(dot)
    if html_ is None:
        st.graphviz_chart(dot, width="stretch")
    else:
        st.markdown(html_, unsafe_allow_html=True)


def _step_link():
    """href for step N: the page's current query (switches, playground settings) with step=N."""
    query = [(k, v) for k in st.query_params if k != "step" for v in st.query_params.get_all(k)]
    return lambda n: "?" + urlencode([("step", str(n))] + query)


def _charon_log(trace: Trace, j: Journey) -> None:
    """The lines strongSwan's charon really logged on receiving this message (recorded, not made up)."""
    log = step_memo(trace, j, "charon", lambda t: step_log(t, j))
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
    def lens_html(t: Trace) -> str:
        try:
            first_fields = fields_of(t, j.first.packet)
        except DecodeError:
            first_fields = None
        lens = diff_lens_text(j.hops, first_fields)
        # the row highlight of the sequence diagram rides here: the picture itself stays the same
        return current_row_css(index) + f'<div class="natt-lens{" drop" if j.dropped else ""}"><b>Diff lens:</b> {lens}</div>'
    st.html(step_memo(trace, j, "lens", lens_html))
    projector = present.on()
    if not projector:
        topology(topology_dot(trace, j))
    left, right = st.columns([1, 1], gap="medium")
    with left:
        if projector:                         # one screen: both pictures beside the packet
            topology(topology_dot(trace, j))
        svg = sequence_svg(trace, steps, index, link=_step_link(), stable=True)
        # heading, picture and hint as one element that stays the same from step to step
        st.markdown(("" if projector else "**Sequence**\n\n") + f'<div class="natt-seqbox">{svg}</div>'
                    + ("" if projector else '\n\n<p class="natt-cap">Click a row to open that step.</p>'),
                    unsafe_allow_html=True)
        if not projector:
            _said(trace, j)
    with right:
        st.html("<p><b>The packet on each segment</b></p>" + legend_html())
        names = [f"{CIRCLED[n] if n < len(CIRCLED) else n + 1} {h.segment}"
                 + (" · as sent" if n == 0 else f" · after {h.device}") for n, h in enumerate(j.hops)]
        opened = open_step(trace, j)
        extra = (["Diff inside ↔ outside"] if len(j.hops) > 1 else []) + (["Decrypted inside"] if opened else [])
        # one view drawn at a time (tabs would draw every segment's layout and hex on every step)
        views = names + extra
        # radio buttons, not a segmented control: that one measures itself (a forced layout of the
        # whole page) every time it is drawn, and this one is drawn on every step
        pick = st.radio("Segment", list(range(len(views))), format_func=views.__getitem__, index=0, horizontal=True,
                        key=f"hop:{trace.report.get('scenario')}:{len(steps)}:{index}", label_visibility="collapsed")
        shown = views[pick or 0]
        if (pick or 0) < len(j.hops):
            _packet_tab(trace, j, pick or 0, changed)
        elif shown == "Decrypted inside" and opened is not None:
            st.caption(f"What the NAT could not read: {opened.how}.")
            if opened.fields:
                st.html(packet_views_html(opened.plaintext, opened.fields, linked=LINKED))
        else:
            try:
                rows = field_diff(fields_of(trace, j.first.packet), fields_of(trace, j.last.packet))
            except DecodeError as e:
                st.error(f"These bytes do not parse: {e}")
            else:
                st.html(diff_table_html(rows, f"on {j.first.segment}", f"on {j.last.segment}"))
    if projector:
        with st.expander("Details of this step: what the peers said, and the NAT and SA tables"):
            _said(trace, j)
            render_tables(trace, j)
    else:
        render_tables(trace, j)
    return j


def _said(trace: Trace, j: Journey) -> None:
    st.html(step_memo(trace, j, "said", lambda t: "<p><b>What the peers said</b></p>" + events_html(j)))
    _charon_log(trace, j)


def _table_html(rows: list[dict], empty: str) -> str:
    """A plain HTML table: these change on every step, and a data grid costs far more to draw."""
    if rows:   # in a box of its own that scrolls sideways: an SA table is wider than the page at ~1400 px
        return wide_grid_html(rows, mono=tuple(rows[0])[1:], css=False)
    return f'<p class="natt-empty">{escape(empty)}</p>'


def render_tables(trace: Trace, j: Journey) -> None:
    """NAT tables, then every peer's SAs in one table per phase, so both views sit row by row.

    One HTML element for the whole section: each element is a message and a redraw in the
    browser, and this part changes on every step."""
    st.html(step_memo(trace, j, "tables", lambda t: _tables_html(t, j)))   # layout: natt_view.theme


def _tables_html(trace: Trace, j: Journey) -> str:
    at = j.last_step
    parts = [f'<div class="natt-state"><h4>State after this step (t = {trace.steps[at].time:.3f} s)</h4>']
    nats = nat_devices(trace)
    if nats:
        parts.append('<div class="natt-nats">')
        for name in nats:
            parts.append(f"<div><p><b>NAT table of {escape(name)}</b></p>" + _table_html(
                nat_rows(trace, name, at), "Empty: no live translation at this moment (none yet, or all expired).")
                + "</div>")
        parts.append("</div>")
    names = peers(trace)
    parts.append("<p><b>ISAKMP SAs (phase 1)</b> — cookies and endpoints <i>as each peer sees them</i></p>")
    parts.append(_table_html([r for p in names for r in isakmp_rows(trace, p, at)], "none yet"))
    parts.append("<p><b>IPsec SAs (phase 2)</b> — SPIs, mode, encapsulation value, NAT-OA</p>")
    parts.append(_table_html([r for p in names for r in ipsec_rows(trace, p, at)], "none yet"))
    spd = spd_rows(trace, "server", at)
    if len(spd) > 1:              # several clients: which SA the server's policies name for each
        parts.append("<p><b>The server's SPD</b> — the selector each SA installed, and which one decides</p>")
        parts.append(_table_html(spd, ""))
    return "".join(parts) + "</div>"
