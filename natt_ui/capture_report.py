"""Drawing a capture's diagnosis: the headline, the findings in order, each exchange's ladder.

Everything shown comes from `natt_core.analysis.diagnose`; this module only lays it out.
"""
from __future__ import annotations

import html
import zlib

import streamlit as st

from natt_core.analysis import Diagnosis
from natt_core.analysis.compare import Comparison
from natt_core.analysis.packets import ip_parts
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
    """The capture at a glance, before any list: counts, what was skipped, where the trouble is."""
    obs = d.observations
    cols = st.columns(6)
    cols[0].metric("IP packets", obs.packets, help=f"{obs.ipv6} of them IPv6" if obs.ipv6 else None)
    cols[1].metric("IKE exchanges", len(d.exchanges))
    cols[2].metric("ESP packets", sum(len(f.times) for f in obs.esp.values()))
    cols[3].metric("AH packets", len(obs.ah))
    cols[4].metric("Keepalives", len(obs.keepalives))
    cols[5].metric("Duration", f"{obs.duration:.1f} s")
    counts = {s: sum(1 for f in d.findings if f.severity == s) for s in ("problem", "warning", "ok")}
    words = [f"{counts['problem']} problem(s)", f"{counts['warning']} warning(s)", f"{counts['ok']} step(s) that worked"]
    skipped = [f"{d.capture.skipped} frame(s) that are not IP skipped" if d.capture.skipped else "",
               f"{len(obs.undecodable)} packet(s) unreadable" if obs.undecodable else "",
               "part of the file unread" if d.capture.notes else ""]
    versions = sorted({f"IKEv{e.version}" for e in d.exchanges})
    st.caption(" · ".join([", ".join(words)] + versions + [s for s in skipped if s]))


PAGE = 10   #: exchanges (and data-plane findings) drawn per page


def render_findings(d: Diagnosis, key: str = "dx") -> None:
    exchanges = _page(d.exchanges, "IKE exchanges", f"{key}:expage:{_identity(d)}")
    for ex in exchanges:
        st.subheader(f"IKEv{ex.version} exchange {ex.initiator} → {ex.responder}", anchor=False)
        st.caption(f"{'SPIs' if ex.version == 2 else 'Cookies'} {ex.cookies} · this capture point is {ex.nat.where}")
        left, right = st.columns([1, 1], gap="large")
        with left:
            for f in ex.findings:
                _finding(f)
        with right:
            st.html(_ladder(ex.messages[:200]))
            if len(ex.messages) > 200:
                st.caption(f"… and {len(ex.messages) - 200} more messages")
    if d.dataplane:
        st.subheader("Data plane", anchor=False)
        for f in _page(d.dataplane, "data-plane findings", f"{key}:dppage:{_identity(d)}"):
            _finding(f)


def _page(items, what: str, key: str):
    """One page of a long list, with a page picker: thousands of exchanges are not drawn at once."""
    if len(items) <= PAGE:
        return items
    pages = (len(items) + PAGE - 1) // PAGE
    page = st.number_input(f"{len(items)} {what}: page (of {pages})", 1, pages, 1, key=key)
    return items[(page - 1) * PAGE:page * PAGE]


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
            "white-space:nowrap}.natt-ladder tr.retx td{color:#90a4ae}.natt-ladder-wrap{overflow-x:auto}</style>"
            "<div class='natt-ladder-wrap'><table class='natt-ladder'><tr><th>#</th><th>time s</th><th>message</th>"
            f"<th>from → to</th></tr>{rows}</table></div>")


def render_packets(d: Diagnosis, key: str) -> None:
    """Any packet of the capture as the lessons show one: RFC-style field layout and hex, with the
    bytes no NAT can touch (SPI, ciphertext, ICV, NAT-D hashes, ID) marked. Numbers are Wireshark's."""
    packets = [p for p in d.capture.packets if d.interface is None or p.interface == d.interface]
    if not packets:
        return
    st.subheader("The packets, field by field", anchor=False)
    labels = d.observations.labels
    shown = packets[:5000]

    def name(i: int) -> str:
        cp = shown[i]
        return f"#{cp.frame} · {cp.time:.3f} s · {labels.get(cp.frame, 'other')} · {_addresses(cp.packet)}"
    first = next((i for i, cp in enumerate(shown)
                  if labels.get(cp.frame) not in (None, "ESP", "ESP-in-UDP", "keepalive", "AH")), 0)
    i = st.selectbox("Packet" + (f" (the first {len(shown)} of {len(packets)})" if len(shown) < len(packets) else ""),
                     range(len(shown)), index=first, format_func=name, key=f"{key}:packet:{_identity(d)}")
    packet = shown[i].packet
    try:
        fields = dissect(packet)
    except DecodeError as e:
        st.warning(f"Packet #{shown[i].frame} cannot be laid out field by field: {e}")
        return
    st.html(packet_views_html(packet, fields))


def _addresses(packet: bytes) -> str:
    try:
        ip = ip_parts(packet)
    except DecodeError:
        return ""
    if ip.proto == 17 and len(ip.payload) >= 4 and ip.fragment is None:
        return f"{ip.src}:{int.from_bytes(ip.payload[0:2], 'big')} → {ip.dst}:{int.from_bytes(ip.payload[2:4], 'big')}"
    return f"{ip.src} → {ip.dst}"


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
        before = dissect(a.capture.at_frame(pair.a.index).packet)
        after = dissect(b.capture.at_frame(pair.b.index).packet)
    except DecodeError as e:
        st.warning(f"This pair cannot be laid out field by field: {e}")
        return
    st.html(diff_table_html(field_diff(before, after), f"side A #{pair.a.index}", f"side B #{pair.b.index}"))
    st.caption(f"{pair.payload_len} payload bytes identical on both sides.")


def _identity(*diagnoses: Diagnosis) -> str:
    """A widget-key suffix per capture: a keyed selectbox keeps its old option labels in the browser
    when only the options change, so another capture must make another widget."""
    return "-".join(f"{_crc(d.capture)}{d.interface or ''}" for d in diagnoses)


def _crc(capture) -> str:
    crc = 0
    for p in capture.packets:
        crc = zlib.crc32(p.packet, crc)
    return f"{crc:08x}"
