"""libreswan + xl2tpd + pppd files with which a Linux box plays one peer of a scenario (IKEv1, PSK, L2TP).

`libreswan_files(scenario, "server")` gives the L2TP/IPsec server the way the common Linux setups
write it (hwdsl2's setup-ipsec-vpn: transport mode, `leftprotoport=17/1701`,
`rightprotoport=17/%any`, `pfs=no` unless the scenario has PFS, xl2tpd LNS with `require chap`,
`refuse pap`, `length bit = yes`, pppd with `+mschap-v2`, `ms-dns`, LCP echo 30 s / 4 failures):
ipsec.conf, ipsec.secrets, xl2tpd.conf, options.xl2tpd and chap-secrets. `"client"` gives the
ipsec.conf/ipsec.secrets of a client that dials the scenario's server.

Translated from the scenario: proposals in the engine's order (libreswan syntax
`aes128-sha1-modp2048`), lifetimes, PSK and identities, mode, NAT-T announcements
(`nat-ikev1-method`), the keepalive interval (`keep-alive`), IKE fragmentation
(`fragmentation`), RSA machine certificates (`authby=rsasig`, `leftcert` naming the certificate in
libreswan's NSS database, IDs from the certificate or as the scenario's `id_type` asks; the PEM
files and `nss-import.sh`, which loads them with NSS's own pk12util and certutil). PPP:
authentication, pool, DNS from `natt_core.ppp.PppPolicy`. What libreswan cannot say is written
as a comment: ECDSA for IKEv1 (not implemented: ipsec.conf(5) `authby`), a kilobyte lifetime
(libreswan 4.10 has only `salifetime`), the IKE fragment size.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..ike.policy import PeerPolicy
from ..ppp import PppPolicy
from .scenario import SERVER_NAT_PUBLIC, SERVER_PRIVATE, SERVER_PUBLIC, Scenario
from .strongswan_config import ESP_CIPHER, HASH, IKE_CIPHER, INTEGRITY, MODP, PEERS, _addresses, _cert_id

#: our NAT-T announcement -> libreswan's nat-ikev1-method (ipsec.conf(5))
NAT_METHOD = {"none": "none", "draft-02": "drafts", "draft-03": "drafts", "rfc3947": "rfc"}
#: Debian's libreswan 4.10 refuses modp1024 ("IKE DH algorithm 'modp1024' is not supported": built
#: without DH group 2), so group 2 is left out when the scenario offers another group.
UNSUPPORTED_DH = {2}
#: where libreswan keeps its NSS database (Debian, Fedora); nss-import.sh takes IPSEC_NSSDIR instead
NSS_DIR = "sql:/var/lib/ipsec/nss"
ROOT_NICKNAME, ISSUER_NICKNAME = "NAT-T Lab root CA", "NAT-T Lab issuing CA"
#: strongSwan's fragment size, the policy's default: libreswan picks its own, so only another is noted
DEFAULT_FRAGMENT_SIZE = PeerPolicy.__dataclass_fields__["ike_fragment_size"].default
LNS_NAME = "l2tpd"
PPP_OPTIONS = "/etc/ppp/options.xl2tpd"


def _groups(p: PeerPolicy) -> tuple[tuple[int, ...], list[str]]:
    keep = tuple(g for g in p.dh_groups if g not in UNSUPPORTED_DH) or p.dh_groups
    notes = []
    if keep != p.dh_groups:
        notes.append("DH group 2 (modp1024) left out: Debian's libreswan 4.10 is built without it")
    elif any(g in UNSUPPORTED_DH for g in keep):
        notes.append("only DH group 2 (modp1024) is offered: libreswan 4.x builds without it will refuse this conn")
    return keep, notes


def ike_line(p: PeerPolicy) -> str:
    groups, _ = _groups(p)
    return ",".join(f"{IKE_CIPHER[c]}-{HASH[h]}-{MODP[g]}" for g in groups for c in p.ike_ciphers for h in p.ike_hashes)


def phase2_line(p: PeerPolicy) -> str:
    pfs = f"-{MODP[p.pfs_group]}" if p.pfs_group else ""
    if p.protocol == "ah":
        return ",".join(f"{INTEGRITY[i]}{pfs}" for i in p.esp_integrity)
    return ",".join(f"{ESP_CIPHER[c]}-{INTEGRITY[i]}{pfs}" for c in p.esp_ciphers for i in p.esp_integrity)


def _secret(psk: str) -> str:
    if not psk.isascii() or not psk.isprintable() or '"' in psk or "\\" in psk:
        return "0x" + psk.encode().hex()       # ipsec.secrets(5): a hex PSK needs no quoting
    return f'"{psk}"'


def ipsec_conf(s: Scenario, peer: str = "server") -> str:
    if peer not in PEERS:
        raise ConfigError(f"unknown peer {peer!r}; choose one of {', '.join(PEERS)}")
    server_ip = SERVER_PRIVATE if s.server_behind_nat else SERVER_PUBLIC
    server_target = SERVER_NAT_PUBLIC if s.server_behind_nat else SERVER_PUBLIC
    me = s.server if peer == "server" else s.client
    _, notes = _groups(me)
    if me.mode == "tunnel":
        notes.append("tunnel mode: L2TP/IPsec uses transport mode; this conn follows the scenario")
    if me.assume_udp_rule is not None:
        notes.append(f"AssumeUDPEncapsulationContextOnSendRule={me.assume_udp_rule} is a Windows setting")
    rsa = me.auth == "rsa-sig"
    if me.auth == "ecdsa-sig":
        notes.append("ecdsa-sig: libreswan implements no ECDSA for IKEv1 (ipsec.conf(5), authby): this conn "
                     "uses the pre-shared key; strongSwan's config carries the ECDSA certificates")
    if rsa:
        notes.append(f"rsa-sig: run nss-import.sh (beside this file) once, so NSS holds '{peer}' and the lab CAs")
    if me.ipsec_lifetime_kb:
        notes.append(f"ipsec_lifetime_kb={me.ipsec_lifetime_kb}: libreswan 4.10 has no kilobyte lifetime "
                     "(ipsec.conf(5) has salifetime only): left out")
    if me.ike_fragmentation and me.ike_fragment_size != DEFAULT_FRAGMENT_SIZE:
        notes.append(f"ike_fragment_size={me.ike_fragment_size}: libreswan chooses its own fragment size")
    if peer == "server":
        left, leftid = server_ip, me.identity and f"@{me.identity}" or server_ip
        right, rightid, rightport = "%any", "%any", "17/%any"
    else:
        left = s.client_address(1)
        leftid = me.identity and f"@{me.identity}" or left
        right, rightport = server_target, "17/1701"
        rightid = s.server.identity and f"@{s.server.identity}" or server_ip
    if rsa:
        other_name = "client" if peer == "server" else "server"
        other = s.client if peer == "server" else s.server
        leftid = _libreswan_id(_cert_id(me, peer, _addresses(s, peer)))
        if peer == "client":
            rightid = _libreswan_id(_cert_id(other, other_name, _addresses(s, other_name)))
    lines = [f"# {s.title} — the scenario's {peer}, for libreswan (ipsec addconn --checkconfig --config <this file>)",
             f"# made by: python -m natt_core config {s.name} --for libreswan --peer {peer} [--set KEY=VALUE ...]"]
    lines += [f"# note: {n}" for n in notes]
    lines += [
        "config setup",
        "    uniqueids=no",
        "    virtual-private=%v4:10.0.0.0/8,%v4:192.168.0.0/16,%v4:172.16.0.0/12",
        f"    keep-alive={int(me.keepalive_interval)}",
        "",
        f"conn {s.name}",
        "    ikev2=no",
        f"    authby={'rsasig' if rsa else 'secret'}",
        *([f"    leftcert={peer}"] if rsa else []),
        *(["    aggressive=yes"] if me.aggressive else []),
        f"    type={me.mode}",
        f"    left={left}",
        f"    leftid={leftid}",
        "    leftprotoport=17/1701",
        f"    right={right}",
        f"    rightid={rightid}",
        f"    rightprotoport={rightport}",
        f"    ike={ike_line(me)}",
        f"    phase2={me.protocol}",
        f"    phase2alg={phase2_line(me)}",
        f"    pfs={'yes' if me.pfs_group else 'no'}",
        f"    ikelifetime={me.ike_lifetime}s",
        f"    salifetime={me.ipsec_lifetime}s",
        f"    nat-ikev1-method={NAT_METHOD[me.nat_t]}",
        "    encapsulation=auto",
        f"    fragmentation={'yes' if me.ike_fragmentation else 'no'}",
        "    rekey=no",
        # RFC 3706 DPD as the scenario has it (hwdsl2's L2TP server: dpddelay=30, dpdtimeout=300)
        *([f"    dpddelay={me.dpd_delay:g}", f"    dpdtimeout={me.dpd_timeout:g}", "    dpdaction=clear"]
          if me.dpd_delay else []),
        f"    auto={'add' if peer == 'server' else 'start'}",
    ]
    return "\n".join(lines) + "\n"


def _libreswan_id(spelled: str) -> str:
    """libreswan's ID syntax from swanctl's: a DN stays a quoted string, an FQDN gets its '@'."""
    if spelled.startswith('"') or spelled.replace(".", "").isdigit():
        return spelled
    return f"@{spelled}"


def ipsec_secrets(s: Scenario, peer: str = "server") -> str:
    me = s.server if peer == "server" else s.client
    if me.auth == "rsa-sig":
        return (f"# {s.name}: no secret here: the private key of '{peer}' lives in libreswan's NSS database "
                "(nss-import.sh)\n")
    return (f"# {s.name}: the pre-shared key (ipsec.secrets(5)); keep this file mode 600\n"
            f"%any %any : PSK {_secret(me.psk)}\n")


def xl2tpd_conf(ppp: PppPolicy) -> str:
    first, last = ppp.pool
    auth = ppp.auth[0] if ppp.auth else "none"
    chap = auth in ("mschapv2", "chap-md5")
    return "\n".join([
        "; xl2tpd LNS for the scenario's server (xl2tpd.conf(5))",
        "[global]",
        "port = 1701",
        "",
        "[lns default]",
        f"ip range = {first}-{last}",
        f"local ip = {ppp.local_address}",
        f"require chap = {'yes' if chap else 'no'}",
        f"refuse pap = {'no' if 'pap' in ppp.auth else 'yes'}",
        f"require authentication = {'yes' if ppp.auth else 'no'}",
        f"name = {LNS_NAME}",
        f"pppoptfile = {PPP_OPTIONS}",
        "length bit = yes",
    ]) + "\n"


PPPD_AUTH = {"mschapv2": "require-mschap-v2", "chap-md5": "require-chap", "pap": "require-pap"}


def options_xl2tpd(ppp: PppPolicy) -> str:
    lines = ["# pppd options for xl2tpd's calls (pppd(8))", "ipcp-accept-local", "ipcp-accept-remote", "noccp", "auth"]
    lines += [PPPD_AUTH[a] for a in ppp.auth]
    lines += ["mtu 1280", "mru 1280", "proxyarp", "lcp-echo-failure 4", "lcp-echo-interval 30"]
    lines += [f"ms-dns {d}" for d in ppp.dns]
    return "\n".join(lines) + "\n"


def chap_secrets(ppp: PppPolicy) -> str:
    rows = [f'"{u}" {LNS_NAME} "{p}" *' for u, p in ppp.users.items()]
    return "# client  server  secret  IP addresses (pppd(8) chap-secrets)\n" + "\n".join(rows) + "\n"


def nss_files(s: Scenario, peer: str) -> dict[str, str]:
    """The PEM files of an rsa-sig peer (its machine certificate and key, the lab root and issuing
    CAs) and nss-import.sh, which puts them in NSS the way libreswan's docs do: a PKCS#12 made by
    openssl, imported by pk12util (certificate and key under the nickname `leftcert` names), the
    root trusted for issuing ("CT,,") and the issuing CA added beside it."""
    from ..crypto import pki
    from ..ike.signature_auth import PKI_SEED, credentials
    me = s.server if peer == "server" else s.client
    if me.auth != "rsa-sig":
        return {}
    machine = credentials(peer, _addresses(s, peer), me)
    lab = pki.hierarchy(PKI_SEED, "lab")
    script = "\n".join([
        "#!/bin/sh",
        f"# {s.name}: load the certificate and key of '{peer}' and the lab CAs into libreswan's NSS database.",
        f"# Run from this directory. IPSEC_NSSDIR picks another database (default {NSS_DIR}).",
        "set -eu",
        f'db="${{IPSEC_NSSDIR:-{NSS_DIR}}}"',
        'p12="$(mktemp)"',
        "trap 'rm -f \"$p12\"' EXIT",
        f'openssl pkcs12 -export -in certs/{peer}.pem -inkey certs/{peer}.key -name {peer} '
        '-passout pass: -out "$p12"',
        'pk12util -i "$p12" -d "$db" -W ""',
        f'certutil -A -d "$db" -n "{ROOT_NICKNAME}" -t "CT,," -a -i certs/ca.pem',
        f'certutil -A -d "$db" -n "{ISSUER_NICKNAME}" -t ",," -a -i certs/intermediate.pem',
    ]) + "\n"
    return {f"certs/{peer}.pem": pki.pem(machine.cert).decode(), f"certs/{peer}.key": pki.key_pem(machine.key).decode(),
            "certs/ca.pem": pki.pem(lab.root.cert).decode(),
            "certs/intermediate.pem": pki.pem(lab.intermediate.cert).decode(), "nss-import.sh": script}


def libreswan_files(s: Scenario, peer: str = "server", ppp: PppPolicy | None = None) -> dict[str, str]:
    """File name -> text; the server gets xl2tpd/pppd files too, an rsa-sig peer its NSS files."""
    files = {"ipsec.conf": ipsec_conf(s, peer), "ipsec.secrets": ipsec_secrets(s, peer), **nss_files(s, peer)}
    if peer == "server":
        ppp = ppp or PppPolicy()
        files |= {"xl2tpd.conf": xl2tpd_conf(ppp), "options.xl2tpd": options_xl2tpd(ppp),
                  "chap-secrets": chap_secrets(ppp)}
    return files
