"""Playground

Any preset, every what-if switch, stepped through with the same view as the lessons.
"""
# section: Playground
# url: playground
import streamlit as st

from natt_core.errors import NattError
from natt_core.lab.presets import PRESETS
from natt_ui.downloads import download_panel
from natt_ui.lesson import load_run
from natt_ui.runs import scenario_for
from natt_ui.step_view import inject_css, projector_toggle, render_step, step_controls
from natt_ui.switches import SWITCHES, render_switches
from natt_view.steps import journeys
from natt_view.tables import outcome_lines

inject_css()
st.title("Playground", anchor=False)
names = list(PRESETS)
wanted = st.query_params.get("scenario", "client-behind-nat")
if wanted not in PRESETS:
    st.warning(f"Unknown scenario `{wanted}` in the link; choose one of the list.")
    wanted = "client-behind-nat"
if "pg:scenario" not in st.session_state:
    st.session_state["pg:scenario"] = wanted
name = st.selectbox("Scenario", names, key="pg:scenario",
                    format_func=lambda n: f"{n} — {PRESETS[n].title}")
st.markdown(f"**{PRESETS[name].title}.** {PRESETS[name].story}")

try:
    base = scenario_for(name)
except NattError as e:
    st.error(str(e))
    st.stop()
projector_toggle()
st.sidebar.markdown("### What if…")
settings, params = render_switches(tuple(SWITCHES), base, f"pg:{name}")
trace = load_run(name, settings)
if trace is None:
    st.stop()
with st.sidebar.expander("Outcome of this run", expanded=True):
    for line in outcome_lines(trace):
        st.markdown(line)
if settings:
    st.caption("Same run on the command line: `python -m natt_core run " + name + " "
               + " ".join(f"--set {s}" for s in settings) + "`")
download_panel(trace, f"pg:{name}")
steps = journeys(trace)
if not steps:
    st.warning("Nothing was sent in this run.")
    st.stop()
index = step_controls(steps, f"pg:{name}")
st.query_params.from_dict({"scenario": name, "step": str(index), **params})
render_step(trace, index, steps=steps)
