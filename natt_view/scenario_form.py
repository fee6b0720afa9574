"""The playground's form as data: which `--set` key each field edits, its current value, and checking.

Every field is one key of natt_core.lab.settings.KEYS, so the form, the command line and the
lessons share one parser and one set of rules. `check()` parses every field on its own first (so
several bad fields are reported together, each beside its own input), then applies the changed
ones to the base preset and lets `Scenario.validate` judge the combination. Nothing runs unless
both stages pass: a half-configured scenario is never started.
"""
from __future__ import annotations

from dataclasses import dataclass

from natt_core.errors import ConfigError
from natt_core.lab.presets import preset
from natt_core.lab.scenario import FieldError, Scenario
from natt_core.lab.settings import CHOICES, KEYS, apply_settings, parse_setting, rule_text


@dataclass(frozen=True)
class FormField:
    key: str                                  #: the --set key
    label: str
    choices: tuple[str, ...] = ()             #: empty = free text
    help: str = ""


def _pick(key: str, *, without: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The values `--set key=` accepts (natt_core.lab.settings.CHOICES), less any the form leaves out."""
    return tuple(v for v in CHOICES[key] if v not in without)


SECTIONS: dict[str, tuple[FormField, ...]] = {
    "Topology and addresses": (
        FormField("topology", "Who is behind a NAT", _pick("topology"),
                  "client-nat: the client's NAT only; server-nat: the server's NAT only; both-nat: both; "
                  "double-nat: the client's NAT behind a carrier NAT"),
        FormField("clients", "Number of clients", help="1 to 1000; client N gets the first address + N - 1"),
        FormField("address.client", "First client address", help="IPv4, e.g. 192.168.11.20"),
        FormField("address.nat_public", "Client NAT's public address", help="the carrier NAT's in double-nat"),
        FormField("address.server", "Server address (not behind NAT)"),
        FormField("address.server_private", "Server's own address behind its NAT"),
        FormField("address.server_nat_public", "Server NAT's public address"),
    ),
    "Peers": (
        # first: a stack sets many fields at once, and the fields after it may still change any of them
        FormField("client.profile", "Client stack", _pick("client.profile"),
                  "what a real stack sends and accepts (Vendor IDs, proposals, NAT-OA, Windows rule); "
                  "none = the lab's own settings"),
        FormField("server.profile", "Server stack", _pick("server.profile"),
                  "linux-xl2tpd and strongswan key IPsec policies by selector (Linux XFRM): two clients "
                  "behind one NAT collide; windows-server-2003-rras keeps one SA per client"),
        FormField("client.ike_version", "Client IKE version", _pick("client.ike_version"),
                  "1: IKEv1, NAT-T by RFC 3947 (Main Mode + Quick Mode); 2: IKEv2, NAT detection built in "
                  "(RFC 7296 §2.23); 1,2: both, initiating with IKEv2 (strongSwan's version = 0)"),
        FormField("server.ike_version", "Server IKE version", _pick("server.ike_version"),
                  "1,2: answers either version, as strongSwan does with version = 0"),
        FormField("client.nat_t", "Client NAT-T support", _pick("client.nat_t")),
        FormField("server.nat_t", "Server NAT-T support", _pick("server.nat_t")),
        FormField("server.nat_t_role", "Server NAT-T role", _pick("server.nat_t_role"),
                  "client-only: an older server that speaks NAT-T only when it initiates, never as responder"),
        FormField("client.assume_udp_rule", "Client: Windows AssumeUDPEncapsulationContextOnSendRule",
                  _pick("client.assume_udp_rule"), "none = the client is not Windows"),
        FormField("client.send_nat_oa", "Client sends NAT-OA", _pick("client.send_nat_oa"),
                  "in Quick Mode for UDP-Encapsulated-Transport (RFC 3947 §5.2)"),
        FormField("server.send_nat_oa", "Server sends NAT-OA", _pick("server.send_nat_oa"),
                  "no = a libreswan server that leaves it out of QM2; the client then skips the inner "
                  "checksum check (RFC 3948 §3.1.2)"),
        FormField("client.dh_groups", "Client DH groups (offered, best first)", _pick("client.dh_groups")),
        FormField("server.dh_groups", "Server DH groups (accepted)", _pick("server.dh_groups")),
        FormField("client.mode", "Client phase-1 exchange", _pick("client.mode"),
                  "aggressive = three messages, identities and HASH_R in the clear"),
        FormField("server.mode", "Server accepts", _pick("server.mode"), "main = refuses Aggressive Mode"),
        FormField("client.psk", "Client pre-shared key"),
        FormField("server.psk", "Server pre-shared key"),
        FormField("mode", "IPsec mode", _pick("mode"), "transport = L2TP/IPsec"),
        FormField("protocol", "IPsec protocol", _pick("protocol")),
        FormField("client.keepalive_interval", "Client keepalive interval (s)",
                  help="sent only while the client finds itself behind a NAT (RFC 3947 §3.2)"),
        FormField("server.keepalive_interval", "Server keepalive interval (s)",
                  help="sent only when the server finds itself behind a NAT (server-nat, both-nat)"),
        FormField("client.ike_fragmentation", "Client IKE fragmentation", _pick("client.ike_fragmentation"),
                  "announce the FRAGMENTATION Vendor ID and split big IKE messages (payload 132)"),
        FormField("server.ike_fragmentation", "Server IKE fragmentation", _pick("server.ike_fragmentation")),
        FormField("client.ike_fragment_size", "Client IKE fragment size (bytes)",
                  help="the largest IP datagram an IKE fragment makes; strongSwan's default is 1280"),
        FormField("server.ike_fragment_size", "Server IKE fragment size (bytes)"),
    ),
    "Lifetimes and rekeying": (
        FormField("client.ike_lifetime", "Client phase-1 lifetime (s)", help="offered in MM1 (RFC 2409 App. A)"),
        FormField("server.ike_lifetime", "Server phase-1 lifetime (s)", help="the server holds the shorter one"),
        FormField("client.ipsec_lifetime", "Client phase-2 lifetime (s)", help="offered in QM1 (RFC 2407 §4.5)"),
        FormField("server.ipsec_lifetime", "Server phase-2 lifetime (s)",
                  help="a shorter one is sent back as RESPONDER-LIFETIME"),
        FormField("client.ipsec_lifetime_kb", "Client phase-2 lifetime (KB)", help="0 = no kilobyte limit"),
        FormField("server.ipsec_lifetime_kb", "Server phase-2 lifetime (KB)", help="0 = no kilobyte limit"),
        FormField("client.rekey", "Client rekeys before expiry", _pick("client.rekey"),
                  help="no = the SAs expire at their hard lifetime"),
    ),
    "PPP inside the L2TP call": (
        FormField("client.ppp_auth", "Client PPP authentication", _pick("client.ppp_auth"),
                  "mschapv2 = the Windows default (RFC 2759); chap-md5 (RFC 1994); pap (RFC 1334)"),
        FormField("client.ppp_user", "Client PPP user name"),
        FormField("client.ppp_password", "Client PPP password"),
        FormField("server.ppp_auth", "Server PPP authentication (preference order)", _pick("server.ppp_auth"),
                  "the methods the server allows, the one it asks for first"),
        FormField("server.ppp_user", "Server's PPP account: user name"),
        FormField("server.ppp_password", "Server's PPP account: password",
                  help="a different password from the client's fails at the PPP layer (PPP_AUTH_FAILED)"),
    ),
    "Authentication (IKEv1 Main Mode)": (
        FormField("client.auth", "Client authentication", _pick("client.auth"),
                  "psk = pre-shared key (HASH in MM5/MM6); rsa-sig / ecdsa-sig = machine certificates from "
                  "the lab CA (CERT and SIG in MM5/MM6, RFC 2409 §5.1); both sides must agree"),
        FormField("server.auth", "Server authentication", _pick("server.auth")),
        FormField("client.id_type", "Client ID type", _pick("client.id_type"),
                  "auto = IPv4 address with a PSK, the certificate's subject DN with certificates"),
        FormField("server.id_type", "Server ID type", _pick("server.id_type")),
        FormField("client.cert_chain", "Client sends", _pick("client.cert_chain"),
                  "full = machine + issuing CA certificate, as Windows does (MM5 grows past 2000 bytes)"),
        FormField("server.cert_chain", "Server sends", _pick("server.cert_chain")),
        FormField("client.cert_issuer", "Client certificate issued by", _pick("client.cert_issuer"),
                  "rogue = a CA the server does not trust: MM5 fails with CERT_UNTRUSTED"),
        FormField("server.cert_issuer", "Server certificate issued by", _pick("server.cert_issuer")),
    ),
    "Liveness and events": (
        FormField("client.dpd_delay", "Client DPD: idle seconds before R-U-THERE",
                  help="0 = the client never asks (RFC 3706 §5.3); DPD needs both Vendor IDs"),
        FormField("server.dpd_delay", "Server DPD: idle seconds before R-U-THERE", help="0 = the server never asks"),
        FormField("client.dpd_timeout", "Client DPD timeout (s)",
                  help="after the first unanswered R-U-THERE, how long until the peer is declared dead"),
        FormField("server.dpd_timeout", "Server DPD timeout (s)"),
        FormField("client.initial_contact", "Client sends INITIAL-CONTACT", _pick("client.initial_contact"),
                  "tells the server it holds no other SA, so the server drops older ones (RFC 2407 §4.6.3.3)"),
        FormField("nat.flush_at", "Client's NAT forgets its mappings at (s)",
                  help="times after the start, e.g. 90; empty = never (a NAT reboot)"),
        FormField("nat2.flush_at", "Second NAT forgets its mappings at (s)", help="e.g. 90; empty = never"),
        FormField("client.off_at", "Client switched off at (s)", help="without a word to the server; e.g. 60"),
        FormField("server.off_at", "Server switched off at (s)", help="e.g. 60; empty = never"),
        FormField("client.reboot_at", "Client reboots at (s)",
                  help="forgets every SA and connects again, e.g. 60"),
    ),
    "The client's NAT": (
        FormField("nat.kind", "Kind", _pick("nat.kind"), "none = a plain router"),
        FormField("nat.port_allocation", "Port allocation", _pick("nat.port_allocation")),
        FormField("nat.timeout", "UDP idle timeout (s)"),
        FormField("nat.helper", "IPsec helper", _pick("nat.helper")),
        FormField("nat.mapping", "Mapping (RFC 4787 §4.1)", _pick("nat.mapping"),
                  "does one inside port keep its public port for every remote (endpoint-independent), "
                  "or get a new one per remote address (address-dependent) or address and port?"),
        FormField("nat.filtering", "Filtering (RFC 4787 §5)", _pick("nat.filtering"),
                  "who may answer through a mapping: anyone (endpoint-independent), only addresses the "
                  "inside host sent to, or only those exact address and port pairs"),
        FormField("nat.fragments", "IP fragments", _pick("nat.fragments"),
                  "pass: translate every fragment; drop: drop them all; first-only: only the first (with the ports)"),
    ),
    "The second NAT (server's or carrier)": (
        FormField("nat2.kind", "Kind", _pick("nat2.kind", without=("none",))),   # a second NAT, not a router
        FormField("nat2.port_allocation", "Port allocation", _pick("nat2.port_allocation")),
        FormField("nat2.timeout", "UDP idle timeout (s)"),
        FormField("nat2.helper", "IPsec helper", _pick("nat2.helper")),
        FormField("nat2.fragments", "IP fragments", _pick("nat2.fragments")),
        FormField("nat2.forwards", "UDP ports forwarded to the server",
                  help="comma-separated, e.g. 500,4500; 'none' forwards nothing (napt only)"),
    ),
    "IKEv2 (when a peer speaks it)": (
        FormField("client.ikev2_suites", "Client IKE suites (offered)", _pick("client.ikev2_suites"),
                  "none = derived from the shared ciphers and hashes"),
        FormField("server.ikev2_suites", "Server IKE suites (accepted)", _pick("server.ikev2_suites")),
        FormField("client.esp_suites", "Client ESP suites (offered)", _pick("client.esp_suites")),
        FormField("server.esp_suites", "Server ESP suites (accepted)", _pick("server.esp_suites")),
        FormField("client.ikev2_dh_groups", "Client DH groups", _pick("client.ikev2_dh_groups"),
                  "19 = ECP-256; none = the DH groups above"),
        FormField("server.ikev2_dh_groups", "Server DH groups", _pick("server.ikev2_dh_groups")),
        FormField("server.cookie_threshold", "Server COOKIE threshold (half-open SAs)",
                  help="0 = always ask for a COOKIE (RFC 7296 §2.6); none = never"),
    ),
    "Link and traffic": (
        FormField("link.loss", "Packet loss on every link (0 to 1)"),
        FormField("link.mtu", "MTU of the LANs (bytes)", help="the largest IP packet a link carries; 1500 on "
                  "Ethernet, at least 68 (RFC 791)"),
        FormField("link.wan_mtu", "MTU between the NATs (bytes)", help="e.g. 1492 for PPPoE; none = as the LANs"),
        FormField("link.duplicate", "Duplicated packets on every link (0 to 1)",
                  help="share of packets delivered twice; the peers must answer a repeat with the same bytes"),
        FormField("link.reorder", "Reordered packets on every link (0 to 1)",
                  help="share of packets held back so that later ones overtake them"),
        FormField("traffic.client", "Client L2TP HELLOs at (s)", help="times after the start, e.g. 30,90; "
                  "empty = none (the SCCRQ after phase 2 is always sent)"),
        FormField("traffic.server", "Server L2TP HELLOs at (s)", help="e.g. 600"),
        FormField("duration", "Run for (virtual seconds)"),
        FormField("seed", "Random seed", help="picks which packets a lossy, duplicating or reordering link "
                  "hits, and the peers' cookies, nonces and SPIs: the same seed gives the same run"),
    ),
}
FIELDS: tuple[FormField, ...] = tuple(f for fs in SECTIONS.values() for f in fs)
#: fields a blank form leaves empty (everything else keeps a sensible default)
BLANK = ("address.client", "address.nat_public", "address.server", "address.server_private",
         "address.server_nat_public", "client.psk", "server.psk")
BLANK_BASE = "client-behind-nat"


def _num(value: float) -> str:
    return f"{value:g}"


def value_of(s: Scenario, key: str) -> str:
    """The text a field shows for scenario `s` (the inverse of the --set parser)."""
    where, name, _ = KEYS[key]
    if where == "traffic":
        return ",".join(_num(x.at) for x in s.sends if x.sender == name)
    if where == "action":
        what, target = name.split(":")
        return ",".join(_num(a.at) for a in s.actions if (a.what, a.target) == (what, target))
    if key == "nat2.forwards":
        return ",".join(str(p) for p in s.server_forwards) or "none"
    if where == "ppp_server" and name != "auth":           # the server's one account
        user, password = next(iter(s.server_ppp.users.items()), (s.server_ppp.user, s.server_ppp.password))
        return user if name == "user" else password
    obj = {"scenario": s, "client": s.client, "both": s.client, "server": s.server, "nat": s.nat,
           "nat2": s.second_nat, "address": s.addresses, "ppp": s.ppp, "ppp_server": s.server_ppp}[where]
    if name.startswith("v2."):   # PeerPolicy.v2, the IKEv2 options
        obj, name = obj.v2, name[3:]
    value = getattr(obj, name)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "client.assume_udp_rule":
        return rule_text(value)
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return _num(value)
    return str(value)


def values_of(s: Scenario, blank: bool = False) -> dict[str, str]:
    return {f.key: "" if blank and f.key in BLANK else value_of(s, f.key) for f in FIELDS}


def check(base: str, values: dict[str, str]) -> tuple[tuple[str, ...], dict[str, str]]:
    """(--set lines that differ from the preset `base`, {field key: message}); run only if no messages."""
    errors: dict[str, str] = {}
    for key, text in values.items():
        try:
            parse_setting(f"{key}={text}")
        except FieldError as e:
            errors[key] = e.reason
        except ConfigError as e:
            errors[key] = str(e)
    if errors:
        return (), errors
    start = preset(base)
    changed = tuple(f"{k}={v.strip()}" for k, v in values.items() if v.strip() != value_of(start, k))
    if any(c.startswith("nat.timeout=") for c in changed) and not any(c.startswith("nat2.") for c in changed) \
            and "nat2.timeout" in values:
        changed += (f"nat2.timeout={values['nat2.timeout'].strip()}",)   # the second NAT keeps what the form shows
    try:
        apply_settings(start, list(changed))
    except FieldError as e:
        errors[e.field if e.field in values else "_form"] = e.reason
    except ConfigError as e:
        errors["_form"] = str(e)
    return (changed if not errors else ()), errors
