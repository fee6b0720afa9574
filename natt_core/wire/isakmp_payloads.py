"""The ISAKMP payloads a peer builds and reads, one frozen dataclass per payload type.

RFC 2408 §3.4 (SA), §3.7 (KE), §3.8 (ID), §3.11 (HASH), §3.13 (Nonce), §3.14 (Notification),
§3.15 (Delete), §3.16 (Vendor ID); RFC 2407 §4.6 (IPsec DOI layouts); RFC 3947 §3.2 (NAT-D)
and §5.2 (NAT-OA), with the draft payload numbers 130/131. Each class holds only what a peer
chooses and knows how to encode and strictly decode its body; `summary` is its one-line text.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Callable, Union

from ..errors import ConfigError
from .codec import Reader
from .isakmp_frame import _build, _check, _Fields, _KeptBody, _new, _set
from .isakmp_proposals import _PROPOSAL_TYPE, Proposal, _decode_list, _encode_list, proposals_from_body
from .layout import (ID_PAYLOAD, NATD_HASH, Layout, Part, hexed, named, show_hex, show_reserved,
                     show_short_hex, show_size_hex, short_hex)
from .numbers import IdType, NotifyType, PayloadType, ProtocolId, label
from ..net.records import fast_init_all

#: the NAT-D types, named once (a member read off its Enum class is a slow attribute hook in 3.11)
_NAT_D, _NAT_D_DRAFT = PayloadType.NAT_D, PayloadType.NAT_D_DRAFT

#: Data length per address ID type (RFC 2407 §4.6.2.1); other ID types carry free-form data.
ID_ADDRESS_LEN = {1: 4, 4: 8, 5: 16, 6: 32, 7: 8, 8: 32}
#: NAT-OA carries exactly one IPv4 or IPv6 address (RFC 3947 §5.2).
NAT_OA_ADDRESS_LEN = {IdType.IPV4_ADDR: 4, IdType.IPV6_ADDR: 16}


def id_data_misfit(id_type: int, size: int) -> int | None:
    """The data length an address ID type needs when `size` bytes are not it, else None: the one
    rule the ID payload's check, its strict decoder and its chain decoder share."""
    need = ID_ADDRESS_LEN.get(id_type)
    return None if need is None or need == size else need


# --- the body layouts (after the generic payload header) -----------------------------------------

def _id_text(value: bytes, row: dict) -> str:
    if row["id_type"] == IdType.IPV4_ADDR and len(value) == 4:
        return str(ipaddress.IPv4Address(value))
    if row["id_type"] == IdType.DER_ASN1_DN:
        from .isakmp_cert import dn_text
        return dn_text(value)
    return value.decode("ascii", "replace")


def _vendor(value: bytes, row: dict) -> str:
    name = row.get("vid_name")
    return short_hex(value) + (f" = {name(value)}" if name else "")


def _opaque(name: str, show=show_size_hex) -> Layout:
    """A body that is one byte string (KE, Nonce, HASH, Vendor ID, types without a class)."""
    return Layout(name, Part("data", None, name, show))


#: RFC 2408 §3.4 with the IPsec DOI situation (RFC 2407 §4.6.1)
SA_BODY = Layout("SA", Part("doi", 4, "DOI", lambda v, row: f"{v} (IPsec)" if v == 1 else str(v)),
                 Part("situation", 4, "situation", hexed(8)),
                 Part("proposals", None, "proposals", nested=True))
#: the DOI and situation of every SA the engine builds: IPsec DOI, SIT_IDENTITY_ONLY (RFC 2407 §4.6.1)
_SA_IPSEC = SA_BODY.pack(1, 1)
#: RFC 2407 §4.6.2: every byte is checked by the peer, so a NAT cannot rewrite it
ID_BODY = Layout("ID", Part("id_type", 1, "ID type", named(IdType, False), ID_PAYLOAD),
                 Part("protocol", 1, "protocol ID", protected=ID_PAYLOAD),
                 Part("port", 2, "port", protected=ID_PAYLOAD),
                 Part("data", None, "identification data", _id_text, ID_PAYLOAD))
