"""Printable handouts and the one-page cheat sheet: content from the run, safe HTML, real printing.

The handout is checked against the trace (every step, in order, with its diff lens and note) and
against the run's report (the NAT's mapping shows up in the lens; a failing peer's reason is
printed). The cheat sheet's Vendor IDs are compared with hashlib.md5 of the published strings and
its numbers with the values the RFCs print. The browser test downloads both files from the running
app and prints them with headless Chromium: the handout takes several A4 pages, the sheet one.
"""
from __future__ import annotations

import hashlib
import re
from html import escape
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from natt_view import handout
from natt_view.cheat_sheet import cheat_sheet_fragment, cheat_sheet_html
from natt_view.handout import lesson_handout_html, markdown_html
from natt_view.packet import diff_lens_text
from natt_view.steps import fields_of, journeys

from .conftest import BROWSER, run_preset

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = """Intro with <script>alert('x')</script> and <img src=x onerror=alert(1)>.

- **bold** item and *italic* and `code <b>not bold</b>`
- second item

| mismatch | means |
|---|---|
| a \\| b | <i>cell</i> |
"""
NOTE = "MM3 carries <the> **two NAT-D hashes**"


@pytest.fixture(scope="module")
def trace():
    return run_preset("client-behind-nat")


@pytest.fixture(scope="module")
def doc(trace):
    return lesson_handout_html(trace, "NAT-D <who>", "say who is behind NAT & why", HOSTILE, {"MM3": NOTE},
                               pace="15 minutes", settings=("nat=napt",))


def _sections(doc: str) -> list[str]:
    return re.split(r'<section class="step"', doc)[1:]


def test_every_step_title_in_order_with_its_diff_lens(trace, doc):
    steps = journeys(trace)
    assert len(steps) >= 10
    positions = [doc.find(escape(f"Step {j.index} of {len(steps)} — {j.title()}")) for j in steps]
    assert -1 not in positions and positions == sorted(positions)
    sections = _sections(doc)
    assert len(sections) == len(steps)
    for j, section in zip(steps, sections):
        lens = diff_lens_text(j.hops, fields_of(trace, j.first.packet))
        assert escape(lens) in section, j.title()


def test_the_lens_agrees_with_the_nat_table_of_the_report(trace, doc):
    """Independent of the view code: the NAT's first mapping (report.json) is the rewrite of step 1."""
    first = trace.report["nats"]["nat"]["mappings"][0]
    inside_port, outside_port = first["inside"].split(":")[1], first["outside"].split(":")[1]
    step1 = _sections(doc)[0]
    assert f"source port {inside_port} → {outside_port}" in step1
    assert escape(first["outside"]) in doc                          # the mapping table at the end


def test_a_lesson_note_appears_at_its_step_only(trace, doc):
    labels = [j.label for j in journeys(trace)]
    rendered = "MM3 carries &lt;the&gt; <b>two NAT-D hashes</b>"
    for label, section in zip(labels, _sections(doc)):
        assert (rendered in section) == (label == "MM3")


def test_hostile_text_is_escaped_and_markdown_is_rendered(doc):
    assert "<script" not in doc.lower() and "<img" not in doc.lower()
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in doc and "&lt;img src=x onerror=alert(1)&gt;" in doc
    assert "<h1>NAT-D &lt;who&gt;</h1>" in doc and "say who is behind NAT &amp; why" in doc
    assert "<li><b>bold</b> item and <i>italic</i> and <code>code &lt;b&gt;not bold&lt;/b&gt;</code></li>" in doc
    assert "<th>mismatch</th>" in doc and "<td>a | b</td>" in doc and "<td>&lt;i&gt;cell&lt;/i&gt;</td>" in doc
    assert "<code>nat=napt</code>" in doc and "15 minutes" in doc


def test_markdown_blocks():
    html = markdown_html("# Head\n\ntext *a* **b**\nmore\n\n1. one\n2. two\n   cont\n")
    assert html == "<h4>Head</h4>\n<p>text <i>a</i> <b>b</b> more</p>\n<ol><li>one</li><li>two cont</li></ol>"
    assert markdown_html("") == ""


def test_nothing_interactive_and_every_layout_and_outcome(trace, doc):
    assert "<a " not in doc and "onclick" not in doc.lower() and "<script" not in doc.lower()
    assert "@page" in doc and "size: A4" in doc
    hops = sum(len(j.hops) for j in journeys(trace))
    assert doc.count('<table class="natt-rfc"') == hops                # a layout per segment
    assert 'class="natt-rfc' in doc and "natt-t" in doc and "natt-p" in doc
    for name, peer in trace.report["peers"].items():
        assert f"<b>{name}</b>: phase 1 {peer['phase1']}" in doc


def test_elided_tails_are_really_identical(trace, doc):
    """A later segment that says 'byte-for-byte the same' must be; the bytes are checked here again."""
    steps = journeys(trace)
    said = 0
    for j, section in zip(steps, _sections(doc)):
        for m in re.finditer(r"Bytes (\d+)–(\d+) \(.*?\) are byte-for-byte the same as on ([\w-]+)", section):
            start, end = int(m.group(1)), int(m.group(2))
            seg = [n for n, h in enumerate(j.hops) if h.segment == m.group(3)][0]
            assert j.hops[seg + 1].packet[start:end + 1] == j.hops[seg].packet[start:end + 1]
            said += 1
    assert said >= len(steps) // 2


def test_a_failing_peer_prints_its_reason():
    t = run_preset("server-behind-nat")
    doc = lesson_handout_html(t, "Server behind NAT", "goal", "story", {})
    reason = t.report["peers"]["client"]["reason"]
    assert reason and escape(reason) in doc.split('<section class="outcome">')[1]


