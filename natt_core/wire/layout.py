"""Each wire layout described once: the fields of a header or payload body, in wire order.

A `Layout` is a list of `Part`s: name, size, the label a view shows and how it renders the value.
The codecs pack and unpack through it (one precomputed `struct` format for the fixed-size prefix,
then the variable parts whose sizes the earlier fields give), and `wire.dissect` walks the same
Layout to say where each field sits. So a field's name, offset and length exist in one place.

Each Part also says whether a NAT *can* rewrite it without breaking the packet: `protected` names
why not (encrypted, covered by an ICV, a NAT-D hash over the addresses, an ID payload the peer
checks), and `ah` marks the IPv4 fields the AH ICV covers (RFC 4302 §3.3.3.1). That is the lesson
of RFC 3715 §2 in byte form.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

from ..errors import DecodeError

ENCRYPTED = "encrypted"
ICV = "integrity (ICV)"
AH_COVERED = "integrity (AH ICV covers it)"
NATD_HASH = "NAT-D hash"
ID_PAYLOAD = "ID payload"
SPI = "SPI (selects the SA)"


@dataclass(frozen=True)
class Field:
    """One labelled byte range of a packet; `offset` is absolute from the IPv4 header."""
    name: str
    offset: int
    length: int
    value: str
    layer: str
    protected: str | None = None  #: why a NAT cannot rewrite these bytes, or None

    @property
    def end(self) -> int:
        return self.offset + self.length


# --- how a view renders a value: show(value, row) where row holds the other fields and context ---

def text(value: Any, row: dict) -> str:
    return str(value)


def hexed(width: int) -> Callable[[int, dict], str]:
    return lambda value, row: f"0x{value:0{width}x}"


def short_hex(data: bytes, limit: int = 8) -> str:
    return data[:limit].hex() + ("…" if len(data) > limit else "")


def show_short_hex(value: bytes, row: dict) -> str:
    return short_hex(value)


def show_hex(value: bytes, row: dict) -> str:
    return value.hex()


def show_size(value: bytes, row: dict) -> str:
    return f"{len(value)} bytes"


def show_size_hex(value: bytes, row: dict) -> str:
    return f"{len(value)} bytes {short_hex(value)}"


def show_reserved(value: int | bytes, row: dict) -> str:
    return (value.hex() if any(value) else "0") if isinstance(value, bytes) else str(value)


def named(enum: type, number_first: bool = True) -> Callable[[int, dict], str]:
    """'17 (UDP)' (or just 'UDP') from an IntEnum; unknown numbers get the enum's fallback label."""
    from .numbers import label
    if number_first:
        return lambda value, row: f"{value} ({label(enum, value)})"
    return lambda value, row: label(enum, value)


class Part(NamedTuple):
    """One field: `size` is bytes (int), the name of an earlier field holding it, a function of
    (row, bytes left), or None for everything left. Ints of 1, 2 or 4 bytes are numbers, the rest bytes."""
    name: str
    size: int | str | Callable[[dict, int], int] | None
    label: str
    show: Callable[[Any, dict], str] = text
    protected: str | None = None  #: why a NAT cannot rewrite it (see the module docstring)
    ah: bool = False              #: an IPv4 field the AH ICV covers (immutable, RFC 4302 §3.3.3.1)
    zero: bool = False            #: reserved: sent as zero, and a strict decoder insists on it
    nested: bool = False          #: a structure the codec and the dissector walk themselves
    raw: bool = False             #: a fixed-size field kept as bytes, not as a number


_CODES = {1: "B", 2: "H", 4: "I"}


