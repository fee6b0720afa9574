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


def test_real_captures_from_the_corpus_in_the_browser(server, page, tmp_path):
    """IKEv2 from tcpdump's tests is named (not "No IKE"), and a cut file is diagnosed up to the cut
    with the file named in the warning."""
    from pathlib import Path
    corpus = Path(__file__).resolve().parent / "captures"
    cut = tmp_path / "cut.pcap"
    cut.write_bytes((corpus / "isakmp4500.pcap").read_bytes()[:-20])

    page.goto(server + "/diagnose")
    page.get_by_text("No capture yet").wait_for()
    page.locator("input[type=file]").first.set_input_files(str(corpus / "ikev2pI2.pcap"))
    page.get_by_text("The responder never answered IKE_SA_INIT").first.wait_for()
    assert page.get_by_text("No IKE or ESP in this capture").count() == 0

    page.locator("input[type=file]").first.set_input_files(str(cut))
    page.get_by_text("only part of the file could be read").wait_for()
    page.get_by_text("Floated to UDP 4500 at MM5").first.wait_for()     # the report follows the warning
    body = page.inner_text("body")
    assert "cut.pcap" in body and "Floated to UDP 4500 at MM5" in body and "Traceback" not in body


def test_a_real_strongswan_ikev2_recording_from_both_sides_of_the_nat(server, page):
    """IKEv2 recorded live through a Linux NAT: the CHILD_SA is found up, and the second capture
    (the other side of the NAT) shows what the NAT rewrote."""
    from pathlib import Path
    recorded = Path(__file__).resolve().parents[1] / "assets" / "captures"
    page.goto(server + "/diagnose")
    page.get_by_text("No capture yet").wait_for()
    page.locator("input[type=file]").first.set_input_files(str(recorded / "strongswan-ikev2-responder.client-side.pcap"))
    page.get_by_text("IKE_AUTH answered, and ESP flows both ways").first.wait_for()
    page.get_by_text("Also have a capture from the other side of the NAT").click()
    page.locator("input[type=file]").nth(1).set_input_files(str(recorded / "strongswan-ikev2-responder.server-side.pcap"))
    page.get_by_text("packets seen on both sides").first.wait_for()
    body = page.inner_text("body")
    assert "No IKE or ESP" not in body and "Traceback" not in body
    assert "side B: strongswan-ikev2-responder.server-side.pcap" in body