def test_topology_left_out_without_dot(trace, monkeypatch):
    import graphviz

    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(("dot",))
    monkeypatch.setattr(graphviz.Source, "pipe", missing)
    doc = lesson_handout_html(trace, "t", "g", "n", {})
    assert "Topology left out" in doc and "<svg" in doc                # the sequence diagram stays


def test_topology_drawn_with_dot(trace, doc):
    import shutil
    if not shutil.which("dot"):
        pytest.skip("Graphviz dot not installed")
    topo = doc.split('<section class="topo">')[1].split("</section>")[0]
    assert "<svg" in topo and "out 192.168.1.30" in topo and "client&#45;lan" in topo     # dot escapes "-"


# --- the cheat sheet -------------------------------------------------------------------------------

#: the strings hashed into the NAT-T Vendor IDs (RFC 3947 §3.1; the drafts' own text; the trailing
#: newline variant as Windows sends it, MS-IKEE) and the one value the RFC itself prints
VID_STRINGS = (b"RFC 3947", b"draft-ietf-ipsec-nat-t-ike-03", b"draft-ietf-ipsec-nat-t-ike-02",
               b"draft-ietf-ipsec-nat-t-ike-02\n")
RFC3947_VID = "4a131c81070358455c5728f20e95452f"     # printed in RFC 3947 §3.1


def test_cheat_sheet_vendor_ids_are_the_md5_of_the_strings():
    sheet = cheat_sheet_html()
    assert hashlib.md5(b"RFC 3947").hexdigest() == RFC3947_VID and RFC3947_VID in sheet
    for text in VID_STRINGS:
        assert hashlib.md5(text).hexdigest() in sheet, text


def test_cheat_sheet_numbers_match_the_rfcs():
    sheet = cheat_sheet_fragment()
    cells = re.findall(r"<td[^>]*>(.*?)</td>", sheet)
    # RFC 3947 §5.1 (3, 4), RFC 2407 §4.5 (1, 2), the draft values 0xF003/0xF004 (MS-IKEE)
    for value in ("1", "2", "3", "4", "61443 (0xF003)", "61444 (0xF004)"):
        assert value in cells
    for value in ("20", "21", "130", "131"):                          # NAT-D / NAT-OA, RFC and drafts
        assert value in cells
    assert "UDP <b>500</b>" in sheet and "UDP <b>4500</b>" in sheet     # RFC 3947 §4
    assert "exactly 1 byte <code>ff</code>" in sheet                   # RFC 3948 §2.3
    assert "starts <code>00 00 00 00</code>" in sheet                  # RFC 3948 §2.2
    assert "HASH = H(CKY-I | CKY-R | IP | port)" in sheet              # RFC 3947 §3.2
    assert "NAT_DETECTION_SOURCE_IP (16388)" in sheet and "_DESTINATION_IP\n(16389)" in sheet   # RFC 7296 §3.10.1
    assert "after 20 s without sending" in sheet                       # RFC 3948 §4 default
    assert ("REG ADD HKLM\\SYSTEM\\CurrentControlSet\\Services\\PolicyAgent /v "
            "AssumeUDPEncapsulationContextOnSendRule /t REG_DWORD /d 2 /f") in sheet
    assert "<script" not in sheet.lower()


# --- the app: the buttons exist --------------------------------------------------------------------

def test_download_buttons_on_a_lesson_and_on_the_reference_page():
    at = AppTest.from_file(str(ROOT / "lessons/03_nat_d.py"), default_timeout=60).run()
    assert not at.exception and not at.error
    assert "Printable handout (HTML)" in [d.label for d in at.get("download_button")]
    at = AppTest.from_file(str(ROOT / "lessons/reference.py"), default_timeout=60).run()
    assert not at.exception and not at.error
    assert any(d.label.startswith("NAT-T on one page") for d in at.get("download_button"))
    assert any("natt-cs" in h.proto.body and RFC3947_VID in h.proto.body for h in at.get("html"))


# --- printed by a real browser ---------------------------------------------------------------------

def _pdf_pages(pdf: bytes) -> int:
    assert pdf[:5] == b"%PDF-"
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def _browser(test):
    """The browser marks of tests/conftest.py on one test (the rest of this module needs no browser)."""
    for mark in BROWSER:
        test = mark(test)
    return test


@_browser
def test_download_and_print_handout_and_cheat_sheet(server, page):
    page.goto(server + "/nat-d?step=3")
    button = page.get_by_role("button", name=re.compile("Printable handout"))
    button.wait_for()
    with page.expect_download() as info:
        button.click()
    assert info.value.suggested_filename.endswith("-handout.html")
    html = Path(info.value.path()).read_text("utf-8")
    assert "Step 36 of 36" in html and "NAT-D: who is behind NAT" in html
    page.goto(server + "/reference")
    button = page.get_by_role("button", name=re.compile("NAT-T on one page"))
    button.wait_for()
    with page.expect_download() as info:
        button.click()
    sheet = Path(info.value.path()).read_text("utf-8")
    assert RFC3947_VID in sheet
    page.set_content(html)
    pages = _pdf_pages(page.pdf(format="A4", print_background=True, prefer_css_page_size=True))
    assert pages >= 2
    page.set_content(sheet)
    assert _pdf_pages(page.pdf(format="A4", print_background=True, prefer_css_page_size=True)) == 1


def test_lesson_10_with_its_own_layout_offers_the_handout_too():
    at = AppTest.from_file(str(ROOT / "lessons" / "10_nat_timeouts.py"), default_timeout=60).run()
    assert not at.exception
    assert any(b.proto.label == "Printable handout (HTML)" for b in at.get("download_button"))
