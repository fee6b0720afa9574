"""What UDP encapsulation costs: an ESP packet's bytes by part, and what still fits under a path MTU.

The parts come from the packet itself (dissected) and its decrypted trailer: outer IPv4 (RFC 791),
the UDP header NAT-T adds (RFC 3948 §2.1), the ESP header and IV (RFC 4303 §2), the inner payload,
the padding and 2-byte trailer that round it up to the cipher block (§2.4), and the ICV (§2.8).
`largest_inner` turns that into the question an admin asks: with this MTU, how big may the inner
packet be before the outer one has to be fragmented?

Nothing is assumed: header sizes are the codec's constants, IV and ICV lengths the dissected
packet's (split with the SA's own algorithms from trace.secrets), the block size the SA's cipher's.
"""
from __future__ import annotations

from dataclasses import dataclass

from natt_core.crypto.primitives import cipher_spec
from natt_core.errors import NattError
from natt_core.lab.trace import Trace
from natt_core.wire.dissect import Field
from natt_core.wire.esp import ESP_HEADER_LEN as ESP_HEADER
from natt_core.wire.esp import ESP_TRAILER_LEN as TRAILER
from natt_core.wire.ip import IPV4_HEADER_LEN as IPV4
from natt_core.wire.ip import UDP_HEADER_LEN as UDP

from .decrypt import open_step
from .steps import Journey, fields_of


@dataclass(frozen=True)
class Part:
    name: str
    size: int
    added_by: str        #: "IP", "NAT-T", "ESP" or "inner": who puts these bytes on the wire


@dataclass(frozen=True)
class Budget:
    parts: tuple[Part, ...]
    block: int           #: the cipher's block size (the ciphertext is a multiple of it)
    iv: int
    icv: int
    encapsulated: bool

    @property
    def total(self) -> int:
        return sum(p.size for p in self.parts)

    @property
    def overhead(self) -> int:
        return sum(p.size for p in self.parts if p.added_by != "inner")


def budget(fields: tuple[Field, ...], inner: int, block: int) -> Budget | None:
    """The parts of one ESP(-in-UDP) packet, or None if it is not one. `inner` is the length of
    its decrypted payload (the inner packet, without padding and trailer), `block` its SA's
    cipher block size."""
    esp = [f for f in fields if f.layer == "ESP"]
    by_name = {f.name: f for f in esp}
    body = next((f.length for f in esp if f.name.startswith("ciphertext")), None)
    if "IV" not in by_name or "ICV" not in by_name or body is None or not 0 <= inner <= body - TRAILER:
        return None
    iv, icv = by_name["IV"].length, by_name["ICV"].length
    pad = body - TRAILER - inner
    encapsulated = any(f.layer == "UDP" for f in fields)
    ip_header = next((f.offset for f in fields if f.layer != "IPv4"), IPV4)     # where the outer header ends
    parts = [Part("outer IPv4 header", ip_header, "IP")]
    if encapsulated:
        parts.append(Part("UDP header (NAT-T)", UDP, "NAT-T"))
    parts += [Part("ESP header (SPI, sequence)", ESP_HEADER, "ESP"), Part("IV", iv, "ESP"),
              Part("inner packet", inner, "inner"), Part("padding", pad, "ESP"),
              Part("pad length, next header", TRAILER, "ESP"), Part("ICV", icv, "ESP")]
    return Budget(tuple(parts), block=block, iv=iv, icv=icv, encapsulated=encapsulated)


def sa_block(trace: Trace, spi: int) -> int | None:
    """The cipher block size of the run's ESP SA `spi` (trace.secrets), None if unknown or AH."""
    for c in trace.secrets.get("child_sas", ()):
        try:
            if int(c["spi"], 16) == spi and c.get("cipher"):
                return cipher_spec(c["cipher"]).block
        except (KeyError, ValueError, NattError):
            continue
    return None


def esp_budget(trace: Trace, j: Journey) -> Budget | None:
    """The budget of this step's ESP packet as it arrived, opened with the run's own SA."""
    opened = open_step(trace, j)
    if opened is None or not opened.plaintext:
        return None
    fields = fields_of(trace, j.hops[-1].packet)
    spi = next((f for f in fields if f.layer == "ESP" and f.name == "SPI"), None)
    if spi is None:
        return None
    packet = j.hops[-1].packet
    block = sa_block(trace, int.from_bytes(packet[spi.offset:spi.offset + spi.length], "big"))
    return budget(fields, len(opened.plaintext), block) if block else None


def outer_size(inner: int, b: Budget, encapsulated: bool | None = None) -> int:
    """The outer packet for an inner packet of `inner` bytes (RFC 4303 §2.4 padding to the block)."""
    udp = UDP if (b.encapsulated if encapsulated is None else encapsulated) else 0
    body = -(-(inner + TRAILER) // b.block) * b.block
    return IPV4 + udp + ESP_HEADER + b.iv + body + b.icv


def largest_inner(mtu: int, b: Budget, encapsulated: bool | None = None) -> int:
    """The biggest inner packet whose outer packet still fits in `mtu` (0 if none does)."""
    fixed = outer_size(0, b, encapsulated) - b.block       # everything but the padded body
    room = (mtu - fixed) // b.block * b.block              # whole blocks that fit
    return max(room - TRAILER, 0)
