"""Snapshots keep each table as it stood at their step, though their rows are worked out when first
read (the engine's row objects are frozen and replaced, never edited)."""
from __future__ import annotations

import copy
import pickle

from natt_core.lab.scenario import run
from natt_core.lab.presets import preset
from natt_core.lab.trace import Trace


def _states(trace: Trace, owner: str) -> list[str]:
    return [s.rows[0]["state"] for s in trace.snapshots if s.owner == owner and s.table == "isakmp" and s.rows]


def test_a_snapshot_read_after_the_run_shows_the_table_of_its_own_step():
    t = run(preset("client-behind-nat"))
    states = _states(t, "client")
    # Main Mode's states one after another, read long after the SA reached the last of them
    assert states[0] != "ESTABLISHED" and states[-1] == "ESTABLISHED" and len(set(states)) >= 3
    nat = [s for s in t.snapshots if s.table == "nat"]
    assert len(nat[0].rows) < len(nat[-1].rows)        # the NAT table grew after the first mapping


def test_snapshots_survive_json_pickle_and_deepcopy_unread_or_read():
    t = run(preset("client-behind-nat"))
    fresh = run(preset("client-behind-nat"))            # nothing of it read yet
    assert pickle.loads(pickle.dumps(fresh.snapshots)) == t.snapshots
    assert copy.deepcopy(run(preset("client-behind-nat")).snapshots) == t.snapshots
    text = run(preset("client-behind-nat")).to_json()       # written unread
    assert text == t.to_json() and Trace.from_json(text).to_json() == text
    assert all(type(r) is dict for s in t.snapshots for r in s.rows)


def test_a_snapshot_has_no_attribute_it_does_not_define():
    snap = run(preset("client-behind-nat")).snapshots[0]
    try:
        snap.colour
    except AttributeError as e:
        assert "colour" in str(e)
    else:
        raise AssertionError("an unknown attribute was answered")
