"""14 · The tunnel over time

SA lifetimes, RESPONDER-LIFETIME, make-before-break rekeys and expiry on the virtual clock
(RFC 2409 §5.5, RFC 2407 §4.5 and §4.6.3.1, RFC 2408 §3.15).
"""
# url: tunnel-over-time
import streamlit as st

from natt_ui.lesson import load_run
from natt_ui.present import set_query
from natt_ui.step_view import inject_css, render_step, step_controls
from natt_view.steps import journeys
from natt_view.tunnel import legend, lost_packets, moments, summary, table, tunnel_svg

KEY, PRESET = "l13", "rekey"
PHASE2 = (30, 60, 120, 300)
KILOBYTES = (0, 1, 2)
PRESET_PHASE2 = 60

inject_css()
st.title("The tunnel over time", anchor=False)
st.markdown("**Goal:** read an SA's life on a timeline: when it is rekeyed, when traffic moves, when the old SA "
            "is deleted, and what happens when nobody rekeys. · *pace: 10 minutes*")
with st.expander("The story in plain words", expanded=True):
    st.markdown("""
Keys do not live forever. Each SA carries a **lifetime** in its proposal: seconds, and for IPsec
SAs also kilobytes of traffic (RFC 2407 §4.5). The responder may want a shorter one: it answers the
proposal as offered and adds a **RESPONDER-LIFETIME** notification, and the initiator adopts it.

An L2TP HELLO crosses the tunnel every second. The client offers 120 s IPsec SAs, the server takes **60 s**. Some time before an SA would
expire (the *margin*, 15 % here as in strongSwan's defaults), the client runs a **new Quick Mode**.
Traffic moves to the new SA at once, and the old one is **deleted** with a Delete payload 5 s
later, so nothing still in flight is lost: *make before break*. At 255 s the 300 s ISAKMP SA is
replaced by a **new Main Mode**; the IPsec SAs move onto it and the old ISAKMP SA is deleted.

Switch rekeying off and watch the SAs **expire** instead: traffic stops until someone connects again.
""")



def _from_link(name: str, options: tuple, default):
    """A what-if value from the page's link (?p2=30&kb=5&rekey=no); anything else is the default."""
    raw = st.query_params.get(name)
    return next((o for o in options if str(o) == raw), default)


for name, options, default in (("p2", PHASE2, PRESET_PHASE2), ("kb", KILOBYTES, 0)):
    if f"{KEY}:{name}" not in st.session_state:
        st.session_state[f"{KEY}:{name}"] = _from_link(name, options, default)
if f"{KEY}:rekey" not in st.session_state:
    st.session_state[f"{KEY}:rekey"] = _from_link("rekey", ("yes", "no"), "yes") == "yes"
st.sidebar.markdown("### What if…")
phase2 = st.sidebar.select_slider("Server's IPsec SA lifetime (s)", options=PHASE2, key=f"{KEY}:p2",
                                  help="The client offers 120 s; the shorter one wins.")
kilobytes = st.sidebar.select_slider("IPsec SA lifetime (KB, 0 = none)", options=KILOBYTES, key=f"{KEY}:kb",
                                     help="Both peers' kilobyte limit for an IPsec SA; the HELLOs carry about 1.7 KB a minute.")
rekey = st.sidebar.toggle("Client rekeys before expiry", key=f"{KEY}:rekey")
settings, params = [], {}
if phase2 != PRESET_PHASE2:
    settings.append(f"server.ipsec_lifetime={phase2}")
    params["p2"] = str(phase2)
if kilobytes:
    settings += [f"client.ipsec_lifetime_kb={kilobytes}", f"server.ipsec_lifetime_kb={kilobytes}"]
    params["kb"] = str(kilobytes)
if not rekey:
    settings.append("client.rekey=no")
    params["rekey"] = "no"

trace = load_run(PRESET, tuple(settings))
if trace is None:
    st.stop()
counts = summary(trace)
cols = st.columns(len(counts) + 1)
for col, (name, value) in zip(cols, counts.items()):
    col.metric(name, value)
lost = lost_packets(trace)
cols[-1].metric("ESP packets lost", len(lost))
if lost:
    st.warning(f"{len(lost)} protected packets found no SA: the first at t = {lost[0].time:.1f} s — "
               f"{lost[0].text}")
else:
    st.success("Every protected packet found its SA: the rekeys broke nothing.")

steps = journeys(trace)
skey = f"{KEY}:step"


def _moment() -> None:
    pick = st.session_state.get(f"{KEY}:moment")
    if pick:
        st.session_state[skey] = int(pick.split()[1])


marks = moments(trace, steps)
if marks:
    st.selectbox("Jump to a moment", [f"step {s} · {t}" for s, t in marks], index=None,
                 placeholder="Jump to a moment…", key=f"{KEY}:moment", on_change=_moment)
index = step_controls(steps, KEY, start=1)
set_query({"step": str(index), **params})
st.markdown("### The tunnel over time")
st.markdown(tunnel_svg(trace, steps[index - 1].time), unsafe_allow_html=True)
st.caption("Violet bars: an SA carrying traffic (pale: ISAKMP SAs). Amber: replaced by its successor, kept until "
           "its Delete. " + " · ".join(f"{sym} {words}" for sym, words in legend()) + ". The orange line is the "
           "step below; hover a mark for its details.")
with st.expander("SA generations (as report.json lists them)"):
    st.dataframe(table(trace), hide_index=True, width="stretch")
render_step(trace, index, steps=steps)
