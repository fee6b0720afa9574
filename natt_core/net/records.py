"""Building frozen dataclass records quickly: the network, the NATs and the recorder make tens of
thousands of them per run (hops, rewritten fields, trace steps), and a frozen `__init__` pays one
`object.__setattr__` per field."""
from __future__ import annotations

from dataclasses import fields

_BUILDERS: dict[type, tuple[int, object]] = {}


def _builder(cls: type) -> tuple[int, object]:
    """A function taking every field in order and filling the instance's `__dict__` in one go
    (field names are identifiers, so the generated source is only names)."""
    names = tuple(f.name for f in fields(cls))
    body = ", ".join(f"{n!r}: {n}" for n in names)
    source = (f"def build({', '.join(names)}):\n"
              f"    obj = _new(cls)\n"
              f"    _set(obj, '__dict__', {{{body}}})\n"
              f"    return obj\n")
    space = {"_new": object.__new__, "_set": object.__setattr__, "cls": cls}
    exec(source, space)   # noqa: S102 - the source is built from the dataclass's own field names
    built = _BUILDERS[cls] = (len(names), space["build"])
    return built


def record(cls: type, *values):
    """`cls(*values)` for a frozen dataclass without `__post_init__`, when every field is given in
    order; otherwise the real constructor runs (and fills the defaults)."""
    count, build = _BUILDERS.get(cls) or _builder(cls)
    if len(values) != count:
        return cls(*values)
    return build(*values)
