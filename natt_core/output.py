"""What every sans-IO participant returns: datagrams to send and events that happened.

Peers (`natt_core.ike.peer`) and any other host in the virtual network return an `Output` from
`start`, `receive` and `on_timer`; only the network delivers the datagrams.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .addressing import Datagram
from .net.records import fast_init_all


@dataclass(frozen=True)
class Event:
    """Something a participant wants a human (or a test) to know; subclasses add fields."""
    time: float
    peer: str

    #: the class's name: a plain class attribute (set for every subclass), not a property, since
    #: the recorder, the report and the network read it several times for every event of a run
    kind = "Event"

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" not in cls.__dict__ and "kind" not in cls.__dict__.get("__annotations__", {}) \
                and "kind" not in getattr(cls, "__dataclass_fields__", {}):   # unless it has its own
            cls.kind = cls.__name__

    def describe(self) -> str:
        """One plain-words sentence for ladders and lessons; subclasses override."""
        return self.kind


@dataclass(frozen=True)
class Output:
    datagrams: tuple[Datagram, ...] = ()
    events: tuple[Event, ...] = ()

    def __add__(self, other: "Output") -> "Output":
        return Output(self.datagrams + other.datagrams, self.events + other.events)


EMPTY = Output()


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
