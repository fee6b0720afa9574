"""One direction of an AH security association, transport mode over IPv4 (RFC 4302).

    Next Header(1) | Payload Len(1) | Reserved(2) | SPI(4) | Sequence Number(4) | ICV | payload

Unlike ESP, the AH ICV also covers the IPv4 header (RFC 4302 §3.3.3.1): every field that
survives the trip unchanged, including the source and destination addresses. Fields a router
may change (TOS, flags and fragment offset, TTL, header checksum) are zeroed for the
computation. A NAT rewrites the source address, so AH cannot cross one: that is the teaching
point of this module, and why NAT-T (RFC 3948) only carries ESP.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ..errors import ConfigError, DecodeError, IntegrityError
from ..reasons import Reason
from ..wire.esp import AH_FIXED_LEN, decode_ah, encode_ah
from ..wire.ip import (IPV4_HEADER_LEN, OFF_IP_CHECKSUM, OFF_IP_DST, OFF_IP_PROTO, OFF_IP_SRC,
                       OFF_IP_TOTAL_LEN, OFF_IP_TTL, encode_ipv4_header)
from ..wire.numbers import IPProto
from ..crypto.primitives import KeyedHmac, equal
from .esp_sa import MAX_SEQ, SpiMismatchError, check_spi, integrity_spec
from ..net.records import fast_init_all

OFF_IP_TOS = 1
OFF_IP_FLAGS_FRAG = 6


def zero_mutable_fields(ip_header: bytes) -> bytes:
    """The IPv4 header as AH authenticates it: TOS, flags/fragment, TTL and checksum zeroed."""
    h = bytearray(ip_header)
    h[OFF_IP_TOS] = 0
    h[OFF_IP_FLAGS_FRAG:OFF_IP_FLAGS_FRAG + 2] = b"\x00\x00"
    h[OFF_IP_TTL] = 0
    h[OFF_IP_CHECKSUM:OFF_IP_CHECKSUM + 2] = b"\x00\x00"
    return bytes(h)


def _icv_field_len(icv_len: int) -> int:
    """ICV length padded to a multiple of 4 bytes, as IPv4 requires (RFC 4302 §2.6)."""
    return -(-icv_len // 4) * 4


@dataclass
class AhSa:
    """One AH SA (one direction). Mutable: `seq` is the last sequence number sent.

    There is no receive replay window here on purpose: lessons verify the same packet before
    and after a NAT to show the ICV failing, and a window would report a replay instead.
    """
    spi: int
    integrity: str  #: an esp_sa.INTEGRITY name, e.g. "hmac-sha1-96"
    auth_key: bytes
    seq: int = 0
    #: the integrity key made ready once (keyed HMAC, truncated to the ICV), not once per packet
    _mac: KeyedHmac = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_spi(self.spi)
        spec = integrity_spec(self.integrity)
        if len(self.auth_key) != spec.key_len:
            raise ConfigError(f"{self.integrity} needs a {spec.key_len}-byte key, "
                              f"got {len(self.auth_key)}")
        self._mac = KeyedHmac(spec.hash_name, self.auth_key, spec.icv_len)

    def protect(self, src: str, dst: str, ident: int, next_header: int, payload: bytes) -> bytes:
        """AH header + payload: the bytes that follow the IPv4 header.

        The ICV covers the header `encode_ipv4_header(src, dst, 51, len(result), ident)` would
        build, so the sender must put exactly that header (any TTL/TOS/DF) in front.
        """
        if self.seq >= MAX_SEQ:
            raise ConfigError("AH sequence numbers exhausted: the SA must be rekeyed")
        icv_len = self._mac.length
        field_len = _icv_field_len(icv_len)
        seq = self.seq + 1
        zeroed = encode_ah(next_header, self.spi, seq, bytes(field_len), payload)
        ip = encode_ipv4_header(src, dst, IPProto.AH, len(zeroed), ident)
        icv = self._mac.digest(zero_mutable_fields(ip) + zeroed)
        self.seq = seq
        return encode_ah(next_header, self.spi, seq, icv + bytes(field_len - icv_len), payload)

    def verify(self, ip_header: bytes, data: bytes) -> tuple[int, bytes]:
        """Check a received packet; returns (next_header, payload).

        `ip_header` is the 20-byte IPv4 header as received, `data` everything after it.
        """
        if len(ip_header) != IPV4_HEADER_LEN or ip_header[0] != 0x45:
            raise DecodeError("IPv4", 0, "AH verification needs a 20-byte IPv4 header "
                                         "without options")
        if ip_header[OFF_IP_PROTO] != IPProto.AH:
            raise DecodeError("IPv4", OFF_IP_PROTO, f"protocol {ip_header[OFF_IP_PROTO]} is not AH")
        total = int.from_bytes(ip_header[OFF_IP_TOTAL_LEN:OFF_IP_TOTAL_LEN + 2], "big")
        if total != IPV4_HEADER_LEN + len(data):
            raise DecodeError("IPv4", OFF_IP_TOTAL_LEN,
                              f"total length {total} but {IPV4_HEADER_LEN + len(data)} bytes")
        ah, payload = decode_ah(data)
        icv_len = self._mac.length
        field_len = len(ah.icv)
        if field_len != _icv_field_len(icv_len):
            raise DecodeError("AH", 1, f"payload length {ah.payload_len} gives a {field_len}-byte "
                                       f"ICV field, {self.integrity} needs "
                                       f"{_icv_field_len(icv_len)}")
        icv, spi, seq = ah.icv[:icv_len], ah.spi, ah.seq
        if spi != self.spi:
            raise SpiMismatchError(f"SPI 0x{spi:08x} does not belong to this SA "
                                   f"(expected 0x{self.spi:08x})")
        covered = (zero_mutable_fields(ip_header) + data[:AH_FIXED_LEN] + bytes(field_len)
                   + payload)
        expected = self._mac.digest(covered)
        if not equal(icv, expected):
            src = ipaddress.IPv4Address(ip_header[OFF_IP_SRC:OFF_IP_SRC + 4])
            dst = ipaddress.IPv4Address(ip_header[OFF_IP_DST:OFF_IP_DST + 4])
            raise IntegrityError(
                f"AH ICV mismatch: received {icv.hex()}, computed {expected.hex()} over a header "
                f"with source {src} and destination {dst} (seq {seq}); a NAT that rewrote "
                f"either address breaks AH", Reason.ICV)
        return ah.next_header, payload


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
