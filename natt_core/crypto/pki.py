"""The lab's PKI: a root CA, an issuing (intermediate) CA and machine certificates, as a real
L2TP/IPsec deployment has them (RFC 5280 profiles, RFC 4945 for IKE).

Everything is a function of a seed, so every run and every process sees the same certificates
and the exported files stay valid between runs: RSA keys come from primes drawn with a seeded
generator (`_rsa_key`, FIPS 186-4 style probable primes, e = 65537), ECDSA P-256 keys from a
seeded scalar, certificates are signed with PKCS#1 v1.5 (deterministic) and validity dates are
fixed. Key generation in pure Python costs a fraction of a second, so results are cached.

A second, untrusted "rogue" hierarchy exists for what-ifs: a machine certificate it issues looks
just like the lab's but chains to a root nobody trusts (CERT_UNTRUSTED).
"""
from __future__ import annotations

import datetime
import hashlib
import ipaddress
import random
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from ..errors import ConfigError

KEY_TYPES = ("rsa", "ecdsa")
ISSUERS = ("lab", "rogue")
RSA_BITS = 2048
#: id-kp-ipsecIKE (RFC 4945 §5.1.3.12): what Windows and strongSwan look for on IKE certificates
IPSEC_IKE = ObjectIdentifier("1.3.6.1.5.5.7.3.17")
DOMAIN = "natt-lab.example"
#: fixed validity (no clock is read): long enough for any lab run
NOT_BEFORE = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
NOT_AFTER = datetime.datetime(2045, 1, 1, tzinfo=datetime.timezone.utc)
_SIEVE_LIMIT = 1 << 16


def _small_primes(limit: int) -> list[int]:
    mark = bytearray([1]) * limit
    mark[0:2] = b"\x00\x00"
    for i in range(2, int(limit ** 0.5) + 1):
        if mark[i]:
            mark[i * i::i] = bytes(len(range(i * i, limit, i)))
    return [i for i in range(3, limit) if mark[i]]


_SMALL_PRIMES = _small_primes(_SIEVE_LIMIT)


class CertError(Exception):
    """A chain or identity check failed; `code` is the Reason name that says which."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


# ---- keys -------------------------------------------------------------------------------------

#: 5 Miller-Rabin rounds: FIPS 186-4 Table C.3 for 1024-bit primes (error below 2^-100)
def _miller_rabin(n: int, rng: random.Random, rounds: int = 5) -> bool:
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int, rng: random.Random, e: int, window: int = 8192) -> int:
    """A probable prime of `bits` bits (top two set, so p*q has all 2*bits) with gcd(p-1, e) = 1:
    odd numbers from a random start, sieved by the primes below 2^16, then Miller-Rabin."""
    while True:
        start = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        alive = bytearray([1]) * window            # alive[i]: start + 2i has no small factor
        for p in _SMALL_PRIMES:
            first = (-start * pow(2, -1, p)) % p   # the i with start + 2i = 0 mod p
            alive[first::p] = bytes(len(range(first, window, p)))
        for i in range(window):
            n = start + 2 * i
            if alive[i] and n.bit_length() == bits and (n - 1) % e and _miller_rabin(n, rng):
                return n


@lru_cache(maxsize=64)
def _rsa_key(label: str, bits: int = RSA_BITS) -> rsa.RSAPrivateKey:
    """An RSA key drawn from a generator seeded with `label` (the same key in every process)."""
    rng = random.Random(hashlib.sha256(b"natt-lab rsa " + label.encode()).digest())
    e = 65537
    while True:
        p, q = _prime(bits // 2, rng, e), _prime(bits // 2, rng, e)
        if p != q and (p * q).bit_length() == bits:
            break
    p, q = max(p, q), min(p, q)
    d = pow(e, -1, (p - 1) * (q - 1))
    numbers = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                    rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, p * q))
    return numbers.private_key()


@lru_cache(maxsize=64)
def _ec_key(label: str) -> ec.EllipticCurvePrivateKey:
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551   # P-256 group order
    scalar = int.from_bytes(hashlib.sha256(b"natt-lab ecdsa " + label.encode()).digest(), "big") % (order - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


# ---- certificates -----------------------------------------------------------------------------

def _name(*parts: tuple) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in parts])


def _serial(label: str) -> int:
    return int.from_bytes(hashlib.sha256(b"serial " + label.encode()).digest()[:15], "big") | 1


def _builder(subject: x509.Name, issuer: x509.Name, public_key, label: str) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(_serial(label)).not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


@dataclass(frozen=True)
class Authority:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate


@dataclass(frozen=True)
class Hierarchy:
    """A root CA and the intermediate that issues machine certificates."""
    root: Authority
    intermediate: Authority


@lru_cache(maxsize=8)
def hierarchy(seed: int = 1, issuer: str = "lab") -> Hierarchy:
    """The lab's two CAs (or the rogue pair), RSA 2048 with SHA-256 signatures."""
    if issuer not in ISSUERS:
        raise ConfigError(f"invalid certificate issuer {issuer!r}; choose one of {', '.join(ISSUERS)}")
    org = "NAT-T Lab" if issuer == "lab" else "Rogue Networks"
    root_name = _name((NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, org),
                      (NameOID.COMMON_NAME, f"{org} Root CA"))
    inter_name = _name((NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, org),
                       (NameOID.COMMON_NAME, f"{org} Issuing CA 1"))
    root_key, inter_key = _rsa_key(f"{seed}/{issuer}/root"), _rsa_key(f"{seed}/{issuer}/intermediate")
    ca_usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                             encipher_only=False, decipher_only=False)
    root = (_builder(root_name, root_name, root_key.public_key(), f"{seed}/{issuer}/root")
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(ca_usage, critical=True)
            .sign(root_key, hashes.SHA256()))
    inter = (_builder(inter_name, root_name, inter_key.public_key(), f"{seed}/{issuer}/intermediate")
             .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
             .add_extension(ca_usage, critical=True)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False)
             .sign(root_key, hashes.SHA256()))
    return Hierarchy(Authority(root_key, root), Authority(inter_key, inter))


