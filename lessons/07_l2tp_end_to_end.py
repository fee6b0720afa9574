"""7 · L2TP/IPsec end to end

The firewall and port-forward rules a deployment needs, which DH group is used, and the VPN phase by phase: IKE, the L2TP tunnel and session, PPP (LCP, authentication, IPCP) and a ping (RFC 3947 §4, RFC 3948 §2, RFC 3193, RFC 2661, RFC 1661).
"""
# url: l2tp-end-to-end
import streamlit as st

from natt_core.lab.settings import CHOICES
from natt_ui.field_lesson import cell, chosen_settings, grid, jump_button, run_matrix, verdict
from natt_ui.lesson import Lesson, render_lesson
from natt_ui.runs import get_trace
from natt_ui.switches import SWITCHES as ALL_SWITCHES, Switch
from natt_view.decrypt import open_step
from natt_view.field_facts import wire_rules
from natt_view.packet import packet_views_html
from natt_view.phases import PHASES, phase_of_step, phases
from natt_view.steps import fields_of

KEY, PRESET = "l7", "server-behind-nat"
BASE = ("client.assume_udp_rule=2", "nat2.forwards=500")
ALL_SWITCHES.setdefault("server_nat_oa", Switch(
    "server_nat_oa", "Server sends NAT-OA in QM2", CHOICES["server.send_nat_oa"], lambda s: s.server.send_nat_oa,
    lambda v: [f"server.send_nat_oa={v}"], "yes: as strongSwan and RFC 3947 §5.2 do; no: as libreswan/Openswan "
    "do when the server itself is not behind NAT; when-behind-nat: only then."))
SWITCHES = ("forwards", "dh", "server_dh", "server_nat_oa")
GROUP_NAMES = {2: "group 2 (1024-bit MODP)", 14: "group 14 (2048-bit MODP)"}

NARRATIVE = """
The whole deployment: a Windows L2TP/IPsec client (its registry value is already **2**, see
lesson 8) connects to a server behind the office router. The admin opened **UDP 500** on the
router and forwarded it to the server. IKE starts, and both sides detect the NAT. Then, at
**MM5**, the client floats to **UDP 4500**, and that port was never forwarded.

Set the **Server router forwards** switch to **500,4500** to fix it.

Under the step view you will find:

- **the rules this run needed**, read from what actually crossed the internet towards the server;
- **what each topology needs**: with a NAT it is UDP 500 and 4500, and ESP (IP protocol 50) is
  used only when there is no NAT;
- **which Diffie-Hellman group is used**: group 14 (2048-bit) only when *both* sides have it. An
  updated client offers 14 first and still offers 2, and an old server that has only 2 settles
  on 2. Try the DH switches.

Once the forward is fixed, the run goes all the way: IKE, then inside ESP the **L2TP tunnel**
(SCCRQ, SCCRP, SCCCN) and **session** (ICRQ, ICRP, ICCN), then PPP in the call: **LCP**,
**authentication** (MS-CHAPv2, as Windows does), **IPCP** gives the client its address, and the
client **pings** the server's end of the link. The phase buttons above the steps jump to each
phase; a step inside ESP shows PPP inside L2TP inside ESP, opened with the run's own keys.

Last, **NAT-OA**: a Linux (libreswan) server that is not behind NAT sends none in QM2. The client
accepts the SA anyway and skips the inner checksum check, as Linux and Windows do; try the
**Server sends NAT-OA** switch.
"""


def _rules_text(trace) -> str:
    rules = wire_rules(trace)
    return " + ".join(f"{r['protocol']}" + (f" {r['destination port']}" if r["destination port"] != "—" else "")
                      for r in rules) or "nothing"


def _group(trace) -> str:
    p = trace.report["peers"]
    client, server = p.get("client", {}), p.get("server", {})
    if client.get("phase1") == "established":
        return "✓ " + GROUP_NAMES.get(client.get("dh_group"), str(client.get("dh_group")))
    reason = server.get("reason") or client.get("reason") or "phase 1 failed"
    return "✗ " + reason.split(":")[0]


def summary(trace):
    st.markdown("### Verdict of this run")
    verdict(trace, KEY, "The router forwards both IKE ports, so the float to 4500 reaches the server.")
    phase_navigator(trace)


