"""Main Mode authenticated with signatures and X.509 certificates (RFC 2409 §5.1, RFC 4945).

With certificates SKEYID = prf(Ni_b | Nr_b, g^xy): nobody shares a secret, so MM5 can be read
by anyone who did the Diffie-Hellman exchange — it is the signature that authenticates. MM3/MM4
add a CR naming the CA we trust; MM5/MM6 carry ID, CERT (machine, then its issuing CA when the
whole chain is sent, as Windows does) and SIG instead of HASH:

    SIG_I = the initiator's private-key signature over HASH_I (the same prf as with a PSK)
    RSA (method 3): PKCS#1 v1.5 over the raw HASH, no DigestInfo (strongSwan's EMSA_PKCS1_NULL)
    ECDSA P-256 (method 9, RFC 4754): HASH computed with HMAC-SHA-256, signed as a prehashed
    digest, the signature r | s (32 bytes each)

The receiver checks, in order (with the issuing CA it holds, when the peer sends only its own
certificate): a certificate was sent and parses (CERT_INVALID), it chains to
the lab CA (CERT_UNTRUSTED), the ID payload names what the certificate names (ID_MISMATCH), and
the signature verifies with the certificate's key (SIG_INVALID).
"""
from __future__ import annotations

import ipaddress

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.hazmat.primitives.asymmetric.utils import (NoDigestInfo, Prehashed, decode_dss_signature,
                                                             encode_dss_signature)

from ..addressing import Endpoint
from ..crypto import pki
from ..crypto.ike_keys import hash_i, hash_r
from ..errors import IntegrityError
from ..reasons import Reason
from ..wire.isakmp import ID, Cert, CertRequest, Sig
from ..wire.isakmp_cert import same_dn
from ..wire.numbers import CertEncoding, IdType, Port
from .sa import IkeSa
from .states import Role

#: ECDSA (RFC 4754 §7 / strongSwan keymat_v1): HASH_I/HASH_R with this prf, whatever was negotiated
ECDSA_PRF = "sha256"
KEY_TYPE = {"rsa-sig": "rsa", "ecdsa-sig": "ecdsa"}
#: the lab's PKI seed: the same CA and certificates in every run, so exported files stay valid
PKI_SEED = 1


def trust_anchors() -> tuple[x509.Certificate, ...]:
    """The CAs every lab peer trusts: the lab root."""
    return (pki.hierarchy(PKI_SEED, "lab").root.cert,)


def held_cas() -> tuple[x509.Certificate, ...]:
    """CA certificates a lab peer keeps (as strongSwan's x509ca/ or a Windows intermediate store):
    the lab's issuing CA, so a peer that sends only its machine certificate is still verified."""
    return (pki.hierarchy(PKI_SEED, "lab").intermediate.cert,)


def credentials(name: str, address: str, policy) -> pki.Machine:
    """This peer's machine certificate and key, issued by the lab (or rogue) CA."""
    return pki.machine(name, address, KEY_TYPE.get(policy.auth, "rsa"), PKI_SEED, policy.cert_issuer)


def sig_hash(sa: IkeSa, initiator: bool, id_body: bytes) -> bytes:
    """HASH_I (initiator=True) or HASH_R as the signer computes it (RFC 2409 §5; RFC 4754 for ECDSA)."""
    prf = ECDSA_PRF if sa.choice.auth == "ecdsa-sig" else sa.choice.hash
    mine, theirs = sa.gx, sa.gy
    gxi, gxr = (mine, theirs) if sa.role is Role.INITIATOR else (theirs, mine)
    if initiator:
        return hash_i(prf, sa.keys.keyed("skeyid", prf), gxi, gxr, sa.icookie, sa.rcookie, sa.sai_b, id_body)
    return hash_r(prf, sa.keys.keyed("skeyid", prf), gxr, gxi, sa.rcookie, sa.icookie, sa.sai_b, id_body)