@dataclass(frozen=True)
class Machine:
    """A machine's key, its certificate and the intermediate that issued it."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    intermediate: x509.Certificate
    root: x509.Certificate

    @property
    def fqdn(self) -> str:
        return self.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.DNSName)[0]


def fqdn_of(name: str) -> str:
    """The DNS name a lab machine's certificate carries, e.g. 'server.natt-lab.example'."""
    return f"{name}.{DOMAIN}"


@lru_cache(maxsize=64)
def machine(name: str, address: str, key_type: str = "rsa", seed: int = 1, issuer: str = "lab") -> Machine:
    """A machine certificate for `name` at `address`: subject C/O/OU/CN, SAN DNS + IP, the
    digitalSignature key usage and the EKUs Windows and strongSwan accept for IKE."""
    if key_type not in KEY_TYPES:
        raise ConfigError(f"invalid key type {key_type!r}; choose one of {', '.join(KEY_TYPES)}")
    ca = hierarchy(seed, issuer)
    label = f"{seed}/{issuer}/{name}/{key_type}"
    key = _rsa_key(label) if key_type == "rsa" else _ec_key(label)
    org = ca.root.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value
    subject = _name((NameOID.COUNTRY_NAME, "US"), (NameOID.ORGANIZATION_NAME, org),
                    (NameOID.ORGANIZATIONAL_UNIT_NAME, "Machines"), (NameOID.COMMON_NAME, fqdn_of(name)))
    usage = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=key_type == "rsa",
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False)
    cert = (_builder(subject, ca.intermediate.cert.subject, key.public_key(), label)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH,
                                                  IPSEC_IKE]), critical=False)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(fqdn_of(name)),
                                                        x509.IPAddress(ipaddress.IPv4Address(address))]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.intermediate.key.public_key()),
                           critical=False)
            .sign(ca.intermediate.key, hashes.SHA256()))
    return Machine(key, cert, ca.intermediate.cert, ca.root.cert)


# ---- checking a received chain ----------------------------------------------------------------

def verify_chain(leaf: x509.Certificate, others: tuple[x509.Certificate, ...],
                 anchors: tuple[x509.Certificate, ...]) -> tuple[x509.Certificate, ...]:
    """The path leaf -> ... -> a trust anchor, built from `others` (certificates the peer sent
    or we hold), each signature checked with `cryptography` and each issuer a CA; CertError
    (CERT_UNTRUSTED) when no path reaches an anchor."""
    path, current = [leaf], leaf
    pool = list(others) + list(anchors)
    for _ in range(4):
        if any(current.issuer == a.subject and _signed_by(current, a) for a in anchors):
            return tuple(path)
        issuer = next((c for c in pool if c.subject == current.issuer and c not in path and is_ca(c)
                       and _signed_by(current, c)), None)
        if issuer is None:
            break
        path.append(issuer)
        current = issuer
    raise CertError(f"no chain from '{leaf.subject.rfc4514_string()}' to a trusted CA "
                    f"(issuer '{current.issuer.rfc4514_string()}' is not trusted)", "CERT_UNTRUSTED")


def is_ca(cert: x509.Certificate) -> bool:
    """Whether basicConstraints says CA (RFC 5280 §4.2.1.9); a certificate without it is not one."""
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


# ---- files ------------------------------------------------------------------------------------

def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def key_pem(key) -> bytes:
    """PKCS#8, unencrypted: what swanctl's private/ and Wireshark read."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