def phase_navigator(trace):
    """One button per phase of the VPN: a jump to its first step; a phase the run never reached is
    greyed out, so the class sees at a glance how far the connection got."""
    reached = {p.name: p for p in phases(trace)}
    st.markdown("**Jump to a phase**")
    cols = st.columns(len(PHASES))
    for col, name in zip(cols, PHASES):
        p = reached.get(name)
        with col:
            if p is None:
                st.button(f"{name} · —", key=f"{KEY}:phase:{name}", disabled=True, width="stretch",
                          help="This run never got here.")
            else:
                jump_button(KEY, p.first, f"{name} · {len(p.steps)}", f"phase:{name}")
    vpn = trace.report.get("peers", {}).get("client", {}).get("vpn") or {}
    if vpn:
        st.caption(f"The client's VPN: L2TP tunnel {vpn.get('l2tp_tunnel')}, session {vpn.get('l2tp_session')}, "
                   f"PPP authentication {vpn.get('ppp_auth')}, address {vpn.get('address') or 'none'}, "
                   f"ping {'answered' if vpn.get('ping') else 'not answered'}"
                   + (f" — {vpn['reason_code']}" if vpn.get("reason_code") else "") + ".")


def this_step_layers(trace, journey):
    """Where the current step sits among the phases, and, inside ESP, its layers opened."""
    name = phase_of_step(trace, journey.index)
    own = next((p for p in phases(trace) if p.name == name), None)
    if own is None:
        return
    at = own.steps.index(journey.index) + 1
    st.markdown(f"### This step in the VPN: **{name}**, packet {at} of {len(own.steps)}")
    opened = open_step(trace, journey) if "ESP" in journey.label else None
    if opened is None or not opened.fields:
        return
    try:
        outer = list(dict.fromkeys(f.layer for f in fields_of(trace, journey.first.packet)))
    except Exception:                                   # noqa: BLE001 - the step view already says so
        outer = ["IPv4", "ESP"]
    inner = list(dict.fromkeys(f.layer for f in opened.fields))
    st.markdown("**Layers, outside in:** " + " › ".join(f"`{x}`" for x in outer + inner))
    st.caption(f"The inside, {opened.how}. What the NAT saw stops at ESP; everything after it is encrypted.")
    st.html(packet_views_html(opened.plaintext, opened.fields))


def _nat_oa_row(label: str, t) -> dict:
    """What QM2 carried and what the client did with the server's L2TP without it."""
    ev = t.events
    qm = next((e for e in ev if e.peer == "client" and e.event == "Phase2Established"), None)
    got = next((e for e in ev if e.peer == "client" and e.event == "DataReceived"), None)
    said = (got.fields.get("checksum_fixup") or "the inner checksum verified as it is") if got else "nothing arrived"
    vpn = t.report["peers"]["client"].get("vpn") or {}
    return {"server": label,
            "NAT-OA the client received": " / ".join(qm.fields.get("nat_oa") or ()) or "none" if qm else "no SA",
            "the client on the first L2TP packet": said,
            "result": "✓ ping answered" if vpn.get("ping") else f"✗ {vpn.get('reason_code') or 'no ping'}"}


def nat_oa_section():
    st.markdown("### A server that sends no NAT-OA")
    st.caption("Two engine runs, client behind NAPT: the server sends NAT-OA in QM2 (strongSwan; RFC 3947 §5.2), "
               "or none (libreswan/Openswan when the server is not behind NAT: only QM1's initiator adds it). "
               "Without NAT-OA the client cannot fix up the inner UDP checksum, which the server computed over "
               "the NAT's public address; ESP has already authenticated the segment, so the client skips the "
               "check (RFC 3948 §3.1.2), as the Linux kernel and Windows do.")
    chosen = st.session_state.get(f"{KEY}:sw:server_nat_oa", "yes")
    rows = []
    for value, label in (("yes", "sends NAT-OA (strongSwan)"), ("no", "sends none (libreswan)")):
        row = _nat_oa_row(label, get_trace("client-behind-nat", (f"server.send_nat_oa={value}",)))
        if value == chosen:
            row["server"] = "▶ " + row["server"]
        rows.append(row)
    grid(rows)


