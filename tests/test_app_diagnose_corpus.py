"""The Diagnose page under AppTest with files from the corpus (tests/captures, made by others),
uploaded through the page's own file uploader: the headline it shows is the one `diagnose`
computes for the same bytes, and nothing raises."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from natt_core.analysis import diagnose

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / "lessons" / "diagnose.py")
CORPUS = ROOT / "tests" / "captures"


def shown(at: AppTest) -> str:
    return "\n".join(e.value for group in (at.error, at.warning, at.success, at.info) for e in group)


@pytest.mark.parametrize("name", ["ikev2four.pcap", "ikev2pI2.pcap", "OSPFv3_with_AH.pcap"])
def test_an_uploaded_corpus_file_gets_its_diagnosis(name):
    data = (CORPUS / name).read_bytes()
    expected = diagnose(data).headline
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.file_uploader(key="dx:upload").upload(name, data).run()
    assert not at.exception
    assert expected.title in shown(at)
    text = "\n".join(m.value for m in at.markdown) + "".join(h.proto.body for h in at.get("html"))
    if name.startswith("ikev2"):
        assert "IKE_SA_INIT" in text


def test_an_upload_that_is_no_capture_gets_one_clear_line():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.file_uploader(key="dx:upload").upload("notes.pcap", b"this is not a capture at all").run()
    assert not at.exception and at.error


def test_an_ikev2_lab_run_compared_across_the_nat():
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="dx:source").set_value("A capture from the lab").run()
    at.selectbox(key="dx:preset").set_value("ikev2-client-behind-nat").run()
    at.selectbox(key="dx:segment").set_value("client-lan").run()
    assert at.selectbox(key="dx:compare").value == "internet" and not at.exception
    assert any("No problem found" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert "192.168.11.20:500" in list(table["side A"]) and "192.168.11.20:4500" in list(table["side A"])
