"""A virtual clock: the only notion of time in the lab.

Nothing reads a wall clock. Callbacks run in a fixed order -- by time, then by the order in which
they were scheduled -- so a scenario with the same seed replays identically, packet for packet.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Callable

from ..errors import ConfigError
from .records import builder, fast_init_all

Callback = Callable[..., None]


@dataclass(eq=False)
class Timer:
    """Handle for a scheduled callback; `cancel()` makes it a no-op (lazy removal from the heap)."""
    time: float
    seq: int
    callback: Callback = field(repr=False)
    cancelled: bool = False
    args: tuple = field(default=(), repr=False)
    """Given to the callback after the time: the network schedules every packet arrival, and
    passing its values here spares a closure per packet."""

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A heap of (time, seq, callback); callbacks receive the current virtual time."""

    def __init__(self, start: float = 0.0):
        self.now = float(start)
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = 0

    def call_at(self, t: float, fn: Callback, *args: object) -> Timer:
        """Schedule fn(t, *args) at absolute virtual time t (not in the past)."""
        if type(t) is not float or t != t:   # the common case first: a float that is not NaN
            if not isinstance(t, (int, float)) or isinstance(t, bool) or math.isnan(t):
                raise ConfigError(f"timer time must be a number, got {t!r}")
        if t < self.now:
            raise ConfigError(f"cannot schedule at t={t} in the past (now is t={self.now})")
        self._seq += 1
        t = float(t)
        timer = _timer(t, self._seq, fn, False, args)
        heapq.heappush(self._heap, (t, self._seq, timer))
        return timer

    def call_later(self, delay: float, fn: Callback, *args: object) -> Timer:
        if delay < 0:
            raise ConfigError(f"delay must be >= 0, got {delay}")
        return self.call_at(self.now + delay, fn, *args)

    def next_time(self) -> float | None:
        """Time of the earliest pending (non-cancelled) callback, or None."""
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        return sum(1 for _, _, timer in self._heap if not timer.cancelled)

    def step(self) -> bool:
        """Run the single earliest callback; False when nothing is pending."""
        if self.next_time() is None:
            return False
        t, _, timer = heapq.heappop(self._heap)
        self.now = t
        timer.callback(t, *timer.args)
        return True

    def run_until(self, t: float, max_steps: int = 10_000_000) -> int:
        """Run every callback due at or before t, then set now = t; returns the number run."""
        if t < self.now:
            raise ConfigError(f"cannot run back to t={t} (now is t={self.now})")
        steps = 0
        heap, pop = self._heap, heapq.heappop
        while True:   # step() inlined: one look at the heap per callback
            while heap and heap[0][2].cancelled:
                pop(heap)
            if not heap or heap[0][0] > t:
                break
            if steps >= max_steps:
                raise ConfigError(f"more than {max_steps} callbacks before t={t}: "
                                  f"a timer keeps rescheduling itself at t={self.now}")
            when, _, timer = pop(heap)
            self.now = when
            timer.callback(when, *timer.args)
            steps += 1
        self.now = float(t)
        return steps

    def run(self, until: float | None = None, max_steps: int = 10_000_000) -> int:
        """Run callbacks until none are left (or until `until`); returns the number run."""
        if until is not None:
            return self.run_until(until, max_steps)
        steps = 0
        while self.next_time() is not None:
            if steps >= max_steps:
                raise ConfigError(f"more than {max_steps} callbacks: the schedule never drains "
                                  f"(now t={self.now})")
            self.step()
            steps += 1
        return steps


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
_timer = builder(Timer)   # every field in order, one call: a Timer per packet arrival
