"""The certificates and keys of a run, as files a real tool reads.

secrets.json gets a `certificates` block (PEM text: the lab root and issuing CA, and per peer
that authenticates with certificates its machine certificate and PKCS#8 private key); the export
writes them under `certs/` (`ca.pem`, `intermediate.pem`, `<peer>.pem`, `<peer>.key`,
`<peer>-chain.pem`, and `<peer>.p12` for Windows' Import-PfxCertificate, password
`P12_PASSWORD`): import `ca.pem` into a trust store, give strongSwan the files in its
swanctl directories (lab/strongswan_config.py), or `openssl verify -CAfile certs/ca.pem
-untrusted certs/intermediate.pem certs/client.pem`.
"""
from __future__ import annotations

from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, load_pem_private_key, pkcs12
from cryptography.x509 import load_pem_x509_certificate

from ..crypto import pki
from ..ike.signature_auth import PKI_SEED, credentials

P12_PASSWORD = "natt-lab"


def certificate_secrets(peers) -> dict | None:
    """{'ca': PEM, 'intermediate': PEM, 'peers': {name: {...}}} for peers using certificates, else None."""
    out = {}
    for peer in peers:
        policy = peer.policy
        if getattr(policy, "auth", "psk") == "psk":
            continue
        me = credentials(peer.name, peer.address, policy)
        out[peer.name] = {"auth": policy.auth, "issuer": policy.cert_issuer, "subject": me.cert.subject.rfc4514_string(),
                          "certificate": pki.pem(me.cert).decode(), "private_key": pki.key_pem(me.key).decode(),
                          "intermediate": pki.pem(me.intermediate).decode()}
    if not out:
        return None
    lab = pki.hierarchy(PKI_SEED, "lab")
    return {"ca": pki.pem(lab.root.cert).decode(), "intermediate": pki.pem(lab.intermediate.cert).decode(),
            "peers": out}


def p12(peer: dict, name: str) -> bytes:
    """PKCS#12 of a peer's key, certificate and issuing CA (encrypted with P12_PASSWORD)."""
    key = load_pem_private_key(peer["private_key"].encode(), None)
    return pkcs12.serialize_key_and_certificates(
        name.encode(), key, load_pem_x509_certificate(peer["certificate"].encode()),
        [load_pem_x509_certificate(peer["intermediate"].encode())], BestAvailableEncryption(P12_PASSWORD.encode()))


def certificate_binaries(block: dict | None) -> dict[str, bytes]:
    """Relative path -> bytes of the binary certificate files (PKCS#12 per peer)."""
    return {f"certs/{name}.p12": p12(peer, name) for name, peer in (block or {}).get("peers", {}).items()}


def certificate_files(block: dict | None) -> dict[str, str]:
    """Relative path -> text for every certificate file of a secrets `certificates` block."""
    if not block:
        return {}
    files = {"certs/ca.pem": block["ca"], "certs/intermediate.pem": block["intermediate"]}
    for name, peer in block["peers"].items():
        files[f"certs/{name}.pem"] = peer["certificate"]
        files[f"certs/{name}.key"] = peer["private_key"]
        files[f"certs/{name}-chain.pem"] = peer["certificate"] + peer["intermediate"]
    return files
