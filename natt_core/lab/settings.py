"""`--set KEY=VALUE`: vary a preset without editing it.

Each key maps to one field of Scenario, PeerPolicy (ike/policy.py), NatSettings or Addresses and is
applied with dataclasses.replace, so the dataclasses' own validation names the valid choices. Any
bad key or value is a FieldError (a ConfigError) with one line of text whose `field` is the key, so
a form can put the message beside the right input. Combinations are checked once, after the last
setting (`Scenario.validate`), so the order of the lines never matters.

`CHOICES` spells, for every key with a fixed vocabulary, the values it accepts, built from the
tuples next to the dataclasses (PeerPolicy's in ike/policy.py, the NAT's in net/nat_config.py,
TOPOLOGIES in scenario.py). The lesson switches and the Playground form offer values from it.
"""
from __future__ import annotations

import ipaddress
from dataclasses import replace
from itertools import permutations
from typing import Callable

from ..errors import ConfigError
from ..ike.policy import (ASSUME_UDP_RULES, AUTH_METHODS, CERT_CHAINS, CERT_ISSUERS, DH_GROUPS, ID_TYPES,
                          IKE_VERSIONS, MODES, NAT_OA_SENDING, NAT_T, NAT_T_ROLES, PHASE1_MODES, PROTOCOLS, RULE_UNSET)
from ..ike.profiles import PROFILE_NAMES, apply_profile
from ..ike.v2.suites import ENCR, GROUPS, INTEG, PRF
from ..net.nat_config import BEHAVIOURS, FRAGMENT_MODES, HELPERS, KINDS, PORT_ALLOCATIONS
from ..ppp.options import AUTH_OPTIONS
from ..wire.l2tp import MessageType
from .apps import Send
from .scenario import TOPOLOGIES, FieldError, NatSettings, Scenario
from .schedule import Action


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ConfigError(f"choose one of {', '.join(choices)}")
        return text
    return parse


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError("expected a whole number") from None


#: AssumeUDPEncapsulationContextOnSendRule as text: 0, 1, 2, or "none" (not a Windows peer)
RULE_TEXT: dict[str, int | None] = {**{str(r): r for r in ASSUME_UDP_RULES}, RULE_UNSET: None}


def rule_text(rule: int | None) -> str:
    """The --set spelling of a policy's assume_udp_rule (the inverse of `_rule`)."""
    return RULE_UNSET if rule is None else str(rule)


