"""NAT discovery: the NAT-D hash and the "who is behind a NAT" verdict (RFC 3947 §3.2).

Each side sends HASH(CKY-I | CKY-R | IP | Port) for the address it is sending *to* (first NAT-D)
and for its own address(es) (second and later NAT-Ds). The receiver recomputes both from what it
knows and what the packet headers say; a mismatch means an address or port was rewritten on the
way. HASH is the negotiated phase-1 hash, unkeyed. The hashes are not authenticated (§8).
"""
from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Callable, Sequence

from ..addressing import check_ipv4, check_port
from ..errors import ConfigError, DecodeError
from .primitives import digest
from ..net.records import fast_init_all

COOKIE_LEN = 8
#: the phase-1 hash a NAT-D payload was made with, told by its length (when MM2 is not at hand)
HASH_BY_LENGTH = {16: "md5", 20: "sha1", 32: "sha256"}


def natd_hash(hash_name: str, cky_i: bytes, cky_r: bytes, ip: str, port: int) -> bytes:
    """HASH(CKY-I | CKY-R | IP | Port) for an IPv4 address; the cookies are always I then R."""
    if len(cky_i) != COOKIE_LEN or len(cky_r) != COOKIE_LEN:
        for name, cookie in (("CKY-I", cky_i), ("CKY-R", cky_r)):
            if len(cookie) != COOKIE_LEN:
                raise ConfigError(f"{name} must be {COOKIE_LEN} bytes, got {len(cookie)}")
    return digest(hash_name, cky_i + cky_r + ip_port(ip, port))


def ip_port(ip: str, port: int) -> bytes:
    """IP | Port as NAT-D hashes them (RFC 3947 §3.2; RFC 7296 §2.23 the same for IKEv2)."""
    # a plain int or an IntEnum port (Port.IKE) in range passes without `check_port`'s call
    if not (type(port) is int or isinstance(port, int) and type(port) is not bool) or not 0 <= port <= 0xFFFF:
        check_port(port)
    return packed_ipv4(ip) + port.to_bytes(2, "big")


def packed_ipv4(ip: str) -> bytes:
    """A dotted IPv4 address as 4 bytes. The engine's addresses are canonical (Endpoint checked
    them) and are packed by the C parser, which gives them back unchanged; anything else goes
    through `check_ipv4`, so a bad address is a ConfigError and "010.1.1.1" is never read as octal."""
    try:
        packed = socket.inet_aton(ip)
        if socket.inet_ntoa(packed) == ip:
            return packed
    except (OSError, TypeError):
        pass
    return ipaddress.IPv4Address(check_ipv4(ip)).packed


@dataclass(frozen=True)
class NatdVerdict:
    """The outcome of comparing received NAT-D payloads, with the hashes kept for display."""
    self_behind_nat: bool  #: the peer saw a different address/port for us: we send keepalives
    peer_behind_nat: bool  #: the packet's source is not among the peer's own addresses
    expected_self: bytes  #: hash of our local address and port
    received_dest: bytes  #: the peer's first NAT-D: our address as it addressed us
    expected_peer: bytes  #: hash of the source address and port seen in the packet headers
    received_sources: tuple[bytes, ...]  #: the peer's second and later NAT-Ds: its own addresses

    @property
    def nat_detected(self) -> bool:
        """NAT-T is needed (float to 4500, UDP encapsulation) when either side is behind a NAT."""
        return self.self_behind_nat or self.peer_behind_nat


def evaluate_natd(hash_name: str, cky_i: bytes, cky_r: bytes, received: Sequence[bytes], *,
                  local: tuple[str, int], remote_seen: tuple[str, int],
                  hash_of: Callable[[str, int], bytes] | None = None) -> NatdVerdict:
    """Compare the peer's NAT-D hashes with our own view of both addresses.

    `received` is in payload order; `local` is our own address and port, `remote_seen` the source
    address and port of the packet that carried the NAT-Ds. Because ports are hashed, a NAT that
    changes only the port is detected too. `hash_of(ip, port)`, when given, is `natd_hash` under
    these cookies and hash worked out by the caller (an SA that sent the same hashes keeps them).
    """
    if len(received) < 2:
        raise DecodeError("NAT-D", 0, f"need at least 2 NAT-D payloads (destination and source), "
                                      f"got {len(received)}")
    if hash_of is None:
        expected_self = natd_hash(hash_name, cky_i, cky_r, *local)
        expected_peer = natd_hash(hash_name, cky_i, cky_r, *remote_seen)
    else:
        expected_self, expected_peer = hash_of(*local), hash_of(*remote_seen)
    dest, sources = bytes(received[0]), tuple(map(bytes, received[1:]))
    return NatdVerdict(
        self_behind_nat=dest != expected_self,
        peer_behind_nat=expected_peer not in sources,
        expected_self=expected_self,
        received_dest=dest,
        expected_peer=expected_peer,
        received_sources=sources,
    )


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
