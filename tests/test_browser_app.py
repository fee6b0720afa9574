"""The app in a real browser: headless Chromium drives a real `streamlit run app.py`.

Walks lesson 3 from its first step to its last with the Next button, checks what is drawn (SVG
labels of the topology and the sequence diagram, the amber and violet fields), flips a what-if
switch and downloads the pcapng. Uses the system Chromium (/usr/bin/chromium).
"""
from __future__ import annotations

import re
from pathlib import Path

from .conftest import BROWSER

pytestmark = BROWSER


def _wait_step(page, n: int, total: int | None = None) -> None:
    text = f"Step {n} of {total}" if total else f"Step {n} of"
    page.get_by_role("heading", name=re.compile("^" + re.escape(text))).wait_for()


def test_walk_lesson_3_and_flip_a_switch(server, page):
    page.goto(server + "/nat-d?step=1")
    _wait_step(page, 1)
    heading = page.get_by_role("heading", name=re.compile(r"^Step 1 of \d+")).inner_text()
    total = int(re.search(r"of (\d+)", heading).group(1))
    assert total >= 10
    for n in range(2, total + 1):
        page.get_by_role("button", name=re.compile("Next")).click()
        _wait_step(page, n, total)
        assert f"step={n}" in page.url
    assert page.get_by_role("button", name=re.compile("Next")).is_disabled()

    # back to MM3 by deep link: the diagrams and the highlighted fields
    page.goto(server + "/nat-d?step=3")
    _wait_step(page, 3, total)
    page.locator("svg.natt-seq").wait_for()
    seq = page.locator("svg.natt-seq text").all_text_contents()
    assert {"client", "nat", "server", "MM3"} <= set(seq)
    page.locator(".natt-topo svg text", has_text="client-lan").wait_for()
    topo = page.locator(".natt-topo svg text").all_text_contents()
    assert any("client-lan" in t for t in topo) and any("192.168.1.30" in t for t in topo)
    page.locator("table.natt-rfc td.natt-t span.n", has_text="source port").first.wait_for()   # drawn after the pictures
    names = " ".join(page.locator("table.natt-rfc td.natt-t span.n").all_text_contents())
    assert "source address" in names and "source port" in names
    protected = " ".join(page.locator("table.natt-rfc td.natt-p span.n").all_text_contents())
    assert "HASH(CKY-I" in protected
    assert "source address 192.168.11.20 → 192.168.1.30" in page.locator(".natt-lens").inner_text()

    # what if the NAT kept the port? (static 1:1 NAT)
    page.locator("[data-testid='stSidebar']").get_by_role("radio", name="static", exact=True).click()
    page.wait_for_function("() => location.search.includes('nat=static')")
    page.locator(".natt-lens", has_text="source address").wait_for()
    # Streamlit redraws element by element: wait until the lens and the first layout both show the new run
    page.wait_for_function("""() => {
        const lens = document.querySelector('.natt-lens');
        const marked = Array.from(document.querySelectorAll('table.natt-rfc td.natt-t span.n')).map(e => e.textContent);
        return lens && !lens.innerText.includes('source port') && marked.includes('source address')
               && !marked.includes('source port');
    }""")
    page.get_by_text("only the source address was changed").wait_for()      # the workbench's answer


def test_download_the_capture(server, page):
    page.goto(server + "/float-4500")
    _wait_step(page, 5)
    page.get_by_text("Downloads: pcap, keys, JSON").click()
    with page.expect_download() as info:
        page.get_by_role("button", name=re.compile(r"client-behind-nat\.pcapng")).click()
    data = Path(info.value.path()).read_bytes()
    assert data[:4] == bytes.fromhex("0a0d0d0a")          # pcapng Section Header Block
