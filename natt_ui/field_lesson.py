"""Streamlit pieces shared by the field lessons: extra switches, the verdict, jump buttons, matrices.

The verdict is always the engine's: success means the report says every peer is up and every
L2TP message arrived; a failure is quoted from the drop or refusal event that caused it, with a
button to the step that shows it. Extra switches are added to the shared registry here, so the
lesson framework draws them and writes them into the page's link like its own.
"""
from __future__ import annotations

from typing import Callable

import streamlit as st

from natt_core.errors import NattError
from natt_core.lab.settings import CHOICES, rule_text
from natt_core.lab.trace import Trace
from natt_core.reasons import Reason
from natt_view.field_facts import Failure, Outcome, decisive_failure, first_failure, success
from natt_view.matrix import wide_grid_html

from .runs import get_trace
from .switches import SWITCHES, Switch

for _sw in (
    Switch("protocol", "IPsec protocol", CHOICES["protocol"], lambda s: s.client.protocol,
           lambda v: [f"protocol={v}"], "ESP encrypts and authenticates the payload; AH authenticates the "
           "payload *and* the IP addresses."),
    Switch("topology", "Who is behind a NAT", ("client-nat", "server-nat", "both-nat"), lambda s: s.topology,
           lambda v: [f"topology={v}"], "client-nat: only the client; server-nat: only the server (UDP 500/4500 "
           "forwarded to it); both-nat: each behind its own NAT."),
    Switch("winrule", "Windows AssumeUDPEncapsulationContextOnSendRule", CHOICES["client.assume_udp_rule"],
           lambda s: rule_text(s.client.assume_udp_rule), lambda v: [f"client.assume_udp_rule={v}"],
           "0: refuse a server behind NAT; 1: allow a server behind NAT; 2: allow both behind NAT; "
           "none: the client is not Windows.", (("unset", "none"),)),
    Switch("forwards", "Server router forwards (UDP ports)", ("500,4500", "500", "none"),
           lambda s: ",".join(str(p) for p in s.server_forwards) or "none",
           lambda v: [f"nat2.forwards={v}"], "Which UDP ports the router in front of the server forwards to it."),
    Switch("clients", "Clients behind the NAT", ("1", "2", "3"), lambda s: str(s.clients),
           lambda v: [f"clients={v}"], "How many clients share the NAT's public address."),
):
    SWITCHES.setdefault(_sw.name, _sw)


def _jump(key: str, step: int) -> None:
    st.session_state[f"{key}:step"] = step


def jump_button(key: str, step: int, label: str, bkey: str) -> None:
    """A button that moves the lesson's step view to `step` (1-based)."""
    st.button(label, key=f"{key}:jump:{bkey}", on_click=_jump, args=(key, step))


#: a failed layer in the verdict's words
LAYER_HEADS = {"IPsec": "no IPsec SA", "L2TP": "L2TP not delivered", "PPP": "PPP authentication did not succeed",
               "ping": "no answer through the VPN", "traffic": "L2TP messages lost"}


def outcome_text(trace: Trace, o: Outcome) -> str:
    """The decisive failure as one markdown paragraph: the layer, the engine's reason, the codes."""
    head = f"It fails at step {o.step.step} ({o.step.label})" if o.step else "It fails"
    codes = f"Reason code: **{o.code or o.cause}**" + (f", caused by **{o.cause}**" if o.cause and o.code
                                                        and o.cause is not o.code else "")
    text = f"**{head} — {LAYER_HEADS[o.layer]}**: {o.sentence}.\n\n{codes}"
    first = first_failure(trace)
    if first is not None and o.step is not None and first.step < o.step.step and first.code not in (o.code, o.cause):
        text += (f"\n\nThe first trouble on the wire ({first.label} at step {first.step}, {first.kind}, "
                 f"{first.code or 'no code'}) is not what ended the run.")
    return text


