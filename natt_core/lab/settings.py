"""`--set KEY=VALUE`: vary a preset without editing it.

Each key maps to one field of Scenario, PeerPolicy (ike/policy.py) or NatSettings and is applied
with dataclasses.replace, so the dataclasses' own validation names the valid choices. Any bad key
or value is a ConfigError with one line of text.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

from ..errors import ConfigError
from .scenario import NatSettings, Scenario


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


def _rule(text: str) -> int:
    if text not in ("0", "1", "2"):
        raise ConfigError("choose one of 0, 1, 2")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError("expected a number of seconds") from None
    if not 0 < value < float("inf"):
        raise ConfigError("expected a positive number of seconds")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError("expected a number from 0 to 1") from None
    if not 0 <= value <= 1:
        raise ConfigError("expected a number from 0 to 1")
    return value


def _groups(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(g) for g in text.split(","))
    except ValueError:
        raise ConfigError("expected DH group numbers separated by commas, e.g. 14,2") from None


def _psk(text: str) -> str:
    if not text:
        raise ConfigError("the pre-shared key must not be empty")
    return text


NAT_T = _choice("none", "draft-02", "rfc3947")
#: key -> (where: "scenario" | "client" | "server" | "both" | "nat", field, parser)
KEYS: dict[str, tuple[str, str, Callable[[str], object]]] = {
    "clients": ("scenario", "clients", _int),
    "mode": ("both", "mode", _choice("tunnel", "transport")),
    "client.nat_t": ("client", "nat_t", NAT_T),
    "server.nat_t": ("server", "nat_t", NAT_T),
    "client.assume_udp_rule": ("client", "assume_udp_rule", _rule),
    "client.dh_groups": ("client", "dh_groups", _groups),
    "server.dh_groups": ("server", "dh_groups", _groups),
    "client.keepalive_interval": ("client", "keepalive_interval", _seconds),
    "client.psk": ("client", "psk", _psk),
    "server.psk": ("server", "psk", _psk),
    "nat.kind": ("nat", "kind", _choice("napt", "static", "none")),
    "nat.timeout": ("nat", "timeout", _seconds),
    "nat.helper": ("nat", "helper", _choice("none", "static-port-500", "esp-last-client")),
    "link.loss": ("scenario", "loss", _fraction),
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
        raise ConfigError(f"invalid value {value!r} for {key}: {e}") from None


def apply_setting(s: Scenario, key: str, value: object) -> Scenario:
    """The scenario with one setting changed; the dataclasses validate the result."""
    where, name, _ = KEYS[key]
    try:
        if where == "scenario":
            return replace(s, **{name: value})
        if where == "nat":
            return replace(s, nat=replace(s.nat, **{name: value}))
        changes = {}
        for side in (("client", "server") if where == "both" else (where,)):
            changes[side] = replace(getattr(s, side), **{name: value})
        return replace(s, **changes)
    except ConfigError as e:
        raise ConfigError(f"invalid value {value!r} for {key}: {e}") from None


def apply_settings(s: Scenario, texts: list[str]) -> Scenario:
    for text in texts:
        s = apply_setting(s, *parse_setting(text))
    return s


__all__ = ["KEYS", "NatSettings", "apply_setting", "apply_settings", "parse_setting"]
