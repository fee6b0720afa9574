"""Lesson widgets on top of the step view: the NAT-D workbench and the port-4500 demultiplexer.

The numbers come from natt_view.workbench (which calls natt_core's own NAT-D and demux code);
this module only lays them out and takes the student's edits.
"""
from __future__ import annotations

import streamlit as st

from natt_core.errors import NattError
from natt_core.lab.trace import Trace
from natt_core.wire.numbers import EncapsulationMode
from natt_ui.safe import plain
from natt_view.matrix import grid_html
from natt_view.overhead import esp_budget, largest_inner
from natt_view.steps import Journey, journeys
from natt_view.workbench import (demux_rows, keepalive_senders, natd_cases, natd_check, translation_sentence,
                                 verdict_sentences, verify_snippet)


def _endpoint_inputs(col, label: str, value: tuple[str, int], key: str) -> tuple[str, str]:
    ip = col.text_input(f"{label} address", value=value[0], key=f"{key}:ip")
    port = col.text_input(f"{label} port", value=str(value[1]), key=f"{key}:port")
    return ip.strip(), port.strip()


def _parse(ip: str, port: str) -> tuple[str, int]:
    try:
        return ip, int(port)
    except ValueError:
        raise NattError(f"port {port!r} is not a number") from None


def natd_workbench(trace: Trace, key: str, journey: Journey | None = None) -> None:
    """Recompute both NAT-D hashes from the receiver's view; the student edits the view."""
    st.markdown("### NAT-D workbench")
    cases = trace.memo("natt_ui.natd_cases", natd_cases)      # once per run, not per step
    if not cases:
        st.info("No message in this run carries NAT-D payloads (NAT-T was not negotiated), so there is "
                "nothing to recompute. Switch NAT-T back on to use the workbench.")
        return
    labels = [c.label for c in cases]
    default = journey.label if journey is not None and journey.label in labels else labels[0]
    # radio buttons: a segmented control measures itself (a forced page layout) on every step
    choice = st.radio("Message", labels, index=labels.index(default), key=f"{key}:wb:msg", horizontal=True)
    case = cases[labels.index(choice or default)]
    j = case.journey
    st.markdown(
        f"**{j.sender}** sent {case.label} with two NAT-D payloads: HASH(CKY-I | CKY-R | IP | port) of the "
        f"**destination** it addressed and of its **own** address. **{j.receiver}** recomputes both from the "
        f"packet *as it arrived* ({case.hash_name.upper()}, cookies `{case.icookie.hex()}` / "
        f"`{case.rcookie.hex()}`). Edit what arrived and watch the verdict.")
    sent, seen = st.columns(2, gap="large")
    sent.markdown(f"**As {j.sender} sent it**")
    sent.code(f"source       {case.sent_src[0]}:{case.sent_src[1]}\n"
              f"destination  {case.sent_dst[0]}:{case.sent_dst[1]}", language=None)
    seen.markdown(f"**As {j.receiver} received it** (editable)")
    # the arrival view is part of the key, so a what-if switch that changes it resets the inputs
    wkey = f"{key}:wb:{case.label}:{case.seen_src[0]}:{case.seen_src[1]}"
    a, b = seen.columns(2)
    src = _endpoint_inputs(a, "source", case.seen_src, f"{wkey}:src")
    dst = _endpoint_inputs(b, "destination", case.seen_dst, f"{wkey}:dst")
    try:
        verdict = natd_check(case, _parse(*src), _parse(*dst))
    except NattError as e:
        st.error(f"Cannot hash that: {plain(e, 200)}")
        return
    rows = [
        {"NAT-D payload": "1st: destination", "in the packet": case.received[0].hex(),
         f"recomputed by {j.receiver}": verdict.expected_self.hex(),
         "match": "✓ same" if not verdict.self_behind_nat else "✗ differs"},
        {"NAT-D payload": "2nd: source", "in the packet": " / ".join(h.hex() for h in case.received[1:]),
         f"recomputed by {j.receiver}": verdict.expected_peer.hex(),
         "match": "✓ same" if not verdict.peer_behind_nat else "✗ differs"},
    ]
    st.html(grid_html(rows, mono=("in the packet", f"recomputed by {j.receiver}"), css=False))   # lighter than a grid
    for line in verdict_sentences(case, verdict):
        (st.warning if "**" in line else st.success)(line)
    st.markdown(f"**Was only the address changed, or the port too?** {translation_sentence(case)} "
                "The hash covers the port as well, so even a NAT that keeps the address but changes the "
                "port is detected.")
    with st.expander("Verify it yourself in a terminal (Python 3, hashlib only)"):
        st.code(verify_snippet(case), language="bash")


def demux_panel(trace: Trace, journey: Journey | None = None) -> None:
    """Every datagram that arrived on port 4500 with its first bytes and the receiver's decision."""
    st.markdown("### The port-4500 demultiplexer")
    st.markdown("One UDP port carries three things. The receiver looks at the first bytes (RFC 3948 §2): "
                "exactly one `ff` byte → **keepalive**; `00 00 00 00` → **non-ESP marker**, IKE follows; "
                "anything else → those 4 bytes are the **ESP SPI** (never 0).")
    rows = trace.memo("natt_ui.demux_rows", demux_rows)
    if not rows:
        st.info("Nothing in this run used UDP 4500: without NAT (or without NAT-T) IKE stays on 500 and "
                "ESP travels as IP protocol 50.")
        return
    if journey is not None:
        mine = [r for r in rows if r["step"] == journey.index]
        if mine:
            r = mine[0]
            st.success(f"This step ({r['packet']}): first bytes `{r['first bytes']}` → **{r['verdict']}** — {r['why']}")
    # redrawn on every step: one HTML table costs the browser far less than a data grid
    st.html(f'<div class="natt-gridbox">{grid_html(rows, mono=("first bytes",), css=False)}</div>')
    senders = trace.memo("natt_ui.keepalive_senders", keepalive_senders)
    if senders:
        who = ", ".join(f"{name} ×{n}" for name, n in senders.items())
        st.markdown(f"**Keepalives sent by:** {who}. Only the side that found *itself* behind a NAT sends them "
                    "(RFC 3947 §3.2): it must keep its own NAT mapping open.")
    else:
        st.markdown("**No keepalives in this run**: nobody found itself behind a NAT, or the run ended first.")


