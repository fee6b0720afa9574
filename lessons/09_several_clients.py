"""9 · Several clients behind one NAT

Distinct translated ports, SAs matched by cookies and SPIs, the IPsec helper that breaks the second client, and the Linux server whose policies cannot tell two clients behind one NAT apart (RFC 3715 §2.3; RFC 3948 §5.2).
"""
# url: several-clients
import streamlit as st

from natt_core.errors import NattError
from natt_ui.field_lesson import failure_table, grid, verdict
from natt_ui.lesson import Lesson, render_lesson
from natt_ui.runs import get_trace
from natt_ui.switches import SWITCHES as ALL_SWITCHES, Switch
from natt_view.field_facts import failures, isakmp_pairs, mapping_lives, peer_up
from natt_view.tables import ipsec_pairs, spd_rows

KEY, PRESET = "l9", "multi-client-helper"

#: the three cases: label, the preset that tells it, and the --set lines that make it from PRESET
CASES = {
    "helper": ("NAT with an IPsec helper (keeps port 500)", "multi-client-helper", ("nat.helper=static-port-500",)),
    "napt": ("Plain NAPT, Windows Server 2003 RRAS-like server (one SA per client)", "multi-client",
             ("nat.helper=none",)),
    "linux-server": ("Plain NAPT, Linux server (libreswan + xl2tpd, XFRM selectors)", "multi-client-linux-server",
                     ("nat.helper=none", "server.profile=linux-xl2tpd")),
}


def _case_of(s) -> str:
    if s.nat.helper != "none":
        return "helper"
    return "linux-server" if s.server.profile == "linux-xl2tpd" else "napt"


ALL_SWITCHES.setdefault("case", Switch(
    "case", "Case", tuple(CASES), _case_of, lambda v: list(CASES[v][2]),
    "helper: the NAT keeps port 500; napt: a clean NAT and a per-SA server; linux-server: a clean NAT and a "
    "Linux server whose policies are keyed by selector."))
SWITCHES = ("case", "helper", "clients", "nat_t")

NARRATIVE = """
Two laptops in one office connect to the same L2TP/IPsec server through the office router.
The **first laptop connects. The second does not.** Rebooting does not help, and neither does a
new configuration. The usual reply from maintainers is "a known limitation". There are two quite
different reasons, and one case where nothing goes wrong at all.

**1 · The router has an IPsec helper** (often called "IPsec passthrough"). It never translates
source port 500, so its state for IKE is only *public:500 ⇄ server:500*. While client 1 holds that
state, client 2's MM1 from port 500 to the same server has nowhere to go, and the router drops it.
NAT-T does not help here: the float to port 4500 happens only at MM5, and MM1 to MM4 must cross
port 500 first.

**2 · A plain NAPT and a Windows Server 2003-style server** (set **Case** to *napt*). Every
client's IKE and ESP-in-UDP flow gets its own public port; the server keeps one transport-mode SA
per client and tells them apart by SPI and translated port (RFC 3948 §5.2). Both connect, and
each SA on the server pairs up with one client by its cookies and SPIs.

**3 · The same clean NAT, but a Linux server** (Case *linux-server*). IKE comes up for both. But
the Linux kernel keys its IPsec policies by *selector*: server:1701 ⇄ client:1701 over UDP, and
the client's address is rewritten to the NAT's public address. Both clients behind one NAT give
the **same selector**, so the second client's SA replaces the first one's policy. The server
then drops what client 1's SA decrypts, and encrypts client 1's L2TP for client 2. Look at the
server's **SPD** below. Openswan said so in 2006 ("one will, but not multiple"); users of the
popular setup scripts report that when a second user connects, "the other user who was already
connected is not able to do anything", and libreswan's maintainers call it expected for
L2TP/IPsec (use IKEv2 or IPsec/XAuth instead). Only a patched kernel (KLIPS SAref) told such
clients apart.
"""


def first_blocked(trace, steps):
    """Open on the failure: the first MM1 a NAT dropped (client 2's, with the helper on), else the
    first packet the server's policy check dropped (the Linux case). When nothing is dropped, open
    on the second client's first MM1 to show its own translated port."""
    dropped = [j for j in steps if j.label == "MM1" and j.dropped]
    spd = [j for j in steps if any(e.fields.get("code") == "SPD_POLICY_MISMATCH" for e in j.events)]
    later = [j for j in steps if j.label == "MM1" and j.sender != steps[0].sender]
    return (dropped or spd or later or steps)[0].index


