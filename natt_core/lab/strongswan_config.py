"""A swanctl.conf that lets strongSwan stand in for one peer of a scenario (IKEv1 or IKEv2, PSK).

`swanctl_conf(scenario, "server")` describes the scenario's server so that the scenario's
client (our engine, or a real one) can talk to a real charon instead; `"client"` describes a
client that initiates towards the scenario's server. Addresses are the lab's (scenario.py).

What is translated, and from where:
- phase 1: one IKE proposal per (DH group, cipher, hash) in the engine's offer order
  (proposals.py), e.g. aes128-sha1-modp2048; Main Mode (`aggressive = no`), PSK auth.
- phase 2: ESP (or AH) proposals cipher x integrity, with the PFS group if any; `mode`.
- traffic selectors mirror what our engine proposes in Quick Mode (quick_mode.py): IDs with
  protocol UDP and port 1701 (L2TP). In transport mode both sides are `dynamic[udp/1701]`; in
  tunnel mode the client proposes (its inner address, the server address it dialled), the
  server sends from its own inner address.
- identities: an FQDN if the policy has one, else the peer's own IPv4 address (ID_IPV4_ADDR).
- certificates (`auth` rsa-sig / ecdsa-sig): `auth = pubkey`, `certs` = the machine certificate
  the lab PKI issues this peer, the ID its `id_type` asks for (by default the certificate's
  subject DN); `swanctl_files` gives the files for swanctl's x509/, x509ca/ (the lab root and
  issuing CA) and private/ directories, next to swanctl.conf (SWANCTL_DIR).
- IKEv2 (`ike_version` 2; `version = 0` for a peer that answers both): one proposal per IKE suite
  of the IKEv2 offer (ike/v2/proposals.py) with every group, e.g. aes128-sha1-prfsha1-modp2048 or
  aes128gcm16-prfsha256-ecp256, and ESP suites such as aes128-sha1 or aes128gcm16. The first
  CHILD_SA rides in IKE_AUTH, so a PFS group only matters when it is rekeyed.
Things swanctl.conf cannot say (NAT-T announcements, keepalive interval, the Windows rule) are
written as comments, so a class sees what differs from the scenario.
"""
from __future__ import annotations

import base64

from ..crypto import pki
from ..errors import ConfigError
from ..ike.policy import PeerPolicy
from ..ike.v2.proposals import esp_suites, ike_groups, ike_suites
from ..wire.numbers import Port
from .scenario import CLIENT_BASE, SERVER_NAT_PUBLIC, SERVER_PRIVATE, SERVER_PUBLIC, Scenario

PEERS = ("server", "client")
IKE_CIPHER = {"aes-cbc-128": "aes128", "aes-cbc-192": "aes192", "aes-cbc-256": "aes256", "3des-cbc": "3des"}
ESP_CIPHER = {"aes-cbc-128": "aes128", "aes-cbc-256": "aes256", "3des-cbc": "3des"}
HASH = {"sha1": "sha1", "sha256": "sha256", "md5": "md5"}
INTEGRITY = {"hmac-sha1-96": "sha1", "hmac-sha256-128": "sha256", "hmac-md5-96": "md5"}
MODP = {2: "modp1024", 14: "modp2048"}   # RFC 2409 §6.2 group 2, RFC 3526 §3 group 14
#: IKEv2 names (ike/v2/suites.py) in strongSwan's words ("IKEv2 Cipher Suites", docs.strongswan.org)
V2_ENCR = {"aes-cbc-128": "aes128", "aes-cbc-256": "aes256", "aes-gcm-16-128": "aes128gcm16",
           "aes-gcm-16-256": "aes256gcm16"}
V2_PRF = {"sha1": "prfsha1", "sha256": "prfsha256"}
V2_GROUP = {**MODP, 19: "ecp256"}                 # RFC 5903 §3.1 group 19
CLIENT_LAN = f"{CLIENT_BASE - 19}/24"      # 192.168.11.0/24
L2TP = f"[udp/{int(Port.L2TP)}]"


def ike_proposals(p: PeerPolicy) -> list[str]:
    """Phase-1 proposals in the engine's own order: group, then cipher, then hash."""
    return [f"{IKE_CIPHER[c]}-{HASH[h]}-{MODP[g]}" for g in p.dh_groups for c in p.ike_ciphers for h in p.ike_hashes]


def child_proposals(p: PeerPolicy) -> list[str]:
    pfs = f"-{MODP[p.pfs_group]}" if p.pfs_group else ""
    if p.protocol == "ah":
        return [f"{INTEGRITY[i]}{pfs}" for i in p.esp_integrity]
    return [f"{ESP_CIPHER[c]}-{INTEGRITY[i]}{pfs}" for c in p.esp_ciphers for i in p.esp_integrity]


