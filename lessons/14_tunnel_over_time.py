"""14 · The tunnel over time

Three stories on one timeline of SA generations: rekeying (SA lifetimes, RESPONDER-LIFETIME,
make-before-break; RFC 2409 §5.5, RFC 2407 §4.5 and §4.6.3.1), a peer that vanishes (Dead Peer
Detection, RFC 3706) and a NAT that forgets its mapping (the server follows the next authenticated
packet, RFC 3947 §7). The story is kept in the link (`?story=dpd`), with its what-ifs.
"""
# url: tunnel-over-time
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import streamlit as st

from natt_core.lab.trace import Trace
from natt_ui.lesson import load_run
from natt_ui.present import set_query
from natt_ui.safe import plain
from natt_ui.step_view import inject_css, render_step, step_controls
from natt_view.steps import journeys
from natt_view.tunnel import (MARKS, counts, events, legend, lost_packets, moment_rows, moments, summary, table,
                              tunnel_svg)

STORIES = {"rekey": "Rekeying", "dpd": "A peer that vanishes", "nat": "The NAT forgets"}
PHASE2 = (30, 60, 120, 300)
KILOBYTES = (0, 1, 2)
PRESET_PHASE2 = 60
DPD_DELAY, PRESET_DELAY = (10, 30, 60), 30
DPD_TIMEOUT, PRESET_TIMEOUT = (30, 60, 120), 120

REKEY_TEXT = """
Keys do not live forever. Each SA carries a **lifetime** in its proposal: seconds, and for IPsec
SAs also kilobytes of traffic (RFC 2407 §4.5). The responder may want a shorter one: it answers the
proposal as offered and adds a **RESPONDER-LIFETIME** notification, and the initiator adopts it.

An L2TP HELLO crosses the tunnel every second. The client offers 120 s IPsec SAs, the server takes **60 s**. Some time before an SA would
expire (the *margin*, 15 % here as in strongSwan's defaults), the client runs a **new Quick Mode**.
Traffic moves to the new SA at once, and the old one is **deleted** with a Delete payload 5 s
later, so nothing still in flight is lost: *make before break*. At 255 s the 300 s ISAKMP SA is
replaced by a **new Main Mode**; the IPsec SAs move onto it and the old ISAKMP SA is deleted.

Switch rekeying off and watch the SAs **expire** instead: traffic stops until someone connects again.
"""
DPD_TEXT = """
A peer can vanish without a word: a laptop lid closed, a power cut, a crashed daemon. The other side
still holds its SAs and would hold them forever. **Dead Peer Detection** (RFC 3706) is how it finds
out: both peers announce it with a **DPD Vendor ID** in Main Mode; after **30 s of silence**
(*dpd_delay*) the server asks **R-U-THERE** in an encrypted Informational exchange and a live client
answers **R-U-THERE-ACK** (♥ on the server's events lane).

Here the client is switched off at **60 s** (⊘, the grey shade on its lanes). The server's next
R-U-THEREs go unanswered; it keeps asking every 30 s, and **120 s** (*dpd_timeout*) after the first
unanswered one it declares the peer **dead** (☠) and deletes its ISAKMP and IPsec SAs (✕ on the
server's lanes). NAT keepalives prove nothing: they carry no answer and no authentication (RFC 3948 §4).

A Windows XP client sends no DPD Vendor ID, so the server never asks — and keeps the dead client's SAs.
"""
NAT_TEXT = """
A NAT keeps its **mappings** (inside address and port ↔ a public port) only in memory. When it
reboots or flushes them (⌫ at **90 s** on the *nat · events* lane), the client does not know: its
next packet out simply gets a **new public port**.

The server still sends to the old port, which now leads nowhere. It must not move for just any
packet from a new port — a keepalive proves nothing and anyone can forge one. It moves (⇄) only for
the next **authenticated** packet (RFC 3947 §7): at 120 s the client's L2TP HELLO arrives in
ESP-in-UDP from the new port, its integrity checks out, and the server follows; its own HELLO at
150 s reaches the client.

What if only the server spoke? Its HELLO dies at the NAT and L2TP gives up. Let the client run DPD
every 30 s and its R-U-THERE, an authenticated Informational, re-teaches the server the port.
"""


@dataclass
class Story:
    key: str                                   #: widget-key prefix (l13 for rekeying, kept from before)
    preset: str
    text: str
    goal: str
    settings: list[str] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    counted: dict[str, str] = field(default_factory=dict)      #: event kind -> metric label
    moments: tuple[str, ...] = ("SaRekeyStarted", "SaExpired")
    start: Callable[[Trace, tuple], int] = lambda trace, steps: 1

    def what_if(self, param: str, shown: object, *settings: str) -> None:
        """A switch moved off the preset: its --set lines, and its value in the page's link."""
        self.settings += settings
        self.params[param] = str(shown)


def _from_link(name: str, options: tuple, default):
    """A what-if value from the page's link (?p2=30&kb=5&rekey=no); anything else is the default."""
    raw = st.query_params.get(name)
    return next((o for o in options if str(o) == raw), default)