def _outcome(trace, name: str) -> str:
    p = trace.report["peers"][name]
    vpn = p.get("vpn") or {}
    if not peer_up(trace, name):
        return f"✗ IKE: phase 1 {p['phase1']} ({p.get('reason_code') or '?'})"
    if vpn.get("ping"):
        return f"✓ IKE up, VPN up: address {vpn.get('address')}, ping answered"
    return f"✗ IKE up, VPN down: L2TP tunnel {vpn.get('l2tp_tunnel')} ({vpn.get('reason_code') or '?'})"


def cases_table(current: str) -> None:
    """The three cases side by side: one engine run each."""
    rows = []
    for key, (label, preset, _) in CASES.items():
        try:
            t = get_trace(preset, ())
        except NattError as e:
            rows.append({"case": label, "preset": preset, "client1": f"cannot run: {e}", "client2": ""})
            continue
        rows.append({"case": ("▶ " if key == current else "") + label, "preset": preset,
                     "client1": _outcome(t, "client1"), "client2": _outcome(t, "client2")})
    grid(rows)


def summary(trace):
    st.markdown("### Verdict of this run")
    clients = [p for p in trace.report.get("peers", {}) if p != "server"]
    verdict(trace, KEY, f"All {len(clients)} clients share one public address, and each one has its own "
                        "translated ports.")
    st.markdown("### The three cases")
    st.caption("Each row is its own engine run with two clients behind one NAT; the Case switch picks the "
               "one the steps below show.")
    cases_table(st.session_state.get(f"{KEY}:sw:case", "helper"))


def extra(trace, journey):
    clients = [p for p in trace.report.get("peers", {}) if p != "server"]
    grid([{"client": name, "outcome": _outcome(trace, name)} for name in clients])

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
    st.markdown("#### …and their IPsec SAs, matched by SPIs")
    st.caption("A client's inbound SPI is the server's outbound one, and back: the same SA pair seen from "
               "both ends.")
    grid(ipsec_pairs(trace), mono=("client SPI in / out", "server SPI in / out", "server sees client at"))

    st.markdown("### The server's security policy database (SPD)")
    last = len(trace.steps) - 1
    spd = spd_rows(trace, "server", last)
    keying = (trace.report.get("peers", {}).get("server", {}).get("spd") or {}).get("keying")
    if keying == "selector":
        st.caption("Keyed by selector, as the Linux kernel's XFRM policies are: two clients behind one NAT "
                   "give one selector, and the newest SA's policy replaces the older one.")
    else:
        st.caption("One entry per SA, told apart by the client's translated port and the SPIs, as a Windows "
                   "Server 2003 RRAS server keeps them (RFC 3948 §5.2): every client has its own.")
    if spd:
        grid(spd, mono=("selector", "client seen at", "cookies (I:R)", "SPI in", "SPI out"))
        now = spd_rows(trace, "server", journey.last_step)
        st.caption(f"At this step the SPD held {len(now)} entr{'y' if len(now) == 1 else 'ies'}; the table shows "
                   "the end of the run.")
    else:
        st.caption("Empty: no IPsec SA reached the server.")

    drops = failures(trace)
    if drops:
        st.markdown("#### Everything that was dropped or refused")
        failure_table(drops)


LESSON = Lesson(
    key=KEY,
    title="Several clients behind one NAT",
    goal="show why a second client behind an IPsec-helper NAT fails, why a second client of a Linux L2TP "
         "server behind the same NAT breaks the first, and how a plain NAPT with a per-SA server lets every "
         "client connect.",
    pace="15 minutes",
    narrative=NARRATIVE,
    preset=PRESET,
    switches=SWITCHES,
    notes={
        "MM1": "Look at the diff lens. Does the NAT translate source port 500, or keep it? With the "
               "helper on, it keeps it, and a second client's MM1 from port 500 is dropped.",
        "MM5": "MM5 floats to UDP 4500. That is a new NAT mapping with a translated port, and the helper "
               "plays no part in it.",
    },
    start=first_blocked,
    summary=summary,
    extra=extra,
)

render_lesson(LESSON)
