"""Drawing a capture's diagnosis: the headline, the findings in order, each exchange's ladder.

Everything shown comes from `natt_core.analysis.diagnose`; this module only lays it out.
"""
from __future__ import annotations

import html
import zlib

import streamlit as st

from natt_core.analysis import Diagnosis
from natt_core.analysis.compare import Comparison
from natt_core.analysis.observe import ipv4_parts
from natt_core.errors import DecodeError
from natt_core.wire.dissect import dissect
from natt_ui.safe import plain
from natt_view.packet import diff_table_html, field_diff, packet_views_html

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


def render_packets(d: Diagnosis, key: str) -> None:
    """Any packet of the capture as the lessons show one: RFC-style field layout and hex, with the
    bytes no NAT can touch (SPI, ciphertext, ICV, NAT-D hashes, ID) marked."""
    packets = d.capture.packets
    if not packets:
        return
    st.subheader("The packets, field by field", anchor=False)
    labels = d.observations.labels

    def name(i: int) -> str:
        cp = packets[i]
        return f"#{i + 1} · {cp.time:.3f} s · {labels.get(i + 1, 'other')} · {_addresses(cp.packet)}"
    first = next((n - 1 for n in sorted(labels) if labels[n] not in ("ESP", "ESP-in-UDP", "keepalive")), 0)
    i = st.selectbox("Packet", range(len(packets)), index=first, format_func=name,
                     key=f"{key}:packet:{_identity(d)}")
    packet = packets[i].packet
    try:
        fields = dissect(packet)
    except DecodeError as e:
        st.warning(f"Packet #{i + 1} cannot be laid out field by field: {e}")
        return
    st.html(packet_views_html(packet, fields))


def _addresses(packet: bytes) -> str:
    try:
        proto, src, dst, body = ipv4_parts(packet)
    except DecodeError:
        return ""
    if proto == 17 and len(body) >= 4:
        return f"{src}:{int.from_bytes(body[0:2], 'big')} → {dst}:{int.from_bytes(body[2:4], 'big')}"
    return f"{src} → {dst}"


def render_comparison(c: Comparison, a: Diagnosis, b: Diagnosis, names: tuple[str, str], key: str) -> None:
    """What the NAT did between two capture points: its mappings, what it dropped, and any packet
    of both sides with the fields that differ."""
    st.subheader("What the NAT did", anchor=False)
    st.caption(f"Side A: {plain(names[0])} · side B: {plain(names[1])} · {len(c.pairs)} packets seen on both sides, "
               "paired by the bytes no NAT rewrites (the IKE message, the ESP packet).")
    if c.translations:
        st.dataframe([{"protocol": t.proto, "side A": str(t.a), "side B": str(t.b), "talking to (A)": str(t.remote),
                       "packets from it": t.sent, "packets to it": t.received,
                       "port 500 kept": "yes" if t.kept_port_500 else ""} for t in c.translations],
                     hide_index=True, width="stretch")
    else:
        st.info("No packet changed addresses or ports between the two sides: no NAT between these capture points.")
    for side, lost, d in (("A", c.only_a, a), ("B", c.only_b, b)):
        if lost:
            labels = d.observations.labels
            listed = ", ".join(f"#{s.index} {labels.get(s.index, 'packet')} from {s.src}" for s in lost[:8])
            st.error(f"**{len(lost)} packet(s) seen on side {side} only** — the NAT dropped them (or the other "
                     f"capture did not run then): {listed}{' …' if len(lost) > 8 else ''}",
                     icon=":material/block:")
    if not c.pairs:
        return
    labels = a.observations.labels
    i = st.selectbox("A packet on both sides", range(len(c.pairs)), key=f"{key}:pair:{_identity(a, b)}",
                     format_func=lambda n: f"A#{c.pairs[n].a.index} = B#{c.pairs[n].b.index} · "
                     f"{labels.get(c.pairs[n].a.index, 'packet')} · {'; '.join(c.pairs[n].changes) or 'unchanged'}")
    pair = c.pairs[i]
    try:
        before = dissect(a.capture.packets[pair.a.index - 1].packet)
        after = dissect(b.capture.packets[pair.b.index - 1].packet)
    except DecodeError as e:
        st.warning(f"This pair cannot be laid out field by field: {e}")
        return
    st.html(diff_table_html(field_diff(before, after), f"side A #{pair.a.index}", f"side B #{pair.b.index}"))
    st.caption(f"{pair.payload_len} payload bytes identical on both sides.")


def _identity(*diagnoses: Diagnosis) -> str:
    """A widget-key suffix per capture: a keyed selectbox keeps its old option labels in the browser
    when only the options change, so another capture must make another widget."""
    return "-".join(f"{zlib.crc32(b''.join(p.packet for p in d.capture.packets)):08x}" for d in diagnoses)
