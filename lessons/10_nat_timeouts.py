"""10 · NAT timeouts vs keepalives

Mapping lifetimes against 0xFF keepalives on the virtual clock (RFC 3948 §2.3, §4; RFC 4787 REQ-5).
"""
# url: nat-timeouts
import streamlit as st

from natt_core.reasons import Reason
from natt_ui import present
from natt_ui.downloads import download_panel
from natt_ui.field_lesson import verdict
from natt_ui.lesson import Lesson, handout_button, load_run
from natt_ui.present import set_query
from natt_ui.safe import plain
from natt_ui.step_view import inject_css, render_step, step_controls
from natt_view.field_facts import first_failure, keepalive_times, mapping_lives
from natt_view.steps import journeys
from natt_view.tables import outcome_lines
from natt_view.timeline import moments, timeline_svg

KEY, PRESET = "l10", "keepalive-vs-timeout"
KEEPALIVES = (5, 10, 15, 20, 30, 45, 60, 90, 120)
TIMEOUTS = (10, 20, 30, 45, 60, 90, 120, 180, 300)
PRESET_KEEPALIVE, PRESET_TIMEOUT = 60, 30

NARRATIVE = """
The tunnel comes up and L2TP says hello. Then it goes quiet for ten minutes, the way a VPN does
overnight. At t = 600 s the **server** sends an L2TP HELLO. Does it arrive?

A NAT forgets a UDP mapping that has been idle for its **timeout**. RFC 4787 asks for at least
2 minutes, but 30 s is common in practice. To keep the mapping open, the side **behind** the
NAT sends a one-byte **0xFF keepalive** whenever it has sent nothing for the **keepalive
interval** (default 20 s). The side that is not behind a NAT sends none.

The lesson opens with a NAT that forgets after **30 s** and a client that waits **60 s** between
keepalives. What happens then? If the mapping expires between keepalives, the next keepalive
opens a **new** mapping with a new public port, and the server keeps sending to the old one.
Traffic then flows one way only.

Move the sliders. The run is repeated on the virtual clock, and the timeline shows every mapping
(amber bars), every keepalive and every data packet. The fast-forward buttons skip the idle minutes.
"""


def _query_int(name: str, options: tuple[int, ...], default: int) -> int:
    raw = st.query_params.get(name)
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        value = None
    if value not in options:
        # kept for the session: the page reruns on its own (time jumps), and the note must not vanish
        st.session_state.setdefault(f"{KEY}:link-notes", []).append(
            f"Ignoring {name}={plain(raw)} in the link: choose one of {', '.join(map(str, options))}.")
        value = default
    return value


def _forward(skey: str, times: list[float], seconds: float) -> None:
    now = times[st.session_state[skey] - 1]
    later = [i + 1 for i, t in enumerate(times) if t >= now + seconds]
    st.session_state[skey] = later[0] if later else len(times)


def _moment(skey: str) -> None:
    pick = st.session_state.get(f"{KEY}:moment")
    if pick:
        st.session_state[skey] = int(pick.split()[1])


def _goto(skey: str, step: int) -> None:
    st.session_state[skey] = step


inject_css()
LESSON = Lesson(key=KEY, title="NAT timeouts vs keepalives", preset=PRESET, narrative=NARRATIVE, pace="12 minutes",
                goal="read a timeline of NAT mappings and keepalives, say who sends the keepalives, and choose an "
                     "interval that keeps the tunnel alive.")
st.title(LESSON.title, anchor=False)
st.markdown(f"**Goal:** {LESSON.goal} · *pace: {LESSON.pace}*")
projector = present.on()      # one step per screen: story, explanations and the timeline fold or move below
with st.expander("The story in plain words", expanded=not projector):
    st.markdown(NARRATIVE)

st.sidebar.markdown("### What if…")
for name, options, default in (("keepalive", KEEPALIVES, PRESET_KEEPALIVE), ("timeout", TIMEOUTS, PRESET_TIMEOUT)):
    if f"{KEY}:{name}" not in st.session_state:
        st.session_state[f"{KEY}:{name}"] = _query_int(name, options, default)
for note in st.session_state.get(f"{KEY}:link-notes", ()):
    st.warning(note)
keepalive = st.sidebar.select_slider("Client keepalive interval (s)", options=KEEPALIVES, key=f"{KEY}:keepalive",
                                     help="Seconds without sending after which the side behind the NAT sends 0xFF.")
timeout = st.sidebar.select_slider("NAT UDP timeout (s)", options=TIMEOUTS, key=f"{KEY}:timeout",
                                   help="How long the NAT keeps an idle UDP mapping.")
