"""The quiz: answers are graded, explanations link to the step, and the answers follow the engine.

The builder tests feed runs whose truth differs (no NAT, helper off, rule 2) and check that the
computed answer changes with them: the quiz cannot be right by having the answers typed in.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from natt_view import quiz
from natt_view.steps import journeys

from .conftest import run_preset

ROOT = Path(__file__).resolve().parents[1]
trace = run_preset   # the shared memoised runner (tests/conftest.py)


def test_answers_follow_the_run():
    q = quiz.port_after_mm4(trace("client-behind-nat"))
    assert q.answer == "UDP 4500" and "4500" in q.explanation
    assert journeys(trace("client-behind-nat"))[q.step - 1].label == "MM5"
    assert quiz.port_after_mm4(trace("client-behind-nat", "nat.kind=none")).answer.startswith("UDP 500")

    assert quiz.natd_mismatch(trace("client-behind-nat")).answer.startswith("the 2nd NAT-D")
    assert quiz.natd_mismatch(trace("client-behind-nat", "nat.kind=none")).answer == "neither"
    assert quiz.natd_mismatch(trace("server-behind-nat")).answer.startswith("the 1st NAT-D")

    assert quiz.second_client(trace("multi-client-helper")).answer.startswith("No")
    assert quiz.second_client(trace("multi-client-helper", "nat.helper=none")).answer.startswith("Yes")

    assert "inner UDP checksum" in quiz.exam_question(trace("legacy-behind-nat")).answer
    assert "AH ICV" in quiz.exam_question(trace("ah-behind-nat")).answer
    with pytest.raises(quiz.NoAnswer):
        quiz.exam_question(trace("client-behind-nat"))

    assert quiz.who_refuses(trace("server-behind-nat")).answer == "the Windows client"
    with pytest.raises(quiz.NoAnswer):
        quiz.who_refuses(trace("server-behind-nat", "client.assume_udp_rule=2"))

    assert quiz.keepalive_sender(trace("keepalive-vs-timeout")).answer.startswith("only the client")
    assert quiz.keepalive_sender(trace("no-nat")).answer == "neither"


def test_ikev2_questions_are_answered_by_the_run():
    q = quiz.ikev2_nat_found(trace("ikev2-client-behind-nat"))
    assert q.answer.startswith("in IKE_SA_INIT") and "IKE message 2" in q.explanation
    assert q.link().startswith("/playground?step=2&scenario=ikev2-client-behind-nat")
    assert quiz.ikev2_first_on_4500(trace("ikev2-client-behind-nat")).answer == "IKE_AUTH"
    assert quiz.ikev2_first_on_4500(trace("ikev2-no-nat")).answer.startswith("none")
    with pytest.raises(quiz.NoAnswer):
        quiz.ikev2_nat_found(trace("ikev2-no-nat"))


def test_link_is_a_deep_link():
    q = quiz.Question("k", "p?", ("a", "b"), "a", "because", "nat-d", 3, {"nat": "static"})
    assert q.link() == "/nat-d?step=3&nat=static"
    assert q.grade("a") is True and q.grade("b") is False and q.grade(None) is None


def test_quiz_page_grades_and_links():
    at = AppTest.from_file(str(ROOT / "lessons/quiz.py"), default_timeout=60).run()
    assert not at.exception and not at.error
    assert len(at.radio) == 8 and "Score: 0 of 0 revealed" in at.markdown[1].value
    assert at.button(key="quiz:port:reveal").disabled                     # predict first
    at.radio(key="quiz:port").set_value("UDP 4500").run()
    at.button(key="quiz:port:reveal").click().run()
    assert any("Right" in s.value for s in at.success)
    assert at.radio(key="quiz:port").disabled                             # no changing after the reveal
    links = [m.value for m in at.markdown if "See it in the lesson" in m.value]
    assert links and "(/float-4500?step=" in links[0]
    at.radio(key="quiz:second").set_value(at.radio(key="quiz:second").options[0]).run()   # "Yes": wrong
    at.button(key="quiz:second:reveal").click().run()
    assert any("Not this time" in e.value and "No:" in e.value for e in at.error)
    assert any("Score: 1 of 2 revealed" in m.value for m in at.markdown)
    at.button(key="quiz:reset").click().run()
    assert any("Score: 0 of 0 revealed" in m.value for m in at.markdown)
