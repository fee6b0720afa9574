"""The NAT and SA tables under a lesson step: every table sits in a box that scrolls sideways, so
an SA table wider than the page (its NAT-verdict and cipher columns at ~1400 px) is not cut off."""
import re

from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_ui.step_view import _tables_html
from natt_view.steps import journeys
from natt_view.theme import CSS


def test_every_table_under_a_step_sits_in_a_sideways_scrolling_box():
    trace = run(preset("client-behind-nat"))
    j = journeys(trace)[-1]
    html = _tables_html(trace, j)
    tables = html.count('<table class="natt-grid">')
    assert tables >= 3           # the NAT table, ISAKMP SAs, IPsec SAs
    assert html.count('<div class="natt-wide"><table class="natt-grid">') == tables
    assert re.search(r"\.natt-wide \{\s*overflow-x:\s*auto", CSS)
    assert re.search(r"\.natt-state \.natt-wide \.natt-grid \{[^}]*width:\s*max-content", CSS)
