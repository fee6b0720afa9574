"""A tiny Reader/Writer over bytes with exact-length blocks.

Every decoder in `natt_core.wire` reads through `Reader`, so truncation and trailing bytes are
reported as `DecodeError(layer, offset, reason)` in one place.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..errors import DecodeError


class Reader:
    """Sequential reader; `offset` is absolute within the original buffer for error messages."""
    __slots__ = ("data", "pos", "layer", "base")

    def __init__(self, data: bytes, layer: str, base: int = 0):
        self.data = data if type(data) is bytes else bytes(data)
        self.pos = 0
        self.layer = layer
        self.base = base

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def fail(self, reason: str, at: int | None = None) -> DecodeError:
        return DecodeError(self.layer, self.offset if at is None else at, reason)

    def bytes(self, n: int, what: str = "field") -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise self.fail(f"truncated {what}: need {n} bytes, {self.remaining()} left")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    # u8/u16/u32 read in place (they run for every PPP and L2TP field); past the end, `bytes`
    # raises the error

    def u8(self, what: str = "field") -> int:
        pos, data = self.pos, self.data
        if pos >= len(data):
            self.bytes(1, what)
        self.pos = pos + 1
        return data[pos]

    def u16(self, what: str = "field") -> int:
        pos, data = self.pos, self.data
        if pos + 2 > len(data):
            self.bytes(2, what)
        self.pos = pos + 2
        return data[pos] << 8 | data[pos + 1]

    def u32(self, what: str = "field") -> int:
        return int.from_bytes(self.bytes(4, what), "big")

    def rest(self) -> bytes:
        data = self.data
        out = data[self.pos:]
        self.pos = len(data)
        return out

    def sub(self, n: int, layer: str | None = None, what: str = "block") -> "Reader":
        """A Reader over the next n bytes (consumed here), for a length-prefixed block."""
        start = self.base + self.pos
        return Reader(self.bytes(n, what), layer or self.layer, start)

    def expect_end(self) -> None:
        if self.remaining():
            raise self.fail(f"{self.remaining()} trailing bytes")


@contextmanager
def exact(reader: Reader) -> Iterator[Reader]:
    """Use a sub-reader and insist it is consumed completely."""
    yield reader
    reader.expect_end()


class Writer:
    """Accumulates big-endian fields."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def u8(self, v: int) -> "Writer":
        self.parts.append(v.to_bytes(1, "big"))
        return self

    def u16(self, v: int) -> "Writer":
        self.parts.append(v.to_bytes(2, "big"))
        return self

    def u32(self, v: int) -> "Writer":
        self.parts.append(v.to_bytes(4, "big"))
        return self

    def raw(self, b: bytes) -> "Writer":
        self.parts.append(bytes(b))
        return self

    def getvalue(self) -> bytes:
        return b"".join(self.parts)
