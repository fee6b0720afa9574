"""Download buttons for a run: captures, Wireshark key tables, secrets.json and report.json.

Everything is produced by natt_core (pcap writers, export helpers) from the cached Trace; a click
does not re-run the page (on_click="ignore").
"""
from __future__ import annotations

import json
from typing import Callable

import streamlit as st

from natt_core.lab.export import capture_files, esp_sa_lines, ikev1_lines
from natt_core.lab.ladder import hop_line
from natt_core.lab.trace import Trace
from natt_core.pcap import pcap_bytes, pcapng_bytes


def lazy_files(trace: Trace) -> list[tuple[str, Callable[[], bytes], str, str]]:
    """(file name, bytes builder, mime type, what it is) for every download of a run; a builder runs
    only when its button is clicked, so drawing the page (for every student) builds no file."""
    name = trace.report.get("scenario", "run")

    def pcapng() -> bytes:
        per_segment: dict[str, list] = {}
        for hop in trace.hops:
            per_segment.setdefault(hop.segment, []).append((hop.time, hop.packet, hop_line(hop).strip()))
        return pcapng_bytes(list(per_segment.items()))
    out = [(f"{name}.pcapng", pcapng, "application/octet-stream",
            "every segment in one pcapng, one interface per segment, each packet commented")]
    for segment in dict.fromkeys(hop.segment for hop in trace.hops):
        out.append((f"{name}-{segment}.pcap", lambda s=segment: pcap_bytes(capture_files(trace)[s]),
                    "application/vnd.tcpdump.pcap", f"what a capture on {segment} sees"))
    out += [
        ("esp_sa", lambda: "".join(l + "\n" for l in esp_sa_lines(trace.secrets)).encode(), "text/plain",
         "Wireshark ESP SA table (Preferences › Protocols › ESP)"),
        ("ikev1_decryption_table", lambda: "".join(l + "\n" for l in ikev1_lines(trace.secrets)).encode(),
         "text/plain", "Wireshark IKEv1 decryption table (ISAKMP preferences)"),
        ("secrets.json", lambda: (json.dumps(trace.secrets, indent=2) + "\n").encode(), "application/json",
         "every key, to recompute the run"),
        ("report.json", lambda: (json.dumps(trace.report, indent=2) + "\n").encode(), "application/json",
         "the outcome per peer"),
    ]
    return out


def files(trace: Trace) -> list[tuple[str, bytes, str, str]]:
    """(file name, bytes, mime type, what it is) for every download of a run."""
    return [(fname, build(), mime, what) for fname, build, mime, what in lazy_files(trace)]


def download_panel(trace: Trace, key: str, container=None) -> None:
    """One download button per file, inside an expander."""
    box = container if container is not None else st.sidebar
    with box.expander("Downloads: pcap, keys, JSON", expanded=False):
        for fname, build, mime, what in lazy_files(trace):
            st.download_button(fname, build, file_name=fname, mime=mime, key=f"{key}:dl:{fname}",
                               help=what, on_click="ignore", width="stretch", icon=":material/download:")
