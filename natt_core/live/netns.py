"""Network namespaces with a real Linux box between them, packet captures and sure teardown.

    client-side NAT ("masquerade", "port-range") or a plain router ("none"):
    [client] eth0 192.168.11.20 ── lan 192.168.11.1 [nat] wan 192.168.1.30 ── eth0 192.168.1.10 [server]

    a NAT in front of the server that forwards UDP 500 and 4500 to it ("forward"):
    [client] eth0 192.168.11.20 ── wan 192.168.11.1 + 192.168.1.40 [nat] lan 10.0.0.1 ── eth0 10.0.0.10 [server]

The addresses are the virtual lab's (natt_core.lab.scenario), so a config generated for a
scenario works here unchanged; they exist only inside the namespaces this module creates. The
client-side NAT is netfilter: iptables MASQUERADE (which keeps source ports when it can), or nft
`masquerade to :40000-40100`, which rewrites every source port — both are what RFC 3947 §3.2's
NAT-D hashes must notice; the server then has no route to the client LAN, so every answer has to
go back through the NAT's mapping. "none" only forwards (the server routes the client LAN back
via 192.168.1.30), so the NAT-D hashes match. "forward" is a port-forwarding router in front of
the server: DNAT of UDP 500 and 4500 on its public address 192.168.1.40 to 10.0.0.10 (the
scenario's server_forwards, RFC 3947 §4 / RFC 3948 §2.1 ports), SNAT of anything the server
starts. The one middle box is then both the client's plain router (the scenario's "server-nat"
topology puts the client behind one) and the server's NAT, so the client is not translated and
the server is. Everything started here is tracked and ended by its PID, and `ip netns del` runs
even if a step failed.
"""
from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..lab.scenario import (CLIENT_BASE, NAT_INSIDE, NAT_PUBLIC, SERVER_NAT_INSIDE, SERVER_NAT_PUBLIC,
                            SERVER_PRIVATE, SERVER_PUBLIC)
from ..wire.numbers import Port

CLONE_NEWNET = 0x40000000
NAT_KINDS = ("masquerade", "port-range", "none", "forward")
#: the middle box translates the client side (client-nat) or the server side (server-nat)
SERVER_SIDE_KINDS = ("forward",)
PORT_RANGE = (40000, 40100)
TOOLS = ("ip", "iptables", "nft", "conntrack", "tcpdump")


def missing_tools() -> list[str]:
    """The command-line tools a live lab needs that are not installed."""
    return [t for t in TOOLS if shutil.which(t) is None]


def namespaces_unavailable() -> str | None:
    """Why this machine cannot create a network namespace (a container without CAP_SYS_ADMIN,
    say), or None: probed by creating and deleting one."""
    name = f"natt-probe-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if made.returncode:
        return f"cannot create network namespaces here ({made.stderr.strip() or made.returncode})"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


class LabError(RuntimeError):
    """A step of building or using the live lab failed; the message names the command."""


_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise LabError(f"setns failed: {os.strerror(err)}")


@contextmanager
def entered(ns: str):
    """Run the body with this thread inside network namespace `ns` (sockets made here stay there)."""
    with open("/proc/thread-self/ns/net") as home, open(f"/run/netns/{ns}") as target:
        _setns(target.fileno())
        try:
            yield
        finally:
            _setns(home.fileno())


@dataclass(frozen=True)
class Addresses:
    client: str = str(CLIENT_BASE + 1)
    nat_inside: str = NAT_INSIDE
    nat_public: str = NAT_PUBLIC
    server: str = SERVER_PUBLIC
    server_private: str = SERVER_PRIVATE            #: "forward": the server's own address
    server_nat_inside: str = SERVER_NAT_INSIDE      #: "forward": the NAT's address on the server LAN
    server_nat_public: str = SERVER_NAT_PUBLIC      #: "forward": the address the client dials
    prefix: int = 24