#: RFC 2408 §3.14 (IPsec DOI, RFC 2407 §4.6.3)
NOTIFICATION_BODY = Layout("Notification", Part("doi", 4, "DOI"),
                           Part("protocol_id", 1, "protocol ID", named(ProtocolId, False)),
                           Part("spi_size", 1, "SPI size"), Part("notify_type", 2, "notify type"),
                           Part("spi", "spi_size", "SPI", show_hex),
                           Part("data", None, "notification data", show_short_hex))
#: RFC 2408 §3.15
DELETE_BODY = Layout("Delete", Part("doi", 4, "DOI"),
                     Part("protocol_id", 1, "protocol ID", named(ProtocolId, False)),
                     Part("spi_size", 1, "SPI size"), Part("count", 2, "number of SPIs"),
                     Part("spis", None, "SPIs", show_short_hex))
#: RFC 3947 §5.2
NAT_OA_BODY = Layout("NAT-OA", Part("id_type", 1, "ID type", named(IdType, False)),
                     Part("reserved", 3, "reserved", show_reserved, zero=True, raw=True),
                     Part("address", None, "original address",
                          lambda v, row: str(ipaddress.ip_address(v))))
#: RFC 3947 §3.2: the first NAT-D hashes the destination, the later ones the sender itself
NAT_D_BODY = Layout("NAT-D", Part("hash", None, "HASH(CKY-I | CKY-R | {which} IP | {which} port)",
                                  show_short_hex, NATD_HASH))
#: IKEv1 fragment (strongSwan fragment_payload.c): fragment ID, number (from 1), flags (LAST = 1)
FRAGMENT_BODY = Layout("Fragment", Part("fragment_id", 2, "fragment ID"),
                       Part("number", 1, "fragment number"),
                       Part("flags", 1, "flags", lambda v, row: f"0x{v:02x}" + (" (LAST)" if v & 1 else "")),
                       Part("data", None, "fragment data (a piece of the whole IKE message)", show_size_hex))
KE_BODY = _opaque("g^x (public DH value)")
NONCE_BODY = _opaque("nonce data")
HASH_BODY = _opaque("hash data")
VENDOR_ID_BODY = _opaque("Vendor ID (MD5 of a string)", _vendor)
UNKNOWN_BODY = _opaque("payload data")

#: What a view calls each payload type, and the layout of its body.
PAYLOAD_NAMES = {PayloadType.SA: "SA", PayloadType.KE: "KE", PayloadType.ID: "ID", PayloadType.HASH: "HASH",
                 PayloadType.NONCE: "Nonce", PayloadType.NOTIFICATION: "Notification",
                 PayloadType.DELETE: "Delete", PayloadType.VENDOR_ID: "Vendor ID",
                 PayloadType.NAT_D: "NAT-D", PayloadType.NAT_D_DRAFT: "NAT-D (draft)",
                 PayloadType.NAT_OA: "NAT-OA", PayloadType.NAT_OA_DRAFT: "NAT-OA (draft)",
                 PayloadType.FRAGMENT: "IKE fragment"}
BODY_LAYOUTS = {PayloadType.SA: SA_BODY, PayloadType.KE: KE_BODY, PayloadType.ID: ID_BODY,
                PayloadType.HASH: HASH_BODY, PayloadType.NONCE: NONCE_BODY,
                PayloadType.NOTIFICATION: NOTIFICATION_BODY, PayloadType.DELETE: DELETE_BODY,
                PayloadType.VENDOR_ID: VENDOR_ID_BODY, PayloadType.NAT_D: NAT_D_BODY,
                PayloadType.NAT_D_DRAFT: NAT_D_BODY, PayloadType.NAT_OA: NAT_OA_BODY,
                PayloadType.NAT_OA_DRAFT: NAT_OA_BODY, PayloadType.FRAGMENT: FRAGMENT_BODY}


class _Payload(_Fields):
    """Base of the payload classes: `summary()` gives the one-line trace text."""

    #: the field that is the whole body, for the payloads whose body is one byte string (set from
    #: OPAQUE_BODIES below): `encode_payloads` reads it instead of asking `encode_body`
    _body_field = None
    #: whether no class derives from this one, kept as classes are made: a leaf's instances are
    #: exactly those of that class, so a payload can be matched to it by its class alone
    _leaf = False

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._leaf = True
        for base in cls.__mro__[1:]:
            if base.__dict__.get("_leaf"):
                base._leaf = False

    def summary(self) -> str:
        return summary(self)


