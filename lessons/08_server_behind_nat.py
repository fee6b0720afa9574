"""8 · Server behind NAT: error 809

Windows' AssumeUDPEncapsulationContextOnSendRule against the NAT-D verdict (RFC 3947 §3.2; KB 926179, KB 947234).
"""
# url: server-behind-nat
import streamlit as st

from natt_core.errors import NattError
from natt_core.lab.settings import rule_text
from natt_core.reasons import Reason
from natt_ui.field_lesson import cell, grid, verdict
from natt_ui.lesson import Lesson, render_lesson
from natt_ui.runs import get_trace
from natt_view.field_facts import refusal, success
from natt_view.windows import reg_add

KEY, PRESET = "l8", "server-behind-nat"
SWITCHES = ("winrule", "topology")
RULES = {"not Windows (no rule)": None, "0 (default)": 0, "1": 1, "2": 2}
TOPOLOGIES = {"no NAT": ("topology=client-nat", "nat.kind=none"), "client behind NAT": ("topology=client-nat",),
              "server behind NAT": ("topology=server-nat",), "both behind NAT": ("topology=both-nat",)}

NARRATIVE = """
The L2TP/IPsec server sits behind a home or office router. The router forwards **UDP 500 and
4500** to the server's private address, so IKE reaches it. A Windows client still fails with
**error 809**, and the server's log shows only that the client stopped answering.

The client is the one that decides. It reads the NAT-D hashes in **MM4**, sees that the
*server* is behind a NAT, and checks its registry value
`AssumeUDPEncapsulationContextOnSendRule`:

| value | Windows sets up NAT-T SAs when… |
|---|---|
| 0 (default since XP SP2) | only the client is behind a NAT |
| 1 | the server is behind a NAT |
| 2 | the server, the client, or both are behind NATs |

Use the switches to change the value and the topology. The matrix under the step view runs the
engine for every value and every topology.
"""


def _run(rule, topo: tuple[str, ...]):
    sets = topo + (f"client.assume_udp_rule={rule_text(rule)}",)
    return get_trace(PRESET, sets)


def summary(trace):
    st.markdown("### Verdict of this run")
    verdict(trace, KEY)


def extra(trace, journey):
    ref = refusal(trace)
    if ref is not None:
        event, j = ref
        detected = [e for e in trace.events if e.event == "NatDetected" and e.peer == event.peer]
        st.markdown("### Where the Windows client stops")
        left, right = st.columns(2, gap="large")
        with left:
            st.markdown(f"**Who stops:** `{event.peer}`, at t = {event.time:.3f} s, after it reads "
                        f"**{j.label if j else 'MM4'}**.")
            for e in detected:
                st.markdown(f"**Its NAT-D verdict:** {e.text}")
            st.markdown(f"**Why:** {event.fields.get('reason') or event.text}")
        with right:
            server = trace.report["peers"].get("server", {})
            st.markdown(f"**What the server knows:** phase 1 *{server.get('phase1')}*. Its reason: "
                        f"“{server.get('reason')}”. The server did nothing wrong and cannot see why the client "
                        "stopped. **So the fix has to be on the client**: no server setting changes the "
                        "client's registry value.")
            if event.fields.get("code") == Reason.NATD_MISMATCH_REFUSED_BY_RULE:
                st.markdown("**What the user sees:** *Error 809: the network connection between your "
                            "computer and the VPN server could not be established…*")

    st.markdown("### Which values permit which topologies")
    st.caption("Each cell is a separate engine run of this scenario with that rule and topology. "
               "▶ marks the run shown above. " + "“no NAT” is the same network with the box in the middle as a **plain router** (`nat.kind=none`): it "
               "forwards every packet unchanged, so NAT-D finds no NAT and ESP needs no UDP.")
    now_topo = trace.scenario.get("topology")
    now_rule = trace.scenario.get("client", {}).get("assume_udp_rule")
    no_nat = trace.scenario.get("nat", {}).get("kind") == "none"
    rows, works = [], {}
    for rname, rule in RULES.items():
        line = {"AssumeUDPEncapsulationContextOnSendRule": rname}
        for cname, topo in TOPOLOGIES.items():
            try:
                t = _run(rule, topo)
            except NattError as e:
                line[cname] = f"cannot run: {e}"
                continue
            works[(rule, cname)] = success(t)
            here = rule == now_rule and topo[0] == f"topology={now_topo}" and (len(topo) > 1) == (
                no_nat and now_topo == "client-nat")
            line[cname] = ("▶ " if here else "") + cell(t)
        rows.append(line)
    grid(rows)
    nat_cols = [c for c in TOPOLOGIES if c != "no NAT"]
    every = [r for r in (0, 1, 2) if all(works.get((r, c)) for c in nat_cols)]
    value = every[0] if every else 2
    if every:
        st.markdown(f"The smallest value that connects in **every** NAT topology above is **{value}**.")
    st.markdown("### The fix, on the Windows client")
    st.markdown("Run this in an administrator command prompt on the **client**:")
    st.code(reg_add(value), language="bat", wrap_lines=True)
    st.warning("**Restart Windows afterwards.** The IPsec Policy Agent reads the value only when it starts "
               "(Microsoft KB 926179 and KB 947234). Windows XP SP2 used "
               "`HKLM\\SYSTEM\\CurrentControlSet\\Services\\IPSec` instead (KB 885407).")


LESSON = Lesson(
    key=KEY,
    title="Server behind NAT: error 809",
    goal="say which AssumeUDPEncapsulationContextOnSendRule value each topology needs, where the Windows "
         "client stops, and why the fix is on the client.",
    pace="12 minutes",
    narrative=NARRATIVE,
    preset=PRESET,
    switches=SWITCHES,
    start="MM4",
    notes={
        "MM4": "MM4 carries the server's NAT-D hashes. The server hashed its private address, but the "
               "packet arrives from the router's public address, so the client concludes that the "
               "*server* is behind a NAT. Read what the client does next under *What the peers said*.",
        "MM1": "The server's router forwards UDP 500 to the server. The amber field is the destination "
               "address it rewrote.",
    },
    summary=summary,
    extra=extra,
)

render_lesson(LESSON)
