"""Start here

What NAT-T Lab shows and how to use it in class or when an L2TP/IPsec connection fails.
"""
# url: start
import streamlit as st

from natt_ui.catalog import catalog
from natt_ui.step_view import inject_css

inject_css()
st.title("NAT-T Lab", anchor=False)
st.markdown("""
**How IPsec gets through NAT, byte by byte.** Every picture in this app is drawn from a real run:
two IKEv1 peers with real keys, a NAT that really rewrites addresses, ports and checksums, and a
capture on every segment. Nothing is a drawing of what *should* happen.
""")
rows = [f"| {p.title} | {p.description} |" for p in catalog() if p.section == "Lessons" and p.path.name[:2] != "00"]
st.markdown("| Lesson | What it shows |\n|---|---|\n" + "\n".join(rows))
st.markdown("""
**In class:** use **Next ▶** / **◀ Previous** or the → / ← keys, and the sidebar's *Projector: larger
text*. Every step has a link: copy the address bar (for example `…/nat-d?step=3&nat=static`) and your
students see the same bytes.

**Colours:** <span style="background:#ffe082;outline:2px solid #ffb300;padding:0 .3em">amber</span> =
the NAT rewrote these bytes; <span style="background:#d1c4e9;padding:0 .3em">violet, hatched</span> =
a NAT cannot touch them (encrypted or integrity-protected).

**Something is broken right now?** The **Troubleshooter** takes what you see or an error line you paste
(error 809, NO_PROPOSAL_CHOSEN, INVALID_HASH…), reproduces it with the engine, shows the step where it
fails, and proves the fix with a second run.

**Diagnosing a failure?** Capture the connection attempt and open **Diagnose a capture**: it reads the
pcap without keys and says where NAT-T went wrong. Or open the **Playground**, pick the situation closest
to yours and flip the switches until the outcome matches what you see.
""", unsafe_allow_html=True)
