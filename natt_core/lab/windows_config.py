"""The Windows client of a scenario, as an admin would type it in PowerShell.

`Add-VpnConnection` (module VpnClient; parameter names and accepted values from Microsoft's
cmdlet reference): `-TunnelType L2tp`, the PSK with `-L2tpPsk` (`-Force` accepts that it is given on
the command line), `-AuthenticationMethod` Pap/Chap/MSChapv2, `-EncryptionLevel` NoEncryption/
Optional/Required/Maximum. When the server sits behind a NAT, Windows (XP SP2 and later) refuses
NAT-T to it unless AssumeUDPEncapsulationContextOnSendRule allows it (KB 885407, KB 926179):
1 = server behind NAT, 2 = server and client behind NATs; the Policy Agent reads it at boot.
"""
from __future__ import annotations

from ..errors import ConfigError
from .scenario import SERVER_NAT_PUBLIC, SERVER_PUBLIC, Scenario

#: PPP authentication policy name -> the cmdlet's -AuthenticationMethod value
AUTH_METHOD = {"mschapv2": "MSChapv2", "chap-md5": "Chap", "pap": "Pap"}
ENCRYPTION_LEVELS = ("NoEncryption", "Optional", "Required", "Maximum")


def reg_add(value: int = 2) -> str:
    """The registry command that sets AssumeUDPEncapsulationContextOnSendRule: 1 allows a server
    behind NAT, 2 a server and a client both behind NATs; the Policy Agent reads it at start."""
    return ("REG ADD HKLM\\SYSTEM\\CurrentControlSet\\Services\\PolicyAgent /v "
            f"AssumeUDPEncapsulationContextOnSendRule /t REG_DWORD /d {value} /f")


def rule_needed(s: Scenario) -> int | None:
    """The smallest AssumeUDPEncapsulationContextOnSendRule value this topology needs, or None."""
    if s.topology == "both-nat":
        return 2
    if s.topology == "server-nat":
        return 1
    return None


def _quote(text: str) -> str:
    """A PowerShell single-quoted string: nothing is expanded, a quote is doubled."""
    return "'" + text.replace("'", "''") + "'"


def windows_ps1(s: Scenario, auth: tuple[str, ...] = ("mschapv2",), encryption: str = "Required") -> str:
    """A PowerShell script that creates the scenario's L2TP/IPsec connection on a Windows client."""
    bad = [a for a in auth if a not in AUTH_METHOD]
    if bad or not auth:
        raise ConfigError(f"unknown PPP authentication {bad[0] if bad else '(none)'!r}; choose from {', '.join(AUTH_METHOD)}")
    if encryption not in ENCRYPTION_LEVELS:
        raise ConfigError(f"unknown encryption level {encryption!r}; choose one of {', '.join(ENCRYPTION_LEVELS)}")
    server = SERVER_NAT_PUBLIC if s.server_behind_nat else SERVER_PUBLIC
    methods = ",".join(AUTH_METHOD[a] for a in auth)
    lines = [f"# {s.title} — the scenario's client, on Windows (PowerShell as Administrator)",
             f"# made by: python -m natt_core config {s.name} --for windows [--set KEY=VALUE ...]"]
    rule = rule_needed(s)
    have = s.client.assume_udp_rule
    if rule is not None:
        value = max(rule, have or 0)
        lines += [f"# The server is behind a NAT: allow NAT-T to it (KB 926179), then reboot.",
                  reg_add(value)]
    elif have:
        lines.append(f"# The scenario sets AssumeUDPEncapsulationContextOnSendRule={have}; this topology does not need it.")
    psk = f"-L2tpPsk {_quote(s.client.psk)} "
    if s.client.auth != "psk":   # no -L2tpPsk: Windows authenticates IKE with a machine certificate
        psk = ""
        lines += ["# Machine certificate (IKE auth): from certs/ of `python -m natt_core run … --out DIR`, import the",
                  "# lab root and the client's certificate with its key (certs/client.p12, password natt-lab):",
                  "Import-Certificate -FilePath ca.pem -CertStoreLocation Cert:\\LocalMachine\\Root",
                  "Import-Certificate -FilePath intermediate.pem -CertStoreLocation Cert:\\LocalMachine\\CA",
                  "Import-PfxCertificate -FilePath client.p12 -CertStoreLocation Cert:\\LocalMachine\\My "
                  "-Password (ConvertTo-SecureString natt-lab -AsPlainText -Force)"]
    lines += [
        f"Add-VpnConnection -Name {_quote('NAT-T Lab ' + s.name)} -ServerAddress {_quote(server)} "
        f"-TunnelType L2tp {psk}-AuthenticationMethod {methods} "
        f"-EncryptionLevel {encryption} -RememberCredential -Force -PassThru",
    ]
    return "\n".join(lines) + "\n"
