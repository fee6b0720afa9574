"""natt_core.net.records: the fast constructors build exactly what the dataclass's own would."""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field

import pytest

from natt_core.addressing import Datagram, Endpoint
from natt_core.errors import ConfigError
from natt_core.net.records import builder, fast_init, record


def _plain_and_fast(**kw):
    def make():
        @dataclass(frozen=True)
        class Sample:
            a: int
            b: str = "b"
            c: list = field(default_factory=list)
            seen: tuple = field(default=(), compare=False)
            d: int = 5        # the name a generated __init__ might give its own local

            def __post_init__(self):
                if self.a < 0:
                    raise ValueError("a must not be negative")
                object.__setattr__(self, "seen", self.seen + (self.a,))
        return Sample
    plain, fast = make(), fast_init(make())
    return plain, fast


@pytest.mark.parametrize("args,kw", [((1,), {}), ((2, "x"), {}), ((3,), {"c": [1]}), ((), {"a": 4, "b": "y"})])
def test_fast_init_matches_the_generated_init(args, kw):
    plain, fast = _plain_and_fast()
    p, f = plain(*args, **kw), fast(*args, **kw)
    assert dataclasses.asdict(p) == dataclasses.asdict(f) and p.seen == f.seen and f.d == 5
    assert f.c is not fast(*args, **kw).c or "c" in kw       # a fresh list from the factory each time
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.a = 9
    assert copy.deepcopy(f) == f


def test_fast_init_keeps_errors_and_post_init():
    plain, fast = _plain_and_fast()
    with pytest.raises(ValueError, match="negative"):
        fast(-1)
    with pytest.raises(TypeError):
        fast()
    with pytest.raises(TypeError):
        fast(1, "b", [], (), 5, "extra")


def test_classes_it_cannot_reproduce_keep_their_own_init():
    @dataclass(frozen=True, slots=True)
    class Slotted:
        a: int

    @dataclass
    class Hidden:
        a: int
        b: int = field(init=False, default=0)

    @dataclass
    class Mutable:       # its own plain attribute stores cost less than going through __dict__
        a: int

    for cls in (Slotted, Hidden, Mutable):
        init = cls.__init__
        assert fast_init(cls).__init__ is init


def test_engine_records_still_validate_and_compare():
    """Endpoint keeps its address check; builder/record give equal objects."""
    with pytest.raises(ConfigError):
        Endpoint("300.1.1.1", 5)
    assert Endpoint("10.0.0.1", 500) == Endpoint(ip="10.0.0.1", port=500) < Endpoint("10.0.0.2", 1)
    d = Datagram(Endpoint("10.0.0.1", 500), Endpoint("10.0.0.2", 500), 17, b"x", label="MM1")
    assert record(Datagram, *(getattr(d, f.name) for f in dataclasses.fields(d))) == d
    assert builder(Endpoint)("10.0.0.1", 500) == Endpoint("10.0.0.1", 500)
