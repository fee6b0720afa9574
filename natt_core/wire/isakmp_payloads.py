"""The ISAKMP payloads a peer builds and reads, one frozen dataclass per payload type.

RFC 2408 §3.4 (SA), §3.7 (KE), §3.8 (ID), §3.11 (HASH), §3.13 (Nonce), §3.14 (Notification),
§3.15 (Delete), §3.16 (Vendor ID); RFC 2407 §4.6 (IPsec DOI layouts); RFC 3947 §3.2 (NAT-D)
and §5.2 (NAT-OA), with the draft payload numbers 130/131. Each class holds only what a peer
chooses and knows how to encode and strictly decode its body; `summary` is its one-line text.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Callable, Union

from ..errors import ConfigError
from .codec import Reader, Writer
from .isakmp_frame import _check, _Fields
from .isakmp_proposals import Proposal, _decode_list, _encode_list
from .numbers import IdType, NotifyType, PayloadType, ProtocolId, label

#: Data length per address ID type (RFC 2407 §4.6.2.1); other ID types carry free-form data.
ID_ADDRESS_LEN = {1: 4, 4: 8, 5: 16, 6: 32, 7: 8, 8: 32}
#: NAT-OA carries exactly one IPv4 or IPv6 address (RFC 3947 §5.2).
NAT_OA_ADDRESS_LEN = {IdType.IPV4_ADDR: 4, IdType.IPV6_ADDR: 16}


class _Payload(_Fields):
    """Base of the payload classes: `summary()` gives the one-line trace text."""

    def summary(self) -> str:
        return summary(self)


@dataclass(frozen=True)
class SA(_Payload):
    """Security Association payload (RFC 2408 §3.4; IPsec DOI situation, RFC 2407 §4.6.1)."""
    proposals: tuple[Proposal, ...]
    doi: int = 1
    situation: int = 1
    payload_type = PayloadType.SA
    _WIDTHS = {"doi": 32, "situation": 32}

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "proposals", tuple(self.proposals))
        if not self.proposals:
            raise ConfigError("an SA payload needs at least one proposal")

    def encode_body(self) -> bytes:
        w = Writer().u32(self.doi).u32(self.situation)
        return w.raw(_encode_list(PayloadType.PROPOSAL, self.proposals)).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "SA":
        doi, situation = r.u32("DOI"), r.u32("situation")
        proposals = _decode_list(r, PayloadType.PROPOSAL, "proposal", "SA", Proposal.decode_body)
        return cls(proposals, doi, situation)


@dataclass(frozen=True)
class _Opaque(_Payload):
    """Base of payloads whose body is one opaque byte string."""
    data: bytes

    def encode_body(self) -> bytes:
        return bytes(self.data)

    @classmethod
    def decode_body(cls, r: Reader):
        return cls(r.rest())


@dataclass(frozen=True)
class KE(_Opaque):
    """Key Exchange data g^x, left-padded to the group length (RFC 2408 §3.7)."""
    payload_type = PayloadType.KE


@dataclass(frozen=True)
class Hash(_Opaque):
    """HASH_I/HASH_R or a Quick Mode HASH(n) (RFC 2408 §3.11)."""
    payload_type = PayloadType.HASH


@dataclass(frozen=True)
class Nonce(_Opaque):
    """Nonce data (RFC 2408 §3.13)."""
    payload_type = PayloadType.NONCE


@dataclass(frozen=True)
class VendorID(_Opaque):
    """Vendor ID, e.g. MD5("RFC 3947") to announce NAT-T (RFC 2408 §3.16, RFC 3947 §3.1)."""
    payload_type = PayloadType.VENDOR_ID


@dataclass(frozen=True)
class ID(_Payload):
    """Identification in the IPsec DOI layout (RFC 2407 §4.6.2): type, protocol, port, data."""
    id_type: int
    protocol: int
    port: int
    data: bytes
    payload_type = PayloadType.ID
    _WIDTHS = {"id_type": 8, "protocol": 8, "port": 16}

    def __post_init__(self) -> None:
        super().__post_init__()
        need = ID_ADDRESS_LEN.get(self.id_type)
        if need is not None and len(self.data) != need:
            raise ConfigError(f"ID type {label(IdType, self.id_type)} needs {need} bytes of data")

    @classmethod
    def ipv4(cls, ip: str, protocol: int = 0, port: int = 0) -> "ID":
        """ID_IPV4_ADDR for a dotted address."""
        return cls(IdType.IPV4_ADDR, protocol, port, ipaddress.IPv4Address(ip).packed)

    def encode_body(self) -> bytes:
        return Writer().u8(self.id_type).u8(self.protocol).u16(self.port).raw(self.data).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "ID":
        start = r.offset
        id_type, protocol, port, data = r.u8("ID type"), r.u8("protocol"), r.u16("port"), r.rest()
        need = ID_ADDRESS_LEN.get(id_type)
        if need is not None and len(data) != need:
            raise r.fail(f"ID type {label(IdType, id_type)} needs {need} bytes of data, "
                         f"{len(data)} present", at=start)
        return cls(id_type, protocol, port, data)


@dataclass(frozen=True)
class Notification(_Payload):
    """Notification (RFC 2408 §3.14; IPsec DOI, RFC 2407 §4.6.3)."""
    notify_type: int
    protocol_id: int = ProtocolId.ISAKMP
    spi: bytes = b""
    data: bytes = b""
    doi: int = 1
    payload_type = PayloadType.NOTIFICATION
    _WIDTHS = {"notify_type": 16, "protocol_id": 8, "doi": 32}

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.spi) > 255:
            raise ConfigError("notification SPI longer than 255 bytes")

    def encode_body(self) -> bytes:
        w = Writer().u32(self.doi).u8(self.protocol_id).u8(len(self.spi)).u16(self.notify_type)
        return w.raw(self.spi).raw(self.data).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "Notification":
        doi, protocol_id, spi_size = r.u32("DOI"), r.u8("protocol ID"), r.u8("SPI size")
        notify_type = r.u16("notify type")
        spi = r.bytes(spi_size, "SPI")
        return cls(notify_type, protocol_id, spi, r.rest(), doi)


@dataclass(frozen=True)
class Delete(_Payload):
    """Delete (RFC 2408 §3.15): spi_size 16 for an ISAKMP SA (both cookies), 4 for ESP/AH."""
    protocol_id: int
    spis: tuple[bytes, ...]
    spi_size: int = 16
    doi: int = 1
    payload_type = PayloadType.DELETE
    _WIDTHS = {"protocol_id": 8, "spi_size": 8, "doi": 32}

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "spis", tuple(self.spis))
        _check("Delete SPI count", len(self.spis), 16)
        if any(len(s) != self.spi_size for s in self.spis):
            raise ConfigError(f"every SPI in this Delete must be {self.spi_size} bytes")

    def encode_body(self) -> bytes:
        w = Writer().u32(self.doi).u8(self.protocol_id).u8(self.spi_size).u16(len(self.spis))
        return w.raw(b"".join(self.spis)).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "Delete":
        doi, protocol_id, spi_size = r.u32("DOI"), r.u8("protocol ID"), r.u8("SPI size")
        count = r.u16("SPI count")
        if r.remaining() != count * spi_size:
            raise r.fail(f"{count} SPIs of {spi_size} bytes need {count * spi_size} bytes, "
                         f"{r.remaining()} present")
        return cls(protocol_id, tuple(r.bytes(spi_size) for _ in range(count)), spi_size, doi)


@dataclass(frozen=True)
class NatD(_Payload):
    """NAT-D: HASH(CKY-I | CKY-R | IP | Port) (RFC 3947 §3.2); type 130 in the drafts."""
    hash: bytes
    draft: bool = False  #: set by `decode_payloads` from the type; the body cannot tell

    @property
    def payload_type(self) -> int:
        return PayloadType.NAT_D_DRAFT if self.draft else PayloadType.NAT_D

    def encode_body(self) -> bytes:
        return bytes(self.hash)

    @classmethod
    def decode_body(cls, r: Reader) -> "NatD":
        return cls(r.rest())


@dataclass(frozen=True)
class NatOA(_Payload):
    """NAT-OA: an original address as its sender saw it (RFC 3947 §5.2); type 131 in drafts."""
    id_type: int
    address: bytes
    draft: bool = False  #: set by `decode_payloads` from the type; the body cannot tell

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.address) != NAT_OA_ADDRESS_LEN.get(self.id_type):
            raise ConfigError("NAT-OA needs ID type 1 with 4 address bytes or 5 with 16")

    @classmethod
    def from_ip(cls, ip: str, draft: bool = False) -> "NatOA":
        addr = ipaddress.ip_address(ip)
        return cls(IdType.IPV4_ADDR if addr.version == 4 else IdType.IPV6_ADDR, addr.packed, draft)

    @property
    def ip(self) -> str:
        return str(ipaddress.ip_address(self.address))

    @property
    def payload_type(self) -> int:
        return PayloadType.NAT_OA_DRAFT if self.draft else PayloadType.NAT_OA

    def encode_body(self) -> bytes:
        return Writer().u8(self.id_type).raw(bytes(3)).raw(self.address).getvalue()

    @classmethod
    def decode_body(cls, r: Reader) -> "NatOA":
        start = r.offset
        id_type, _reserved, address = r.u8("ID type"), r.bytes(3, "reserved"), r.rest()
        if len(address) != NAT_OA_ADDRESS_LEN.get(id_type):
            raise r.fail(f"ID type {id_type} with {len(address)} address bytes; expected "
                         "1 (IPv4, 4 bytes) or 5 (IPv6, 16 bytes)", at=start)
        return cls(id_type, address)


@dataclass(frozen=True)
class Unknown(_Payload):
    """Any payload type without a class here (CERT, SIG, ...), kept as raw body bytes."""
    type: int
    body: bytes

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("payload type", self.type, 8)
        if self.type == 0 or self.type in _DECODERS:
            raise ConfigError(f"payload type {self.type} has its own class, not Unknown")

    @property
    def payload_type(self) -> int:
        return self.type

    def encode_body(self) -> bytes:
        return bytes(self.body)


Payload = Union[SA, KE, ID, Hash, Nonce, Notification, Delete, VendorID, NatD, NatOA, Unknown]

_DECODERS: dict[int, tuple[str, Callable[[Reader], Payload]]] = {
    PayloadType.SA: ("ISAKMP SA", SA.decode_body),
    PayloadType.KE: ("ISAKMP KE", KE.decode_body),
    PayloadType.ID: ("ISAKMP ID", ID.decode_body),
    PayloadType.HASH: ("ISAKMP HASH", Hash.decode_body),
    PayloadType.NONCE: ("ISAKMP Nonce", Nonce.decode_body),
    PayloadType.NOTIFICATION: ("ISAKMP Notification", Notification.decode_body),
    PayloadType.DELETE: ("ISAKMP Delete", Delete.decode_body),
    PayloadType.VENDOR_ID: ("ISAKMP Vendor ID", VendorID.decode_body),
    PayloadType.NAT_D: ("ISAKMP NAT-D", NatD.decode_body),
    PayloadType.NAT_D_DRAFT: ("ISAKMP NAT-D", lambda r: replace(NatD.decode_body(r), draft=True)),
    PayloadType.NAT_OA: ("ISAKMP NAT-OA", NatOA.decode_body),
    PayloadType.NAT_OA_DRAFT: ("ISAKMP NAT-OA",
                               lambda r: replace(NatOA.decode_body(r), draft=True)),
}


def summary(p: Payload) -> str:
    """One line for a trace row, e.g. 'NAT-D 3f2a1b0c…' or 'N(INITIAL_CONTACT)'."""
    draft = " (draft)" if getattr(p, "draft", False) else ""
    if isinstance(p, SA):
        return f"SA ({len(p.proposals)} proposal(s))"
    if isinstance(p, ID):
        text = (str(ipaddress.ip_address(p.data)) if p.id_type in NAT_OA_ADDRESS_LEN
                else p.data.decode("ascii", "replace"))
        return f"ID {label(IdType, p.id_type)} {text} proto {p.protocol} port {p.port}"
    if isinstance(p, Notification):
        return f"N({label(NotifyType, p.notify_type)})"
    if isinstance(p, Delete):
        return f"D({label(ProtocolId, p.protocol_id)}, {len(p.spis)} SPI(s))"
    if isinstance(p, NatOA):
        return f"NAT-OA{draft} {p.ip}"
    body = p.encode_body()
    name = "NAT-D" if isinstance(p, NatD) else label(PayloadType, p.payload_type)
    return f"{name}{draft} {len(body)} B {body[:4].hex()}{'…' if len(body) > 4 else ''}"
