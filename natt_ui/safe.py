"""Outside text (a link's query value, an upload's file name, a form field) shown as text.

Streamlit renders st.markdown/st.error/st.warning bodies as markdown (with GFM autolinks, which
turn any `http://…` or `www.…` in a text node into a link, backslash escapes or not): a crafted
`?step=` value or file name could draw a link, load a remote image or colour text. `plain` puts
the value in a code span, the one markdown construct whose content is never interpreted: its
fence is one backtick longer than any run of backticks in the value (CommonMark §6.1). Line
breaks are folded and long values shortened, so a link cannot fill the page either.
"""
from __future__ import annotations

import re

LIMIT = 80


def plain(value: object, limit: int = LIMIT) -> str:
    """`value` as markdown that renders as exactly its own characters (at most `limit` of them)."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    if not text:
        return "(empty)"
    fence = "`" * (max((len(r) for r in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"