def ikev2_proposals(p: PeerPolicy) -> list[str]:
    """IKEv2 proposals in the engine's order: one per suite, each with every group of the offer."""
    groups = "-".join(V2_GROUP[g] for g in ike_groups(p, p.v2))
    return ["-".join([V2_ENCR[e.name]] + ([INTEGRITY[i.name]] if i else []) + [V2_PRF[prf], groups])
            for e, i, prf in ike_suites(p, p.v2)]


def ikev2_child_proposals(p: PeerPolicy) -> list[str]:
    pfs = f"-{V2_GROUP[p.pfs_group]}" if p.pfs_group else ""
    return ["-".join([V2_ENCR[e.name]] + ([INTEGRITY[i.name]] if i else [])) + pfs for e, i in esp_suites(p, p.v2)]


def _version(p: PeerPolicy) -> int:
    """swanctl's `version`: 1, 2, or 0 for a peer that speaks both."""
    return p.ike_version if isinstance(p.ike_version, int) else 0


def _secret(psk: str) -> str:
    """A quoted string when that is unambiguous, else strongSwan's 0s (base64) form."""
    if psk.isascii() and psk.isprintable() and not any(ch in psk for ch in '"\\'):
        return f'"{psk}"'
    return "0s" + base64.b64encode(psk.encode()).decode()


def _identity(p: PeerPolicy, address: str) -> str:
    return p.identity or address


def _dn(machine: pki.Machine) -> str:
    """strongSwan's spelling of a certificate subject: ASN.1 order, 'C=US, O=…, CN=…'."""
    return '"' + ", ".join(f"{a.rfc4514_attribute_name}={a.value}" for a in machine.cert.subject) + '"'


def _cert_id(p: PeerPolicy, name: str, address: str) -> str:
    """The ID a certificate peer sends, as swanctl writes it (ike/signature_auth.py `_id_for`)."""
    from ..ike.signature_auth import credentials
    kind = "der-asn1-dn" if p.id_type == "auto" else p.id_type
    if kind == "der-asn1-dn":
        return _dn(credentials(name, address, p))
    if kind == "fqdn":
        return p.identity or pki.fqdn_of(name)
    return address


def _addresses(s: Scenario, peer: str) -> str:
    return (SERVER_PRIVATE if s.server_behind_nat else SERVER_PUBLIC) if peer == "server" else s.client_address(1)


def swanctl_files(s: Scenario, peer: str = "server") -> dict[str, str]:
    """The credential files swanctl loads from its directories when `peer` uses certificates:
    x509/<peer>.pem, x509ca/ca.pem and intermediate.pem, private/<peer>.key (PKCS#8)."""
    from ..ike.signature_auth import PKI_SEED, credentials
    me = s.server if peer == "server" else s.client
    if me.auth == "psk":
        return {}
    machine = credentials(peer, _addresses(s, peer), me)
    lab = pki.hierarchy(PKI_SEED, "lab")
    return {f"x509/{peer}.pem": pki.pem(machine.cert).decode(), "x509ca/ca.pem": pki.pem(lab.root.cert).decode(),
            "x509ca/intermediate.pem": pki.pem(lab.intermediate.cert).decode(),
            f"private/{peer}.key": pki.key_pem(machine.key).decode()}


def _auth_block(me: PeerPolicy, peer: str, local_id: str, remote_id: str) -> list[str]:
    auth = "pubkey" if me.auth != "psk" else "psk"
    return ["        local {", f"            auth = {auth}",
            *([f"            certs = {peer}.pem"] if me.auth != "psk" else []),
            f"            id = {local_id}", "        }",
            "        remote {", f"            auth = {auth}", f"            id = {remote_id}", "        }"]


def _host(ip: str) -> str:
    return f"{ip}/32{L2TP}"


def _notes(s: Scenario, me: PeerPolicy, peer: str) -> list[str]:
    notes = []
    if me.nat_t != "rfc3947":
        notes.append(f"this {peer} announces NAT-T '{me.nat_t}' in the scenario; charon always announces "
                     "RFC 3947 and the drafts and cannot be told otherwise")
    if me.nat_t_role != "full":
        notes.append("the scenario's peer speaks NAT-T only as initiator; charon speaks it in both roles")
    if me.assume_udp_rule is not None:
        notes.append(f"AssumeUDPEncapsulationContextOnSendRule={me.assume_udp_rule} is a Windows setting "
                     "with no strongSwan equivalent")
    if me.keepalive_interval != 20.0:
        notes.append(f"keepalive interval {me.keepalive_interval:g} s: set charon.keep_alive = "
                     f"{me.keepalive_interval:g}s in strongswan.conf (RFC 3948 §4 default: 20 s)")
    if me.aggressive:
        notes.append("Aggressive Mode with a PSK: charon refuses it unless strongswan.conf sets "
                     "charon.i_dont_care_about_security_and_use_aggressive_mode_psk = yes")
    if me.protocol == "ah":
        notes.append("AH cannot cross a NAT (its ICV covers the IP addresses): expect failure behind NAT")
    if me.mode == "tunnel":
        notes.append("tunnel mode: with kernel-libipsec the remote traffic selector must not contain the "
                     "peer's IKE address, or IKE itself would be routed into the tunnel")
    if s.clients > 1:
        notes.append(f"the scenario has {s.clients} clients; one connection serves them all")
    if me.auth != "psk":
        notes.append(f"{me.auth}: put the files of `python -m natt_core config … --for strongswan --out DIR` "
                     "(x509/, x509ca/, private/) beside this swanctl.conf and set SWANCTL_DIR=DIR")
        if me.cert_chain == "machine":
            notes.append("cert_chain=machine: charon decides itself which CA certificates it sends")
    return notes


