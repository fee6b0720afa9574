"""strongSwan's charon in a lab namespace: start, load a swanctl.conf, ask it, stop it by PID.

This kernel has no ESP (CONFIG_INET_ESP unset), so charon runs with kernel-libipsec: user-space
ESP over a TUN device, always UDP-encapsulated (RFC 3948), tunnel mode only. That plugin also
makes charon send fake NAT-D hashes to force encapsulation, so its view is "NAT" even where
there is none — our engine's own NAT-D verdict is the one that describes the real path.
Each charon gets a private tmpfs on /run (its pid file there is fixed) and its own vici socket
in the work directory, so several can run on one machine.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from .netns import Lab, LabError, end_process, wait_for


def _accepts(path: Path) -> bool:
    """Whether a Unix socket at `path` takes a connection now."""
    if not path.exists():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True

CHARON = "/usr/lib/ipsec/charon"
#: openssl is there for 3DES (no des plugin is packaged); the rest are the plugins MM/QM with PSK need.
#: pkcs8 reads the private keys certificate authentication puts in swanctl's private/ directory.
PLUGINS = ("random nonce aes sha1 sha2 md5 hmac gmp openssl kdf pem pkcs1 pkcs8 x509 pubkey "
           "socket-default kernel-libipsec kernel-netlink vici")


def charon_missing() -> str | None:
    """Why charon cannot run here, or None."""
    if not os.path.exists(CHARON):
        return f"{CHARON} is not installed (apt-get install strongswan-charon libcharon-extra-plugins)"
    if shutil.which("swanctl") is None:
        return "swanctl is not installed (apt-get install strongswan-swanctl)"
    for plugin, package in (("kernel-libipsec", "libcharon-extra-plugins"),
                            ("openssl", "libstrongswan-standard-plugins")):
        if not os.path.exists(f"/usr/lib/ipsec/plugins/libstrongswan-{plugin}.so"):
            return f"the {plugin} plugin is missing (apt-get install {package})"
    return None


def strongswan_conf(workdir: Path, extra: dict[str, str] | None = None, aggressive_psk: bool = False) -> str:
    """charon's own settings: just the plugins we need, a vici socket and a detailed log; `extra`
    charon options (e.g. fragment_size); and, for a connection with `aggressive = yes`, the switch
    without which charon refuses Aggressive Mode with a pre-shared key (aggressive_mode.c:
    "Aggressive Mode PSK disabled for security reasons")."""
    more = "".join(f"    {key} = {value}\n" for key, value in (extra or {}).items())
    if aggressive_psk:
        more += "    i_dont_care_about_security_and_use_aggressive_mode_psk = yes\n"
    return f"""charon {{
{more}    load_modular = no
    load = {PLUGINS}
    install_routes = yes
    retransmit_tries = 2
    retransmit_timeout = 0.5
    retransmit_base = 1.4
    filelog {{
        log {{
            path = {workdir}/charon.log
            time_format = %s
            default = 1
            ike = 2
            net = 1
            cfg = 2
            chd = 2
            esp = 1
            flush_line = yes
        }}
    }}
    plugins {{
        vici {{
            socket = unix://{workdir}/charon.vici
        }}
    }}
}}
"""


class Charon:
    """One charon daemon in `ns`, configured by `swanctl_conf`; a context manager."""

    def __init__(self, lab: Lab, ns: str, swanctl_conf: str, name: str = "charon",
                 settings: dict[str, str] | None = None, files: dict[str, str] | None = None):
        self.lab, self.ns, self.settings = lab, ns, settings
        self.dir = lab.workdir / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.swanctl_conf = swanctl_conf
        #: credentials for swanctl's directories (x509/, x509ca/, private/), relative to self.dir,
        #: which is swanctl's SWANCTL_DIR (lab/strongswan_config.py `swanctl_files`)
        self.files = dict(files or {})
        self.proc: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"unix://{self.dir}/charon.vici"

    @property
    def log_path(self) -> Path:
        return self.dir / "charon.log"

    def __enter__(self) -> "Charon":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> None:
        aggressive = "aggressive = yes" in self.swanctl_conf
        (self.dir / "strongswan.conf").write_text(strongswan_conf(self.dir, self.settings, aggressive_psk=aggressive))
        (self.dir / "swanctl.conf").write_text(self.swanctl_conf)
        for rel, text in self.files.items():
            (self.dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.dir / rel).write_text(text)
        vici = self.dir / "charon.vici"
        if vici.exists():
            vici.unlink()
        env = dict(os.environ, STRONGSWAN_CONF=str(self.dir / "strongswan.conf"))
        self.proc = self.lab.popen("unshare", "-m", "--propagation", "private", "sh", "-c",
                                   f"mount -t tmpfs natt-run /run && exec {CHARON}", ns=self.ns, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # the socket file appears before charon accepts on it: wait until a connection succeeds
        if not wait_for(lambda: _accepts(vici) or self.proc.poll() is not None, timeout):
            raise LabError(f"charon in {self.ns} did not open its vici socket within {timeout} s")
        if self.proc.poll() is not None:
            raise LabError(f"charon in {self.ns} exited with {self.proc.returncode}: {self.log()[-2000:]}")
        self.swanctl("--load-all", "--noprompt", "--file", str(self.dir / "swanctl.conf"))

    def swanctl(self, *args: str, check: bool = True, timeout: float = 15) -> str:
        env = dict(os.environ, STRONGSWAN_CONF=str(self.dir / "strongswan.conf"), SWANCTL_DIR=str(self.dir))
        r = subprocess.run(["swanctl", *args, "--uri", self.uri], capture_output=True, text=True,
                           timeout=timeout, env=env)
        if check and r.returncode:
            raise LabError(f"swanctl {' '.join(args)} exited {r.returncode}: {(r.stdout + r.stderr).strip()[-1500:]}")
        return r.stdout + r.stderr

    def initiate(self, child: str, timeout: int = 10) -> tuple[bool, str]:
        """`swanctl --initiate --child`; True when charon reports the CHILD_SA established."""
        out = self.swanctl("--initiate", "--child", child, "--timeout", str(timeout), check=False,
                           timeout=timeout + 5)
        return "initiate completed successfully" in out, out

    def list_sas(self) -> str:
        return self.swanctl("--list-sas")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, pattern: str) -> list[str]:
        rx = re.compile(pattern)
        return [line for line in self.log().splitlines() if rx.search(line)]

    def stop(self) -> None:
        """SIGTERM by PID (charon sends its Deletes and exits within a second or two)."""
        if self.proc is not None:
            end_process(self.proc, signal.SIGTERM, 5)
