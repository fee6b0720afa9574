"""The trace's records are slotted frozen dataclasses (one object each): they still pickle,
deepcopy, compare, hash, go through dataclasses' helpers and JSON, and can be subclassed, whether
their later fields were read yet or not."""
from __future__ import annotations

import copy
import dataclasses
import gc
import pickle
from dataclasses import dataclass

import pytest

from natt_core.lab.presets import preset
from natt_core.lab.recorder import _told
from natt_core.lab.scenario import run
from natt_core.lab.trace import Change, Hop, PeerEvent, Snapshot, Trace
from natt_core.net.records import builder


@pytest.fixture(scope="module")
def traces():
    """Two runs of one preset: one fully read, one never read."""
    read = run(preset("client-behind-nat"))
    for s in read.steps:
        dataclasses.asdict(s)
    return read, run(preset("client-behind-nat"))


def test_records_keep_no_dict():
    for cls in (Change, Hop, PeerEvent, Snapshot):
        assert "__dict__" not in dir(cls), cls
    t = run(preset("client-behind-nat"))
    hop, event = t.hops[0], t.events[0]
    with pytest.raises(AttributeError):
        hop.__dict__
    with pytest.raises(AttributeError):
        event.__dict__
    with pytest.raises(dataclasses.FrozenInstanceError):
        hop.note = "x"
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.text = "x"


@pytest.mark.parametrize("copier", [lambda v: pickle.loads(pickle.dumps(v)), copy.deepcopy],
                         ids=["pickle", "deepcopy"])
def test_records_copy_read_or_unread(traces, copier):
    read, unread = traces
    steps = copier(unread.steps)       # an unread event step is filled on the way
    assert steps == read.steps and [s.kind for s in steps] == [s.kind for s in read.steps]
    assert [dataclasses.asdict(s) for s in steps] == [dataclasses.asdict(s) for s in read.steps]
    assert copier(read.snapshots) == read.snapshots
    assert copier(run(preset("client-behind-nat")).snapshots) == read.snapshots
    hop = next(h for h in read.hops if h.changes)
    assert copier(hop).changes == hop.changes and type(copier(hop).changes[0]) is Change


def test_records_equal_and_hash_as_values(traces):
    read, unread = traces
    assert hash(unread.events[3]) == hash(read.events[3]) and unread.events[3] == read.events[3]
    assert hash(unread.hops[3]) == hash(read.hops[3])
    assert read.events[3] != read.events[4] and read.hops[3] != read.hops[4]


def test_replace_fields_and_json(traces):
    read, unread = traces
    e = dataclasses.replace(run(preset("client-behind-nat")).events[0], peer="other")
    assert e.peer == "other" and e.text == read.events[0].text and e.fields == read.events[0].fields
    assert [f.name for f in dataclasses.fields(Hop)][:3] == ["step", "time", "segment"]
    assert dataclasses.replace(read.hops[0], note="n").note == "n"
    text = run(preset("client-behind-nat")).to_json()
    assert text == read.to_json() and Trace.from_json(text).to_json() == text


def test_a_filled_step_lets_its_event_go():
    t = run(preset("client-behind-nat"))
    step = t.events[0]
    source = step._source
    count = len(gc.get_referrers(source))
    step.text
    assert step._source is None and step._fill is None
    assert len(gc.get_referrers(source)) == count - 1


@dataclass(frozen=True, slots=True)
class _Tagged(Hop):
    tag: str = ""


class _Loose(PeerEvent):
    """A plain subclass: it has a dict again, and still fills its text when first read."""


def test_subclasses_and_the_fast_builder():
    hop = builder(Hop)(*range(18))
    assert hop == Hop(*range(18))
    tagged = _Tagged(*range(18), tag="t")
    assert pickle.loads(pickle.dumps(tagged)) == tagged and copy.deepcopy(tagged).tag == "t"
    assert builder(_Tagged)(*range(18), "t") == tagged and dataclasses.asdict(tagged)["tag"] == "t"
    steps: list = []
    events = [s._source for s in run(preset("client-behind-nat")).events[:3]]
    _Loose.add_later(steps, events, [None] * 3, _told)
    assert [s.text for s in steps] == [e.describe() for e in events]
    assert pickle.loads(pickle.dumps(steps[0])) == steps[0]

