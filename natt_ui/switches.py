""""What if" switches: the CLI's --set keys as buttons, synced with the page's query parameters.

A switch shows the preset's own value first; only a value that differs from the preset becomes a
--set setting (natt_core.lab.settings validates it) and a query parameter, so a deep link such as
`?step=7&nat_t=off` reproduces exactly what the class saw.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st

from natt_core.ike.policy import NAT_T
from natt_core.lab.scenario import Scenario
from natt_core.lab.settings import CHOICES, DH_OFFERS

from .safe import plain


@dataclass(frozen=True)
class Switch:
    name: str                                  #: query parameter and widget key
    label: str
    options: tuple[str, ...]
    current: Callable[[Scenario], str]         #: the preset's value, as one of the options
    settings: Callable[[str], list[str]]       #: --set lines for a chosen value
    help: str = ""
    aliases: tuple[tuple[str, str], ...] = ()  #: query values accepted as synonyms


OFF = "off"   #: the both-peers NAT-T switch says "off" for the policy's "none" (no NAT-T Vendor IDs)


def _nat_t_current(s: Scenario) -> str:
    return OFF if s.client.nat_t == "none" else s.client.nat_t


def _both_nat_t(v: str) -> list[str]:
    wire = "none" if v == OFF else v
    return [f"client.nat_t={wire}", f"server.nat_t={wire}"]


def _groups(groups) -> str:
    return ",".join(str(g) for g in groups)


SWITCHES: dict[str, Switch] = {s.name: s for s in (
    Switch("nat_t", "NAT-T on both peers", tuple(OFF if v == "none" else v for v in NAT_T), _nat_t_current,
           _both_nat_t, "Which NAT-T version both peers announce in their Vendor IDs (off = pre-NAT-T peers).",
           (("on", "rfc3947"), ("none", OFF))),
    Switch("client_nat_t", "Client announces", CHOICES["client.nat_t"], lambda s: s.client.nat_t,
           lambda v: [f"client.nat_t={v}"], "The NAT-T Vendor IDs the client sends in MM1."),
    Switch("server_nat_t", "Server announces", CHOICES["server.nat_t"], lambda s: s.server.nat_t,
           lambda v: [f"server.nat_t={v}"], "The NAT-T Vendor IDs the server sends in MM2."),
    Switch("nat", "NAT kind", CHOICES["nat.kind"], lambda s: s.nat.kind,
           lambda v: [f"nat.kind={v}"],
           "napt rewrites address and port; static (1:1) only the address; none is a plain router."),
    Switch("helper", "NAT IPsec helper", CHOICES["nat.helper"], lambda s: s.nat.helper,
           lambda v: [f"nat.helper={v}"], "An 'IPsec passthrough' helper: keep port 500, or forward ESP "
           "to the last client only."),
    Switch("dh", "Client DH groups", DH_OFFERS, lambda s: _groups(s.client.dh_groups),
           lambda v: [f"client.dh_groups={v}"], "The Diffie-Hellman groups the client offers, best first."),
    Switch("server_dh", "Server DH groups", DH_OFFERS, lambda s: _groups(s.server.dh_groups),
           lambda v: [f"server.dh_groups={v}"], "The Diffie-Hellman groups the server accepts."),
    Switch("auth", "Authentication (both peers)", CHOICES["client.auth"], lambda s: s.client.auth,
           lambda v: [f"client.auth={v}", f"server.auth={v}"],
           "psk: HASH_I/HASH_R prove knowledge of a shared key. rsa-sig / ecdsa-sig: machine certificates "
           "from the lab CA, CERT and SIG in MM5/MM6 (RFC 2409 §5.1)."),
    Switch("mode", "IPsec mode", CHOICES["mode"], lambda s: s.client.mode,
           lambda v: [f"mode={v}"], "Transport (L2TP/IPsec) or tunnel mode on both peers."),
    Switch("keepalive", "Client keepalive interval (s)", ("10", "20", "60"),
           lambda s: f"{s.client.keepalive_interval:g}", lambda v: [f"client.keepalive_interval={v}"],
           "Seconds without sending after which the side behind NAT sends a 0xFF keepalive."),
    Switch("timeout", "NAT UDP timeout (s)", ("30", "120", "300"), lambda s: f"{s.nat.timeout:g}",
           lambda v: [f"nat.timeout={v}"], "How long the NAT keeps an idle UDP mapping."),
    Switch("fragments", "NAT and IP fragments", CHOICES["nat.fragments"], lambda s: s.nat.fragments,
           lambda v: [f"nat.fragments={v}"], "pass: translate every fragment; drop: drop them all (many home "
           "routers); first-only: pass the first fragment (it has the ports) and drop the rest."),
    Switch("ike_frag", "IKE fragmentation on both peers", CHOICES["client.ike_fragmentation"],
           lambda s: "yes" if s.client.ike_fragmentation and s.server.ike_fragmentation else "no",
           lambda v: [f"client.ike_fragmentation={v}", f"server.ike_fragmentation={v}"],
           "Both peers announce the FRAGMENTATION Vendor ID and split a big IKE message into UDP datagrams "
           "that fit, so no IP fragment is needed."),
    Switch("mtu", "Link MTU (bytes)", ("296", "576", "1500"), lambda s: str(s.mtu), lambda v: [f"link.mtu={v}"],
           "The largest IP packet the links carry (1500: Ethernet; 296: RFC 1191's low-delay PPP)."),
)}


def _options(sw: Switch, preset_value: str) -> list[str]:
    opts = list(sw.options)
    if preset_value not in opts:
        opts.insert(0, preset_value)
    return opts


def _from_query(sw: Switch, opts: list[str]) -> str | None:
    raw = st.query_params.get(sw.name)
    if raw is None:
        return None
    value = dict(sw.aliases).get(raw, raw)
    if value not in opts:
        st.warning(f"Ignoring {sw.name}={plain(raw)} in the link: choose one of {', '.join(opts)}.")
        return None
    return value


def render_switches(names: tuple[str, ...], base: Scenario, key: str,
                    container=None) -> tuple[tuple[str, ...], dict[str, str]]:
    """Draw the named switches; return (--set settings, query parameters) for the chosen values."""
    box = container if container is not None else st.sidebar
    settings: list[str] = []
    params: dict[str, str] = {}
    for name in names:
        sw = SWITCHES[name]
        preset_value = sw.current(base)
        opts = _options(sw, preset_value)
        wkey = f"{key}:sw:{name}"
        if wkey not in st.session_state:        # a fresh visit: the link, else the last choice on this page
            kept = st.session_state.get(f"{wkey}:kept")
            st.session_state[wkey] = _from_query(sw, opts) or (kept if kept in opts else preset_value)
        value = box.segmented_control(sw.label, opts, key=wkey, required=True, help=sw.help,
                                      format_func=lambda v, p=preset_value: f"{v} (preset)" if v == p else v)
        if value is None:
            value = preset_value
        st.session_state[f"{wkey}:kept"] = value
        if value != preset_value:
            settings += sw.settings(value)
            params[name] = value
    return tuple(settings), params
