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
    """A heap of (time, seq, callback, args, timer); callbacks receive the current virtual time.

    `timer` is the entry's `Timer` handle, or None for an entry made by `post`, which nobody can
    cancel: the network schedules every packet arrival that way, a tuple and no Timer per hop."""

    def __init__(self, start: float = 0.0):
        self.now = float(start)
        self._heap: list[tuple[float, int, Callback, tuple, Timer | None]] = []
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
        heapq.heappush(self._heap, (t, self._seq, fn, args, timer))
        return timer

    def move_later(self, timer: Timer, t: float) -> None:
        """Move a pending `timer` to a later time `t` (a float, not before its time) in the order
        `timer.cancel()` and `call_at(t, ...)` would give it: it takes the next sequence number.
        Its heap entry stays where it is and is put back at the new place when it comes up (a host's
        timer moves later at nearly every packet it sends; no new entry, no cancelled one left)."""
        self._seq += 1
        timer.time, timer.seq = t, self._seq

    def _moved(self, entry: tuple) -> None:
        """The top entry is of a timer moved later since (move_later): put it back at its place."""
        timer = entry[4]
        heapq.heapreplace(self._heap, (timer.time, timer.seq, entry[2], entry[3], timer))

    def post(self, t: float, fn: Callback, args: tuple) -> None:
        """fn(t, *args) at time t, without a handle (it cannot be cancelled). For callers that
        compute t themselves as `now + delay` with a float now and a delay >= 0, so t is a float
        and not in the past: call_at's checks would only repeat what they know."""
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, fn, args, None))

    def call_later(self, delay: float, fn: Callback, *args: object) -> Timer:
        if delay < 0:
            raise ConfigError(f"delay must be >= 0, got {delay}")
        return self.call_at(self.now + delay, fn, *args)

    def next_time(self) -> float | None:
        """Time of the earliest pending (non-cancelled) callback, or None."""
        heap = self._heap
        while heap and heap[0][4] is not None:
            timer = heap[0][4]
            if timer.cancelled:
                heapq.heappop(heap)
            elif timer.seq != heap[0][1]:
                self._moved(heap[0])
            else:
                break
        return heap[0][0] if heap else None

    def pending(self) -> int:
        return sum(1 for entry in self._heap if entry[4] is None or not entry[4].cancelled)

    def step(self) -> bool:
        """Run the single earliest callback; False when nothing is pending."""
        if self.next_time() is None:
            return False
        t, _, fn, args, _ = heapq.heappop(self._heap)
        self.now = t
        fn(t, *args)
        return True

    def run_until(self, t: float, max_steps: int = 10_000_000) -> int:
        """Run every callback due at or before t, then set now = t; returns the number run."""
        if t < self.now:
            raise ConfigError(f"cannot run back to t={t} (now is t={self.now})")
        steps = 0
        heap, pop = self._heap, heapq.heappop
        while heap:   # step() inlined: one look at the heap per callback
            entry = heap[0]
            timer = entry[4]
            if timer is not None:
                if timer.cancelled:
                    pop(heap)
                    continue
                if timer.seq != entry[1]:   # moved later since the entry was made
                    self._moved(entry)
                    continue
            if entry[0] > t:
                break
            if steps >= max_steps:
                raise ConfigError(f"more than {max_steps} callbacks before t={t}: "
                                  f"a timer keeps rescheduling itself at t={self.now}")
            pop(heap)
            when = self.now = entry[0]
            entry[2](when, *entry[3])
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
