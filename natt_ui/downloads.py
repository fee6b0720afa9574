"""Download buttons for a run: captures, Wireshark key tables, secrets.json and report.json.

Everything is produced by natt_core (pcap writers, export helpers) from the cached Trace; a click
does not re-run the page (on_click="ignore").
"""
from __future__ import annotations

import json

import streamlit as st

from natt_core.lab.export import capture_files, esp_sa_lines, ikev1_lines
from natt_core.lab.ladder import hop_line
from natt_core.lab.trace import Trace
from natt_core.pcap import pcap_bytes, pcapng_bytes


def files(trace: Trace) -> list[tuple[str, bytes, str, str]]:
    """(file name, bytes, mime type, what it is) for every download of a run."""
    name = trace.report.get("scenario", "run")
    per_segment: dict[str, list] = {}
    for hop in trace.hops:
        per_segment.setdefault(hop.segment, []).append((hop.time, hop.packet, hop_line(hop).strip()))
    out = [(f"{name}.pcapng", pcapng_bytes(list(per_segment.items())), "application/octet-stream",
            "every segment in one pcapng, one interface per segment, each packet commented")]
    for segment, records in capture_files(trace).items():
        out.append((f"{name}-{segment}.pcap", pcap_bytes(records), "application/vnd.tcpdump.pcap",
                    f"what a capture on {segment} sees"))
    out += [
        ("esp_sa", "".join(l + "\n" for l in esp_sa_lines(trace.secrets)).encode(), "text/plain",
         "Wireshark ESP SA table (Preferences › Protocols › ESP)"),
        ("ikev1_decryption_table", "".join(l + "\n" for l in ikev1_lines(trace.secrets)).encode(), "text/plain",
         "Wireshark IKEv1 decryption table (ISAKMP preferences)"),
        ("secrets.json", (json.dumps(trace.secrets, indent=2) + "\n").encode(), "application/json",
         "every key, to recompute the run"),
        ("report.json", (json.dumps(trace.report, indent=2) + "\n").encode(), "application/json",
         "the outcome per peer"),
    ]
    return out


def download_panel(trace: Trace, key: str, container=None) -> None:
    """One download button per file, inside an expander."""
    box = container if container is not None else st.sidebar
    with box.expander("Downloads: pcap, keys, JSON", expanded=False):
        for fname, data, mime, what in files(trace):
            st.download_button(fname, data, file_name=fname, mime=mime, key=f"{key}:dl:{fname}",
                               help=what, on_click="ignore", width="stretch", icon=":material/download:")
