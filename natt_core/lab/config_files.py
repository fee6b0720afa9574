"""Which files a real peer needs for a scenario, by target: one entry point for the CLI and the app."""
from __future__ import annotations

from ..errors import ConfigError
from .scenario import Scenario

TARGETS = ("strongswan", "libreswan", "windows")


def config_files(s: Scenario, target: str, peer: str = "server") -> dict[str, str]:
    """File name -> text for `target` playing the scenario's `peer`."""
    if target == "strongswan":
        from .strongswan_config import swanctl_conf, swanctl_files
        return {"swanctl.conf": swanctl_conf(s, peer), **swanctl_files(s, peer)}
    if target == "libreswan":
        from .libreswan_config import libreswan_files
        return libreswan_files(s, peer, s.server_ppp)
    if target == "windows":
        if peer != "client":
            raise ConfigError("the Windows configuration is for the scenario's client: use --peer client")
        from .windows_config import windows_ps1
        return {"add-vpn.ps1": windows_ps1(s)}
    raise ConfigError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
