"""Link impairments: loss, duplication, reordering, delay and jitter on one segment.

Retransmission timers in IKE (RFC 2408 §5.x leaves them to the implementation) only show their
worth on a bad link, so a segment can be made lossy. Every random draw comes from the network's
seeded `random.Random`, and a probability of zero draws nothing, so adding a perfect segment never
shifts the random stream of the others.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from ..errors import ConfigError


def _number(name: str, value: object, low: float, high: float | None = None) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise ConfigError(f"impairment {name} must be a finite number, got {value!r}")
    if value < low or (high is not None and value > high):
        span = f"{low}..{high}" if high is not None else f">= {low}"
        raise ConfigError(f"impairment {name} must be {span}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Impairment:
    """Per-packet behaviour of one segment; all times in virtual seconds."""
    loss: float = 0.0
    """Probability that a packet vanishes on this segment."""
    duplicate: float = 0.0
    """Probability that a packet arrives twice (the copy one `delay` after the original)."""
    reorder: float = 0.0
    """Probability that a packet is held back by `reorder_extra`, so later packets overtake it."""
    delay: float = 0.001
    """Fixed one-way latency."""
    jitter: float = 0.0
    """Extra latency drawn uniformly from [0, jitter]."""
    reorder_extra: float = 0.05
    """How long a reordered packet is held back."""

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            _number(name, getattr(self, name), 0.0, 1.0)
        for name in ("delay", "jitter", "reorder_extra"):
            _number(name, getattr(self, name), 0.0)

    @property
    def perfect(self) -> bool:
        return not (self.loss or self.duplicate or self.reorder or self.jitter)

    def plan(self, rng: random.Random) -> list[tuple[float, str]]:
        """(delay, note) per copy that arrives: [] = lost, one entry = the packet itself (perhaps
        held back), a second entry = the duplicate the link made, which the network treats as a
        packet of its own."""
        if self.loss and rng.random() < self.loss:
            return []
        base, note = self.delay, ""
        if self.jitter:
            base += rng.uniform(0.0, self.jitter)
        if self.reorder and rng.random() < self.reorder:
            base, note = base + self.reorder_extra, f"held back {self.reorder_extra * 1000:g} ms (reordered)"
        if self.duplicate and rng.random() < self.duplicate:
            return [(base, note), (base + self.delay, "duplicate copy")]
        return [(base, note)]

    def delays(self, rng: random.Random) -> list[float]:
        """Delivery delays for one packet: [] = lost, one entry = delivered, two = duplicated."""
        return [d for d, _ in self.plan(rng)]

    def describe(self) -> str:
        parts = [f"delay {self.delay * 1000:g} ms"]
        if self.jitter:
            parts.append(f"jitter {self.jitter * 1000:g} ms")
        for name in ("loss", "duplicate", "reorder"):
            value = getattr(self, name)
            if value:
                parts.append(f"{name} {value:.0%}")
        return ", ".join(parts)


PERFECT = Impairment()