@dataclass(frozen=True)
class SA(_KeptBody, _Payload):
    """Security Association payload (RFC 2408 §3.4; IPsec DOI situation, RFC 2407 §4.6.1)."""
    proposals: tuple[Proposal, ...]
    doi: int = 1
    situation: int = 1
    payload_type = PayloadType.SA
    _WIDTHS = {"doi": 32, "situation": 32}

    def _validate(self) -> None:
        if self.proposals.__class__ is not tuple:
            object.__setattr__(self, "proposals", tuple(self.proposals))
        if not self.proposals:
            raise ConfigError("an SA payload needs at least one proposal")

    def _fresh_body(self) -> bytes:
        return SA_BODY.pack(self.doi, self.situation) + _encode_list(_PROPOSAL_TYPE, self.proposals)

    @classmethod
    def of(cls, proposal: Proposal) -> "SA":
        """The IPsec-DOI SA of one proposal the engine built (`built_proposal`): built as the decoders
        build theirs, its body packed now around the proposal's."""
        return _build(cls, {"proposals": (proposal,), "doi": 1, "situation": 1,
                            "_wire": _SA_IPSEC + _encode_list(_PROPOSAL_TYPE, (proposal,))})

    @classmethod
    def decode_body(cls, r: Reader) -> "SA":
        wire = r.data
        doi, situation = SA_BODY.read(r)
        proposals = _decode_list(r, _PROPOSAL_TYPE, "proposal", "SA", Proposal.decode_body)
        return _build(cls, {"proposals": proposals, "doi": doi, "situation": situation, "_wire": wire})


@dataclass(frozen=True)
class _Opaque(_Payload):
    """Base of payloads whose body is one opaque byte string."""
    data: bytes

    def encode_body(self) -> bytes:
        return bytes(self.data)

    @classmethod
    def decode_body(cls, r: Reader):
        return _build(cls, {"data": r.rest()})


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

    def _validate(self) -> None:
        if (need := id_data_misfit(self.id_type, len(self.data))) is not None:
            raise ConfigError(f"ID type {label(IdType, self.id_type)} needs {need} bytes of data")

    @classmethod
    def ipv4(cls, ip: str, protocol: int = 0, port: int = 0) -> "ID":
        """ID_IPV4_ADDR for a dotted address."""
        return cls(IdType.IPV4_ADDR, protocol, port, ipaddress.IPv4Address(ip).packed)

    def encode_body(self) -> bytes:
        return ID_BODY.pack(self.id_type, self.protocol, self.port) + self.data

    @classmethod
    def decode_body(cls, r: Reader) -> "ID":
        start = r.offset
        id_type, protocol, port, data = ID_BODY.read_all(r)
        if (need := id_data_misfit(id_type, len(data))) is not None:
            raise r.fail(f"ID type {label(IdType, id_type)} needs {need} bytes of data, "
                         f"{len(data)} present", at=start)
        return _build(cls, {"id_type": id_type, "protocol": protocol, "port": port, "data": data})


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

    def _validate(self) -> None:
        if len(self.spi) > 255:
            raise ConfigError("notification SPI longer than 255 bytes")

    def encode_body(self) -> bytes:
        return (NOTIFICATION_BODY.pack(self.doi, self.protocol_id, len(self.spi), self.notify_type)
                + self.spi + self.data)

    @classmethod
    def decode_body(cls, r: Reader) -> "Notification":
        doi, protocol_id, _spi_size, notify_type, spi, data = NOTIFICATION_BODY.read_all(r)
        return _build(cls, {"notify_type": notify_type, "protocol_id": protocol_id, "spi": spi,
                            "data": data, "doi": doi})


