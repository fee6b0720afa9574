"""Building frozen dataclass records quickly: the network, the NATs and the recorder make tens of
thousands of them per run (hops, rewritten fields, trace steps), and a frozen `__init__` pays one
`object.__setattr__` per field."""
from __future__ import annotations

from dataclasses import fields

_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def record(cls: type, *values):
    """`cls(*values)` for a frozen dataclass without `__post_init__`, when every field is given in
    order; otherwise the real constructor runs (and fills the defaults)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    if len(values) != len(names):
        return cls(*values)
    obj = object.__new__(cls)
    obj.__dict__.update(zip(names, values))
    return obj