def extra(trace, journey):
    this_step_layers(trace, journey)
    nat_oa_section()
    st.markdown("### The rules this run needed")
    st.caption("Every protocol and destination port the client sent across the internet towards the "
               "server, grouped. These are the inbound rules a firewall or port forward in front of the "
               "server must pass.")
    grid([{"protocol": r["protocol"], "destination port": str(r["destination port"]), "packets": str(r["packets"]),
           "carrying": r["what"], "first seen at step": str(r["first step"])} for r in wire_rules(trace)])
    forwards = trace.scenario.get("server_forwards") or []
    st.markdown(f"The server's router forwards UDP **{', '.join(map(str, forwards)) or 'nothing'}** in this run.")

    st.markdown("### What each topology needs")
    st.caption("One engine run per row, with the DH settings from the sidebar and both ports forwarded. " + "“no NAT” is the same network with the box in the middle as a **plain router** (`nat.kind=none`): it "
               "forwards every packet unchanged, so NAT-D finds no NAT and ESP needs no UDP.")
    dh = tuple(s for s in chosen_settings(PRESET, BASE, SWITCHES, KEY) if s.startswith(("client.dh", "server.dh")))
    rows = []
    for name, sets in (("no NAT", ("topology=client-nat", "nat.kind=none")),
                       ("client behind NAT", ("topology=client-nat",)),
                       ("server behind NAT (forwards 500, 4500)", ("topology=server-nat", "nat2.forwards=500,4500")),
                       ("both behind NAT", ("topology=both-nat", "nat2.forwards=500,4500"))):
        t = get_trace(PRESET, ("client.assume_udp_rule=2",) + dh + sets)
        rows.append({"topology": name, "crossed the internet towards the server": _rules_text(t),
                     "result": "✓ connects" if t.report["traffic"].get("delivered") else "✗ fails"})
    grid(rows)

    st.markdown("### Which Diffie-Hellman group?")
    st.caption("One engine run per cell, server behind NAT with both ports forwarded: the group phase 1 used, "
               "or why there was none.")
    groups = {"14,2": ("{}.dh_groups=14,2",), "14 only": ("{}.dh_groups=14",), "2 only": ("{}.dh_groups=2",)}
    rows_ = {f"client offers {k}": tuple(x.format("client") for x in v) for k, v in groups.items()}
    cols = {f"server accepts {k}": tuple(x.format("server") for x in v) for k, v in groups.items()}
    grid(run_matrix(PRESET, ("client.assume_udp_rule=2", "nat2.forwards=500,4500"), rows_, cols, show=_group))

    st.markdown("### What the client-side update (818043) changed")
    st.markdown(
        "Update 818043 gave **Windows 2000 clients** NAT-T (the draft-02 Vendor ID) and the 2048-bit DH group. It "
        "is a *client-side* update: NAT-T on the server side came with **Windows Server 2003** Routing and Remote "
        "Access, and a Windows 2000 RRAS server with the update applied only uses NAT-T as a client, so it still "
        "cannot serve clients behind a NAT. Each cell below is an engine run: L2TP/IPsec in transport mode, the "
        "client behind an ordinary NAPT, the server in the open.")
    clients = {"Windows 2000, no update (no NAT-T, DH group 2)": ("client.nat_t=none", "client.dh_groups=2"),
               "Windows 2000 + 818043, or XP SP2 (NAT-T draft-02, DH 14 and 2)":
                   ("client.nat_t=draft-02", "client.dh_groups=14,2")}
    servers = {"Windows Server 2003 RRAS (NAT-T server)": ("server.nat_t=draft-02", "server.dh_groups=14,2"),
               "Windows 2000 RRAS + 818043 (NAT-T as a client only)":
                   ("server.nat_t=draft-02", "server.nat_t_role=client-only", "server.dh_groups=2")}
    grid(run_matrix("client-behind-nat", ("mode=transport",), clients, servers,
                    show=lambda t: f"{cell(t)} · {_group(t)[2:]}" if cell(t).startswith("✓") else cell(t)))


LESSON = Lesson(
    key=KEY,
    title="L2TP/IPsec end to end",
    goal="list the ports a firewall must pass for L2TP/IPsec with and without NAT, and say which DH group "
         "two peers will use.",
    pace="10 minutes",
    narrative=NARRATIVE,
    preset=PRESET,
    settings=BASE,
    switches=SWITCHES,
    start="MM5",
    notes={
        "MM5": "MM5 is the first message on UDP 4500, and it starts with the non-ESP marker. Did the "
               "server's router have a forward for it? The diff lens shows where it ends.",
        "MM1": "UDP 500 is forwarded, so the router rewrites the destination to the server's private "
               "address (amber).",
    },
    summary=summary,
    extra=extra,
)

render_lesson(LESSON)