settings, params = [], {}
if keepalive != PRESET_KEEPALIVE:
    settings.append(f"client.keepalive_interval={keepalive}")
    params["keepalive"] = str(keepalive)
if timeout != PRESET_TIMEOUT:
    settings.append(f"nat.timeout={timeout}")
    params["timeout"] = str(timeout)

trace = load_run(PRESET, tuple(settings))
if trace is None:
    st.stop()
steps = journeys(trace)
with st.sidebar.expander("Outcome of this run", expanded=True):
    for line in outcome_lines(trace):
        st.markdown(line)
download_panel(trace, KEY)
handout_button(trace, LESSON, tuple(settings))

st.markdown("### Verdict of this run")
fail = verdict(trace, KEY, f"A keepalive every {keepalive} s is sooner than the NAT's {timeout} s timeout, so the "
                           "mapping the server knows never expires.")
why = st.expander("Why: the timeout, who sends keepalives, one-way traffic") if projector else st.container()
sc = trace.scenario
hello_at = ", ".join(f"{s['at']:g}" for s in sc["sends"] if s["sender"] == "server")
why.markdown(f"In this run the NAT forgets an idle mapping after **{sc['nat']['timeout']:g} s**; the client sends a "
            f"keepalive after **{sc['client']['keepalive_interval']:g} s** of silence; the server's HELLO "
            f"leaves at t = {hello_at} s.")

senders = keepalive_times(trace)
behind = [e.peer for e in trace.events if e.event == "NatDetected" and e.fields.get("self_behind_nat")]
who = ", ".join(f"**{p}** ×{len(ts)}" for p, ts in senders.items()) or "nobody"
why.markdown(f"**Who sent keepalives:** {who}. **Who found itself behind a NAT** (NAT-D in MM3/MM4): "
            f"{', '.join(f'**{p}**' for p in behind) or 'nobody'}. Only that side sends keepalives "
            "(RFC 3947 §3.2): it must keep its own mapping open.")
if fail is not None and fail.code is Reason.NAT_MAPPING_EXPIRED:
    lives = [m for m in mapping_lives(trace, "nat") if m.inside.endswith(":4500")]
    if lives:
        first, now = lives[0], [m for m in lives if m.start <= trace.steps[-1].time]
        why.markdown(f"**One-way traffic:** the server learned the client as `{first.outside}` at MM5. That "
                    f"mapping expired at t = {first.end:.1f} s. By the end of the run the NAT had opened "
                    f"{len(lives)} mappings for `{first.inside}`, the newest one on `{now[-1].outside}`. The "
                    "client's keepalives still reach the server through the newest mapping, but the server's "
                    "packets go to the old port and die at the NAT.")

times = [j.time for j in steps]
skey = f"{KEY}:step"
timeline = st.container()                    # above the step; in projector mode below it (drawn last)
ff = st.columns([1, 1, 1, 4], vertical_alignment="bottom")
ff[0].button("+1 min", icon=":material/fast_forward:", key=f"{KEY}:ff60", on_click=_forward,
             args=(skey, times, 60.0), width="stretch")
ff[1].button("+5 min", icon=":material/fast_forward:", key=f"{KEY}:ff300", on_click=_forward,
             args=(skey, times, 300.0), width="stretch")
marks = moments(trace)
failure = first_failure(trace)
if failure is not None:
    ff[2].button("the failure", icon=":material/skip_next:", key=f"{KEY}:fffail", on_click=_goto, args=(skey, failure.step), width="stretch")
if marks:
    ff[3].selectbox("Jump to a moment", [f"step {s} · {t}" for s, t in marks], index=None,
                    placeholder="Jump to a moment…", key=f"{KEY}:moment", on_change=_moment, args=(skey,))
index = step_controls(steps, KEY, start=failure.step if failure is not None else 1)
set_query({"step": str(index), **params})


def draw_timeline() -> None:
    st.markdown("### Timeline on the virtual clock")
    st.markdown(timeline_svg(trace, steps[index - 1].time), unsafe_allow_html=True)
    st.caption("Amber bars: one per NAT mapping, from its first packet until it expired. Ticks: keepalives "
               "(green), L2TP data in ESP (violet), IKE (grey). ✕: dropped. The orange line is the step "
               f"{'above' if projector else 'below'}. Hover a bar or tick for its details.")


if not projector:
    with timeline:
        draw_timeline()
render_step(trace, index, steps=steps)
if projector:
    draw_timeline()
st.caption("When the NAT forgets a mapping mid-session (a reboot) and the server must follow the client to its new "
           "port: lesson 14, [The NAT forgets](tunnel-over-time?story=nat).")
