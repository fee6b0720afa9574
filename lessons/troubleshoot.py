"""Troubleshooter: from a symptom to the fix

Pick what you see or paste an error line: the engine reproduces it, shows where it fails, and proves the fix with a second run.
"""
# section: Playground
# url: troubleshoot
import streamlit as st

from natt_core.errors import NattError
from natt_ui.runs import get_trace
from natt_ui.present import set_query
from natt_ui.safe import plain
from natt_ui.step_view import inject_css
from natt_view.field_facts import first_failure, success
from natt_view.troubleshoot import BY_KEY, SYMPTOMS, cli, lesson_url, match, playground_url

KEY = "ts"
WHO = {"refused": "{} refused to go on", "dropped by a peer": "{} dropped the packet",
       "dropped by a NAT": "the router {} dropped the packet", "gave up": "{} gave up"}

inject_css()
st.title("Troubleshooter: from a symptom to the fix", anchor=False)
st.markdown("Say what you see, or paste the error message or log line. The page runs a scenario that fails "
            "the same way, shows where it fails in the engine's own words, then runs it again with the fix "
            "to prove that the fix works.")

if f"{KEY}:symptom" not in st.session_state:            # a shared link: ?symptom=key
    wanted = st.query_params.get("symptom")
    st.session_state[f"{KEY}:symptom"] = wanted if wanted in BY_KEY else None
    if wanted is not None and wanted not in BY_KEY:
        st.warning(f"Unknown symptom {plain(wanted)} in the link; pick one below.")

pick, paste = st.columns(2, gap="large")
with pick:
    st.selectbox("What do you see?", [s.key for s in SYMPTOMS], index=None, key=f"{KEY}:symptom",
                 format_func=lambda k: BY_KEY[k].title, placeholder="Choose a symptom…")
with paste:
    text = st.text_area("…or paste an error message / log line", key=f"{KEY}:paste", height=80,
                        placeholder="e.g. Error 809, NO_PROPOSAL_CHOSEN, INVALID_HASH_INFORMATION…")

chosen = None
if text.strip():
    hits = match(text)
    if not hits:
        st.warning("**No match.** None of the troubleshooter's keywords occur in that text. Choose what you see "
                   "from the list instead; it covers:\n\n" + "\n".join(f"- {s.title}" for s in SYMPTOMS))
    else:
        labels = {s.key: f"{s.title} — matched: " + ", ".join(f"“{w}”" for w in words) for s, words in hits}
        if len(hits) > 1:
            chosen = st.radio(f"Your text fits {len(hits)} symptoms (most matching words first):", list(labels),
                              format_func=labels.get, key=f"{KEY}:match")
        else:
            chosen = hits[0][0].key
            st.info(f"Your text matches **{labels[chosen]}**.")
if chosen is None:
    chosen = st.session_state.get(f"{KEY}:symptom")
if chosen is None:
    st.info("Choose a symptom or paste a message to start.")
    set_query({})
    st.stop()

symptom = BY_KEY[chosen]
set_query({"symptom": symptom.key})
st.header(symptom.title, anchor=False, divider="gray")
st.markdown("**What you see.** " + symptom.seen)

try:
    broken = get_trace(symptom.preset, symptom.settings)
    fixed = get_trace(symptom.preset, symptom.fix_settings)
except NattError as e:
    st.error(f"This symptom's scenario cannot run: {e}")
    st.stop()

left, right = st.columns(2, gap="large")
with left:
    st.subheader("① Reproduced: where it fails", anchor=False)
    failure = first_failure(broken)
    if success(broken) or failure is None:
        st.warning("This run did **not** fail, so it does not reproduce the symptom; the catalogue entry is wrong.")
    else:
        if not symptom.reproduces(failure.code):
            st.warning(f"This run fails in another way ({failure.code or 'no code'}) than the symptom describes; "
                       "the catalogue entry is wrong.")
        st.error(f"**Step {failure.step} ({failure.label}): {WHO[failure.kind].format(f'**{failure.where}**')}.** "
                 f"In the engine's words:\n\n{failure.reason}")
        url = lesson_url(symptom, failure.step)
        links = [f"[Open step {failure.step} in the playground]"
                 f"({playground_url(symptom.preset, symptom.settings, failure.step)})"]
        if url:
            links.insert(0, f"[Open step {failure.step} in lesson {symptom.lesson_title}]({url})")
        st.markdown(" · ".join(links))
    st.caption("Run: `" + cli(symptom.preset, symptom.settings) + "`")
with right:
    st.subheader("② With the fix: it works", anchor=False)
    t = fixed.report.get("traffic", {})
    if success(fixed):
        st.success(f"**Connected.** Phase 1 and phase 2 are up on every peer, and {t.get('delivered')} of "
                   f"{t.get('sent')} L2TP messages arrived.")
    else:
        after = first_failure(fixed)
        st.warning("The fixed run still fails" + (f" at step {after.step}: {after.reason}" if after else "")
                   + "; the catalogue entry is wrong.")
    changed = symptom.changes or tuple(s for s in symptom.settings if s not in symptom.fix_settings)
    st.markdown("Changed for this run: " + ", ".join(f"`{s}`" for s in changed)
                + ("" if symptom.changes else " (removed)"))
    st.markdown(f"[Open the fixed run in the playground]({playground_url(symptom.preset, symptom.fix_settings)})")
    st.caption("Run: `" + cli(symptom.preset, symptom.fix_settings) + "`")

st.subheader("③ What to do", anchor=False)
st.markdown(symptom.fix)
if symptom.command:
    st.code(symptom.command, language="bat", wrap_lines=True)
st.markdown(f"**Why.** {symptom.why}")
