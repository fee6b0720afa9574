"""6 · IPsec meets NAT

Why AH and plain ESP break behind a NAT, and which check fails (RFC 3715 §2.1, §2.2 (i); RFC 3948 §1).
"""
# url: ipsec-meets-nat
import streamlit as st

from natt_ui.field_lesson import chosen_settings, failure_table, grid, run_matrix, verdict
from natt_ui.lesson import Lesson, render_lesson
from natt_view.field_facts import failures

KEY, PRESET = "l6", "legacy-behind-nat"
SWITCHES = ("nat_t", "protocol", "mode", "nat")

NARRATIVE = """
> **The exam question.** *An L2TP/IPsec VPN from a PC behind a Windows 2000 NAT cannot connect,
> although L2TP/IPsec works between two computers on the inside network. Why?*

"The packets fail integrity checks" is the usual answer. It is too vague. This page shows
**which check fails, in which packet, and at which box**. The client and the server here are
peers from before NAT-T, so they use plain IPsec. The NAT rewrites the outer IP header, as a NAT
must. Three things then go wrong, and each one shows up in this run:

- **AH**: the ICV is computed over the IP addresses, so the receiver's ICV no longer matches.
  Set the *IPsec protocol* switch to **ah**.
- **ESP in transport mode** (L2TP/IPsec): the inner UDP checksum is computed over a
  pseudo-header that holds the original addresses. ESP hides that checksum from the NAT.
  This is what happens by default.
- **ESP in tunnel mode**: ESP has no ports, so a NAPT has nothing to demultiplex on and cannot
  send the reply back in. Set *IPsec mode* to **tunnel**.

**The fix:** turn on *NAT-T* (**rfc3947**). The peers detect the NAT, wrap ESP in UDP 4500 and
exchange NAT-OA, so the receiver can correct the checksum. Set *NAT kind* to **none** to see the
"two computers on the inside" half of the question.
"""


def summary(trace):
    st.markdown("### Verdict of this run")
    verdict(trace, KEY, "NAT-T gave ESP a UDP header, so the NAT has ports to translate, and NAT-OA gave the "
                        "receiver the original addresses for the checksum.")


def extra(trace, journey):
    st.markdown("#### Everything that was dropped or refused")
    failure_table(failures(trace))
    st.markdown("### The same question across NATs and protocols")
    st.caption("Every cell is a separate engine run. The settings are the ones in the sidebar, "
               "except for the row and the column.")
    base = tuple(s for s in chosen_settings(PRESET, (), SWITCHES, KEY)
                 if not s.startswith(("nat.kind=", "client.nat_t=", "server.nat_t=", "protocol=", "mode=")))
    rows = {
        "ESP, transport (L2TP/IPsec), no NAT-T": ("mode=transport",),
        "ESP, tunnel, no NAT-T": ("mode=tunnel",),
        "AH, transport, no NAT-T": ("protocol=ah", "mode=transport"),
        "AH, transport, NAT-T on": ("protocol=ah", "mode=transport", "client.nat_t=rfc3947", "server.nat_t=rfc3947"),
        "ESP, transport, NAT-T on": ("mode=transport", "client.nat_t=rfc3947", "server.nat_t=rfc3947"),
    }
    cols = {"no NAT (two inside computers)": ("nat.kind=none",), "NAPT (address + port)": ("nat.kind=napt",),
            "static 1:1 NAT (address only)": ("nat.kind=static",)}
    grid(run_matrix(PRESET, base, rows, cols))
    with st.expander("Why PPTP got through classic NATs (background; PPTP is not simulated here)"):
        st.markdown(
            "PPTP's control channel is an ordinary TCP connection to port 1723, which any NAT translates. "
            "Its data travels in enhanced GRE (IP protocol 47), whose header has a **Call ID**. A "
            "'PPTP passthrough' NAT multiplexes clients on that Call ID, much as NAPT uses ports. PPP "
            "encryption (MPPE) sits *inside* GRE, and nothing in PPTP authenticates the outer IP "
            "addresses. So a NAT can rewrite them without breaking a check. Compare the table above: "
            "AH fails because it authenticates the addresses, and ESP fails because it has no port or "
            "Call ID to multiplex on and hides the checksum.")


LESSON = Lesson(
    key=KEY,
    title="IPsec meets NAT",
    goal="name the exact check that fails when AH or plain ESP crosses a NAT, and the switch that fixes it.",
    pace="12 minutes",
    narrative=NARRATIVE,
    preset=PRESET,
    switches=SWITCHES,
    start="ESP",
    notes={
        "ESP": "Compare the amber source address (rewritten by the NAT) with the violet ESP body. The inner "
               "UDP header and its checksum are encrypted in there, so the NAT could not fix them. Open "
               "*Decrypted inside* to read them.",
        "AH": "The AH ICV (violet) covers the IP addresses. The NAT changed the amber source address, "
              "so the receiver computes a different ICV.",
        "ESP-in-UDP": "NAT-T puts a UDP header in front of ESP. The NAT translates its port (amber), and "
                      "the ESP inside is unchanged.",
    },
    summary=summary,
    extra=extra,
)

render_lesson(LESSON)
