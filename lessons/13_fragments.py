"""13 · Too big for the link: IP fragments and IKE fragmentation

A Main Mode message larger than the path, the IP fragments its sender makes, a NAT that drops
them, and IKEv1 fragmentation (the FRAGMENTATION Vendor ID, payload 132) that avoids them.
"""
# url: fragments
import streamlit as st

from natt_ui.field_lesson import verdict
from natt_ui.lesson import Lesson, render_lesson
from natt_view.fragments import IKE_MARK, big_messages

KEY = "l12"
#: The scenario, in one place: machine certificates (MM5/MM6 of about 2.3 kB with the chain) on
#: ordinary 1500-byte links, through a home router that drops IP fragments. Switch authentication to
#: psk and MM5 is small again (with pre-shared keys only a link of 296 bytes splits MM3/MM4).
PRESET = "certificates-behind-nat"
SETTINGS = ()
SWITCHES = ("fragments", "ike_frag", "auth", "mtu")

NARRATIVE = """
> **The support call.** *The VPN works from the office, but from home it hangs during Main Mode.
> The client's log shows the same message going out again and again, and the server never answers.*

The cause is a message **bigger than the link**. Each link has an **MTU**: the largest IP packet it
carries (1500 bytes on Ethernet, 1492 on PPPoE). A UDP datagram that is larger leaves its sender as
**IP fragments**. The sender's own IP layer cuts it, as the Linux kernel does for UDP
(RFC 791 §2.3). Only the **first** fragment carries the UDP header with the ports. The other
fragments carry only IP addresses and an identification number.

A NAT decides by ports, so fragments are awkward for it. Many home routers **drop every fragment**.
Cheaper NATs **pass only the first** and drop the rest. Either way the server never gets the whole
message and never answers. The client retransmits the same fragments until it gives up.

Real L2TP/IPsec deployments mostly authenticated with **machine certificates**, and that is where
it bites: MM5 and MM6 carry the ID, the machine certificate, the issuing CA's certificate (Windows
sends the chain) and the signature — about **2.3 kB**, more than Ethernet's 1500. Here both peers
use RSA certificates from the lab CA and the home router **drops fragments**: MM5 never arrives.
The responder, still waiting, re-sends MM4; the client re-sends MM5 until it gives up. Switch
*Authentication* to **psk** and MM5 shrinks to about 200 bytes: nothing is fragmented.

**The fix is IKE fragmentation.** Windows and strongSwan announce a **FRAGMENTATION Vendor ID** in
MM1/MM2. When both peers have announced it, the IKE daemon splits a big message itself into
**IKE fragments** (payload 132: fragment ID, number, LAST flag). Each fragment is a complete UDP
datagram that fits the link, so no IP fragment is needed. The NAT translates each one like any
other IKE packet.

Try the switches: set *NAT and IP fragments* to **pass** (a NAT that handles fragments) or **first-only**.
Turn *IKE fragmentation* **yes**. Switch *Authentication* to **psk** and MM5 fits again; with a PSK,
a *Link MTU* of **296** splits MM3 and MM4 (the 256-byte DH values) instead.
"""


def summary(trace):
    st.markdown("### Verdict of this run")
    verdict(trace, KEY, "No IKE message had to cross the NAT as IP fragments, or the NAT passed them.")
    told = big_messages(trace)
    if not told:
        st.markdown("No IKE message was bigger than the link in this run: nothing was fragmented.")
    for big in told:
        st.markdown("- " + big.sentence())
    sc = trace.scenario
    st.caption(f"Link MTU {sc.get('mtu')} bytes · NAT fragments: {sc['nat'].get('fragments')} · "
               f"IKE fragmentation: client {'yes' if sc['client'].get('ike_fragmentation') else 'no'}, "
               f"server {'yes' if sc['server'].get('ike_fragmentation') else 'no'}")


def extra(trace, journey):
    if journey.fragment:
        k, n = journey.fragment
        where = ("It carries the UDP header (ports 500 or 4500), so a NAT can tell whom it belongs to."
                 if k == 1 else "It carries no UDP header, only IP addresses and the identification: a NAT "
                                "that decides by ports has nothing to go on.")
        st.info(f"**IP fragment {k} of {n}.** {where} Look at *flags / fragment offset* in the IPv4 header: "
                "MF (more fragments) is set on every fragment except the last.")
    elif IKE_MARK in journey.label:
        st.info("**An IKE fragment.** A whole UDP datagram with an ISAKMP header and one payload 132 "
                "(fragment ID, number, LAST flag). The receiver joins the pieces in number order, then reads "
                "the original message.")


def _start(trace, steps):
    for j in steps:
        if j.fragment or IKE_MARK in j.label:
            return j.index
    return 1


LESSON = Lesson(key=KEY, title="Too big for the link: IP fragments and IKE fragmentation", preset=PRESET,
                settings=SETTINGS, switches=SWITCHES, narrative=NARRATIVE, pace="12 minutes",
                goal="say why a big Main Mode message fails behind some NATs, which fragment a NAT can "
                     "translate, and how IKE fragmentation avoids IP fragments.",
                start=_start, summary=summary, extra=extra)
render_lesson(LESSON)
