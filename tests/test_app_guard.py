"""A page that fails shows a message and a reason code, never a traceback (natt_ui.guard)."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _page_raising(kind: str) -> None:
    import streamlit as st

    from natt_core.errors import ConfigError, DecodeError
    from natt_ui.guard import run_page

    class Page:
        url_path = "broken"

        def run(self):
            st.markdown("before the failure")
            if kind == "decode":
                raise DecodeError("IPv4", 3, "header shorter than 20 bytes")
            if kind == "config":
                raise ConfigError("nat.kind must be one of napt, static, none, not [x](http://evil.invalid)")
            if kind == "stop":
                st.stop()
            raise KeyError("bug")
    run_page(Page())


def _run(kind: str) -> AppTest:
    at = AppTest.from_function(_page_raising, kwargs={"kind": kind}, default_timeout=30).run()
    assert not at.exception                      # nothing reached Streamlit's traceback box
    return at


def test_a_bug_is_a_message_with_its_reason_code():
    at = _run("bug")
    assert len(at.error) == 1 and "APP_ERROR" in at.error[0].value and "KeyError" in at.error[0].value
    assert "Traceback" not in at.error[0].value


def test_bad_bytes_and_bad_values_have_their_own_codes():
    assert "MALFORMED" in _run("decode").error[0].value
    config = _run("config").error[0].value
    assert "BAD_INPUT" in config and "`` " not in config and "`" in config     # the value sits in a code span


def test_st_stop_is_not_a_failure():
    at = _run("stop")
    assert not at.error and at.markdown[0].value == "before the failure"
