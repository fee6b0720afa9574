"""Quiz: predict, then reveal

Questions at the decision points of the lessons; every answer is computed from an engine run.
"""
# section: Lessons
# url: quiz
import streamlit as st

from natt_core.errors import NattError
from natt_ui.runs import get_trace
from natt_ui.step_view import inject_css
from natt_view.quiz import BUILDERS, NoAnswer

KEY = "quiz"
#: question -> the preset of the lesson page its link opens
SOURCES = {"port": "client-behind-nat", "natd": "client-behind-nat", "exam": "legacy-behind-nat",
           "refuse": "server-behind-nat", "second": "multi-client-helper", "keepalive": "keepalive-vs-timeout",
           "ikev2-natd": "ikev2-client-behind-nat", "ikev2-float": "ikev2-client-behind-nat"}


def _reveal(qkey: str) -> None:
    st.session_state[f"{KEY}:{qkey}:shown"] = True


def _reset(keys: list[str]) -> None:
    for k in keys:
        st.session_state.pop(f"{KEY}:{k}:shown", None)
        st.session_state.pop(f"{KEY}:{k}", None)


@st.cache_resource(show_spinner="Running the scenarios behind the questions…")
def questions():
    out, skipped = [], []
    for qkey, preset in SOURCES.items():
        try:
            out.append(BUILDERS[qkey](get_trace(preset)))
        except (NoAnswer, NattError) as e:
            skipped.append(f"{qkey}: {e}")
    return out, skipped


inject_css()
st.html("<style>[data-testid='stRadio'] label p { font-size:1.15rem; line-height:1.5; }</style>")
st.title("Quiz: predict, then reveal", anchor=False)
st.markdown("Choose your prediction first, then press **Reveal**. Each answer comes from a run of the "
            "engine. The explanation quotes that run and links to the lesson step that shows it.")
qs, skipped = questions()
shown = [q for q in qs if st.session_state.get(f"{KEY}:{q.key}:shown")]
right = [q for q in shown if q.grade(st.session_state.get(f"{KEY}:{q.key}"))]
score = st.container()
score.markdown(f"### Score: {len(right)} of {len(shown)} revealed · {len(qs)} questions")

for n, q in enumerate(qs, 1):
    with st.container(border=True):
        st.markdown(f"#### {n}. {q.prompt}")
        revealed = bool(st.session_state.get(f"{KEY}:{q.key}:shown"))
        choice = st.radio("Your prediction", q.options, index=None, key=f"{KEY}:{q.key}", disabled=revealed,
                          label_visibility="collapsed")
        if not revealed:
            st.button("Reveal", key=f"{KEY}:{q.key}:reveal", on_click=_reveal, args=(q.key,),
                      disabled=choice is None, help="Choose an answer first.", type="primary")
            continue
        verdict = q.grade(choice)
        if verdict:
            st.success(f"**Right:** {q.answer}.")
        else:
            st.error(f"**Not this time.** The run says: **{q.answer}**.")
        st.markdown(f"{q.explanation}")
        st.markdown(f"[See it in the lesson, step {q.step} →]({q.link()})")

st.button("Start again", key=f"{KEY}:reset", on_click=_reset, args=([q.key for q in qs],))
if skipped:
    st.caption("Left out, because the run did not contain what they ask about: " + "; ".join(skipped))
