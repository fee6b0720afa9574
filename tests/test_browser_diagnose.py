"""Uploading captures in a real browser: a broken file gets a clear message, a real one a diagnosis."""
from __future__ import annotations

from natt_core.lab.export import capture_files
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_core.pcap import pcap_bytes

from .conftest import BROWSER

pytestmark = BROWSER


def test_upload_a_broken_file_then_a_real_capture(server, page, tmp_path):
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(30))
    good = tmp_path / "vpn.pcap"
    trace = run(apply_settings(preset("client-behind-nat"), ["client.psk=not-the-servers"]))
    good.write_bytes(pcap_bytes(capture_files(trace)["internet"]))

    page.goto(server + "/diagnose")
    page.get_by_text("No capture yet").wait_for()
    page.locator("input[type=file]").first.set_input_files(str(broken))
    page.get_by_text("could not be read as a capture").wait_for()
    assert page.get_by_text("Traceback").count() == 0

    page.locator("input[type=file]").first.set_input_files(str(good))
    page.get_by_text("The pre-shared keys differ").first.wait_for()
    page.get_by_text("Floated to UDP 4500 at MM5").wait_for()
    assert "AUTHENTICATION-FAILED" in page.inner_text("body")