@dataclass(frozen=True)
class Delete(_Payload):
    """Delete (RFC 2408 §3.15): spi_size 16 for an ISAKMP SA (both cookies), 4 for ESP/AH."""
    protocol_id: int
    spis: tuple[bytes, ...]
    spi_size: int = 16
    doi: int = 1
    payload_type = PayloadType.DELETE
    _WIDTHS = {"protocol_id": 8, "spi_size": 8, "doi": 32}

    def _validate(self) -> None:
        if self.spis.__class__ is not tuple:
            object.__setattr__(self, "spis", tuple(self.spis))
        _check("Delete SPI count", len(self.spis), 16)
        if any(len(s) != self.spi_size for s in self.spis):
            raise ConfigError(f"every SPI in this Delete must be {self.spi_size} bytes")

    def encode_body(self) -> bytes:
        return DELETE_BODY.pack(self.doi, self.protocol_id, self.spi_size, len(self.spis)) + b"".join(self.spis)

    @classmethod
    def decode_body(cls, r: Reader) -> "Delete":
        values = DELETE_BODY.read(r)
        doi, protocol_id, spi_size, count = values
        if r.remaining() != count * spi_size:
            raise r.fail(f"{count} SPIs of {spi_size} bytes need {count * spi_size} bytes, "
                         f"{r.remaining()} present")
        spis = DELETE_BODY.read_tail(r, values)[-1]
        return _build(cls, {"protocol_id": protocol_id, "doi": doi, "spi_size": spi_size,
                            "spis": tuple(spis[i:i + spi_size] for i in range(0, count * spi_size, spi_size))
                            if spi_size else (b"",) * count})


@dataclass(frozen=True)
class NatD(_Payload):
    """NAT-D: HASH(CKY-I | CKY-R | IP | Port) (RFC 3947 §3.2); type 130 in the drafts."""
    hash: bytes
    draft: bool = False  #: set by `decode_payloads` from the type; the body cannot tell

    @property
    def payload_type(self) -> int:
        return _NAT_D_DRAFT if self.draft else _NAT_D

    def encode_body(self) -> bytes:
        return bytes(self.hash)

    @classmethod
    def decode_body(cls, r: Reader, draft: bool = False) -> "NatD":
        return _build(cls, {"hash": r.rest(), "draft": draft})


@dataclass(frozen=True)
class NatOA(_Payload):
    """NAT-OA: an original address as its sender saw it (RFC 3947 §5.2); type 131 in drafts."""
    id_type: int
    address: bytes
    draft: bool = False  #: set by `decode_payloads` from the type; the body cannot tell

    def _validate(self) -> None:
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
        return NAT_OA_BODY.pack(self.id_type, bytes(3)) + self.address

    @classmethod
    def decode_body(cls, r: Reader, draft: bool = False) -> "NatOA":
        start = r.offset
        id_type, _reserved, address = NAT_OA_BODY.read_all(r)
        if len(address) != NAT_OA_ADDRESS_LEN.get(id_type):
            raise r.fail(f"ID type {id_type} with {len(address)} address bytes; expected "
                         "1 (IPv4, 4 bytes) or 5 (IPv6, 16 bytes)", at=start)
        return _build(cls, {"id_type": id_type, "address": address, "draft": draft})


@dataclass(frozen=True)
class Fragment(_Payload):
    """One piece of an IKEv1 message too big for one datagram (strongSwan fragment_payload.c,
    the FRAGMENTATION Vendor ID's extension): the pieces' data, in number order, is the message."""
    fragment_id: int
    number: int
    last: bool
    data: bytes
    payload_type = PayloadType.FRAGMENT
    _WIDTHS = {"fragment_id": 16, "number": 8}
    LAST = 0x01

    def _validate(self) -> None:
        if self.number == 0:
            raise ConfigError("IKE fragment numbers start at 1")

    def encode_body(self) -> bytes:
        return FRAGMENT_BODY.pack(self.fragment_id, self.number, self.LAST if self.last else 0) + bytes(self.data)

    @classmethod
    def decode_body(cls, r: Reader) -> "Fragment":
        fragment_id, number, flags, data = FRAGMENT_BODY.read_all(r)
        if number == 0:
            raise r.fail("fragment number 0 (strongSwan's verify() refuses it: numbers start at 1)")
        if flags & ~cls.LAST:
            raise r.fail(f"fragment flags 0x{flags:02x}: only LAST (0x01) is defined")
        return _build(cls, {"fragment_id": fragment_id, "number": number, "last": bool(flags & cls.LAST),
                            "data": data})


