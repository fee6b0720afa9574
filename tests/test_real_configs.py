"""Generated libreswan/xl2tpd/pppd/Windows files, checked by the real tools where Debian has them.

* libreswan conflicts with the installed strongSwan packages (Debian: Conflicts strongswan-starter,
  strongswan-libcharon), so it is not installed: .ci/run unpacks the Debian package into
  /opt/libreswan-unpacked (dpkg-deb -x) and the tests run its own parsers from there —
  `addconn --checkconfig` and `readwriteconf` (ipsec.conf) and `algparse -v1` (ike=/phase2alg=).
  ipsec.secrets has no parser short of starting pluto: its one line is checked by pattern.
* xl2tpd loads xl2tpd.conf for real (`xl2tpd -D -c`, a second, in a fresh network namespace).
* pppd parses options.xl2tpd (`dryrun`): option errors are reported before it looks for /dev/ppp.
* PowerShell is not on Debian: the Add-VpnConnection line is checked against the cmdlet's
  documented parameter names and accepted values (Microsoft's VpnClient reference).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from natt_core.cli import main
from natt_core.errors import ConfigError
from natt_core.lab.config_files import config_files
from natt_core.lab.libreswan_config import libreswan_files
from natt_core.lab.presets import preset
from natt_core.lab.settings import apply_settings
from natt_core.lab.windows_config import reg_add, windows_ps1
from natt_core.ppp import PppPolicy

LIBRESWAN = Path(os.environ.get("NATT_LIBRESWAN_ROOT", "/opt/libreswan-unpacked")) / "usr/libexec/ipsec"
needs_libreswan = pytest.mark.skipif(not (LIBRESWAN / "addconn").exists(), reason="libreswan's parsers not unpacked")
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_xl2tpd = pytest.mark.skipif(not (shutil.which("xl2tpd") and shutil.which("unshare") and ROOT),
                                  reason="xl2tpd/unshare (as root) not available")
needs_pppd = pytest.mark.skipif(shutil.which("pppd") is None, reason="pppd not installed")
PRESETS = ["client-behind-nat", "client-behind-nat-draft02", "server-behind-nat", "both-behind-nat",
           "legacy-behind-nat", "ah-behind-nat"]


def write(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def run(*cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=20, **kw)


# --- libreswan -----------------------------------------------------------------------------------

@needs_libreswan
@pytest.mark.parametrize("name", PRESETS)
@pytest.mark.parametrize("peer", ["server", "client"])
def test_libreswan_parses_ipsec_conf(tmp_path, name, peer):
    s = preset(name)
    d = write(tmp_path, libreswan_files(s, peer))
    check = run(LIBRESWAN / "addconn", "--checkconfig", "--config", d / "ipsec.conf")
    assert check.returncode == 0, check.stderr + check.stdout
    parsed = run(LIBRESWAN / "readwriteconf", "--config", d / "ipsec.conf")
    assert parsed.returncode == 0
    me = s.server if peer == "server" else s.client
    assert f"conn {name}" in parsed.stdout
    assert f"type={me.mode}" in parsed.stdout and "leftprotoport=UDP/1701" in parsed.stdout
    assert "ikev2=no" in parsed.stdout and f"phase2={me.protocol}" in parsed.stdout


@needs_libreswan
@pytest.mark.parametrize("name", PRESETS)
def test_libreswan_accepts_the_proposals(tmp_path, name):
    conf = libreswan_files(preset(name))["ipsec.conf"]
    ike = re.search(r"^    ike=(\S+)$", conf, re.M).group(1)
    p2, alg = re.search(r"^    phase2=(\w+)$", conf, re.M).group(1), re.search(r"^    phase2alg=(\S+)$", conf, re.M).group(1)
    for spec in (f"ike={ike}", f"{p2}={alg}"):
        out = run(LIBRESWAN / "algparse", "-v1", spec)
        assert out.returncode == 0 and "ERROR" not in out.stdout, (spec, out.stdout)


@needs_libreswan
def test_the_libreswan_checks_can_fail(tmp_path):
    (tmp_path / "bad.conf").write_text("conn x\n    typo=transport\n")
    assert run(LIBRESWAN / "addconn", "--checkconfig", "--config", tmp_path / "bad.conf").returncode != 0
    assert run(LIBRESWAN / "algparse", "-v1", "ike=aes128-sha1-modp1024").returncode != 0   # this build: no group 2


def test_libreswan_conf_follows_the_scenario():
    s = apply_settings(preset("client-behind-nat"), ["server.nat_t=draft-02", "server.keepalive_interval=15"])
    s = replace(s, server=replace(s.server, pfs_group=14))
    conf = libreswan_files(s)["ipsec.conf"]
    assert "    pfs=yes" in conf and "phase2alg=aes128-sha1-modp2048,3des-sha1-modp2048" in conf
    assert "nat-ikev1-method=drafts" in conf and "keep-alive=15" in conf
    assert "# note: DH group 2 (modp1024) left out" in conf
    only2 = libreswan_files(apply_settings(preset("client-behind-nat"), ["server.dh_groups=2"]))["ipsec.conf"]
    assert "modp1024" in only2 and "will refuse this conn" in only2


def test_ipsec_secrets_line():
    line = libreswan_files(preset("client-behind-nat"))["ipsec.secrets"].splitlines()[-1]
    assert line == '%any %any : PSK "natt-lab"'
    odd = libreswan_files(apply_settings(preset("client-behind-nat"), ['server.psk=a"b']))["ipsec.secrets"]
    assert odd.splitlines()[-1] == "%any %any : PSK 0x" + b'a"b'.hex()


@needs_libreswan
@pytest.mark.parametrize("peer", ["server", "client"])
def test_libreswan_takes_the_rsa_certificates(tmp_path, peer):
    """authby=rsasig with the certificate's NSS nickname; IDs are the certificates' subject DNs,
    as our engine sends them (ID_DER_ASN1_DN), so the client names the server it expects."""
    from cryptography import x509
    s = preset("certificates-behind-nat")
    files = libreswan_files(s, peer)
    (tmp_path / "certs").mkdir()
    d = write(tmp_path, files)
    check = run(LIBRESWAN / "addconn", "--checkconfig", "--config", d / "ipsec.conf")
    assert check.returncode == 0, check.stderr + check.stdout
    parsed = run(LIBRESWAN / "readwriteconf", "--config", d / "ipsec.conf").stdout
    assert f"leftcert={peer}" in parsed and "authby=rsasig" in parsed
    mine = x509.load_pem_x509_certificate(files[f"certs/{peer}.pem"].encode())
    dn = ", ".join(f"{a.rfc4514_attribute_name}={a.value}" for a in mine.subject)
    assert f'leftid="{dn}"' in parsed
    if peer == "client":
        assert 'rightid="C=US, O=NAT-T Lab, OU=Machines, CN=server.natt-lab.example"' in parsed
    assert "PSK" not in files["ipsec.secrets"]


needs_nss = pytest.mark.skipif(not all(shutil.which(t) for t in ("certutil", "pk12util", "openssl")),
                               reason="NSS tools (libnss3-tools) or openssl not installed")


@needs_nss
def test_nss_import_gives_libreswan_a_valid_chain(tmp_path):
    """nss-import.sh, run as written against a fresh NSS database: NSS itself then holds the
    machine key and validates its certificate up to the trusted lab root; without the script's
    CA lines the same certificate is refused (the check can fail)."""
    files = libreswan_files(preset("certificates-behind-nat"), "server")
    (tmp_path / "certs").mkdir()
    d = write(tmp_path, files)
    for name in ("db", "bare"):
        (d / name).mkdir()
        assert run("certutil", "-N", "-d", f"sql:{d / name}", "--empty-password").returncode == 0
    out = run("sh", "nss-import.sh", cwd=d, env=os.environ | {"IPSEC_NSSDIR": f"sql:{d / 'db'}"})
    assert out.returncode == 0, out.stderr
    keys = run("certutil", "-K", "-d", f"sql:{d / 'db'}").stdout
    assert "server" in keys
    valid = run("certutil", "-V", "-n", "server", "-u", "C", "-d", f"sql:{d / 'db'}")
    assert "certificate is valid" in valid.stdout + valid.stderr
    assert run("openssl", "pkcs12", "-export", "-in", d / "certs/server.pem", "-inkey", d / "certs/server.key",
               "-name", "server", "-passout", "pass:", "-out", d / "s.p12").returncode == 0
    assert run("pk12util", "-i", d / "s.p12", "-d", f"sql:{d / 'bare'}", "-W", "").returncode == 0
    bare = run("certutil", "-V", "-n", "server", "-u", "C", "-d", f"sql:{d / 'bare'}")
    assert "certificate is valid" not in bare.stdout + bare.stderr


def test_libreswan_says_what_it_cannot_take():
    """ECDSA for IKEv1 (libreswan implements none), a kilobyte lifetime (no keyword in 4.10) and a
    fragment size (libreswan picks its own) are notes; IKE fragmentation follows the scenario."""
    s = apply_settings(preset("certificates-behind-nat"),
                       ["server.auth=ecdsa-sig", "client.auth=ecdsa-sig", "server.ipsec_lifetime_kb=50000",
                        "server.ike_fragmentation=yes", "server.ike_fragment_size=1000"])
    files = libreswan_files(s, "server")
    conf = files["ipsec.conf"]
    assert "# note: ecdsa-sig: libreswan implements no ECDSA for IKEv1" in conf and "authby=secret" in conf
    assert "# note: ipsec_lifetime_kb=50000" in conf and "# note: ike_fragment_size=1000" in conf
    assert "    fragmentation=yes" in conf and "nss-import.sh" not in files
    assert "    fragmentation=no" in libreswan_files(preset("client-behind-nat"))["ipsec.conf"]


# --- xl2tpd and pppd -----------------------------------------------------------------------------

@needs_xl2tpd
@pytest.mark.parametrize("auth", [("mschapv2",), ("chap-md5",), ("pap",), ("mschapv2", "pap")])
def test_xl2tpd_loads_its_config(tmp_path, auth):
    d = write(tmp_path, libreswan_files(preset("client-behind-nat"), ppp=PppPolicy(auth=auth)))
    # a fresh network namespace: nothing else's port 1701, nothing left behind; killed after 2 s
    out = run("unshare", "-n", "timeout", "2", "xl2tpd", "-D", "-c", d / "xl2tpd.conf", "-s", os.devnull,
              "-p", d / "xl2tpd.pid", "-C", d / "l2tp-control")
    text = out.stdout + out.stderr
    assert out.returncode == 124, text            # still running when timeout stopped it: the config loaded
    assert "Listening on IP address 0.0.0.0, port 1701" in text and "parse_config" not in text


@needs_xl2tpd
def test_xl2tpd_refuses_a_bad_config(tmp_path):
    (tmp_path / "x.conf").write_text("[lns default]\nrefuse pap = maybe\n")
    out = run("unshare", "-n", "timeout", "2", "xl2tpd", "-D", "-c", tmp_path / "x.conf", "-s", os.devnull,
              "-p", tmp_path / "pid", "-C", tmp_path / "ctl")
    assert out.returncode == 1 and "parse_config" in out.stdout + out.stderr


def _pppd_dryrun(path: Path) -> str:
    out = run("pppd", "file", path, "dryrun", "nodetach", "notty")
    return out.stdout + out.stderr


@needs_pppd
@pytest.mark.parametrize("auth", [("mschapv2",), ("chap-md5", "pap")])
def test_pppd_parses_the_options_file(tmp_path, auth):
    d = write(tmp_path, libreswan_files(preset("client-behind-nat"), ppp=PppPolicy(auth=auth)))
    text = _pppd_dryrun(d / "options.xl2tpd")
    assert "In file" not in text and "unrecognized" not in text and "invalid" not in text, text
    bad = tmp_path / "bad"
    bad.write_text("require-mschap-v3\n")
    assert "unrecognized option 'require-mschap-v3'" in _pppd_dryrun(bad)


def test_ppp_files_follow_the_ppp_policy():
    files = libreswan_files(preset("client-behind-nat"),
                            ppp=PppPolicy(auth=("chap-md5",), pool=("10.1.0.5", "10.1.0.9"), dns=("9.9.9.9",),
                                          users={"alice": "pw"}))
    assert "ip range = 10.1.0.5-10.1.0.9" in files["xl2tpd.conf"] and "refuse pap = yes" in files["xl2tpd.conf"]
    assert "require-chap" in files["options.xl2tpd"] and "ms-dns 9.9.9.9" in files["options.xl2tpd"]
    assert re.fullmatch(r'(#.*\n)"alice" l2tpd "pw" \*\n', files["chap-secrets"])


# --- Windows -------------------------------------------------------------------------------------

#: Add-VpnConnection, parameter set InboxProfile, with the accepted values the reference lists
ADD_VPN_PARAMS = {"Name": None, "ServerAddress": None, "TunnelType": {"Pptp", "L2tp", "Sstp", "Ikev2", "Automatic"},
                  "EncryptionLevel": {"NoEncryption", "Optional", "Required", "Maximum", "Custom"},
                  "AuthenticationMethod": {"Pap", "Chap", "MSChapv2", "Eap", "MachineCertificate"},
                  "SplitTunneling": None, "AllUserConnection": None, "L2tpPsk": None, "RememberCredential": None,
                  "UseWinlogonCredential": None, "EapConfigXmlStream": None, "Force": None, "PassThru": None,
                  "DnsSuffix": None, "IdleDisconnectSeconds": None, "ServerList": None}
SWITCHES = {"SplitTunneling", "AllUserConnection", "RememberCredential", "UseWinlogonCredential", "Force", "PassThru"}


def parse_add_vpn(line: str) -> dict[str, str | None]:
    words = shlex.split(line)
    assert words[0] == "Add-VpnConnection"
    params, i = {}, 1
    while i < len(words):
        assert words[i].startswith("-"), words[i]
        name = words[i][1:]
        assert name in ADD_VPN_PARAMS, f"-{name} is not a parameter of Add-VpnConnection"
        if name in SWITCHES:
            params[name], i = None, i + 1
        else:
            params[name], i = words[i + 1], i + 2
    return params


@pytest.mark.parametrize("name, rule", [("client-behind-nat", None), ("server-behind-nat", 1), ("both-behind-nat", 2)])
def test_windows_script(name, rule):
    text = windows_ps1(preset(name))
    commands = [l for l in text.splitlines() if l and not l.startswith("#")]
    p = parse_add_vpn(commands[-1])
    assert p["TunnelType"] == "L2tp" and p["L2tpPsk"] == "natt-lab" and p["AuthenticationMethod"] == "MSChapv2"
    assert p["ServerAddress"] == ("192.168.1.40" if rule else "192.168.1.10")
    for key in ("TunnelType", "EncryptionLevel"):
        assert p[key] in ADD_VPN_PARAMS[key]
    assert set(p["AuthenticationMethod"].split(",")) <= ADD_VPN_PARAMS["AuthenticationMethod"]
    assert "Force" in p                      # the PSK on a command line needs -Force
    regs = [l for l in commands if l.startswith("REG ADD")]
    assert regs == ([reg_add(rule)] if rule else [])


def test_windows_script_other_methods_and_errors():
    p = parse_add_vpn(windows_ps1(preset("client-behind-nat"), auth=("chap-md5", "pap"), encryption="Optional")
                      .splitlines()[-1])
    assert p["AuthenticationMethod"] == "Chap,Pap" and p["EncryptionLevel"] == "Optional"
    quoted = windows_ps1(apply_settings(preset("client-behind-nat"), ["client.psk=it's"]))
    assert "-L2tpPsk 'it''s'" in quoted
    with pytest.raises(ConfigError):
        windows_ps1(preset("client-behind-nat"), auth=("eap-tls",))
    with pytest.raises(ConfigError):
        config_files(preset("client-behind-nat"), "windows", "server")


def test_the_view_shows_the_engine_s_reg_add():
    from natt_view.windows import reg_add as view_reg_add
    assert view_reg_add is reg_add


# --- the CLI -------------------------------------------------------------------------------------

def test_cli_writes_the_files(tmp_path, capsys):
    assert main(["config", "client-behind-nat", "--for", "libreswan", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chap-secrets", "ipsec.conf", "ipsec.secrets",
                                                         "options.xl2tpd", "xl2tpd.conf"]
    assert main(["config", "both-behind-nat", "--for", "windows"]) == 0
    out = capsys.readouterr().out
    assert "AssumeUDPEncapsulationContextOnSendRule /t REG_DWORD /d 2" in out and "Add-VpnConnection" in out
    assert main(["config", "client-behind-nat", "--for", "libreswan", "--peer", "client"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("==> ipsec.conf <==") and "==> ipsec.secrets <==" in out and "xl2tpd" not in out
    assert main(["config", "client-behind-nat", "--for", "windows", "--peer", "server"]) == 2
