"""The certificate payloads of IKEv1: CERT (6), Certificate Request (7) and Signature (9).

RFC 2408 §3.9 (CERT: encoding + data), §3.10 (CR: certificate type + certificate authority),
§3.12 (SIG: the signature over HASH_I/HASH_R). With encoding 4 (X.509 Certificate - Signature)
the data is one DER certificate and a CR's authority is the DER subject Name of a CA (RFC 4945
§3.2.7.1), as Windows and strongSwan send them. Importing this module registers the three
classes with the ISAKMP chain decoder and the dissector.
"""
from __future__ import annotations

from dataclasses import dataclass

from .codec import Reader
from .isakmp_frame import _build
from .isakmp_payloads import _DECODERS, BODY_LAYOUTS, PAYLOAD_NAMES, _Payload
from .layout import Layout, Part, named, show_size_hex
from .numbers import CertEncoding, PayloadType


#: the attribute types a lab or Windows DN uses, by OID (RFC 4514 §3 short names)
_DN_NAMES = {"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
             "2.5.4.11": "OU", "1.2.840.113549.1.9.1": "E", "0.9.2342.19200300.100.1.25": "DC"}


def _tlv(data: bytes, at: int) -> tuple[int, bytes, int]:
    """(tag, contents, next offset) of one DER element; ValueError when it does not fit."""
    if at + 2 > len(data):
        raise ValueError("truncated DER")
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        n = length & 0x7F
        if not 0 < n <= 3 or at + n > len(data):
            raise ValueError("bad DER length")
        length, at = int.from_bytes(data[at:at + n], "big"), at + n
    if at + length > len(data):
        raise ValueError("truncated DER")
    return tag, data[at:at + length], at + length


def _oid(body: bytes) -> str:
    arcs, value = [body[0] // 40, body[0] % 40], 0
    for b in body[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    return ".".join(map(str, arcs))


def dn_parts(der: bytes) -> tuple[tuple[str, str], ...]:
    """The (attribute OID, value) pairs of a DER Name in ASN.1 order, whatever string type each
    value uses (PrintableString, UTF8String …): what two DNs are compared by (RFC 5280 §7.1).
    ValueError when the bytes are not a Name."""
    tag, names, end = _tlv(der, 0)
    if tag != 0x30 or end != len(der):
        raise ValueError("not a SEQUENCE")
    parts, at = [], 0
    while at < len(names):
        tag, rdn, at = _tlv(names, at)
        if tag != 0x31:
            raise ValueError("not a SET")
        pos = 0
        while pos < len(rdn):
            _, atv, pos = _tlv(rdn, pos)
            otag, oid, vat = _tlv(atv, 0)
            _, value, _ = _tlv(atv, vat)
            if otag != 0x06 or not oid:
                raise ValueError("no OID")
            parts.append((_oid(oid), value.decode("utf-8", "replace")))
    return tuple(parts)


def same_dn(a: bytes, b: bytes) -> bool:
    """Whether two DER Names name the same subject: same attributes in order, values compared
    without case and surrounding spaces (RFC 4518 in short); bytes that are not Names never match."""
    try:
        pa, pb = dn_parts(a), dn_parts(b)
    except ValueError:
        return False
    return [(o, v.strip().casefold()) for o, v in pa] == [(o, v.strip().casefold()) for o, v in pb]


def dn_text(der: bytes) -> str:
    """'CN=server.natt-lab.example,OU=Machines,…' (RFC 4514 order: last RDN first) for a DER
    Name (ID_DER_ASN1_DN, a CR's authority); hex when the bytes are not one."""
    try:
        return ",".join(f"{_DN_NAMES.get(oid, oid)}={value}" for oid, value in reversed(dn_parts(der)))
    except ValueError:
        return der[:16].hex() + ("…" if len(der) > 16 else "")


def _cert_text(value: bytes, row: dict) -> str:
    from cryptography import x509
    try:
        cert = x509.load_der_x509_certificate(value)
    except ValueError:
        return show_size_hex(value, row)
    return f"{len(value)} bytes: {cert.subject.rfc4514_string()} (issuer {cert.issuer.rfc4514_string()})"


CERT_BODY = Layout("CERT", Part("encoding", 1, "certificate encoding", named(CertEncoding)),
                   Part("data", None, "certificate data", _cert_text))
CR_BODY = Layout("CR", Part("encoding", 1, "certificate type", named(CertEncoding)),
                 Part("authority", None, "certificate authority", lambda v, row: dn_text(v) if v else "(any)"))
SIG_BODY = Layout("SIG", Part("data", None, "signature data", show_size_hex))


@dataclass(frozen=True)
class Cert(_Payload):
    """One certificate (RFC 2408 §3.9); DER X.509 with encoding 4."""
    data: bytes
    encoding: int = CertEncoding.X509_SIGNATURE
    payload_type = PayloadType.CERT
    _WIDTHS = {"encoding": 8}

    def encode_body(self) -> bytes:
        return CERT_BODY.pack(self.encoding) + self.data

    @classmethod
    def decode_body(cls, r: Reader) -> "Cert":
        encoding, data = CERT_BODY.read_all(r)
        return _build(cls, {"data": data, "encoding": encoding})


@dataclass(frozen=True)
class CertRequest(_Payload):
    """A request for certificates issued under `authority` (a CA's DER Name; empty: any CA)."""
    authority: bytes = b""
    encoding: int = CertEncoding.X509_SIGNATURE
    payload_type = PayloadType.CR
    _WIDTHS = {"encoding": 8}

    def encode_body(self) -> bytes:
        return CR_BODY.pack(self.encoding) + self.authority

    @classmethod
    def decode_body(cls, r: Reader) -> "CertRequest":
        encoding, authority = CR_BODY.read_all(r)
        return _build(cls, {"authority": authority, "encoding": encoding})


@dataclass(frozen=True)
class Sig(_Payload):
    """SIG_I / SIG_R: the sender's private-key signature over HASH_I / HASH_R (RFC 2409 §5.1)."""
    data: bytes
    payload_type = PayloadType.SIG

    def encode_body(self) -> bytes:
        return bytes(self.data)

    @classmethod
    def decode_body(cls, r: Reader) -> "Sig":
        return _build(cls, {"data": r.rest()})


_DECODERS.update({PayloadType.CERT: ("ISAKMP CERT", Cert.decode_body),
                  PayloadType.CR: ("ISAKMP CR", CertRequest.decode_body),
                  PayloadType.SIG: ("ISAKMP SIG", Sig.decode_body)})
PAYLOAD_NAMES.update({PayloadType.CERT: "CERT", PayloadType.CR: "CR", PayloadType.SIG: "SIG"})
BODY_LAYOUTS.update({PayloadType.CERT: CERT_BODY, PayloadType.CR: CR_BODY, PayloadType.SIG: SIG_BODY})