class Lab:
    """Three namespaces (client, nat, server) joined by veth pairs, with a NAT (or, for "none", a
    plain router) in the middle; `nat` is one of NAT_KINDS (see the module docstring).

    Use as a context manager; `close()` is idempotent and always removes what was made.
    """

    def __init__(self, tag: str, nat: str = "masquerade", workdir: str | Path = "/tmp"):
        if nat not in NAT_KINDS:
            raise ConfigError(f"unknown NAT kind {nat!r}; choose one of {', '.join(NAT_KINDS)}")
        self.tag = tag
        self.nat_kind = nat
        self.addr = Addresses()
        self.client, self.nat, self.server = (f"natt-{tag}-{x}" for x in ("c", "n", "s"))
        #: the NAT's interfaces towards the client and towards the server ("wan" is always its outside)
        self.client_dev, self.server_dev = ("wan", "lan") if self.server_behind_nat else ("lan", "wan")
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._procs: list[subprocess.Popen] = []
        self._made: list[str] = []
        self._threads: list[tuple[threading.Event, threading.Thread, socket.socket]] = []

    @property
    def server_behind_nat(self) -> bool:
        return self.nat_kind in SERVER_SIDE_KINDS

    @property
    def server_ip(self) -> str:
        """The address the server box itself holds."""
        return self.addr.server_private if self.server_behind_nat else self.addr.server

    @property
    def server_target(self) -> str:
        """The address a client dials to reach the server (the NAT's public one when it forwards)."""
        return self.addr.server_nat_public if self.server_behind_nat else self.addr.server

    # ------------------------------------------------------------------ commands
    def sh(self, *cmd: str, ns: str | None = None, check: bool = True, timeout: float = 10) -> str:
        """Run a command (inside `ns` if given) and return its stdout; LabError names it on failure."""
        argv = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and r.returncode:
            raise LabError(f"{' '.join(argv)} exited {r.returncode}: {r.stderr.strip()}")
        return r.stdout

    def popen(self, *cmd: str, ns: str | None = None, **kw) -> subprocess.Popen:
        """Start a process to be ended by `close()` (by PID) if nobody ends it first."""
        argv = (["ip", "netns", "exec", ns] if ns else []) + list(cmd)
        proc = subprocess.Popen(argv, **kw)
        self._procs.append(proc)
        return proc

    # ------------------------------------------------------------------ build
    def __enter__(self) -> "Lab":
        try:
            self.build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def build(self) -> None:
        a = self.addr
        for ns in (self.client, self.nat, self.server):
            self.sh("ip", "netns", "add", ns)
            self._made.append(ns)
            self.sh("ip", "-n", ns, "link", "set", "lo", "up")
        for dev, ns in ((self.client_dev, self.client), (self.server_dev, self.server)):
            self.sh("ip", "-n", self.nat, "link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", ns)
        nat_server_side = a.server_nat_inside if self.server_behind_nat else a.nat_public
        for ns, dev, ip in [(self.client, "eth0", a.client), (self.nat, self.client_dev, a.nat_inside),
                            (self.nat, self.server_dev, nat_server_side), (self.server, "eth0", self.server_ip)]:
            self.sh("ip", "-n", ns, "addr", "add", f"{ip}/{a.prefix}", "dev", dev)
            self.sh("ip", "-n", ns, "link", "set", dev, "up")
        if self.server_behind_nat:      # the public address the forwards answer on, beside the client's gateway
            self.add_address(self.nat, a.server_nat_public, dev=self.client_dev)
        self.sh("ip", "-n", self.client, "route", "add", "default", "via", a.nat_inside)
        self.sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=self.nat)
        if self.nat_kind == "masquerade":
            self.sh("iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-j", "MASQUERADE", ns=self.nat)
        elif self.nat_kind == "port-range":
            lo, hi = PORT_RANGE
            rules = self.workdir / f"{self.nat}.nft"
            rules.write_text("table ip natt {\n  chain post {\n    type nat hook postrouting priority srcnat;\n"
                             f'    oifname "wan" meta l4proto udp masquerade to :{lo}-{hi}\n'
                             '    oifname "wan" masquerade\n  }\n}\n')
            self.sh("nft", "-f", str(rules), ns=self.nat)
        elif self.nat_kind == "none":     # a plain router: the server routes the client LAN back through it
            client_lan = ipaddress.ip_interface(f"{a.client}/{a.prefix}").network
            self.sh("ip", "-n", self.server, "route", "add", str(client_lan), "via", a.nat_public)
        else:                             # "forward": port forwards to the server, SNAT for what it starts
            self.sh("ip", "-n", self.server, "route", "add", "default", "via", a.server_nat_inside)
            for port in (Port.IKE, Port.NAT_T):
                self.sh("iptables", "-t", "nat", "-A", "PREROUTING", "-d", a.server_nat_public, "-p", "udp",
                        "--dport", str(int(port)), "-j", "DNAT", "--to-destination", f"{a.server_private}:{int(port)}",
                        ns=self.nat)
            self.sh("iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "wan", "-s", a.server_private, "-j", "SNAT",
                    "--to-source", a.server_nat_public, ns=self.nat)
        self.flush_conntrack()

    def flush_conntrack(self) -> None:
        """Forget old UDP mappings so each run starts from an empty NAT table."""
        self.sh("conntrack", "-F", ns=self.nat, check=False)

    def nat_table(self) -> str:
        """The NAT's current UDP mappings as `conntrack -L` prints them."""
        return self.sh("conntrack", "-L", "-p", "udp", ns=self.nat, check=False)

    def add_address(self, ns: str, ip: str, dev: str = "eth0") -> None:
        """An extra host address (e.g. an inner tunnel address) on a namespace's interface."""
        self.sh("ip", "-n", ns, "addr", "add", f"{ip}/32", "dev", dev)

    # ------------------------------------------------------------------ sockets and captures
    def udp_socket(self, ns: str, ip: str, port: int) -> socket.socket:
        """A UDP socket bound to ip:port inside `ns`; it keeps that namespace for its life."""
        with entered(ns):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                s.bind((ip, port))
            except OSError as exc:
                s.close()
                raise LabError(f"cannot bind UDP {ip}:{port} in {ns}: {exc}") from None
        return s

    def echo(self, ns: str, ip: str, port: int) -> list:
        """Answer every UDP datagram to ip:port with b'echo:' + its payload; returns what was seen."""
        sock = self.udp_socket(ns, ip, port)
        sock.settimeout(0.1)
        stop, seen = threading.Event(), []

        def serve():
            while not stop.is_set():
                try:
                    data, src = sock.recvfrom(65535)
                except (TimeoutError, socket.timeout):
                    continue
                except OSError:
                    return
                seen.append((src, data))
                try:
                    sock.sendto(b"echo:" + data, src)
                except OSError:     # no route back (e.g. no tunnel yet): the sender will see no echo
                    continue
        t = threading.Thread(target=serve, name=f"echo-{ns}", daemon=True)
        t.start()
        self._threads.append((stop, t, sock))
        return seen

    def capture(self, ns: str, dev: str, name: str) -> Path:
        """Start tcpdump on a namespace's interface (UDP only); the pcap is complete after stop_captures()."""
        path = self.workdir / f"{name}.pcap"
        proc = self.popen("tcpdump", "-i", dev, "-n", "-U", "--immediate-mode", "-s", "0", "-w", str(path), "udp",
                          ns=ns, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()   # "listening on …" once the capture is armed
        if "listening" not in line:
            raise LabError(f"tcpdump in {ns} did not start: {line.strip()}")
        return path

    def stop_captures(self) -> None:
        """End the tcpdumps (SIGTERM flushes their files) so the pcaps can be read now."""
        for proc in self._procs:
            if proc.args[4:5] == ["tcpdump"]:
                end_process(proc, signal.SIGTERM, 3)

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        for stop, thread, sock in self._threads:
            stop.set()
            thread.join(1)
            sock.close()
        self._threads.clear()
        for proc in reversed(self._procs):
            end_process(proc, signal.SIGTERM, 5)
        self._procs.clear()
        for ns in reversed(self._made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        self._made.clear()


def end_process(proc: subprocess.Popen, sig: int, grace: float) -> None:
    """Signal one process by its PID, wait, then kill it if it is still there."""
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(2)
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def wait_for(predicate, timeout: float, step: float = 0.02) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())
