"""Download buttons for a run: captures, Wireshark key tables, secrets.json and report.json, and the
configuration files with which real peers play the same scenario.

Everything is produced by natt_core (pcap writers, export helpers, `lab.config_files`) from the
cached Trace or the Scenario; each file is built only when its button is clicked, and a click does
not re-run the page (on_click="ignore").
"""
from __future__ import annotations

import io
import json
import zipfile
from typing import Callable

import streamlit as st

from natt_core.errors import ConfigError
from natt_core.lab.config_files import config_files
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


#: (target, peers, label, what): the real peers `python -m natt_core config` writes files for
CONFIG_TARGETS = (
    ("strongswan", ("server", "client"), "strongSwan (swanctl.conf)",
     "swanctl.conf for the server and for the client (IKEv1 or IKEv2, PSK, transport mode for L2TP)"),
    ("libreswan", ("server", "client"), "libreswan + xl2tpd",
     "ipsec.conf and ipsec.secrets for both peers; xl2tpd.conf, options.xl2tpd and chap-secrets for the "
     "server's L2TP/PPP"),
    ("windows", ("client",), "Windows client (PowerShell)",
     "Add-VpnConnection for L2TP with the PSK and the PPP authentication method, plus the "
     "AssumeUDPEncapsulationContextOnSendRule registry line when the scenario needs it"),
)


def config_zip(scenario, target: str, peers: tuple[str, ...]) -> bytes:
    """A zip of `target`'s files for each of `peers` (server/…, client/…); a peer the target cannot
    play for this scenario gets a text file saying why instead."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for peer in peers:
            try:
                for name, text in config_files(scenario, target, peer).items():
                    z.writestr(f"{peer}/{name}", text)
            except ConfigError as e:
                z.writestr(f"{peer}/NOT-AVAILABLE.txt", f"{target} cannot play the {peer} of this scenario: {e}\n")
    return buf.getvalue()


def lazy_configs(scenario) -> list[tuple[str, Callable[[], bytes], str, str, str]]:
    """(file name, builder, mime type, label, what it is) for each real peer's configuration."""
    name = scenario.name
    return [(f"{name}-{target}.zip", lambda t=target, p=peers: config_zip(scenario, t, p), "application/zip", label,
             what) for target, peers, label, what in CONFIG_TARGETS]


def config_buttons(scenario, key: str) -> None:
    """One button per real peer's configuration of `scenario`, built when clicked."""
    for fname, build, mime, label, what in lazy_configs(scenario):
        st.download_button(label, build, file_name=fname, mime=mime, key=f"{key}:cfg:{fname}", help=what,
                           on_click="ignore", width="stretch", icon=":material/settings:")


def download_panel(trace: Trace, key: str, container=None, scenario=None) -> None:
    """One download button per file, inside an expander; with `scenario`, the real peers' configs too."""
    box = container if container is not None else st.sidebar
    with box.expander("Downloads: pcap, keys, JSON", expanded=False):
        for fname, build, mime, what in lazy_files(trace):
            st.download_button(fname, build, file_name=fname, mime=mime, key=f"{key}:dl:{fname}",
                               help=what, on_click="ignore", width="stretch", icon=":material/download:")
    if scenario is not None:
        with box.expander("Real-world configs for this scenario", expanded=False):
            st.caption("The same scenario on real peers: what `python -m natt_core config "
                       f"{scenario.name} --for …` writes, with this page's settings.")
            config_buttons(scenario, key)
