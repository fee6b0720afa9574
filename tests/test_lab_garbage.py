"""A finished run leaves no reference cycle through its network: reference counting frees the
network, its NATs and its hosts when the run returns, so the garbage collector that comes back
after the run does not have to find them (natt_core.lab.scenario._collector_paused)."""
import gc
import weakref

import pytest

from natt_core.lab import scenario
from natt_core.lab.presets import PRESETS, preset
from natt_core.lab.scenario import Scenario, run


def test_the_network_is_freed_without_the_collector(monkeypatch):
    built = []

    def build(s):
        net, hosts = scenario_build(s)
        built.append((weakref.ref(net), weakref.ref(net.nat("nat")), [weakref.ref(h) for h in hosts.values()]))
        return net, hosts

    scenario_build = scenario.build
    monkeypatch.setattr(scenario, "build", build)
    was = gc.isenabled()
    gc.disable()
    try:
        trace = run(Scenario("client-behind-nat", "garbage", "", duration=5.0, seed=3))
        net, nat, hosts = built[0]
        assert trace.report["peers"]["client"]["vpn"]["ping"]
        assert net() is None and nat() is None
        assert all(h() is None for h in hosts)
    finally:
        if was:
            gc.enable()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_run_leaves_nothing_for_the_cyclic_collector(name):
    """An IKE SA and its child SAs point at each other: the run's end (Network.close, the hosts'
    close) parts them, or every SA, key and ESP state of the run waits for a full collection."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run(preset(name))
        gc.collect()
        left = sorted({type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("natt_core")})
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.collect()
        if was:
            gc.enable()
    assert left == []