class Layout:
    """The parts of one header or body; `struct` covers the fixed-size prefix."""
    __slots__ = ("name", "parts", "fixed", "tail", "struct", "size", "names", "offsets", "_zero",
                 "_zeros", "_tail_plan", "_rest_only", "pack")

    def __init__(self, name: str, *parts: Part):
        self.name = name
        self.parts = parts
        n = 0
        while n < len(parts) and isinstance(parts[n].size, int) and not parts[n].nested:
            n += 1
        self.fixed, self.tail = parts[:n], parts[n:]
        fmt = "".join(f"{p.size}s" if p.raw or p.size not in _CODES else _CODES[p.size]
                      for p in self.fixed)
        self.struct = struct.Struct("!" + fmt)
        #: pack(*values): the fixed-size prefix from its values in order (reserved fields included);
        #: the compiled struct's own method, so packing a header costs one call
        self.pack = self.struct.pack
        self.size = self.struct.size
        self.names = tuple(p.name for p in parts)
        offsets, at = [], 0
        for p in self.fixed:
            offsets.append(at)
            at += p.size
        self.offsets = tuple(offsets)
        self._zero = tuple(i for i, p in enumerate(self.fixed) if p.zero)
        self._zeros = tuple(bytes(p.size) if p.raw or p.size not in _CODES
                            else 0 for p in (self.fixed[i] for i in self._zero))
        index = {p.name: i for i, p in enumerate(self.fixed)}
        self._tail_plan = tuple((p, index[p.size] if isinstance(p.size, str) else None)
                                for p in self.tail if not p.nested)
        self._rest_only = len(self._tail_plan) == 1 and self._tail_plan[0][0].size is None

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {', '.join(self.names)})"

    def offset(self, name: str) -> int:
        """Offset of a fixed-size field inside this layout (e.g. where a NAT rewrites)."""
        return self.offsets[self.names.index(name)]

    # --- decoding -----------------------------------------------------------------------------

    def read(self, r) -> tuple:
        """Unpack the fixed prefix from a `codec.Reader`; truncation and non-zero reserved
        fields are DecodeErrors naming the field and its absolute offset."""
        pos = r.pos
        if len(r.data) - pos < self.size:
            raise self._truncated(r)
        values = self.struct.unpack_from(r.data, pos)
        r.pos = pos + self.size
        for i, zero in zip(self._zero, self._zeros):
            if values[i] != zero:
                part = self.fixed[i]
                raise DecodeError(r.layer, r.base + pos + self.offsets[i],
                                  f"{part.label} is {_show_raw(values[i])}, must be zero")
        return values

    def read_tail(self, r, values: tuple) -> tuple:
        """The variable parts after the fixed prefix, up to the first nested one."""
        if self._rest_only:                       # the common case: one field to the end
            data = r.data
            rest = data[r.pos:]
            r.pos = len(data)
            return values + (rest,)
        out = []
        for part, index in self._tail_plan:
            if part.size is None:
                out.append(r.bytes(len(r.data) - r.pos, part.label))
            elif index is not None:
                out.append(r.bytes(values[index], part.label))
            else:
                row = dict(zip(self.names, values))
                out.append(r.bytes(part.size(row, len(r.data) - r.pos), part.label))
        return values + tuple(out)

    def read_all(self, r) -> tuple:
        """The fixed prefix and the variable parts after it (`read`, then `read_tail`)."""
        values = self.read(r)
        if self._rest_only:                       # read_tail's common case, without the call
            data = r.data
            rest = data[r.pos:]
            r.pos = len(data)
            return values + (rest,)
        return self.read_tail(r, values) if self._tail_plan else values

    def _truncated(self, r) -> DecodeError:
        left = len(r.data) - r.pos
        for part, off in zip(self.fixed, self.offsets):
            if left - off < part.size:
                return DecodeError(r.layer, r.offset + off, f"truncated {part.label}: need "
                                   f"{part.size} bytes, {max(left - off, 0)} left")
        raise AssertionError("not truncated")  # pragma: no cover

    # --- the view ---------------------------------------------------------------------------

    def fields(self, data: bytes, at: int, base: int = 0, *, layer: str | None = None,
               context: dict | None = None, protected: str | None = None, ah: bool = False,
               labels: dict[str, str] | None = None) -> tuple[list[Field], int]:
        """Every non-empty field of this layout at data[at:], offsets shifted by `base`.

        Returns the fields and the position of the first nested part (or the end). `protected`
        overrides every part's own mark (a block under the AH ICV); `ah` marks the AH-covered
        IPv4 fields; `context` is passed to the renderers (e.g. a Vendor ID's name).
        """
        values = self.struct.unpack_from(data, at)
        row = dict(context) if context else {}
        row.update(zip(self.names, values))  # a field's own value wins over the context
        out: list[Field] = []
        pos = at
        lay = layer or self.name
        nfixed = len(self.fixed)
        for i, part in enumerate(self.parts):
            if part.nested:
                break
            size = part.size
            if size is None:
                size = len(data) - pos
            elif isinstance(size, str):
                size = row[size]
            elif not isinstance(size, int):
                size = size(row, len(data) - pos)
            if i >= nfixed:
                row[part.name] = data[pos:pos + size]
            if size > 0:
                mark = protected or part.protected or (AH_COVERED if ah and part.ah else None)
                name = labels.get(part.name, part.label) if labels else part.label
                if "{" in name:
                    name = name.format_map(row)
                out.append(Field(name, base + pos, size, part.show(row[part.name], row), lay, mark))
            pos += size
        return out, pos


def _show_raw(value: Any) -> str:
    return value.hex() if isinstance(value, bytes) else f"0x{value:x}"
