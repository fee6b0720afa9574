"""One live interop run: our engine against strongSwan's charon through a real Linux box.

    run_interop(scenario, "to-charon")    our initiator on the client side -> charon responder
    run_interop(scenario, "from-charon")  charon initiator on the client side -> our responder

`nat` picks the box in the middle (netns.Lab): the client behind a MASQUERADE or port-range NAT
(RFC 3947: NAT-D finds it, IKE floats to 4500 at MM5, ESP rides in UDP 4500 per RFC 3948), a
plain router ("none"), or the server behind a NAT that forwards UDP 500/4500 to it ("forward":
the client dials the NAT's public address, 192.168.1.40); it must match the scenario's
server_behind_nat. charon's config comes from the scenario through
`natt_core.lab.strongswan_config`, so what is tested is also what `python -m natt_core config`
prints. kernel-libipsec does tunnel mode only, so `live_scenario` switches a scenario to tunnel
mode with inner addresses of their own (10.99.1.1 client, 10.99.2.1 server): a traffic selector
containing the peer's IKE address would route IKE itself into the tunnel. After the handshake
one inner UDP datagram goes from our engine to an echo on charon's side and the echo comes back
(our initiator addresses it to the server address it dialled, its Quick Mode IDcr; behind the
forwards that is the NAT's public address, so the server box holds it on its loopback too).
Everything is recorded in a `LiveResult` before the lab is torn down.

The scenario's `ike_version` picks the protocol on both sides: our peer comes from
`make_peer` (IKEv1 `Peer` or IKEv2 `Peer2`, same API) and charon's swanctl.conf says
`version = 2`. With IKEv2 the CHILD_SA comes up in IKE_AUTH (four messages) and NAT detection
rides in IKE_SA_INIT's notifies. charon with kernel-libipsec fakes its NAT_DETECTION_SOURCE_IP
hash in IKEv2 too (strongSwan's ike_natd.c: `force_encap()` is true when the kernel interface
requires UDP encapsulation, and the source hash is then made from a random address); it cannot
be told not to, so our peer always sees "the peer is behind a NAT", and only the other half of
its verdict (from charon's honest NAT_DETECTION_DESTINATION_IP) describes the real path.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import ConfigError
from ..ike.factory import make_peer
from ..lab.scenario import Scenario
from ..lab.strongswan_config import swanctl_conf, swanctl_files
from ..wire.numbers import Port
from .charon import Charon
from .driver import LiveDriver
from .netns import SERVER_SIDE_KINDS, Lab

CLIENT_INNER, SERVER_INNER = "10.99.1.1", "10.99.2.1"
DIRECTIONS = ("to-charon", "from-charon")
#: the event that says the IPsec SA is up: IKEv1's Quick Mode, IKEv2's CHILD_SA
UP = ("Phase2Established", "ChildSaEstablished")


def live_scenario(s: Scenario) -> Scenario:
    """The scenario in tunnel mode with separate inner addresses, as kernel-libipsec needs."""
    return replace(s, client=replace(s.client, mode="tunnel", inner_address=CLIENT_INNER),
                   server=replace(s.server, mode="tunnel", inner_address=SERVER_INNER))


@dataclass
class LiveResult:
    direction: str
    driver: LiveDriver
    sas: str = ""                       #: charon's `swanctl --list-sas` once the exchange settled
    charon_log: str = ""
    captures: dict[str, Path] = field(default_factory=dict)   #: "client-side" / "server-side" pcaps
    nat_table: str = ""
    echo_seen: list = field(default_factory=list)             #: (source, payload) at charon's echo
    charon_pid: int = 0
    initiated: tuple[bool, str] | None = None                 #: charon's `swanctl --initiate` result
    handshake: float | None = None      #: seconds from MM1 / IKE_SA_INIT at our peer to the IPsec SA being up

    @property
    def events(self) -> list:
        return self.driver.events

    def of(self, kind: str) -> list:
        return self.driver.of(kind)

    def up(self) -> list:
        """The events that put an IPsec SA up (Quick Mode or CHILD_SA)."""
        return [e for kind in UP for e in self.driver.of(kind)]


def _handshake_time(d: LiveDriver, direction: str) -> float | None:
    up = next((e for e in d.events if e.kind in UP), None)
    way = "out" if direction == "to-charon" else "in"
    start = next((t for t, w, _ in d.wire if w == way), None)
    return None if up is None or start is None else up.time - start


def run_interop(s: Scenario, direction: str, workdir: str | Path, *, nat: str = "masquerade",
                tag: str = "x", message: bytes = b"inner datagram", timeout: float = 3.0,
                seed: int = 1) -> LiveResult:
    """Build the lab, run one exchange in `direction`, send `message` through the tunnel, tear down."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}")
    if s.server_behind_nat != (nat in SERVER_SIDE_KINDS):
        has = lambda yes: "has a" if yes else "has no"
        raise ConfigError(f"scenario {s.name!r} {has(s.server_behind_nat)} NAT in front of the server but lab NAT "
                          f"{nat!r} {has(nat in SERVER_SIDE_KINDS)}: the generated swanctl.conf would not fit; "
                          f"use nat={'forward' if s.server_behind_nat else 'masquerade, port-range or none'}")
    workdir = Path(workdir)
    with Lab(tag, nat=nat, workdir=workdir) as lab:
        a = lab.addr
        result_caps = {"client-side": lab.capture(lab.nat, lab.client_dev, "client-side"),
                       "server-side": lab.capture(lab.nat, lab.server_dev, "server-side")}
        if direction == "to-charon":
            ours_ns, ours_ip, policy, charon_ns = lab.client, a.client, s.client, lab.server
            if lab.server_target != lab.server_ip:
                lab.add_address(lab.server, lab.server_target, dev="lo")
            echo = lab.echo(lab.server, lab.server_target, int(Port.L2TP))   # our IDcr: the address dialled
            conf = swanctl_conf(s, "server")
        else:
            ours_ns, ours_ip, policy, charon_ns = lab.server, lab.server_ip, s.server, lab.client
            lab.add_address(lab.client, s.client.inner_address or CLIENT_INNER)
            echo = lab.echo(lab.client, s.client.inner_address or CLIENT_INNER, int(Port.L2TP))
            conf = swanctl_conf(s, "client")
        charon_side = "server" if direction == "to-charon" else "client"
        with Charon(lab, charon_ns, conf, files=swanctl_files(s, charon_side)) as charon:
            peer = make_peer("client" if direction == "to-charon" else "server", ours_ip, policy, rng=seed)
            driver = LiveDriver.bind(peer, lambda ip, port: lab.udp_socket(ours_ns, ip, port))
            result = LiveResult(direction, driver, captures=result_caps, echo_seen=echo)
            with driver:
                initiator = None
                if direction == "to-charon":
                    driver.connect(lab.server_target)
                else:
                    answer = []
                    initiator = threading.Thread(target=lambda: answer.append(charon.initiate(s.name, int(timeout))),
                                                 daemon=True)
                    initiator.start()
                done = lambda: result.up() or driver.of("AuthenticationFailed") \
                    or driver.of("GaveUp") or driver.of("Refused") or driver.of("PeerRefused")
                driver.run_until(done, timeout)
                if result.up():
                    # charon installs its SA only after QM3 (RFC 2409 §5.5): ESP sent sooner would be dropped
                    driver.run_until(lambda: "INSTALLED" in charon.swanctl("--list-sas", check=False), 2.0)
                    driver.send_udp(message)
                    driver.run_until(lambda: driver.of("DataReceived"), 2.0)
                if initiator is not None:
                    while initiator.is_alive() and driver.now() < timeout * 3:
                        driver.poll(0.05)   # keep answering while charon is still trying
                    initiator.join(0.1)
                    result.initiated = answer[0] if answer else (False, "swanctl --initiate did not return")
                else:
                    driver.run_for(0.1)    # let charon finish its side (QM3 processing, notifies)
                result.sas = charon.list_sas()
                result.nat_table = lab.nat_table()
                result.handshake = _handshake_time(driver, direction)
            charon.stop()
            result.charon_log = charon.log()
            result.charon_pid = charon.proc.pid
        lab.stop_captures()
    return result


