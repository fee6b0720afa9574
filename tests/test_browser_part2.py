"""Part 2 in a real browser: headless Chromium drives a real `streamlit run app.py`.

Fills the playground from a blank form (first with a mistake, which must be shown beside its
field) to a finished run, then answers one quiz question and follows its link to the lesson step.
Uses the system Chromium (/usr/bin/chromium).
"""
from __future__ import annotations

import re

from .conftest import BROWSER

pytestmark = BROWSER


def _field(page, label: str):
    return page.get_by_label(label, exact=True)


def test_playground_from_a_blank_form_to_a_finished_run(server, page):
    page.goto(server + "/playground")
    page.get_by_text("Fill in the form").wait_for()
    entries = {"First client address": "192.168.11.20", "Client NAT's public address": "198.51.100.7",
               "Server address (not behind NAT)": "203.0.113.10",
               "Client pre-shared key": "classroom", "Server pre-shared key": "classroom"}
    assert not _field(page, "Server's own address behind its NAT").count()   # client-nat does not use it
    for label, value in entries.items():
        _field(page, label).fill("192.168.11.300" if label == "First client address" else value)
    run = page.get_by_role("button", name=re.compile("Run this scenario"))
    run.click()
    page.get_by_text("not an IPv4 address").wait_for()                   # beside the field, nothing ran
    page.get_by_text("Nothing was run").wait_for()
    assert not page.get_by_role("heading", name=re.compile(r"^Step \d+ of")).count()
    _field(page, "First client address").fill(entries["First client address"])
    run.click()
    page.get_by_role("heading", name=re.compile(r"^Step 1 of \d+")).wait_for()
    page.get_by_text("It works.").wait_for()
    page.locator(".natt-topo svg text", has_text="198.51.100.7").wait_for()
    page.locator("svg.natt-seq").wait_for()
    page.get_by_role("button", name=re.compile("Next")).click()
    page.get_by_role("heading", name=re.compile(r"^Step 2 of \d+")).wait_for()
    page.wait_for_function("() => location.search.includes('step=2')")


def test_answer_one_quiz_question_and_follow_its_link(server, page):
    page.goto(server + "/quiz")
    first = page.get_by_text("Which port does its next message, MM5, go to?")
    first.wait_for()
    page.get_by_role("radio", name="UDP 4500", exact=True).check(force=True)
    page.get_by_role("button", name="Reveal").first.click()
    page.get_by_text("Right:").wait_for()
    page.get_by_text("Score: 1 of 1 revealed").wait_for()
    link = page.get_by_role("link", name=re.compile("See it in the lesson, step"))
    href = link.get_attribute("href")
    assert re.search(r"/float-4500\?step=\d+$", href)
    page.goto(server + href)
    step = int(href.rsplit("=", 1)[1])
    page.get_by_role("heading", name=re.compile(rf"^Step {step} of \d+ — MM5")).wait_for()
