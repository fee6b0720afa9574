"""ESP and AH framing: the header fields, ESP padding/trailer and the AH length rule.

RFC 4303 §2 (ESP: SPI and Sequence Number §2.1-§2.2, Padding §2.4, Pad Length and Next Header
§2.5-§2.6) and RFC 4302 §2 (AH: Payload Length §2.2, SPI §2.4, ICV §2.6). Only the layout lives
here; encryption and ICVs are computed by the IPsec SA code, which calls these helpers.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..errors import ConfigError, DecodeError
from .codec import Reader
from .layout import (AH_COVERED, ENCRYPTED, ICV, SPI, Layout, Part, hexed, named, show_short_hex,
                     show_size)
from .numbers import IPProto
from ..net.records import fast_init_all

#: RFC 4303 §2.1, §2.2: the cleartext start of every ESP packet, then what the SA protects
ESP_HEADER = Layout("ESP", Part("spi", 4, "SPI", hexed(8), SPI),
                    Part("seq", 4, "sequence number", protected=ICV))
#: What follows the header, seen without the SA ...
ESP_SEALED = Layout("ESP", Part("protected", None, "IV + ciphertext + ICV", show_size, ENCRYPTED))
#: ... and once the SA's IV and ICV lengths are known (context iv_len, icv_len)
ESP_PROTECTED = Layout("ESP", Part("iv", lambda row, left: row["iv_len"], "IV", show_short_hex, ICV),
                       Part("ciphertext", lambda row, left: left - row["icv_len"],
                            "ciphertext (payload + padding + pad length + next header)", show_size, ENCRYPTED),
                       Part("icv", None, "ICV", show_short_hex, ICV))
#: RFC 4302 §2: the ICV length follows from Payload Length
AH_HEADER = Layout("AH", Part("next_header", 1, "next header", named(IPProto), AH_COVERED),
                   Part("payload_len", 1, "payload length",
                        lambda v, row: f"{v} ({(v + 2) * 4} bytes)", AH_COVERED),
                   Part("reserved", 2, "reserved", protected=AH_COVERED),
                   Part("spi", 4, "SPI", hexed(8), SPI),
                   Part("seq", 4, "sequence number", protected=AH_COVERED),
                   Part("icv", lambda row, left: (row["payload_len"] + 2) * 4 - AH_HEADER.size, "ICV",
                        show_short_hex, ICV))

ESP_HEADER_LEN = ESP_HEADER.size
#: SPI and sequence number as the layout packs them; an SA packs its own (valid) SPI and counter
#: with `ESP_HEAD.pack` directly
ESP_HEAD = ESP_HEADER.struct
ESP_TRAILER_LEN = 2  #: Pad Length and Next Header, after the padding (RFC 4303 §2.4-§2.6)
AH_FIXED_LEN = AH_HEADER.size  #: Next Header, Payload Len, Reserved, SPI, Sequence Number


def _check_u32(what: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
        raise ConfigError(f"{what} must be an integer 0..4294967295, got {value!r}")


@dataclass(frozen=True)
class EspHeader:
    """The cleartext start of every ESP packet (RFC 4303 §2.1, §2.2)."""
    spi: int  #: never 0 on the wire: 0 is how RFC 3948 §2.2 marks a non-ESP (IKE) packet
    seq: int  #: 32-bit sequence number, starting at 1 for a new SA

    def __post_init__(self) -> None:
        _check_u32("SPI", self.spi)
        _check_u32("sequence number", self.seq)
        if self.spi == 0:
            raise ConfigError("ESP SPI 0 is reserved and would read as a non-ESP marker")

    def encode(self) -> bytes:
        return ESP_HEADER.pack(self.spi, self.seq)


def read_esp_header(data: bytes) -> tuple[int, int]:
    """(SPI, sequence number) of an ESP packet, with the checks of `split_esp`: the per-packet form
    for an SA that reads the rest in place (no EspHeader, no copy of IV | ciphertext | ICV)."""
    if len(data) < ESP_HEADER_LEN:
        raise DecodeError("ESP", 0, f"truncated header: need {ESP_HEADER_LEN} bytes, {len(data)} left")
    spi, seq = ESP_HEAD.unpack_from(data)
    if spi == 0:
        raise DecodeError("ESP", 0, "SPI 0 is reserved (a non-ESP marker, not ESP)")
    return spi, seq


def split_esp(data: bytes) -> tuple[EspHeader, bytes]:
    """SPI and sequence number, then the rest (IV | ciphertext | ICV) untouched."""
    data = data if type(data) is bytes else bytes(data)
    spi, seq = read_esp_header(data)
    return EspHeader(spi, seq), data[ESP_HEADER_LEN:]


def join_esp(header: EspHeader, protected: bytes) -> bytes:
    """The inverse of `split_esp`: header, then IV | ciphertext | ICV as they are."""
    return header.encode() + protected


_PADDING = bytes(range(1, 256))   #: the default padding sequence 1, 2, 3, ... (RFC 4303 §2.4)


@lru_cache(maxsize=None)     # one table per cipher block size (4, 8, 16: a handful)
def padding_table(block_size: int) -> tuple[bytes, ...]:
    """Entry n: Padding 1, 2, .., n then Pad Length n, for every n a block_size cipher can need.

    RFC 4303 §2.4: the padding bytes are the default monotonic sequence, and the total must be a
    multiple of the cipher block size and of 4 bytes.
    """
    if block_size < 1 or block_size % 4 or block_size > 256:
        raise ConfigError(f"block size {block_size} must be a multiple of 4 up to 256")
    return tuple(_PADDING[:n] + bytes((n,)) for n in range(block_size))


def pad_plaintext(payload: bytes, next_header: int, block_size: int = 4) -> bytes:
    """payload | Padding 1, 2, 3, ... | Pad Length | Next Header, aligned to block_size."""
    table = padding_table(block_size)
    if not 0 <= next_header <= 255:
        raise ConfigError(f"next header {next_header} must be 0..255")
    return payload + table[-(len(payload) + 2) % block_size] + bytes((next_header,))


def strip_trailer(plaintext: bytes, base: int = 0) -> tuple[bytes, int]:
    """Undo `pad_plaintext` after decryption; return (payload, next header).

    The padding must be the default 1, 2, 3, ... sequence (RFC 4303 §2.4 lets a receiver check
    it); anything else means a wrong key or a corrupted packet.
    """
    n = len(plaintext)   # read once: every ESP packet received comes through here
    if n < 2:
        raise DecodeError("ESP trailer", base, f"need 2 trailer bytes, {n} present")
    pad_len, next_header = plaintext[-2], plaintext[-1]
    if pad_len + 2 > n:
        raise DecodeError("ESP trailer", base + n - 2, f"pad length {pad_len} exceeds the {n - 2} bytes before it")
    start = n - 2 - pad_len
    if plaintext[start:-2] != _PADDING[:pad_len]:
        raise DecodeError("ESP trailer", base + start, "padding is not 1, 2, 3, ...")
    return plaintext[:start], next_header


@dataclass(frozen=True)
class AhHeader:
    """An Authentication Header (RFC 4302 §2)."""
    next_header: int
    payload_len: int  #: AH length in 32-bit words minus 2 (RFC 4302 §2.2)
    spi: int
    seq: int
    icv: bytes
    reserved: int = 0  #: sent as zero; a receiver ignores it (RFC 4302 §2.3) but keeps it for the ICV

    @property
    def length(self) -> int:
        """Bytes of the whole AH, fixed part and ICV."""
        return (self.payload_len + 2) * 4

    def encode(self) -> bytes:
        """The inverse of `decode_ah`: the header with its ICV, exactly as received."""
        if len(self.icv) != self.length - AH_FIXED_LEN:
            raise ConfigError(f"payload length {self.payload_len} needs a {self.length - AH_FIXED_LEN}-byte ICV")
        return AH_HEADER.pack(self.next_header, self.payload_len, self.reserved, self.spi, self.seq) + self.icv


def decode_ah(data: bytes) -> tuple[AhHeader, bytes]:
    """Split an AH from the payload that follows it, checking its length rule."""
    r = Reader(data, "AH")
    if len(data) < AH_FIXED_LEN:
        raise r.fail(f"truncated header: need {AH_FIXED_LEN} bytes, {len(data)} left")
    values = AH_HEADER.read(r)
    next_header, payload_len, reserved, spi, seq = values
    total = (payload_len + 2) * 4
    if total < AH_FIXED_LEN:
        raise r.fail(f"payload length {payload_len} gives {total} bytes, less than 12", at=1)
    if total > len(data):
        raise r.fail(f"payload length {payload_len} gives {total} bytes, only {len(data)} present",
                     at=1)
    if spi == 0:
        raise r.fail("SPI 0 is reserved", at=4)
    icv = AH_HEADER.read_tail(r, values)[-1]
    return AhHeader(next_header, payload_len, spi, seq, icv, reserved), r.rest()


def encode_ah(next_header: int, spi: int, seq: int, icv: bytes, payload: bytes) -> bytes:
    """AH + payload; pass icv=bytes(n) to build the zero-ICV form the ICV is computed over."""
    if len(icv) % 4:
        raise ConfigError(f"ICV of {len(icv)} bytes: IPv4 AH needs a multiple of 4 (RFC 4302 §2.6)")
    payload_len = (AH_FIXED_LEN + len(icv)) // 4 - 2
    if not 0 <= next_header <= 255 or payload_len > 255:
        raise ConfigError("next header must be 0..255 and the ICV at most 1012 bytes")
    _check_u32("SPI", spi)
    _check_u32("sequence number", seq)
    if spi == 0:
        raise ConfigError("AH SPI 0 is reserved")
    return AH_HEADER.pack(next_header, payload_len, 0, spi, seq) + bytes(icv) + payload


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
