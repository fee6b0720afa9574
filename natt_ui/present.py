"""Projector mode: one switch for the whole session, kept in every page's link as `present=1`.

The switch lives in app.py's sidebar (drawn on every run, so it survives page changes); a link with
`present=1` turns it on when a session starts. Pages write their query with `set_query`, which adds
`present=1` while the mode is on, so a copied link opens the same way on the projector's PC.
In projector mode the whole page is larger (the font, not a zoom, so diagrams grow with it: they
are sized in em) and a step lays out as one screen: pictures and the focused packet first, the
details folded below.
"""
from __future__ import annotations

import streamlit as st

KEY = "present"
_SEEDED = "present:seeded"

#: larger type and tighter margins; SVG diagrams are sized in em/percent, so they scale along
CSS = """<style>
[data-testid="stMainBlockContainer"] { zoom: 1.2; padding: 1rem 1.4rem 40vh 1.4rem; max-width: none; }
@media (max-width: 1400px) { [data-testid="stMainBlockContainer"] { zoom: 1.05; } }
.natt-seqbox svg.natt-seq { max-width: none !important; max-height: 46vh; }
.natt-topo svg { max-height: 11rem !important; }
.natt-scroll { max-height: 36vh !important; }
.natt-legend { font-size: .8rem !important; gap: .6rem !important; margin: 0 !important; }
@media (max-height: 900px) { .natt-scroll { max-height: 30vh !important; } }
[data-testid="stHorizontalBlock"] { scroll-margin-top: 4.2rem; }
/* a data grid (a canvas) sizes itself from the page as zoomed and would be zoomed once more, running
   off the screen's right edge: it is drawn unzoomed instead */
[data-testid="stDataFrame"] { zoom: calc(1 / 1.2); }
@media (max-width: 1400px) { [data-testid="stDataFrame"] { zoom: calc(1 / 1.05); } }
</style>"""


def on() -> bool:
    return bool(st.session_state.get(KEY))


def sidebar_switch() -> None:
    """Draw the switch (app.py, once per run); a fresh session takes `present=1` from its link."""
    if _SEEDED not in st.session_state:
        st.session_state[_SEEDED] = True
        st.session_state[KEY] = st.query_params.get(KEY) == "1"
    st.sidebar.toggle("Projector mode", key=KEY,
                      help="Larger type and one step per screen for a classroom projector; kept on every page "
                           "and in the page's link (present=1).")
    if on():
        st.query_params[KEY] = "1"
        st.html(CSS)
    elif KEY in st.query_params:
        del st.query_params[KEY]


def set_query(params: dict) -> None:
    """Replace the page's query with `params`, keeping `present=1` while projector mode is on."""
    st.query_params.from_dict({**params, **({KEY: "1"} if on() else {})})
