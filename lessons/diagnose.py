"""Diagnose a capture

Upload a pcap or pcapng of a failing VPN connection and read, without any key, where NAT-T went wrong.
"""
# section: Playground
# url: diagnose

import streamlit as st

from natt_core.analysis import diagnose
from natt_core.analysis.compare import compare
from natt_core.errors import NattError
from natt_core.lab.export import capture_files
from natt_core.lab.presets import PRESETS
from natt_core.live.record import ASSETS as RECORDINGS_DIR
from natt_core.live.record import RECORDINGS as LIVE_RECORDINGS
from natt_core.pcap import pcap_bytes
from natt_ui.capture_report import render_comparison, render_findings, render_headline, render_packets, render_summary
from natt_ui.runs import get_trace
from natt_ui.safe import plain
from natt_ui.step_view import inject_css

MAX_UPLOAD = 50 * 1024 * 1024
RECORDED = RECORDINGS_DIR
RECORDINGS = {stem: r.what for stem, r in LIVE_RECORDINGS.items()}   # python -m natt_core.live.record

inject_css()
st.title("Diagnose a capture", anchor=False)
st.markdown(
    "Capture on the VPN client or server while it connects (`tcpdump -w vpn.pcap udp port 500 or udp port 4500 "
    "or esp`, or Wireshark), then drop the file here. Everything NAT-T decides is visible without keys: the "
    "Vendor IDs, the NAT-D hashes (checked against the addresses *this* capture saw), the float to 4500, ESP "
    "SPIs and keepalives. Nothing leaves this page.")

source = st.radio("Capture", ["Upload a file", "A capture from the lab", "A real strongSwan capture"],
                  horizontal=True, key="dx:source")
data, name = None, None
other, other_name = None, None     # a capture from the other side of the NAT, to see what the NAT did


def uploaded(label: str, key: str):
    upload = st.file_uploader(label, type=["pcap", "pcapng", "cap"], key=key)
    if upload is None:
        return None, None
    if upload.size > MAX_UPLOAD:
        st.error(f"{plain(upload.name)} is {upload.size / 1e6:.0f} MB; cut it to the connection attempt "
                 f"(at most {MAX_UPLOAD // 2**20} MB).")
        st.stop()
    return upload.getvalue(), upload.name


if source == "Upload a file":
    data, name = uploaded("pcap or pcapng", "dx:upload")
    with st.expander("Also have a capture from the other side of the NAT? See what the NAT did"):
        other, other_name = uploaded("the same connection, captured on the other side of the NAT", "dx:upload2")
elif source == "A real strongSwan capture":
    left, right = st.columns(2)
    stem = left.selectbox("Recording", list(RECORDINGS), format_func=lambda s: f"{s} — {RECORDINGS[s]}",
                          key="dx:recording")
    side = right.selectbox("Capture point", ["client-side", "server-side"], key="dx:side",
                           format_func=lambda s: f"{s} of the Linux NAT")
    path = RECORDED / f"{stem}.{side}.pcap"
    data, name = path.read_bytes(), path.name
    opposite = RECORDED / f"{stem}.{'server-side' if side == 'client-side' else 'client-side'}.pcap"
    other, other_name = opposite.read_bytes(), opposite.name
    both_charon = LIVE_RECORDINGS[stem].direction == "charon-to-charon"
    ends = ("strongSwan's charon on both ends, with IKE fragmentation on and a small fragment_size, so "
            "the fragments are strongSwan's own" if both_charon else
            "strongSwan's charon on one end and this project's engine on the other")
    st.caption(f"Recorded with tcpdump on both sides of a real Linux NAT between network namespaces, with {ends}. "
               "charon ran with "
               "kernel-libipsec, which makes it *fake its own NAT-D hash* to force UDP encapsulation: that is "
               "why the strongSwan side looks as if it were behind a NAT too.")
    with st.expander("What charon logged during this recording (its IKE, ENC, NET and CHD lines)"):
        st.code((RECORDED / f"{stem}.charon.log").read_text(), language=None)
        st.caption("Compare its words with the findings below: \"remote host is behind NAT\", \"local host is "
                   "behind NAT, sending keep alives\" (strongswan-initiator) and \"local endpoint changed from "
                   "…[500] to …[4500]\" are the same decisions, seen from inside charon.")
else:
    left, right = st.columns(2)
    preset = left.selectbox("Scenario", list(PRESETS), index=list(PRESETS).index("server-behind-nat"),
                            format_func=lambda n: f"{n} — {PRESETS[n].title}", key="dx:preset")
    try:
        segments = capture_files(get_trace(preset, ()))
    except NattError as e:
        st.error(str(e))
        st.stop()
    segment = right.selectbox("Capture point", list(segments), key="dx:segment")
    data, name = pcap_bytes(segments[segment]), f"{preset} / {segment}"
    others = [s for s in segments if s != segment]
    compare_with = st.selectbox("Compare with the capture on", ["(nothing)"] + others, index=1 if others else 0,
                                key="dx:compare")
    if compare_with in segments:
        other, other_name = pcap_bytes(segments[compare_with]), f"{preset} / {compare_with}"

if data is None:
    st.info("No capture yet: upload one, or pick a capture from the lab to see what a diagnosis looks like.",
            icon=":material/upload_file:")
    st.stop()
def read(data: bytes, name: str, key: str, interface: str | None = None):
    """The diagnosis of one file, or None after one clear line saying why it cannot be read."""
    try:
        return diagnose(data, interface)
    except NattError as e:
        st.error(f"**{plain(name)}** could not be read as a capture: {plain(e, 400)}", icon=":material/broken_image:")
        return None


result = read(data, name, "dx")
if result is None:
    st.stop()
points = result.capture.interfaces
if len(points) > 1:
    point = st.selectbox("This file holds several capture points: diagnose", points, key="dx:interface")
    if point != result.interface:
        result = diagnose(data, point)
st.caption(f"{plain(name)} · {result.capture.format} · {result.capture.frames} frames")
if result.capture.notes:
    st.warning(f"**{plain(name)}**: only part of the file could be read — " + plain("; ".join(result.capture.notes), 800),
               icon=":material/content_cut:")
render_headline(result)
render_summary(result)
render_findings(result)
if other is not None:
    other_result = read(other, other_name, "dx2")
    if other_result is not None:
        render_comparison(compare(result.capture, other_result.capture), result, other_result, (name, other_name),
                          "dx")
render_packets(result, "dx")