@dataclass(frozen=True)
class Unknown(_Payload):
    """Any payload type without a class (CERT, CR and SIG have theirs in isakmp_cert), kept as raw body bytes."""
    type: int
    body: bytes

    def _validate(self) -> None:
        _check("payload type", self.type, 8)
        if self.type == 0 or self.type in _DECODERS:
            raise ConfigError(f"payload type {self.type} has its own class, not Unknown")

    @property
    def payload_type(self) -> int:
        return self.type

    def encode_body(self) -> bytes:
        return bytes(self.body)


Payload = Union[SA, KE, ID, Hash, Nonce, Notification, Delete, VendorID, NatD, NatOA, Fragment, Unknown]

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
    PayloadType.NAT_D_DRAFT: ("ISAKMP NAT-D", lambda r: NatD.decode_body(r, True)),
    PayloadType.NAT_OA: ("ISAKMP NAT-OA", NatOA.decode_body),
    PayloadType.NAT_OA_DRAFT: ("ISAKMP NAT-OA",
                               lambda r: NatOA.decode_body(r, True)),
    PayloadType.FRAGMENT: ("ISAKMP fragment", Fragment.decode_body),
}


def _opaque_decoder(cls: type, name: str = "data", **fixed) -> Callable[[bytes, int], Payload]:
    """A chain decoder (body bytes, absolute offset) for a payload whose body is one byte string:
    nothing in it can be wrong, so no Reader and no checks, just the instance."""
    def from_body(body: bytes, at: int) -> Payload:
        obj = _new(cls)
        _set(obj, "__dict__", {name: body, **fixed})
        return obj
    return from_body


def _reader_decoder(layer: str, decode: Callable[[Reader], Payload]) -> Callable[[bytes, int], Payload]:
    """A chain decoder running a strict `decode_body` over exactly the body; errors name `layer`."""
    def from_body(body: bytes, at: int) -> Payload:
        r = Reader(body, layer, at)
        payload = decode(r)
        if r.pos != len(body):
            r.expect_end()
        return payload
    return from_body


#: The payload types whose body is one byte string: (class, the field it fills, the other fields).
#: Nothing in such a body can be wrong, so `decode_payloads` builds these itself, without a Reader
#: or a decoder call; `_OPAQUE_DECODERS` are the same as chain decoders.
OPAQUE_BODIES: dict[int, tuple[type, str, dict]] = {
    PayloadType.KE: (KE, "data", {}), PayloadType.HASH: (Hash, "data", {}), PayloadType.NONCE: (Nonce, "data", {}),
    PayloadType.VENDOR_ID: (VendorID, "data", {}), PayloadType.NAT_D: (NatD, "hash", {"draft": False}),
    PayloadType.NAT_D_DRAFT: (NatD, "hash", {"draft": True})}

for _cls, _field, _ in OPAQUE_BODIES.values():
    assert _cls.encode_body in (_Opaque.encode_body, NatD.encode_body) and not _cls.__subclasses__()
    _cls._body_field = _field

#: The same decoders as (body bytes, absolute offset) -> payload, for `decode_payloads`: the
#: opaque bodies skip the Reader altogether. Built by `chain_decoders` from `_DECODERS`.
_OPAQUE_DECODERS = {kind: _opaque_decoder(cls, name, **fixed) for kind, (cls, name, fixed) in OPAQUE_BODIES.items()}


def _sa_decoder() -> Callable[[bytes, int], Payload]:
    """The SA chain decoder: the usual body (IPsec DOI header, proposals of TV-only transforms) in
    one pass without Readers (`proposals_from_body`, from the same layouts), anything else, and
    anything wrong, by the strict `SA.decode_body`, which names what."""
    strict = _reader_decoder("ISAKMP SA", SA.decode_body)

    def from_body(body: bytes, at: int) -> Payload:
        if len(body) >= _SA_SIZE:
            proposals = proposals_from_body(body, _SA_SIZE)
            if proposals is not None:
                doi, situation = _SA_FIXED(body)
                return _build(SA, {"proposals": proposals, "doi": doi, "situation": situation, "_wire": body})
        return strict(body, at)
    return from_body


_SA_FIXED, _SA_SIZE = SA_BODY.struct.unpack_from, SA_BODY.size
assert SA_BODY.names[:2] == ("doi", "situation") and not SA_BODY._zero


