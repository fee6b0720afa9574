"""What one NAT device is configured to do, in RFC 4787 terms (mapping §4.1, filtering §5,
port assignment §4.2, timeouts REQ-5), plus the IPsec-specific choices of RFC 3715 §2.2 and §2.3.

Validation lives here so every way of building a NAT (presets, `--set`, tests) gets the same
one-line ConfigError naming the valid choices.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..addressing import Endpoint, check_ipv4, check_port
from ..errors import ConfigError
from ..wire.numbers import IPProto, Port

KINDS = ("napt", "static", "none")
PORT_ALLOCATIONS = ("preserve", "sequential", "random")
BEHAVIOURS = ("endpoint-independent", "address-dependent", "address-and-port-dependent")
IPSEC_MODES = ("drop", "address-only", "spi-track")
HELPERS = ("none", "static-port-500", "esp-last-client")
#: what a NAT does with IPv4 fragments (RFC 4787 REQ-14 asks it to pass them, in order and out of
#: order): 'pass' translates every fragment, 'drop' drops every one (the classic home-router
#: failure), 'first-only' translates the first (it has the ports) and drops the rest
FRAGMENT_MODES = ("pass", "drop", "first-only")


def _choice(what: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"NAT {what} {value!r} is not one of: {', '.join(choices)}")


def _seconds(what: str, value: object) -> None:
    if (not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value)
            or value <= 0):
        raise ConfigError(f"NAT {what} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True)
class Forward:
    """A static port forward: outside traffic to public_port goes to `inside` (e.g. UDP 500/4500)."""
    proto: int
    public_port: int
    inside: Endpoint

    def __post_init__(self) -> None:
        if self.proto not in (IPProto.UDP, IPProto.TCP):
            raise ConfigError(f"forward protocol {self.proto!r} is not one of: 17 (UDP), 6 (TCP)")
        if check_port(self.public_port) == 0 or not isinstance(self.inside, Endpoint) \
                or self.inside.port == 0:
            raise ConfigError("a forward needs a public port 1..65535 and an inside Endpoint with a port")


@dataclass(frozen=True, kw_only=True)
class NatConfig:
    """How one NAT device behaves; RFC 4787 terms for mapping and filtering."""
    public_ip: str
    name: str = "nat"
    kind: str = "napt"
    static_map: tuple[tuple[str, str], ...] = ()
    """kind 'static': (inside ip, public ip) pairs; empty = the first inside host gets public_ip."""
    port_allocation: str = "random"
    port_range: tuple[int, int] = (49152, 65535)
    mapping: str = "endpoint-independent"
    filtering: str = "address-and-port-dependent"
    udp_timeout: float = 120.0
    tcp_timeout: float = 7440.0
    """RFC 5382 REQ-5: an established TCP mapping lasts at least 2 h 4 min."""
    inbound_refresh: bool = False
    """RFC 4787 REQ-6 only requires outbound packets to refresh a mapping."""
    forwards: tuple[Forward, ...] = ()
    esp: str = "address-only"
    """IP protocol 50: 'drop' both ways; 'address-only' rewrites the source outbound and sends
    inbound ESP to esp_host (else drops it); 'spi-track' binds an unseen inbound SPI to the inside
    host that last sent ESP to that remote, then remembers it (wrong with two clients)."""
    esp_host: str | None = None
    """Inside address that receives inbound ESP/AH no mapping claims ("pass to one inside host")."""
    ah: str = "address-only"
    helper: str = "none"
    """'static-port-500': UDP from inside port 500 always leaves from public port 500, one state per
    remote endpoint; while one inside host holds it, other hosts' port-500 packets to that remote
    are dropped until it idles out (udp_timeout). 'esp-last-client': inbound ESP from a remote
    goes to the inside host that last sent IKE (UDP with port 500) or ESP to it, whatever the SPI."""

    fragments: str = "pass"
    """IPv4 fragments, one of FRAGMENT_MODES."""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"NAT name must be a non-empty string, got {self.name!r}")
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        set_("public_ip", check_ipv4(self.public_ip))
        for what, choices in (("kind", KINDS), ("port_allocation", PORT_ALLOCATIONS),
                              ("mapping", BEHAVIOURS), ("filtering", BEHAVIOURS),
                              ("esp", IPSEC_MODES), ("ah", IPSEC_MODES), ("helper", HELPERS),
                              ("fragments", FRAGMENT_MODES)):
            _choice(what, getattr(self, what), choices)
        _seconds("udp_timeout", self.udp_timeout)
        _seconds("tcp_timeout", self.tcp_timeout)
        try:
            lo, hi = self.port_range
            pairs = tuple((check_ipv4(i), check_ipv4(p)) for i, p in self.static_map)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"NAT port_range must be (low, high) and static_map a tuple of "
                              f"(inside ip, public ip) pairs: {exc}") from None
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi <= 65535):
            raise ConfigError(f"NAT port_range {self.port_range!r} must be (low, high), "
                              "1 <= low <= high <= 65535")
        set_("port_range", (lo, hi))
        set_("static_map", pairs)
        if not isinstance(self.inbound_refresh, bool):
            raise ConfigError(f"NAT inbound_refresh must be True or False, got {self.inbound_refresh!r}")
        if pairs and self.kind != "static":
            raise ConfigError("static_map needs kind 'static'")
        if len({i for i, _ in pairs}) != len(pairs) or len({p for _, p in pairs}) != len(pairs):
            raise ConfigError("static_map must map each inside and each public address once")
        set_("forwards", tuple(self.forwards))
        if not all(isinstance(f, Forward) for f in self.forwards):
            raise ConfigError("forwards must be Forward(proto, public_port, inside) entries")
        if self.forwards and self.kind != "napt":
            raise ConfigError("forwards need kind 'napt' (static and none pass every port)")
        keys = [(f.proto, f.public_port) for f in self.forwards]
        if len(set(keys)) != len(keys):
            raise ConfigError(f"two forwards share a public port: {keys}")
        if self.esp_host is not None:
            set_("esp_host", check_ipv4(self.esp_host))
        if self.helper == "static-port-500":
            if self.kind != "napt":
                raise ConfigError("helper 'static-port-500' needs kind 'napt'")
            if (IPProto.UDP, Port.IKE) in keys:
                raise ConfigError("helper 'static-port-500' conflicts with a forward of UDP 500")
        if self.helper == "esp-last-client" and (self.kind != "napt" or self.esp == "drop"):
            raise ConfigError("helper 'esp-last-client' needs kind 'napt' and esp other than 'drop'")
