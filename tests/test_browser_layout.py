"""Nothing a lesson draws runs off the right edge of the page, in normal and projector mode: a table
wider than the page scrolls in its own box, and a data grid (a canvas, which sizes itself from the
projector's zoomed page) is drawn unzoomed so it fits."""
from __future__ import annotations

import pytest

from .conftest import BROWSER

pytestmark = BROWSER

#: tables and data grids whose right edge passes the main column's, with no box between that scrolls
_RUNS_OFF = """() => {
  const main = document.querySelector('[data-testid=stMainBlockContainer]');
  const edge = main.getBoundingClientRect().right, out = [];
  for (const el of main.querySelectorAll('table, [data-testid=stDataFrame]')) {
    const r = el.getBoundingClientRect();
    if (!r.width) continue;
    let p = el.parentElement, boxed = false;
    while (p && p !== main) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll') { boxed = true; break; }
      p = p.parentElement;
    }
    if (!boxed && r.right > edge + 2) out.push(`${el.tagName} ${el.dataset.testid || ''} ${Math.round(r.right - edge)} px`);
  }
  return out;
}"""


@pytest.mark.parametrize("path, width", [
    ("/float-4500?step=8", 1400),               # the NAT, ISAKMP and IPsec tables under a step
    ("/several-clients", 1400),                 # the server's SPD table
    ("/vendor-ids?step=2&present=1", 1600),     # a data grid in projector mode
    ("/reference?present=1", 1600),
])
def test_nothing_runs_off_the_page(server, page, path, width):
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto(server + path)
    page.locator("[data-testid=stMainBlockContainer] table, [data-testid=stDataFrame]").first.wait_for(state="attached")
    page.wait_for_timeout(1500)          # the data grids size themselves after they are drawn
    assert page.evaluate(_RUNS_OFF) == []