def swanctl_conf(s: Scenario, peer: str = "server") -> str:
    """The swanctl.conf text for the scenario's `peer` ("server" or "client")."""
    if peer not in PEERS:
        raise ConfigError(f"unknown peer {peer!r}; choose one of {', '.join(PEERS)}")
    server_ip = SERVER_PRIVATE if s.server_behind_nat else SERVER_PUBLIC
    server_target = SERVER_NAT_PUBLIC if s.server_behind_nat else SERVER_PUBLIC
    client_ip = s.client_address(1)
    if peer == "server":
        me, other = s.server, s.client
        local_addrs, remote_addrs = server_ip, "%any"
        local_id, remote_id = _identity(me, server_ip), other.identity or "%any"
        if me.tunnel:   # the client proposes IDcr = the address it dialled, IDci = its inner address
            local_ts = _host(server_target)
            remote_ts = _host(other.inner_address) if other.inner_address else f"{CLIENT_LAN}{L2TP}"
        else:
            local_ts = remote_ts = f"dynamic{L2TP}"
    else:
        me, other = s.client, s.server
        local_addrs, remote_addrs = client_ip, server_target
        local_id, remote_id = _identity(me, client_ip), _identity(other, server_ip)
        if me.tunnel:   # the server sends from its inner address (or its own address)
            local_ts = _host(me.inner_address or client_ip)
            remote_ts = _host(other.inner_address or server_target)
        else:
            local_ts = remote_ts = f"dynamic{L2TP}"
    if me.auth != "psk":
        other_name = "client" if peer == "server" else "server"
        local_id = _cert_id(me, peer, _addresses(s, peer))
        remote_id = "%any" if peer == "server" else _cert_id(other, other_name, _addresses(s, other_name))
    name = s.name
    version = _version(me)
    proposals_key = "ah_proposals" if me.protocol == "ah" else "esp_proposals"
    if version == 1:
        ike, child = ike_proposals(me), child_proposals(me)
    else:   # version 2, or 0 (both): charon initiates with IKEv2 and picks per message as a responder
        ike = ikev2_proposals(me) + (ike_proposals(me) if version == 0 else [])
        child = ikev2_child_proposals(me) + (child_proposals(me) if version == 0 else [])
        child = list(dict.fromkeys(child))
    lines = [f"# {s.title} — the scenario's {peer}, for strongSwan (swanctl --load-all --file <this file>)",
             f"# made by: python -m natt_core config {name} --for strongswan --peer {peer} [--set KEY=VALUE ...]"]
    lines += [f"# note: {n}" for n in _notes(s, me, peer)]
    lines += [
        "connections {",
        f"    {name} {{",
        f"        version = {version}",
        *([f"        aggressive = {'yes' if me.aggressive else 'no'}"] if version != 2 else []),
        "        encap = no",
        f"        local_addrs = {local_addrs}",
        f"        remote_addrs = {remote_addrs}",
        f"        proposals = {', '.join(ike)}",
        f"        rekey_time = {me.ike_lifetime}s",
        # RFC 3706 DPD as the scenario has it (swanctl.conf: dpd_delay; dpd_timeout is IKEv1's)
        *([f"        dpd_delay = {me.dpd_delay:g}s", f"        dpd_timeout = {me.dpd_timeout:g}s"]
          if me.dpd_delay else []),
        *_auth_block(me, peer, local_id, remote_id),
        "        children {",
        f"            {name} {{",
        f"                mode = {me.mode}",
        f"                {proposals_key} = {', '.join(child)}",
        f"                local_ts = {local_ts}",
        f"                remote_ts = {remote_ts}",
        f"                rekey_time = {me.ipsec_lifetime}s",
        *(["                dpd_action = clear"] if me.dpd_delay else []),
        "            }",
        "        }",
        "    }",
        "}",
    ]
    if me.auth == "psk":
        lines += ["secrets {", f"    ike-{name} {{", f"        secret = {_secret(me.psk)}", "    }", "}"]
    return "\n".join(lines) + "\n"
