"""NAT-T Lab: the Streamlit entry point; routes the Lessons, Playground and Reference pages.

Run with `streamlit run app.py`. Every page is a file under lessons/ so AppTest can open it on its
own. Pages are found, not listed (natt_ui.catalog): a file's docstring's first line is its title,
and optional comment lines `# section: Playground` and `# url: slug` place it (defaults: Lessons,
the file name without its number). Files starting with "_" are shared code, not pages.
"""
from __future__ import annotations

import streamlit as st

from natt_ui.catalog import ROOT, SECTIONS, catalog
from natt_ui.guard import run_page
from natt_ui.present import sidebar_switch


def pages() -> dict[str, list]:
    found: dict[str, list] = {s: [] for s in SECTIONS}
    for info in catalog():
        found.setdefault(info.section, []).append(
            st.Page(str(info.path.relative_to(ROOT)), title=info.title, url_path=info.slug,
                    default=info.path.name.startswith("00_")))
    return {s: p for s, p in found.items() if p}


# the icon is a file of ours: a material-symbol icon would be fetched from fonts.gstatic.com (offline classrooms)
st.set_page_config(page_title="NAT-T Lab", page_icon=str(ROOT / "assets" / "icon.png"), layout="wide",
                   initial_sidebar_state="expanded")
page = st.navigation(pages(), expanded=True)
sidebar_switch()
run_page(page)
