"""Building frozen dataclass records quickly: the network, the NATs and the recorder make tens of
thousands of them per run (hops, rewritten fields, trace steps), and a frozen `__init__` pays one
`object.__setattr__` per field."""
from __future__ import annotations

from dataclasses import fields

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_new = object.__new__
_set = object.__setattr__


def record(cls: type, *values):
    """`cls(*values)` for a frozen dataclass without `__post_init__`, when every field is given in
    order; otherwise the real constructor runs (and fills the defaults)."""
    try:
        names = _FIELD_NAMES[cls]
    except KeyError:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    if len(values) != len(names):
        return cls(*values)
    obj = _new(cls)
    _set(obj, "__dict__", dict(zip(names, values)))
    return obj