def _rule(text: str) -> int | None:
    if text not in RULE_TEXT:
        raise ConfigError(f"choose one of {', '.join(RULE_TEXT)}")
    return RULE_TEXT[text]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError("expected a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ConfigError("expected a positive number of seconds")
    return value


def _seconds_or_off(text: str) -> float:
    """'30' -> 30.0; '0' or 'off' -> 0.0 (the feature is off)."""
    if text.strip().lower() in ("0", "off", "no", "none"):
        return 0.0
    return _seconds(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError("expected a number from 0 to 1") from None
    if not 0 <= value <= 1:
        raise ConfigError("expected a number from 0 to 1")
    return value


def _comma_list(text: str, convert: Callable[[str], object], what: str, example: str, empty_ok: bool) -> tuple:
    """'a,b' -> (convert(a), convert(b)); '' or 'none' -> () where an empty list means something."""
    if empty_ok and text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(convert(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"expected {what} separated by commas, e.g. {example}") from None


def _groups(text: str) -> tuple[int, ...]:
    groups = _comma_list(text, int, "DH group numbers", "14,2", empty_ok=False)
    for g in groups:
        if g not in DH_GROUPS:
            raise ConfigError(f"DH group {g} is not supported; choose one of {', '.join(map(str, DH_GROUPS))}")
    return groups


def _versions(text: str) -> int | tuple[int, ...]:
    """'2' -> 2; '1,2' -> (1, 2): a peer that answers both IKE versions."""
    wrong = ConfigError(f"IKE version {text!r}: choose one of {' or '.join(map(repr, IKE_VERSION_TEXTS))}")
    try:
        versions = _comma_list(text, int, "IKE versions", "1,2", empty_ok=False)
    except ConfigError:
        raise wrong from None
    if not set(versions) <= {1, 2} or len(set(versions)) != len(versions):
        raise wrong
    return versions[0] if len(versions) == 1 else tuple(sorted(versions))


#: IKEv2 suites as --set spells them: 'cipher/integrity/prf', or 'aead/prf' (RFC 7296 §3.3.3)
IKEV2_SUITES = tuple(f"{e}/{i}/{p}" if i else f"{e}/{p}" for e in ENCR
                     for i in (("",) if ENCR[e].aead else INTEG) for p in PRF)
#: ESP suites for IKEv2 CHILD_SAs: 'cipher/integrity', or an AEAD alone (RFC 4106 AES-GCM)
ESP_SUITES = tuple(f"{e}/{i}" if i else e for e in ENCR for i in (("",) if ENCR[e].aead else INTEG))
#: IKEv2 DH group offers: the usual lists of GROUPS (14, 2, 19: ECP-256 only IKEv2 speaks here);
#: 'none' first, here and in the suite choices: what the shared policy's ciphers, hashes and groups give
IKEV2_GROUP_OFFERS = ("none", "19", "14", "19,14", "14,19", "14,2", "2")


def _suites(vocabulary: tuple[str, ...]) -> Callable[[str], tuple[str, ...] | None]:
    """'a,b' -> ('a', 'b'), each one of `vocabulary`; '', 'none' or 'policy' -> None (derived from the
    shared policy's ciphers and hashes)."""
    def suites(text: str) -> tuple[str, ...] | None:
        if text.strip().lower() in ("", "none", "policy"):
            return None
        names = tuple(x.strip() for x in text.split(","))
        for name in names:
            if name not in vocabulary:
                raise ConfigError(f"{name!r} is not a suite; choose one of {', '.join(vocabulary)}")
        return names
    return suites


def _v2_groups(text: str) -> tuple[int, ...] | None:
    """'19,14' -> (19, 14); '', 'none' or 'policy' -> None (the shared policy's dh_groups)."""
    if text.strip().lower() in ("", "none", "policy"):
        return None
    groups = _comma_list(text, int, "DH group numbers", "19,14", empty_ok=False)
    for g in groups:
        if g not in GROUPS:
            raise ConfigError(f"IKEv2 DH group {g} is not supported; choose one of {', '.join(map(str, GROUPS))}")
    return groups


def _threshold(text: str) -> int | None:
    """Half-open SAs before COOKIEs are required (0: always); 'none': never."""
    if text.strip().lower() == "none":
        return None
    value = _int(text)
    if value < 0:
        raise ConfigError("expected 0 or more half-open SAs, or none")
    return value


def _ports(text: str) -> tuple[int, ...]:
    """'500,4500' -> (500, 4500); '' or 'none' -> () (nothing forwarded)."""
    ports = _comma_list(text, int, "UDP port numbers", "500,4500", empty_ok=True)
    for port in ports:
        if not 1 <= port <= 65535:
            raise ConfigError(f"port {port} is outside 1..65535")
    return ports


def _times(text: str) -> tuple[float, ...]:
    """'30,90' -> (30.0, 90.0): virtual seconds after the start; '' -> no sends."""
    times = _comma_list(text, float, "times in seconds", "30,90", empty_ok=True)
    if any(not 0 <= x < float("inf") for x in times):
        raise ConfigError("times must be 0 or more seconds")
    return times


def _yes_no(text: str) -> bool:
    if text not in YES_NO:
        raise ConfigError(f"choose one of {', '.join(YES_NO)}")
    return text == "yes"


def _ipv4(text: str) -> str:
    if not text:
        raise ConfigError("required: an IPv4 address, e.g. 192.0.2.7")
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise ConfigError(f"{text!r} is not an IPv4 address (four numbers 0-255, e.g. 192.0.2.7)") from None


def _ppp_auth(text: str) -> tuple[str, ...]:
    """'mschapv2' or, for a server's preference order, 'mschapv2,chap-md5' (RFC 1994/2759, RFC 1334)."""
    names = tuple(x.strip() for x in text.split(","))
    for name in names:
        if name not in PPP_AUTH:
            raise ConfigError(f"{name!r} is not a PPP authentication; choose one of {', '.join(PPP_AUTH)}")
    return names


def _ppp_text(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text or len(text) > 64 or not text.isprintable():
            raise ConfigError(f"the PPP {what} must be 1..64 printable characters")
        return text
    return parse


def _psk(text: str) -> str:
    if not text:
        raise ConfigError("the pre-shared key must not be empty")
    return text


#: a switch as --set spells it
YES_NO = ("yes", "no")
#: PPP authentication methods as --set spells them, the Windows default first
PPP_AUTH = tuple(AUTH_OPTIONS)
#: a server's preference orders: every ordering of every choice of methods, the longest first
PPP_AUTH_ORDERS = tuple(",".join(p) for n in range(len(PPP_AUTH), 0, -1) for p in permutations(PPP_AUTH, n))

#: DH group offers as text, best (largest) first: "14,2", "2,14", "14", "2" for DH_GROUPS (2, 14)
DH_OFFERS = tuple(",".join(map(str, p)) for n in range(len(DH_GROUPS), 0, -1)
                  for p in permutations(sorted(DH_GROUPS, reverse=True), n))
#: IKE versions as --set spells them: "1", "2", and "1,2" for a peer that answers both (the policy's own list)
IKE_VERSION_TEXTS = tuple(",".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in IKE_VERSIONS)
#: key -> the values it accepts, for every key with a fixed vocabulary (dh_groups: the usual offers;
#: any comma list of DH_GROUPS is accepted)
CHOICES: dict[str, tuple[str, ...]] = {
    "mode": MODES, "protocol": PROTOCOLS, "topology": TOPOLOGIES,
    "client.nat_t": NAT_T, "server.nat_t": NAT_T, "server.nat_t_role": NAT_T_ROLES,
    "client.mode": PHASE1_MODES, "server.mode": PHASE1_MODES,
    "client.ike_version": IKE_VERSION_TEXTS, "server.ike_version": IKE_VERSION_TEXTS,
    "client.assume_udp_rule": tuple(RULE_TEXT),
    "client.send_nat_oa": NAT_OA_SENDING, "server.send_nat_oa": NAT_OA_SENDING,
    "client.profile": ("none", *PROFILE_NAMES), "server.profile": ("none", *PROFILE_NAMES),
    "client.dh_groups": DH_OFFERS, "server.dh_groups": DH_OFFERS,
    "nat.kind": KINDS, "nat2.kind": KINDS, "nat.helper": HELPERS, "nat2.helper": HELPERS,
    "nat.port_allocation": PORT_ALLOCATIONS, "nat2.port_allocation": PORT_ALLOCATIONS,
    "nat.mapping": BEHAVIOURS, "nat.filtering": BEHAVIOURS,
    "nat.fragments": FRAGMENT_MODES, "nat2.fragments": FRAGMENT_MODES,
    "client.ike_fragmentation": YES_NO, "server.ike_fragmentation": YES_NO,
    "client.ikev2_suites": ("none",) + IKEV2_SUITES, "server.ikev2_suites": ("none",) + IKEV2_SUITES,
    "client.esp_suites": ("none",) + ESP_SUITES, "server.esp_suites": ("none",) + ESP_SUITES,
    "client.ikev2_dh_groups": IKEV2_GROUP_OFFERS, "server.ikev2_dh_groups": IKEV2_GROUP_OFFERS,
    "client.rekey": YES_NO, "client.initial_contact": YES_NO,
    "client.ppp_auth": PPP_AUTH, "server.ppp_auth": PPP_AUTH_ORDERS,
    "client.auth": AUTH_METHODS, "server.auth": AUTH_METHODS, "client.id_type": ID_TYPES, "server.id_type": ID_TYPES,
    "client.cert_chain": CERT_CHAINS, "server.cert_chain": CERT_CHAINS,
    "client.cert_issuer": CERT_ISSUERS, "server.cert_issuer": CERT_ISSUERS,
}


def _of(key: str) -> Callable[[str], str]:
    return _choice(*CHOICES[key])


def _wan_mtu(text: str) -> int | None:
    """A number of bytes, or 'none': the same MTU as the LANs (link.mtu)."""
    return None if text.strip().lower() in ("", "none") else _int(text)


#: key -> (where: "scenario" | "client" | "server" | "both" | "nat" | "nat2" | "address" | "traffic",
#:         field, parser)
KEYS: dict[str, tuple[str, str, Callable[[str], object]]] = {
    "clients": ("scenario", "clients", _int),
    "mode": ("both", "mode", _of("mode")),
    "client.nat_t": ("client", "nat_t", _of("client.nat_t")),
    "server.nat_t": ("server", "nat_t", _of("server.nat_t")),
    "client.assume_udp_rule": ("client", "assume_udp_rule", _rule),
    "client.dh_groups": ("client", "dh_groups", _groups),
    "server.dh_groups": ("server", "dh_groups", _groups),
    "client.keepalive_interval": ("client", "keepalive_interval", _seconds),
    "client.psk": ("client", "psk", _psk),
    "server.psk": ("server", "psk", _psk),
    "nat.kind": ("nat", "kind", _of("nat.kind")),
    "nat.timeout": ("nat", "timeout", _seconds),
    "nat.helper": ("nat", "helper", _of("nat.helper")),
    "link.loss": ("scenario", "loss", _fraction),
    # the rest serve the playground; the keys above are unchanged
    "topology": ("scenario", "topology", _of("topology")),
    "protocol": ("both", "protocol", _of("protocol")),
    "duration": ("scenario", "duration", _seconds),
    "seed": ("scenario", "seed", _int),
    "server.keepalive_interval": ("server", "keepalive_interval", _seconds),
    "server.nat_t_role": ("server", "nat_t_role", _of("server.nat_t_role")),
    "client.ike_version": ("client", "ike_version", _versions),
    # the phase-1 exchange (Main or Aggressive Mode); "mode" alone is the IPsec mode of both
    "client.mode": ("client", "phase1_mode", _of("client.mode")),
    "server.mode": ("server", "phase1_mode", _of("server.mode")),
    "server.ike_version": ("server", "ike_version", _versions),
    "nat.port_allocation": ("nat", "port_allocation", _of("nat.port_allocation")),
    "nat.mapping": ("nat", "mapping", _of("nat.mapping")),
    "nat.filtering": ("nat", "filtering", _of("nat.filtering")),
    "nat2.kind": ("nat2", "kind", _of("nat2.kind")),
    "nat2.port_allocation": ("nat2", "port_allocation", _of("nat2.port_allocation")),
    "nat2.timeout": ("nat2", "timeout", _seconds),
    "nat2.helper": ("nat2", "helper", _of("nat2.helper")),
    "nat2.forwards": ("scenario", "server_forwards", _ports),
    "address.client": ("address", "client", _ipv4),
    "address.nat_public": ("address", "nat_public", _ipv4),
    "address.server": ("address", "server", _ipv4),
    "address.server_private": ("address", "server_private", _ipv4),
    "address.server_nat_public": ("address", "server_nat_public", _ipv4),
    "link.duplicate": ("scenario", "duplicate", _fraction),
    "link.reorder": ("scenario", "reorder", _fraction),
    "traffic.client": ("traffic", "client", _times),
    "traffic.server": ("traffic", "server", _times),
    # IKEv2 only (the policy's `v2`); each takes a comma list, or 'policy' for the shared policy's
    "client.ikev2_suites": ("client", "v2.ike_suites", _suites(IKEV2_SUITES)),
    "server.ikev2_suites": ("server", "v2.ike_suites", _suites(IKEV2_SUITES)),
    "client.esp_suites": ("client", "v2.esp_suites", _suites(ESP_SUITES)),
    "server.esp_suites": ("server", "v2.esp_suites", _suites(ESP_SUITES)),
    "client.ikev2_dh_groups": ("client", "v2.groups", _v2_groups),
    "server.ikev2_dh_groups": ("server", "v2.groups", _v2_groups),
    "client.send_nat_oa": ("client", "send_nat_oa", _of("client.send_nat_oa")),
    "server.send_nat_oa": ("server", "send_nat_oa", _of("server.send_nat_oa")),
    # a real stack's whole policy (ike/profiles.py); later keys may still change any part of it
    "client.profile": ("client", "profile", _of("client.profile")),
    "server.profile": ("server", "profile", _of("server.profile")),
    "server.cookie_threshold": ("server", "v2.cookie_threshold", _threshold),
    # liveness (RFC 3706 DPD, INITIAL-CONTACT) and what happens at a set time (lab/schedule.py)
    "client.dpd_delay": ("client", "dpd_delay", _seconds_or_off),
    "server.dpd_delay": ("server", "dpd_delay", _seconds_or_off),
    "client.dpd_timeout": ("client", "dpd_timeout", _seconds),
    "server.dpd_timeout": ("server", "dpd_timeout", _seconds),
    "client.initial_contact": ("client", "initial_contact", _yes_no),
    "nat.flush_at": ("action", "flush:nat", _times),
    "nat2.flush_at": ("action", "flush:nat2", _times),
    "client.off_at": ("action", "switch-off:client", _times),
    "server.off_at": ("action", "switch-off:server", _times),
    "client.reboot_at": ("action", "reboot:client", _times),
    # IPv4 fragmentation (net/fragments.py) and IKEv1 fragmentation (ike/fragmentation.py)
    "link.mtu": ("scenario", "mtu", _int),
    "link.wan_mtu": ("scenario", "wan_mtu", _wan_mtu),
    "nat.fragments": ("nat", "fragments", _of("nat.fragments")),
    "nat2.fragments": ("nat2", "fragments", _of("nat2.fragments")),
    "client.ike_fragmentation": ("client", "ike_fragmentation", _yes_no),
    "server.ike_fragmentation": ("server", "ike_fragmentation", _yes_no),
    "client.ike_fragment_size": ("client", "ike_fragment_size", _int),
    "server.ike_fragment_size": ("server", "ike_fragment_size", _int),
    # lifetimes (ike/lifetimes.py): seconds for both phases, kilobytes for phase 2 (0: none)
    **{f"{side}.{name}": (side, name, _int) for side in ("client", "server")
       for name in ("ike_lifetime", "ipsec_lifetime", "ipsec_lifetime_kb")},
    "client.rekey": ("client", "rekey", _yes_no),
    # PPP inside the L2TP call (natt_core.ppp): the client's credentials and the method it accepts;
    # the server's account and preference order (unset: the server is set up as the client)
    "client.ppp_user": ("ppp", "user", _ppp_text("user name")),
    "client.ppp_password": ("ppp", "password", _ppp_text("password")),
    "client.ppp_auth": ("ppp", "auth", _ppp_auth),
    "server.ppp_user": ("ppp_server", "user", _ppp_text("user name")),
    "server.ppp_password": ("ppp_server", "password", _ppp_text("password")),
    "server.ppp_auth": ("ppp_server", "auth", _ppp_auth),
    # phase-1 authentication: pre-shared key or certificates from the lab PKI (crypto/pki.py)
    "client.auth": ("client", "auth", _of("client.auth")),
    "server.auth": ("server", "auth", _of("server.auth")),
    "client.id_type": ("client", "id_type", _of("client.id_type")),
    "server.id_type": ("server", "id_type", _of("server.id_type")),
    "client.cert_chain": ("client", "cert_chain", _of("client.cert_chain")),
    "server.cert_chain": ("server", "cert_chain", _of("server.cert_chain")),
    "client.cert_issuer": ("client", "cert_issuer", _of("client.cert_issuer")),
    "server.cert_issuer": ("server", "cert_issuer", _of("server.cert_issuer")),
}


def parse_setting(text: str) -> tuple[str, object]:
    """'KEY=VALUE' -> (key, parsed value)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep:
        raise ConfigError(f"--set needs KEY=VALUE, not {text!r}; keys: {', '.join(KEYS)}")
    if key not in KEYS:
        raise ConfigError(f"unknown --set key {key!r}; choose one of {', '.join(KEYS)}")
    try:
        return key, KEYS[key][2](value.strip())
    except ConfigError as e:
        raise FieldError(key, str(e), f"invalid value {value!r} for {key}: {e}") from None


def apply_setting(s: Scenario, key: str, value: object) -> Scenario:
    """The scenario with one setting changed; the dataclasses validate the result."""
    where, name, _ = KEYS[key]
    try:
        if where == "scenario":
            return replace(s, **{name: value})
        if where == "nat":
            return replace(s, nat=replace(s.nat, **{name: value}))
        if where == "nat2":
            return replace(s, nat2=replace(s.second_nat, **{name: value}))
        if where == "address":
            return replace(s, addresses=replace(s.addresses, **{name: value}))
        if where == "ppp":
            return replace(s, ppp=replace(s.ppp, **{name: value}))
        if where == "ppp_server":
            return replace(s, ppp_server=_server_ppp(s.server_ppp, name, value))
        if where == "traffic":
            kept = tuple(x for x in s.sends if x.sender != name)
            return replace(s, sends=kept + tuple(Send(t, name, MessageType.HELLO.name) for t in value))
        if where == "action":
            what, target = name.split(":")
            kept = tuple(a for a in s.actions if (a.what, a.target) != (what, target))
            return replace(s, actions=kept + tuple(Action(t, what, target) for t in value))
        changes = {}
        for side in (("client", "server") if where == "both" else (where,)):
            policy = getattr(s, side)
            if name == "profile":
                changes[side] = apply_profile(policy, value, side)
            elif name.startswith("v2."):    # PeerPolicy.v2: the IKEv2 options
                changes[side] = replace(policy, v2=replace(policy.v2, **{name[3:]: value}))
            else:
                changes[side] = replace(policy, **{name: value})
        return replace(s, **changes)
    except ConfigError as e:
        reason = e.reason if isinstance(e, FieldError) else str(e)
        raise FieldError(key, reason, f"invalid value {value!r} for {key}: {reason}") from None


def _server_ppp(ppp, name: str, value):
    """The server's PPP policy with its one account's user or password, or its auth order, changed."""
    (user, password), = list(ppp.users.items())[:1] or [(ppp.user, ppp.password)]
    if name == "auth":
        return replace(ppp, auth=value)
    user, password = (value, password) if name == "user" else (user, value)
    return replace(ppp, users={user: password})


def apply_settings(s: Scenario, texts: list[str]) -> Scenario:
    """The scenario with every setting applied, then its combinations checked."""
    for text in texts:
        s = apply_setting(s, *parse_setting(text))
    return s.validate()


__all__ = ["CHOICES", "DH_OFFERS", "ESP_SUITES", "IKEV2_SUITES", "KEYS", "RULE_TEXT", "FieldError", "NatSettings", "apply_setting",
           "apply_settings", "parse_setting", "rule_text"]