def _seed(key: str, name: str, options: tuple, default) -> None:
    if f"{key}:{name}" not in st.session_state:
        st.session_state[f"{key}:{name}"] = _from_link(name, options, default)


def _seed_switch(key: str, name: str, default: bool) -> None:
    if f"{key}:{name}" not in st.session_state:
        st.session_state[f"{key}:{name}"] = _from_link(name, ("yes", "no"), "yes" if default else "no") == "yes"


def _first(steps, pred, default: int = 1) -> int:
    return next((j.index for j in steps if pred(j)), default)


def _event_time(trace: Trace, kind: str) -> float | None:
    return next((e.time for e in events(trace) if e.kind == kind), None)


def rekey_story() -> Story:
    s = Story("l13", "rekey", REKEY_TEXT, "read an SA's life on a timeline: when it is rekeyed, when traffic "
              "moves, when the old SA is deleted, and what happens when nobody rekeys")
    for name, options, default in (("p2", PHASE2, PRESET_PHASE2), ("kb", KILOBYTES, 0)):
        _seed(s.key, name, options, default)
    _seed_switch(s.key, "rekey", True)
    phase2 = st.sidebar.select_slider("Server's IPsec SA lifetime (s)", options=PHASE2, key=f"{s.key}:p2",
                                      help="The client offers 120 s; the shorter one wins.")
    kilobytes = st.sidebar.select_slider("IPsec SA lifetime (KB, 0 = none)", options=KILOBYTES, key=f"{s.key}:kb",
                                         help="Both peers' kilobyte limit for an IPsec SA; the HELLOs carry about "
                                              "1.7 KB a minute.")
    rekey = st.sidebar.toggle("Client rekeys before expiry", key=f"{s.key}:rekey")
    if phase2 != PRESET_PHASE2:
        s.what_if("p2", phase2, f"server.ipsec_lifetime={phase2}")
    if kilobytes:
        s.what_if("kb", kilobytes, f"client.ipsec_lifetime_kb={kilobytes}", f"server.ipsec_lifetime_kb={kilobytes}")
    if not rekey:
        s.what_if("rekey", "no", "client.rekey=no")
    return s


def dpd_story() -> Story:
    s = Story("l13d", "dpd-peer-gone", DPD_TEXT, "see a dead peer detected: R-U-THERE after idle, the unanswered "
              "questions, the peer declared dead and its SAs cleared — and a client that never offered DPD",
              counted={"LivenessChecked": "R-U-THERE answered", "DeadPeerDetected": "dead peers",
                       "SaDeleted": "SAs deleted"},
              moments=("LivenessChecked", "HostPower", "DeadPeerDetected"),
              start=lambda trace, steps: _first(steps, lambda j: "R-U-THERE" in j.label))
    _seed(s.key, "delay", DPD_DELAY, PRESET_DELAY)
    _seed(s.key, "timeout", DPD_TIMEOUT, PRESET_TIMEOUT)
    _seed_switch(s.key, "xp", False)
    delay = st.sidebar.select_slider("Server asks R-U-THERE after (s) of silence", options=DPD_DELAY,
                                     key=f"{s.key}:delay", help="server.dpd_delay (RFC 3706 §5.3)")
    timeout = st.sidebar.select_slider("Server gives up after (s) without an answer", options=DPD_TIMEOUT,
                                       key=f"{s.key}:timeout", help="server.dpd_timeout")
    xp = st.sidebar.toggle("The client is Windows XP (no DPD Vendor ID)", key=f"{s.key}:xp",
                           help="Sets client.profile to windows-xp-sp2: it never negotiated DPD, so it is never asked")
    if delay != PRESET_DELAY:
        s.what_if("delay", delay, f"server.dpd_delay={delay}")
    if timeout != PRESET_TIMEOUT:
        s.what_if("timeout", timeout, f"server.dpd_timeout={timeout}")
    if xp:
        s.what_if("xp", "yes", "client.profile=windows-xp-sp2")
    return s


def nat_story() -> Story:
    s = Story("l13n", "nat-rebinding", NAT_TEXT, "see a NAT forget a mapping mid-session, the client's new public "
              "port, and the server follow it only on an authenticated packet",
              counted={"NatMappingsFlushed": "NAT flushes", "RemoteFollowed": "address changes followed"},
              moments=("NatMappingsFlushed", "RemoteFollowed", "LivenessChecked"),
              start=lambda trace, steps: _first(steps, lambda j: j.time >= (_event_time(trace, "NatMappingsFlushed")
                                                                            or 0) and j.time > 0))
    _seed_switch(s.key, "hello", True)
    _seed_switch(s.key, "dpd", False)
    hello = st.sidebar.toggle("The client sends its HELLO at 120 s", key=f"{s.key}:hello",
                              help="off: traffic.client=none, only the server speaks after the flush")
    dpd = st.sidebar.toggle("The client runs DPD every 30 s", key=f"{s.key}:dpd", help="client.dpd_delay=30")
    if not hello:
        s.what_if("hello", "no", "traffic.client=none")
    if dpd:
        s.what_if("dpd", "yes", "client.dpd_delay=30")
    return s


