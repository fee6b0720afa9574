"""Endpoints and datagrams: what a peer hands to the network and gets back.

A `Datagram` is one IP packet described by its fields; `natt_core.wire.ip` turns it into real
IPv4 bytes (and back) so NAT devices and captures see exactly what a wire would carry.
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field

from .errors import ConfigError
from .net.records import fast_init_all


_set = object.__setattr__
_CANONICAL: dict[str, str] = {}   # every Endpoint checks its address: remember the answers


def check_ipv4(text: str) -> str:
    """Return the canonical dotted form of an IPv4 address or raise ConfigError."""
    if type(text) is str:
        known = _CANONICAL.get(text)
        if known is not None:
            return known
    try:
        canonical = str(ipaddress.IPv4Address(text))
    except (ipaddress.AddressValueError, ValueError) as exc:
        raise ConfigError(f"invalid IPv4 address {text!r}: {exc}") from None
    if type(text) is str and len(_CANONICAL) < 1 << 16:
        _CANONICAL[text] = canonical
    return canonical


def check_port(port: int) -> int:
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ConfigError(f"invalid port {port!r}: must be an integer 0..65535")
    return port


@dataclass(frozen=True, order=True, init=False)
class Endpoint:
    """An IPv4 address and (for UDP/TCP) a port; port 0 for protocols without ports (ESP, AH)."""
    ip: str
    port: int = 0

    def __init__(self, ip: str, port: int = 0) -> None:
        # the checks in __init__ itself, not a __post_init__ call: the engine makes Endpoints per packet
        if type(ip) is not str or _CANONICAL.get(ip) is not ip:   # not already known canonical
            ip = check_ipv4(ip)
        if not ((type(port) is int or type(port) is not bool and isinstance(port, int))   # int or IntEnum (Port.IKE)
                and 0 <= port <= 65535):
            check_port(port)
        _set(self, "__dict__", {"ip": ip, "port": port})

    _text = None    #: `__str__` not worked out yet (an instance keeps its own once it is)

    def __str__(self) -> str:
        # written once per Endpoint (it is immutable) and kept beside its fields (==, hash and repr
        # read the fields only): events name the endpoints of every message
        text = self._text
        if text is None:
            text = self.__dict__["_text"] = f"{self.ip}:{self.port}" if self.port else self.ip
        return text

    @property
    def packed_ip(self) -> bytes:
        return socket.inet_aton(self.ip)  # `ip` is already canonical dotted IPv4 (__init__)


@dataclass(frozen=True)
class Datagram:
    """One IP packet: UDP (payload is the UDP payload) or ESP/AH (payload follows the IP header)."""
    src: Endpoint
    dst: Endpoint
    proto: int
    payload: bytes
    #: IP identification; chosen by the sender so AH can cover the header it will really send.
    ident: int = 0
    ttl: int = 64
    #: UDP only: send checksum 0, as RFC 3948 §2.1/§2.3 asks for ESP-in-UDP and keepalives.
    zero_udp_checksum: bool = False
    #: What the sender meant ("MM5", "ESP", "keepalive"); never on the wire, never compared.
    label: str = field(default="", compare=False)

    def __repr__(self) -> str:
        return f"Datagram({self.src} -> {self.dst}, proto={self.proto}, {len(self.payload)} bytes)"


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