def vid_panel(trace: Trace) -> None:
    """Which NAT-T versions exist, their Vendor IDs recomputed, who announced what, which one won."""
    from natt_view.workbench import chosen_version, vid_rows
    st.markdown("### Vendor IDs, recomputed")
    st.markdown("Each Vendor ID is the **MD5 of a string** (no terminating NUL). The MD5 column is computed "
                "now from the string; *announced by* is read from the MM1/MM2 bytes of this run.")
    st.dataframe(vid_rows(trace), hide_index=True, width="stretch")
    chosen = chosen_version(trace)
    if not chosen or not any(chosen.values()):
        st.warning("No common NAT-T version: the peers will not send NAT-D, will not float to 4500 and will "
                   "use plain ESP (IP protocol 50) — which a port-translating NAT cannot carry.")
    else:
        for peer, version in chosen.items():
            st.markdown(f"**{peer}** settles on **{version or 'no NAT-T'}**.")
        st.markdown("The best version *both* announced wins (RFC 3947 > draft-03 > draft-02 > draft-02 with "
                    "newline). A draft version means NAT-D is payload **130** and NAT-OA **131**, and the "
                    "encapsulation modes are **61443/61444** instead of 3/4.")


ENCAPSULATION_MEANING = {int(m): f"{m.rfc_name} ("
                         + ("plain ESP, IP protocol 50" if m <= 2 else "RFC 3947" if m <= 4 else "draft value") + ")"
                         for m in EncapsulationMode}


def quick_mode_panel(trace: Trace) -> None:
    """Phase 2 as negotiated: mode and encapsulation value, NAT-OA, and the inner checksum fix-up."""
    st.markdown("### What Quick Mode agreed, and what the receiver did with it")
    ups = [e for e in trace.events if e.event == "Phase2Established"]
    if not ups:
        st.warning("No IPsec SA was established in this run; see the outcome in the sidebar.")
    rows = [{"peer": e.peer, "mode": e.fields.get("mode"), "encapsulation value": e.fields.get("encapsulation"),
             "meaning": ENCAPSULATION_MEANING.get(e.fields.get("encapsulation"), "?"),
             "NAT-OA received": " / ".join(e.fields.get("nat_oa") or ()) or "—"} for e in ups]
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    fixes = [e for e in trace.events if e.event == "DataReceived"]
    drops = [e for e in trace.events if e.event == "PacketDropped"]
    for e in fixes:
        fix = e.fields.get("checksum_fixup")
        st.markdown(f"- **{e.peer}** decrypted `{e.fields.get('inner')}`: "
                    + (f"{fix}" if fix else "no checksum fix-up needed (tunnel mode carries the inner IP "
                       "header, which no NAT touched)."))
    for e in drops:
        st.error(e.text)


_PART_COLOURS = {"IP": "#cfd8dc", "NAT-T": "#ffe082", "ESP": "#d1c4e9", "inner": "#c8e6c9"}


def overhead_panel(trace: Trace, journey: Journey | None = None) -> None:
    """An ESP packet of this run by its parts, and what still fits under a path MTU."""
    st.markdown("### What the encapsulation costs")
    esp = [j for j in journeys(trace) if j.label.startswith("ESP") and not j.dropped]
    j = journey if journey is not None and journey in esp else (esp[0] if esp else None)
    b = esp_budget(trace, j) if j is not None else None
    if b is None:
        st.info("No ESP packet in this run could be opened, so there is nothing to measure.")
        return
    st.caption(f"{j.title()} (step {j.index}), {b.total} bytes on the wire, taken apart:")
    bar = "".join(f'<div title="{p.name}: {p.size} bytes" style="flex:{p.size} 0 0;background:'
                  f'{_PART_COLOURS[p.added_by]};padding:6px 4px;overflow:hidden;white-space:nowrap;'
                  f'border-right:1px solid #fff">{p.size}</div>' for p in b.parts if p.size)
    legend = " · ".join(f"**{p.name}** {p.size}" for p in b.parts)
    st.html(f'<div style="display:flex;font:13px ui-monospace,monospace;border:1px solid #90a4ae">{bar}</div>')
    st.markdown(legend)
    mtu = st.select_slider("Path MTU (bytes)", options=[576, 1280, 1400, 1420, 1460, 1480, 1492, 1500],
                           value=1500, key=f"oh:{trace.report.get('scenario')}:mtu")
    with_natt, without = largest_inner(mtu, b, True), largest_inner(mtu, b, False)
    st.markdown(f"With a path MTU of **{mtu}**, the largest inner packet that travels unfragmented is "
                f"**{with_natt} bytes** UDP-encapsulated (NAT-T) and **{without} bytes** as plain ESP: the UDP "
                f"header costs {without - with_natt} bytes of every packet's room here (the difference moves in "
                f"steps of the {b.block}-byte cipher block). Anything bigger is fragmented, and many NATs and "
                "firewalls drop fragments.")
