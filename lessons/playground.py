"""Playground

Configure a whole scenario, run it, and step through it with the same views as the lessons.
"""
# section: Playground
# url: playground
import streamlit as st

from natt_core.lab.presets import PRESETS
from natt_ui.downloads import download_panel
from natt_ui.field_lesson import verdict
from natt_ui.lesson import load_run
from natt_ui.playground_form import (BLANK, is_secret, load, load_link, on_start_change, render_form, start_label,
                                     start_options)
from natt_ui.present import set_query
from natt_ui.runs import scenario_for
from natt_ui.safe import plain
from natt_ui.step_view import inject_css, render_step, step_controls
from natt_view.steps import journeys
from natt_view.tables import outcome_lines

inject_css()
st.title("Playground", anchor=False)
st.markdown("Set up the peers, one or two NATs, the link and the traffic, then press **Run**. The run is "
            "the real engine on the virtual network. Step through it with the lesson views, and download "
            "the capture. Start from a blank form or from any lesson's scenario.")

if "pg:scenario" not in st.session_state:
    wanted = st.query_params.get("scenario", BLANK)
    if wanted not in PRESETS and wanted != BLANK:
        st.warning(f"Unknown scenario {plain(wanted)} in the link; starting from a blank form.")
        wanted = BLANK
    st.session_state["pg:scenario"] = wanted
    load(wanted, reset_step=False)
    if wanted != BLANK and st.query_params.get_all("set"):
        load_link(st.query_params.get_all("set"))
        st.session_state.pop("pg:run:step", None)          # keep ?step= from the link
start = st.selectbox("Start from", start_options(), key="pg:scenario", format_func=start_label,
                     on_change=on_start_change)
if start != BLANK:
    st.markdown(f"**{PRESETS[start].title}.** {PRESETS[start].story}")

ran = st.session_state.get("pg:ran")
with st.expander("Scenario settings", expanded=ran is None or bool(st.session_state.get("pg:errors")),
                 icon=":material/tune:"):
    render_form()
if ran is None:
    if not st.session_state.get("pg:errors"):
        st.info("Fill in the form (the empty fields are required) and press **Run this scenario**.")
    st.stop()

base = st.session_state["pg:base"]
trace = load_run(base, ran)
if trace is None:
    st.stop()
with st.sidebar.expander("Outcome of this run", expanded=True):
    for line in outcome_lines(trace):
        st.markdown(line)
st.markdown("### Verdict of this run")
verdict(trace, "pg:run", show_failure=st.warning, decisive=True)
st.caption("Same run on the command line:")
st.code("python -m natt_core run " + base + "".join(f" --set '{s}'" for s in ran), language="bash", wrap_lines=True)
download_panel(trace, "pg:run", scenario=scenario_for(base, ran))
steps = journeys(trace)
if not steps:
    st.warning("Nothing was sent in this run.")
    st.stop()
index = step_controls(steps, "pg:run")
shared = [s for s in ran if not is_secret(s)]
if len(shared) < len(ran):
    st.caption("The pre-shared keys are not in this page's link (a link is easily shared): whoever opens it "
               "runs the scenario's own keys unless they type theirs into the form.")
set_query({"scenario": base, "step": str(index), **({"set": shared} if shared else {})})
render_step(trace, index, steps=steps)