def sign(key, digest: bytes) -> bytes:
    """SIG data for a HASH: RSA PKCS#1 v1.5 without DigestInfo, or ECDSA r | s."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(digest, padding.PKCS1v15(), NoDigestInfo())
    r, s = decode_dss_signature(key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256()), deterministic_signing=True)))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def verify_signature(public_key, digest: bytes, signature: bytes) -> bool:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, digest, padding.PKCS1v15(), NoDigestInfo())
            return True
        if isinstance(public_key, ec.EllipticCurvePublicKey) and len(signature) == 64 and len(digest) == 32:
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public_key.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))
            return True
    except (InvalidSignature, ValueError):
        pass
    return False


def id_matches(id_payload: ID, cert: x509.Certificate) -> bool:
    """Whether the ID names the certificate's holder: its subject DN, or a SAN DNS name / IP."""
    if id_payload.id_type == IdType.DER_ASN1_DN:
        return same_dn(id_payload.data, cert.subject.public_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    if id_payload.id_type == IdType.FQDN:
        wanted = id_payload.data.decode("ascii", "replace").lower()
        return wanted in (n.lower() for n in san.get_values_for_type(x509.DNSName))
    if id_payload.id_type == IdType.IPV4_ADDR:
        return ipaddress.IPv4Address(id_payload.data) in san.get_values_for_type(x509.IPAddress)
    return False


class SignatureAuthMixin:
    """The certificate half of Main Mode; MainModeMixin calls it when the chosen method is a signature."""

    def _credentials(self) -> pki.Machine:
        return credentials(self.name, self.address, self.policy)

    def _cert_requests(self) -> list[CertRequest]:
        """CR payloads for MM3/MM4: one per trusted CA, named by its DER subject (RFC 4945 §3.2.7.1)."""
        return [CertRequest(ca.subject.public_bytes()) for ca in trust_anchors()]

    def _note_cert_requests(self, sa: IkeSa, chain) -> None:
        sa.peer_cas = tuple([p.authority for p in chain.payloads if isinstance(p, CertRequest)])

    def _id_for(self, sa: IkeSa) -> ID:
        """The phase-1 ID payload the policy's id_type asks for."""
        proto, port = (0, 0) if sa.nat_t else (17, Port.IKE)
        kind = self.policy.id_type
        if kind == "auto":
            kind = "der-asn1-dn" if self.policy.uses_certificates else ("fqdn" if self.policy.identity else "ipv4")
        if kind == "der-asn1-dn":
            return ID(IdType.DER_ASN1_DN, proto, port, self._credentials().cert.subject.public_bytes())
        if kind == "fqdn":
            return ID(IdType.FQDN, proto, port, (self.policy.identity or pki.fqdn_of(self.name)).encode())
        return ID(IdType.IPV4_ADDR, proto, port, Endpoint(self.address).packed_ip)

    def _signed_payloads(self, sa: IkeSa, id_payload: ID) -> list:
        """[ID, CERT (machine), CERT (issuing CA) when the full chain is sent, SIG] for MM5/MM6."""
        me = self._credentials()
        certs = [me.cert] + ([me.intermediate] if self.policy.cert_chain == "full" else [])
        initiator = sa.role is Role.INITIATOR
        signature = sign(me.key, sig_hash(sa, initiator, sa.id_sent))
        return [id_payload, *(Cert(c.public_bytes(Encoding.DER)) for c in certs), Sig(signature)]

    def _check_signed(self, sa: IkeSa, chain, id_payload: ID, id_body: bytes, label: str, dgram=None) -> None:
        """Verify the peer's MM5/MM6: certificate, chain, ID and SIG; failing, an authentication
        failure with the code of the first check that failed, raised as IntegrityError."""
        try:
            certs = _certificates(chain, label)
            leaf = next((c for c in certs if not pki.is_ca(c)), certs[0])
            path = pki.verify_chain(leaf, tuple(c for c in certs if c is not leaf) + held_cas(), trust_anchors())
            if not _signs(leaf):
                raise pki.CertError(f"the certificate '{leaf.subject.rfc4514_string()}' may not sign "
                                    "(no digitalSignature key usage, RFC 4945 §5.1.3.2)", Reason.CERT_INVALID.value)
            if not id_matches(id_payload, leaf):
                raise pki.CertError(f"the {label} ID payload does not name the certificate's holder "
                                    f"'{leaf.subject.rfc4514_string()}'", Reason.ID_MISMATCH.value)
            sigs = [p for p in chain.payloads if isinstance(p, Sig)]
            if len(sigs) != 1:
                raise pki.CertError(f"{label} carries {len(sigs)} SIG payloads, expected one", Reason.SIG_INVALID.value)
            initiator = sa.role is Role.RESPONDER      # we check what the other side signed
            digest = sig_hash(sa, initiator, id_body)
            if not verify_signature(leaf.public_key(), digest, sigs[0].data):
                which = "SIG_I" if initiator else "SIG_R"
                raise pki.CertError(f"{which} does not verify with the public key of "
                                    f"'{leaf.subject.rfc4514_string()}'", Reason.SIG_INVALID.value)
        except pki.CertError as exc:
            code = Reason(exc.code)
            self._auth_failed(sa, str(exc), dgram, code=code)
            raise IntegrityError(str(exc), code) from None
        sa.peer_certs = tuple(c.public_bytes(Encoding.DER) for c in path)


def _signs(cert: x509.Certificate) -> bool:
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.digital_signature or usage.content_commitment


def _certificates(chain, label: str) -> list[x509.Certificate]:
    found = [p for p in chain.payloads if isinstance(p, Cert)]
    if not found:
        raise pki.CertError(f"{label} carries no CERT payload, and no certificate of the peer is held here",
                            Reason.CERT_UNTRUSTED.value)
    certs = []
    for p in found:
        if p.encoding != CertEncoding.X509_SIGNATURE:
            raise pki.CertError(f"CERT encoding {p.encoding} is not supported (only 4, X.509 signature)",
                                Reason.CERT_INVALID.value)
        try:
            certs.append(x509.load_der_x509_certificate(p.data))
        except ValueError as exc:
            raise pki.CertError(f"a CERT payload is not a DER X.509 certificate ({exc})",
                                Reason.CERT_INVALID.value) from None
    return certs