def why_not_live() -> str | None:
    """Why live runs cannot happen on this machine, or None."""
    import os

    from .charon import charon_missing
    from .netns import missing_tools, namespaces_unavailable
    if os.geteuid() != 0:
        return "needs root (network namespaces, a netfilter NAT, charon)"
    if why := charon_missing():
        return why
    if tools := missing_tools():
        return f"needs {', '.join(tools)}"
    if not os.path.exists("/dev/net/tun"):
        return "kernel-libipsec needs /dev/net/tun"
    return namespaces_unavailable()


def bench_lines(base: Scenario, repeat: int = 5) -> list[str]:
    """Handshake time at our peer (MM1 to the IPsec SA up; IKEv2: IKE_SA_INIT to the CHILD_SA up),
    median of `repeat` live runs, for each direction and topology the live tests cover."""
    import os
    import statistics
    import tempfile

    from ..lab.presets import preset
    if why := why_not_live():
        return [f"  live interop with strongSwan: skipped ({why})"]
    behind = live_scenario(preset("server-behind-nat"))
    runs = (
        ("our initiator -> charon, client behind MASQUERADE", live_scenario(base), "to-charon", "masquerade"),
        ("charon -> our responder, charon behind MASQUERADE", live_scenario(base), "from-charon", "masquerade"),
        ("our initiator -> charon, plain router", live_scenario(preset("no-nat")), "to-charon", "none"),
        ("our initiator (rule 2) -> charon behind 500/4500 forwards",
         replace(behind, client=replace(behind.client, assume_udp_rule=2)), "to-charon", "forward"),
        ("charon -> our responder behind 500/4500 forwards", behind, "from-charon", "forward"),
        ("IKEv2: our initiator -> charon, client behind MASQUERADE",
         live_scenario(preset("ikev2-client-behind-nat")), "to-charon", "masquerade"),
        ("IKEv2: charon -> our responder, charon behind MASQUERADE",
         live_scenario(preset("ikev2-client-behind-nat")), "from-charon", "masquerade"),
    )
    lines = []
    with tempfile.TemporaryDirectory(prefix="natt-live-bench-") as tmp:
        for n, (label, s, direction, nat) in enumerate(runs):
            times, failure = [], None
            for i in range(repeat):
                r = run_interop(s, direction, Path(tmp) / f"{n}-{i}", nat=nat, tag=f"b{os.getpid() % 1000}{n}{i}")
                if r.handshake is None:
                    last = r.events[-1].describe() if r.events else "no events"
                    failure = f"did not complete ({last})"
                    break
                times.append(r.handshake)
            if failure:
                lines.append(f"  live, {label}: {failure}")
            else:
                lines.append(f"  live, {label + ':':60} {statistics.median(times) * 1e3:6.2f} ms "
                             f"(median of {repeat}, min {min(times) * 1e3:.2f})")
    return lines
