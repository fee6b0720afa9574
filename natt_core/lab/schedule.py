"""Things that happen to a run at a set virtual time: a NAT flushes its mappings, a host is switched
off, or switched on again with no memory (a reboot). Each is an `Action` of the Scenario, put on the
virtual clock before the run starts, so a run with actions replays exactly like any other.

`--set nat.flush_at=90`, `client.off_at=60`, `client.reboot_at=120` (lab/settings.py) add them;
"client" means every client, as a scheduled L2TP send does.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from ..errors import ConfigError
from ..ike.factory import make_peer

#: what can happen, and to which kind of device
ACTIONS = {"flush": ("nat", "nat2"), "switch-off": ("client", "server"), "reboot": ("client", "server")}


@dataclass(frozen=True)
class Action:
    """At virtual time `at`: `what` (flush, switch-off, reboot) happens to `target` (nat, nat2, client, server)."""
    at: float
    what: str
    target: str

    def __post_init__(self) -> None:
        if self.what not in ACTIONS:
            raise ConfigError(f"unknown action {self.what!r}; choose one of {', '.join(ACTIONS)}")
        if self.target not in ACTIONS[self.what]:
            raise ConfigError(f"{self.what} applies to {' or '.join(ACTIONS[self.what])}, not {self.target!r}")
        if isinstance(self.at, bool) or not isinstance(self.at, (int, float)) or not 0 <= self.at < float("inf"):
            raise ConfigError(f"an action's time must be 0 or more seconds, not {self.at!r}")


def nat_name(target: str, topology: str) -> str:
    """The device an action's NAT target names in the built network (scenario.build's names)."""
    if target == "nat":
        return "nat"
    return "cgnat" if topology == "double-nat" else "server-nat"


def schedule(net, hosts: dict, scenario) -> None:
    """Put every action of `scenario` on the network's clock (after the hosts are attached)."""
    for n, action in enumerate(sorted(scenario.actions, key=lambda a: a.at)):
        net.clock.call_at(action.at, lambda now, a=action, k=n: _do(net, hosts, scenario, a, k))


def _do(net, hosts: dict, scenario, action: Action, n: int) -> None:
    if action.what == "flush":
        net.flush_nat(nat_name(action.target, scenario.topology))
        return
    names = [name for name in hosts if (name == "server") == (action.target == "server")]
    for name in names:
        if action.what == "switch-off":
            net.switch_off(name)
            continue
        host = hosts[name]
        old = host.peer
        policy = scenario.server if name == "server" else scenario.client
        fresh = make_peer(name, old.address, policy, rng=random.Random(f"{scenario.seed}-{name}-reboot-{n}"))
        net.switch_on(name, lambda now, h=host, p=fresh: h.restart(p, now))
