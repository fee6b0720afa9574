"""ICMP Echo Request and Reply (RFC 792): the ping a client sends through its VPN."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import DecodeError
from .ip import internet_checksum
from ..net.records import fast_init_all

ICMP_PROTO = 1
ECHO_REPLY, ECHO_REQUEST = 0, 8


@dataclass(frozen=True)
class Echo:
    type: int          #: 8 request, 0 reply
    ident: int
    seq: int
    data: bytes = b""

    def encode(self) -> bytes:
        head = bytes([self.type, 0, 0, 0]) + self.ident.to_bytes(2, "big") + self.seq.to_bytes(2, "big")
        csum = internet_checksum(head + self.data)
        return head[:2] + csum.to_bytes(2, "big") + head[4:] + self.data

    def reply(self) -> "Echo":
        return Echo(ECHO_REPLY, self.ident, self.seq, self.data)


def decode_echo(data: bytes) -> Echo:
    """An echo request or reply with a verified checksum; DecodeError for anything else."""
    if len(data) < 8:
        raise DecodeError("ICMP", 0, f"an echo message needs 8 bytes, not {len(data)}")
    if data[0] not in (ECHO_REQUEST, ECHO_REPLY) or data[1]:
        raise DecodeError("ICMP", 0, f"ICMP type {data[0]} code {data[1]} is not an echo")
    if internet_checksum(data):
        raise DecodeError("ICMP", 2, "bad ICMP checksum")
    return Echo(data[0], int.from_bytes(data[4:6], "big"), int.from_bytes(data[6:8], "big"), data[8:])


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
