"""Drawing a capture's diagnosis: the headline, the findings in order, each exchange's ladder.

Everything shown comes from `natt_core.analysis.diagnose`; this module only lays it out.
"""
from __future__ import annotations

import html

import streamlit as st

from natt_core.analysis import Diagnosis

ICONS = {"ok": ":material/check_circle:", "info": ":material/info:", "warning": ":material/warning:",
         "problem": ":material/error:"}
BOXES = {"ok": st.success, "info": st.info, "warning": st.warning, "problem": st.error}


def render_headline(d: Diagnosis) -> None:
    h = d.headline
    packets = f" — packets {', '.join(map(str, h.packets[:6]))}" if h.packets else ""
    BOXES[h.severity](f"**{h.title}**{packets}\n\n{h.detail}", icon=ICONS[h.severity])


def render_summary(d: Diagnosis) -> None:
    obs = d.observations
    cols = st.columns(5)
    cols[0].metric("IPv4 packets", len(d.capture.packets))
    cols[1].metric("IKE exchanges", len(d.exchanges))
    cols[2].metric("ESP packets", sum(len(f.times) for f in obs.esp.values()))
    cols[3].metric("Keepalives", len(obs.keepalives))
    cols[4].metric("Duration", f"{obs.duration:.1f} s")
    if d.capture.skipped:
        st.caption(f"{d.capture.skipped} frame(s) that are not IPv4 were skipped.")


def render_findings(d: Diagnosis) -> None:
    for ex in d.exchanges:
        st.subheader(f"IKE exchange {ex.initiator} → {ex.responder}", anchor=False)
        st.caption(f"Cookies {ex.cookies} · this capture point is {ex.nat.where}")
        left, right = st.columns([1, 1], gap="large")
        with left:
            for f in ex.findings:
                _finding(f)
        with right:
            st.html(_ladder(ex.messages))
    if d.dataplane:
        st.subheader("Data plane", anchor=False)
        for f in d.dataplane:
            _finding(f)


def _finding(f) -> None:
    packets = f"  \n:gray[packets {', '.join(map(str, f.packets[:8]))}{' …' if len(f.packets) > 8 else ''}]" \
        if f.packets else ""
    st.markdown(f"{ICONS[f.severity]} **{f.title}**  \n{f.detail}{packets}")


def _ladder(messages) -> str:
    rows = "".join(
        f"<tr class='{'retx' if retx else ''}'><td>{n}</td><td>{t:.3f}</td><td><b>{html.escape(label)}</b>"
        f"{' again' if retx else ''}</td><td>{html.escape(src)} → {html.escape(dst)}</td></tr>"
        for n, t, label, src, dst, retx in messages)
    return ("<style>.natt-ladder{border-collapse:collapse;font:13px ui-monospace,monospace;width:100%}"
            ".natt-ladder td,.natt-ladder th{padding:3px 6px;border-bottom:1px solid #eceff1;text-align:left;"
            "white-space:nowrap}.natt-ladder tr.retx td{color:#90a4ae}</style>"
            "<table class='natt-ladder'><tr><th>#</th><th>time s</th><th>message</th><th>from → to</th></tr>"
            f"{rows}</table>")