def verdict(trace: Trace, key: str, ok_text: str = "", show_failure: Callable[[str], object] | None = None,
            decisive: bool = False) -> Failure | None:
    """Success or the first failure, in the engine's words, with a jump to its step.
    `show_failure` (default st.error) draws the failure, e.g. st.warning where red means bad input.
    `decisive` names what failed in the end, layer by layer from report.json (field_facts.decisive_failure),
    instead of the first failure on the wire, which may be a packet that was later resent."""
    show = show_failure or st.error
    t = trace.report.get("traffic", {})
    if decisive:
        o = decisive_failure(trace)
        if o is not None:
            show(outcome_text(trace, o))
            if o.step is not None:
                jump_button(key, o.step.step, f"Show step {o.step.step}: where it fails", "fail")
            return o.step
    if success(trace):
        st.success(f"**It works.** Every peer has phase 1 and phase 2 up, and {t.get('delivered')} of "
                   f"{t.get('sent')} L2TP messages arrived. {ok_text}")
        return None
    f = first_failure(trace)
    if f is None:
        down = next(((n, p["vpn"]) for n, p in trace.report.get("peers", {}).items()
                     if p.get("vpn") and not p["vpn"].get("ping") and p["vpn"].get("reason")), None)
        if down is not None:         # IKE and delivery fine, the VPN above them not (e.g. a wrong PPP password)
            show(f"**It fails** for {down[0]}'s VPN: {down[1]['reason']} ({down[1].get('reason_code')})")
            return None
        show(f"**It fails**: L2TP messages sent {t.get('sent', 0)}, delivered {t.get('delivered', 0)}.")
        return None
    show(f"**It fails at step {f.step} ({f.label})**: {f.where} — {f.kind}: {f.reason}")
    jump_button(key, f.step, f"Show step {f.step}: where it fails", "fail")
    return f


def cell(trace: Trace) -> str:
    """One matrix cell: ✓ or ✗ with who stopped it."""
    if success(trace):
        return "✓ connects"
    f = first_failure(trace)
    if f is None:
        return "✗ no traffic"
    if f.kind == "refused":
        return f"✗ {f.where} refuses" + (" (error 809)" if f.code is Reason.NATD_MISMATCH_REFUSED_BY_RULE else "")
    head = f.reason.split(":")[0].split(" for ")[0].split(" (")[0]
    head = head if len(head) <= 60 else head[:57] + "…"
    verb = "gives up on" if f.kind == "gave up" else "drops"
    return f"✗ {f.where} {verb} {f.label}: {head}"


def run_matrix(preset: str, base: tuple[str, ...], rows: dict[str, tuple[str, ...]],
               cols: dict[str, tuple[str, ...]], show: Callable[[Trace], str] = cell) -> list[dict]:
    """Run the engine once per (row, column) and tabulate `show(trace)` (runs are cached)."""
    table = []
    for rname, rset in rows.items():
        line = {"": rname}
        for cname, cset in cols.items():
            try:
                line[cname] = show(get_trace(preset, base + rset + cset))
            except NattError as e:
                line[cname] = f"cannot run: {e}"
        table.append(line)
    return table


def grid(rows: list[dict], mono: tuple[str, ...] = ()) -> None:
    """A wrapped, coloured table (✓ green, ✗ red, ▶ outlined) that a projector shows in full; one
    whose columns cannot wrap narrower than the page scrolls sideways instead of being cut off."""
    st.html(wide_grid_html(rows, mono))


def failure_table(failures: list[Failure], limit: int = 4) -> None:
    """The drops and refusals; repeats of the same reason (retransmissions) are counted, not listed."""
    if not failures:
        st.caption("Nothing was dropped or refused in this run.")
        return
    rows: list[dict] = []
    seen: dict[tuple, dict] = {}
    for f in failures:
        key = (f.label, f.where, f.kind, f.code or f.reason)
        if key in seen:
            seen[key]["times"] += 1
            continue
        seen[key] = {"step": f.step, "packet": f.label, "where": f.where, "what": f.kind, "times": 1,
                     "reason": f.reason}
        rows.append(seen[key])
    grid(rows[:limit])
    if len(rows) > limit:
        st.caption(f"…and {len(rows) - limit} more different failures.")


def chosen_settings(preset: str, base: tuple[str, ...], names: tuple[str, ...], key: str) -> tuple[str, ...]:
    """The --set lines of the lesson's switches as they stand now (for extra runs of the same case)."""
    from .runs import scenario_for
    scenario = scenario_for(preset, base)
    out: list[str] = []
    for name in names:
        sw = SWITCHES[name]
        value = st.session_state.get(f"{key}:sw:{name}", sw.current(scenario))
        if value is not None and value != sw.current(scenario):
            out += sw.settings(value)
    return base + tuple(out)
