"""IKEv2 traffic selectors (RFC 7296 §3.13.1): one IPv4 address range with a protocol and a
port range, as a TSi/TSr payload carries them (`natt_core.wire.ikev2` reads and writes the
payloads; a selector encodes itself)."""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache

from ..errors import ConfigError
from ..net.records import fast_init_all
from .ikev2_layouts import SELECTOR
from .ikev2_numbers import TsType
from .isakmp_frame import _check


@lru_cache(maxsize=1024)
def _is_ipv4(text: str) -> bool:
    """Dotted-quad IPv4 as `ipaddress` reads it; a peer builds the same few selectors again and again."""
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class TrafficSelector:
    """One IPv4 range selector (TS_IPV4_ADDR_RANGE, §3.13.1); proto 0 and ports 0-65535 = any."""
    start_addr: str
    end_addr: str
    ip_proto: int = 0
    start_port: int = 0
    end_port: int = 65535

    def __post_init__(self) -> None:
        for a in (self.start_addr, self.end_addr):
            if a.__class__ is not str or not _is_ipv4(a):
                raise ConfigError(f"traffic selector address {a!r} is not IPv4")
        proto, start, end = self.ip_proto, self.start_port, self.end_port
        if not (proto.__class__ is int and start.__class__ is int and end.__class__ is int
                and 0 <= proto <= 0xFF and 0 <= start <= 0xFFFF and 0 <= end <= 0xFFFF):   # the full checks
            _check("TS protocol", proto, 8)
            _check("TS start port", start, 16)
            _check("TS end port", end, 16)

    @classmethod
    def host(cls, addr: str, ip_proto: int = 0, port: int | None = None) -> "TrafficSelector":
        return cls(addr, addr, ip_proto, *((port, port) if port is not None else (0, 65535)))

    def encode(self) -> bytes:
        return SELECTOR.struct.pack(TsType.IPV4_ADDR_RANGE, self.ip_proto, SELECTOR.size, self.start_port,
                             self.end_port, socket.inet_aton(self.start_addr), socket.inet_aton(self.end_addr))

    def __str__(self) -> str:
        addr = self.start_addr if self.start_addr == self.end_addr else f"{self.start_addr}-{self.end_addr}"
        proto = f"/{self.ip_proto}" if self.ip_proto else ""
        ports = "" if (self.start_port, self.end_port) == (0, 65535) else (
            f":{self.start_port}" if self.start_port == self.end_port else f":{self.start_port}-{self.end_port}")
        return f"{addr}{proto}{ports}"


fast_init_all(globals())