def _story_changed() -> None:
    if "step" in st.query_params:          # the step in the link belonged to the other story
        del st.query_params["step"]


def rekey_verdict(trace: Trace) -> None:
    lost = lost_packets(trace)
    if lost:
        st.warning(f"{len(lost)} protected packets found no SA: the first at t = {lost[0].time:.1f} s — "
                   f"{plain(lost[0].text, 300)}")
    else:
        st.success("Every protected packet found its SA: the rekeys broke nothing.")


def dpd_verdict(trace: Trace) -> None:
    dead = next((e for e in events(trace) if e.kind == "DeadPeerDetected"), None)
    off = _event_time(trace, "HostPower")
    if dead is not None:
        after = f", {dead.time - off:.0f} s after the client vanished" if off is not None else ""
        st.info(f"The server declared the client dead at t = {dead.time:.0f} s{after}, and cleared its SAs.")
    else:
        end = float(trace.scenario.get("duration") or 0)
        st.warning(f"The server never noticed: at the end of the run (t = {end:.0f} s) it still holds the "
                   "switched-off client's SAs.")


def nat_verdict(trace: Trace) -> None:
    moved = next((s for s in trace.steps if getattr(s, "kind", "") == "event" and s.event == "RemoteFollowed"), None)
    if moved is not None:
        via = moved.fields.get("via") or "packet"
        st.success(f"At t = {moved.time:.0f} s an authenticated {via} came from the client's new port: the server "
                   f"moved from {plain(moved.fields.get('old'), 60)} to {plain(moved.fields.get('new'), 60)}.")
    else:
        reason = (trace.report.get("peers", {}).get("server", {}) or {}).get("reason")
        st.warning("The server never learned the new port" + (f": {plain(reason, 300)}" if reason else "."))


inject_css()
st.title("The tunnel over time", anchor=False)
if "l13:story" not in st.session_state:
    st.session_state["l13:story"] = _from_link("story", tuple(STORIES), "rekey")
story_key = st.radio("Story", tuple(STORIES), format_func=STORIES.get, key="l13:story", horizontal=True,
                     on_change=_story_changed, label_visibility="collapsed")
st.sidebar.markdown("### What if…")
story = {"rekey": rekey_story, "dpd": dpd_story, "nat": nat_story}[story_key]()
st.markdown(f"**Goal:** {story.goal}. · *pace: 10 minutes*")
with st.expander("The story in plain words", expanded=True):
    st.markdown(story.text)

trace = load_run(story.preset, tuple(story.settings))
if trace is None:
    st.stop()
figures: dict[str, object] = {k: v for k, v in summary(trace).items() if story_key == "rekey" or "generations" in k}
figures |= counts(trace, story.counted)
if story_key == "rekey":
    figures["ESP packets lost"] = len(lost_packets(trace))
elif story_key == "dpd":
    server = trace.report.get("peers", {}).get("server", {}) or {}
    figures["SAs the server still holds"] = int(server.get("isakmp_sas") or 0) + int(server.get("ipsec_sas") or 0)
else:
    sent = trace.report.get("traffic", {}) or {}
    figures["packets delivered"] = f"{sent.get('delivered', 0)} of {sent.get('sent', 0)}"
for col, (name, value) in zip(st.columns(len(figures)), figures.items()):
    col.metric(name, value)
{"rekey": rekey_verdict, "dpd": dpd_verdict, "nat": nat_verdict}[story_key](trace)

steps = journeys(trace)
skey = f"{story.key}:step"


def _moment() -> None:
    pick = st.session_state.get(f"{story.key}:moment")
    if pick:
        st.session_state[skey] = int(pick.split()[1])


marks = moments(trace, steps, story.moments)
if marks:
    st.selectbox("Jump to a moment", [f"step {s} · {t}" for s, t in marks], index=None,
                 placeholder="Jump to a moment…", key=f"{story.key}:moment", on_change=_moment)
index = step_controls(steps, story.key, start=story.start(trace, steps))
set_query({"story": story_key, "step": str(index), **story.params})
st.markdown("### The tunnel over time")
st.markdown(tunnel_svg(trace, steps[index - 1].time), unsafe_allow_html=True)
seen = {e.kind for e in events(trace)}
st.caption("Violet bars: an SA carrying traffic (pale: ISAKMP SAs). Amber: replaced by its successor, kept until "
           "its Delete. Grey shade: the host is switched off. "
           + " · ".join(f"{sym} {words}" for sym, words in legend() if any(MARKS[k].symbol == sym for k in seen))
           + ". The orange line is the step below; hover a mark for its details.")
st.markdown("#### The lifecycle moments")
rows = moment_rows(trace, steps)
if rows:
    st.dataframe(rows, hide_index=True, width="stretch")
else:
    st.caption("No lifecycle event in this run.")
with st.expander("SA generations (as report.json lists them)"):
    st.dataframe(table(trace), hide_index=True, width="stretch")
render_step(trace, index, steps=steps)