def _id_decoder() -> Callable[[bytes, int], Payload]:
    """The ID chain decoder: ID_BODY's fixed part and the data after it read straight off the body
    when the data fits its type (`id_data_misfit`); anything else by the strict decoder."""
    strict = _reader_decoder("ISAKMP ID", ID.decode_body)

    def from_body(body: bytes, at: int) -> Payload:
        size = len(body) - _ID_SIZE     # the data's
        if size >= 0:
            id_type, protocol, port = _ID_FIXED(body)
            if id_data_misfit(id_type, size) is None:
                return _build(ID, {"id_type": id_type, "protocol": protocol, "port": port,
                                   "data": body[_ID_SIZE:]})
        return strict(body, at)
    return from_body


_ID_FIXED, _ID_SIZE = ID_BODY.struct.unpack_from, ID_BODY.size
assert ID_BODY.names == ("id_type", "protocol", "port", "data") and not ID_BODY._zero and ID_BODY._rest_only


def _notification_decoder() -> Callable[[bytes, int], Payload]:
    """The Notification chain decoder: NOTIFICATION_BODY's fixed part, the SPI its size gives and the
    data after it read straight off the body when the SPI fits; anything else by the strict decoder."""
    strict = _reader_decoder("ISAKMP Notification", Notification.decode_body)

    def from_body(body: bytes, at: int) -> Payload:
        size = len(body) - _NOTIFICATION_SIZE    # the SPI's and the data's
        if size >= 0 and size >= body[_SPI_SIZE_AT]:
            doi, protocol_id, spi_size, notify_type = _NOTIFICATION_FIXED(body)
            spi_end = _NOTIFICATION_SIZE + spi_size
            return _build(Notification, {"notify_type": notify_type, "protocol_id": protocol_id,
                                         "spi": body[_NOTIFICATION_SIZE:spi_end], "data": body[spi_end:], "doi": doi})
        return strict(body, at)
    return from_body


_NOTIFICATION_FIXED, _NOTIFICATION_SIZE = NOTIFICATION_BODY.struct.unpack_from, NOTIFICATION_BODY.size
_SPI_SIZE_AT = NOTIFICATION_BODY.offset("spi_size")
assert NOTIFICATION_BODY.names == ("doi", "protocol_id", "spi_size", "notify_type", "spi", "data") \
    and not NOTIFICATION_BODY._zero


def chain_decoders() -> dict[int, Callable[[bytes, int], Payload]]:
    """Every registered payload type's chain decoder (call once every module has registered)."""
    fast = {**_OPAQUE_DECODERS, PayloadType.SA: _sa_decoder(), PayloadType.ID: _id_decoder(),
            PayloadType.NOTIFICATION: _notification_decoder()}
    return {int(kind): fast.get(kind) or _reader_decoder(layer, decode) for kind, (layer, decode) in _DECODERS.items()}


def summary(p: Payload) -> str:
    """One line for a trace row, e.g. 'NAT-D 3f2a1b0c…' or 'N(INITIAL_CONTACT)'."""
    draft = " (draft)" if getattr(p, "draft", False) else ""
    if isinstance(p, SA):
        return f"SA ({len(p.proposals)} proposal(s))"
    if isinstance(p, ID):
        text = (str(ipaddress.ip_address(p.data)) if p.id_type in NAT_OA_ADDRESS_LEN
                else _id_text(p.data, {"id_type": p.id_type}))
        return f"ID {label(IdType, p.id_type)} {text} proto {p.protocol} port {p.port}"
    if isinstance(p, Notification):
        return f"N({label(NotifyType, p.notify_type)})"
    if isinstance(p, Delete):
        return f"D({label(ProtocolId, p.protocol_id)}, {len(p.spis)} SPI(s))"
    if isinstance(p, NatOA):
        return f"NAT-OA{draft} {p.ip}"
    if isinstance(p, Fragment):
        return f"FRAG id {p.fragment_id} #{p.number}{' LAST' if p.last else ''} {len(p.data)} B"
    body = p.encode_body()
    name = "NAT-D" if isinstance(p, NatD) else label(PayloadType, p.payload_type)
    return f"{name}{draft} {len(body)} B {body[:4].hex()}{'…' if len(body) > 4 else ''}"


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
