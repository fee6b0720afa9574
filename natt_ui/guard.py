"""A page that fails shows a clear message and a reason code, never a traceback.

`run_page` wraps `st.navigation(...).run()`: a NattError that reaches the top of a page is a value
the page could not use (MALFORMED for bytes, BAD_INPUT otherwise); anything else is a bug, logged
with its traceback on the server (where an admin can read it) and named only by type on the page.
Streamlit's own control flow (st.stop, st.rerun, st.switch_page) are BaseExceptions and pass.
"""
from __future__ import annotations

import logging

import streamlit as st

from natt_core.errors import DecodeError, NattError
from natt_core.reasons import Reason

from .safe import plain

log = logging.getLogger("natt_ui")


def failure_message(error: Exception) -> tuple[Reason, str]:
    """(reason code, the sentence shown) for an exception that reached the top of a page."""
    if isinstance(error, NattError):
        code = Reason.MALFORMED if isinstance(error, DecodeError) else Reason.BAD_INPUT
        return code, f"This page cannot go on with that input: {plain(error, 400)}"
    return Reason.APP_ERROR, (f"This page failed unexpectedly ({type(error).__name__}). The details are in the "
                              "server's log; reload the page, or go back one step.")


def show_failure(error: Exception, where: object) -> None:
    """The message and reason code for `error`; a bug's traceback goes to the server log only."""
    code, text = failure_message(error)
    if code is Reason.APP_ERROR:
        log.exception("%s failed", where)
    st.error(f"{text}\n\nReason code: **{code}**", icon=":material/error:")


def run_page(page) -> None:
    """Run a Streamlit page; turn any exception into a message with its reason code."""
    try:
        page.run()
    except Exception as error:                   # noqa: BLE001 - the last line before the browser
        show_failure(error, f"page {getattr(page, 'url_path', page)}")
