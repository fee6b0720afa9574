"""Building frozen dataclass records quickly: the network, the NATs and the recorder make tens of
thousands of them per run (hops, rewritten fields, trace steps), and a frozen `__init__` pays one
`object.__setattr__` per field."""
from __future__ import annotations

from dataclasses import MISSING, fields

_BUILDERS: dict[type, tuple[int, object]] = {}


def _builder(cls: type) -> tuple[int, object]:
    """A function taking every field in order and storing each into the instance's `__dict__`
    (field names are identifiers, so the generated source is only names). A slotted class (no
    `__dict__`) gets each field through its slot's own setter, `slot_setters`."""
    names = tuple(f.name for f in fields(cls))
    space = {"_new": object.__new__, "cls": cls}
    if _slotted(cls):
        space.update(zip((f"_s_{n}" for n in names), slot_setters(cls, names)))
        body = "".join(f"    _s_{n}(obj, {n})\n" for n in names)
    else:
        body = _dict_stores("obj", names)
    source = (f"def build({', '.join(names)}):\n"
              f"    obj = _new(cls)\n"
              f"{body}"
              f"    return obj\n")
    exec(source, space)   # noqa: S102 - the source is built from the dataclass's own field names
    built = _BUILDERS[cls] = (len(names), space["build"])
    return built


def _dict_stores(obj: str, names) -> str:
    """Source storing each named local into `obj`'s `__dict__`, one key at a time: about a third
    cheaper than replacing the `__dict__` with a new dict (`object.__setattr__`), and half the cost
    of the frozen dataclass's one `object.__setattr__` per field."""
    return f"    __d = {obj}.__dict__\n" + "".join(f"    __d[{n!r}] = {n}\n" for n in names)


def _slotted(cls: type) -> bool:
    """Whether instances of `cls` hold their fields in slots, without a `__dict__`."""
    return cls.__dictoffset__ == 0


def slot_setters(cls: type, names) -> list:
    """The setter of each named slot of a frozen slotted class: it stores a value without going
    through the class's `__setattr__` (which refuses) or looking the attribute up per store."""
    return [getattr(cls, n).__set__ for n in names]


def builder(cls: type):
    """The fast constructor of `cls` itself: every field, in order, positionally."""
    return (_BUILDERS.get(cls) or _builder(cls))[1]


def record(cls: type, *values):
    """`cls(*values)` for a frozen dataclass without `__post_init__`, when every field is given in
    order; otherwise the real constructor runs (and fills the defaults)."""
    count, build = _BUILDERS.get(cls) or _builder(cls)
    if len(values) != count:
        return cls(*values)
    return build(*values)


def fast_init(cls: type) -> type:
    """Class decorator, placed above `@dataclass`: the same `__init__` (same parameters, defaults,
    default factories, `__post_init__`), storing straight into the instance's `__dict__` instead
    of one `object.__setattr__` per field. Classes it cannot reproduce exactly (slots,
    InitVar, keyword-only or init=False fields) keep their own, and so does a class that writes
    its own (`@dataclass(init=False)`). A mutable dataclass keeps its own too: its plain attribute
    stores cost less than going through `__dict__`."""
    flds = fields(cls)
    params = cls.__dataclass_params__
    if (not params.init or not params.frozen or "__slots__" in cls.__dict__
            or len(flds) != len(cls.__dataclass_fields__) or any(not f.init or f.kw_only for f in flds)):
        return cls
    space: dict = {"_FACTORY": _FACTORY}
    params, lines = [], []
    for f in flds:
        if f.default is not MISSING:
            space[f"_d_{f.name}"] = f.default
            params.append(f"{f.name}=_d_{f.name}")
        elif f.default_factory is not MISSING:
            space[f"_f_{f.name}"] = f.default_factory
            params.append(f"{f.name}=_FACTORY")
            lines.append(f"    if {f.name} is _FACTORY:\n        {f.name} = _f_{f.name}()\n")
        else:
            params.append(f.name)
    source = (f"def __init__(self, {', '.join(params)}):\n" + "".join(lines)
              + _dict_stores("self", [f.name for f in flds])
              + ("    self.__post_init__()\n" if hasattr(cls, "__post_init__") else ""))
    exec(source, space)   # noqa: S102 - built from the dataclass's own field names
    init = space["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init
    return cls


class _Factory:
    def __repr__(self) -> str:
        return "<default factory>"


_FACTORY = _Factory()


def fast_init_all(namespace: dict) -> None:
    """`fast_init` for every dataclass a module defines (call at its end with `globals()`)."""
    name = namespace["__name__"]
    for value in list(namespace.values()):
        if isinstance(value, type) and value.__module__ == name and "__dataclass_fields__" in value.__dict__:
            fast_init(value)
