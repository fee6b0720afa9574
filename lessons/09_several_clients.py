"""9 · Several clients behind one NAT

Distinct translated ports, SAs matched by cookies, and the IPsec helper that breaks the second client (RFC 3715 §2.3; RFC 3948 §5.2).
"""
# url: several-clients
import streamlit as st

from natt_ui.field_lesson import failure_table, grid, verdict
from natt_ui.lesson import Lesson, render_lesson
from natt_view.field_facts import failures, isakmp_pairs, mapping_lives, peer_up

KEY, PRESET = "l9", "multi-client-helper"
SWITCHES = ("helper", "clients", "nat_t")

NARRATIVE = """
Two laptops in one office connect to the same L2TP/IPsec server through the office router.
The **first laptop connects. The second does not.** Rebooting does not help, and neither does a
new configuration. The usual reply from maintainers is "a known limitation".

The router has an **IPsec helper** (often called "IPsec passthrough"). It never translates source
port 500, so its state for IKE is only *public:500 ⇄ server:500*. While client 1 holds that state,
client 2's MM1 from port 500 to the same server has nowhere to go, and the router drops it. NAT-T
does not help here: the float to port 4500 happens only at MM5, and MM1 to MM4 must cross port 500
first.

Set the **NAT IPsec helper** switch to **none**. An ordinary NAPT gives every client's IKE and
ESP-in-UDP flow its own public port, so both clients connect and each SA on the server pairs up
with one client by its cookies.
"""


def first_blocked_mm1(trace, steps):
    """Open on the failure: the first MM1 a NAT dropped (client 2's, with the helper on). When
    nothing is dropped, open on the second client's first MM1 to show its own translated port."""
    dropped = [j for j in steps if j.label == "MM1" and j.dropped]
    later = [j for j in steps if j.label == "MM1" and j.sender != steps[0].sender]
    return (dropped or later or steps)[0].index


def summary(trace):
    st.markdown("### Verdict of this run")
    clients = [p for p in trace.report.get("peers", {}) if p != "server"]
    verdict(trace, KEY, f"All {len(clients)} clients share one public address, and each one has its own "
                        "translated ports.")


def extra(trace, journey):
    clients = [p for p in trace.report.get("peers", {}) if p != "server"]
    outcome = []
    for name in clients:
        p = trace.report["peers"][name]
        outcome.append({"client": name, "outcome": "✓ phase 1 and phase 2 up" if peer_up(trace, name) else
                        f"✗ phase 1 {p['phase1']}: {p.get('reason') or ''}"})
    grid(outcome)

    st.markdown("### The NAT's table: one public address, which ports?")
    lives = mapping_lives(trace, "nat")
    rows = [{"protocol": m.proto, "inside (client)": m.inside, "outside (public)": m.outside,
             "kind": m.kind, "port kept?": "yes, static" if m.inside.rsplit(":", 1)[-1] == m.outside.rsplit(":", 1)[-1]
             else "no, translated", "from (s)": round(m.start, 3), "until (s)": round(m.end, 3)} for m in lives]
    if rows:
        st.dataframe(rows, hide_index=True, width="stretch")
    kept = [m for m in lives if m.kind == "static-port-500"]
    floated = [m for m in lives if m.inside.endswith(":4500")]
    if kept:
        st.markdown(f"**Port 500 was kept** by the helper (`{kept[0].inside}` → `{kept[0].outside}`): one state "
                    "per server, so one client at a time.")
    if floated:
        ports = sorted({m.outside.rsplit(':', 1)[-1] for m in floated})
        st.markdown(f"**After the float, port 4500 was translated** to {', '.join(f'`{p}`' for p in ports)}: "
                    "ordinary NAPT mappings, one per client. This is why the float escapes the helper, "
                    "but only for clients that reach MM5.")

    st.markdown("### The SAs on both peers, matched by cookies")
    st.caption("Each client's phase-1 SA next to the server's SA with the same initiator:responder cookies. "
               "The server sees every client at the NAT's public address, and only the port tells them apart.")
    grid(isakmp_pairs(trace), mono=("cookies (I:R)", "client sees server at", "server sees client at"))

    drops = failures(trace)
    if drops:
        st.markdown("#### Everything that was dropped or refused")
        failure_table(drops)


LESSON = Lesson(
    key=KEY,
    title="Several clients behind one NAT",
    goal="show why a second client behind an IPsec-helper NAT fails, and how plain NAPT and the float to "
         "4500 let every client connect.",
    pace="12 minutes",
    narrative=NARRATIVE,
    preset=PRESET,
    switches=SWITCHES,
    notes={
        "MM1": "Look at the diff lens. Does the NAT translate source port 500, or keep it? With the "
               "helper on, it keeps it, and a second client's MM1 from port 500 is dropped.",
        "MM5": "MM5 floats to UDP 4500. That is a new NAT mapping with a translated port, and the helper "
               "plays no part in it.",
    },
    start=first_blocked_mm1,
    summary=summary,
    extra=extra,
)

render_lesson(LESSON)
