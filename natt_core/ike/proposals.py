"""SA payloads: what a peer offers and how a responder chooses (RFC 2409 App. A, RFC 2407 §4.5).

Phase 1 offers one ISAKMP proposal whose transforms are the peer's (group, cipher, hash)
combinations in preference order; the responder takes the first it supports — which is how
"DH group 14 only when both sides support it" happens. Phase 2 offers one ESP (or AH)
proposal; its encapsulation mode says whether the SA is UDP-encapsulated (RFC 3947 §5.1).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..wire.isakmp import SA, Attribute, Proposal, Transform
from ..wire.isakmp_proposals import built_proposal, transform_chain
from ..wire.numbers import (AhTransform, AuthAlgorithm, AuthMethod, EncapsulationMode, EspTransform,
                            HashAlg, IpsecAttr, LifeType, Phase1Attr, Phase1Cipher, ProtocolId)
from .lifetimes import Life
from .policy import PeerPolicy
from .sa import Phase1Choice
from ..net.records import fast_init_all

KEY_IKE = 1  #: the ISAKMP transform ID (RFC 2407 §4.4.1)

_P1_CIPHER = {"aes-cbc-128": (Phase1Cipher.AES_CBC, 128), "aes-cbc-192": (Phase1Cipher.AES_CBC, 192),
              "aes-cbc-256": (Phase1Cipher.AES_CBC, 256), "3des-cbc": (Phase1Cipher.TRIPLE_DES_CBC, 0)}
_HASH = {"md5": HashAlg.MD5, "sha1": HashAlg.SHA1, "sha256": HashAlg.SHA2_256}
#: policy.AUTH_METHODS -> the Oakley authentication method (RFC 2409 App. A; RFC 4754 §5)
_AUTH = {"psk": AuthMethod.PRE_SHARED_KEY, "rsa-sig": AuthMethod.RSA_SIG, "ecdsa-sig": AuthMethod.ECDSA_256}
_ESP_CIPHER = {"aes-cbc-128": (EspTransform.ESP_AES, 128), "aes-cbc-256": (EspTransform.ESP_AES, 256),
               "3des-cbc": (EspTransform.ESP_3DES, 0)}
_INTEGRITY = {"hmac-md5-96": AuthAlgorithm.HMAC_MD5, "hmac-sha1-96": AuthAlgorithm.HMAC_SHA,
              "hmac-sha256-128": AuthAlgorithm.HMAC_SHA2_256}
_AH = {"hmac-md5-96": AhTransform.AH_MD5, "hmac-sha1-96": AhTransform.AH_SHA,
       "hmac-sha256-128": AhTransform.AH_SHA2_256}


#: each table above read backwards (wire values -> our name), once: its values are distinct
_P1_CIPHER_NAME, _HASH_NAME, _AUTH_NAME, _ESP_CIPHER_NAME, _INTEGRITY_NAME = (
    {value: name for name, value in table.items()} for table in (_P1_CIPHER, _HASH, _AUTH, _ESP_CIPHER, _INTEGRITY))


# ----------------------------------------------------------------------------------- phase 1

def phase1_offer(policy: PeerPolicy) -> SA:
    """The phase-1 SA payload a policy offers; built once per setting (an SA is immutable, and
    every MM1 sent and every MM2 checked needs it)."""
    key = (policy.dh_groups, policy.ike_ciphers, policy.ike_hashes, policy.ike_lifetime, policy.auth)
    try:
        return _phase1_offer(*key)
    except TypeError:   # an unhashable setting: build it afresh
        return _phase1_offer.__wrapped__(*key)


@lru_cache(maxsize=256)
def _phase1_offer(dh_groups, ike_ciphers, ike_hashes, ike_lifetime, auth="psk") -> SA:
    transforms = []
    for group in dh_groups:
        for cipher in ike_ciphers:
            for hash_name in ike_hashes:
                enc, bits = _P1_CIPHER[cipher]
                attrs = [Attribute(Phase1Attr.ENCRYPTION, enc)]
                if bits:
                    attrs.append(Attribute(Phase1Attr.KEY_LENGTH, bits))
                attrs += [Attribute(Phase1Attr.HASH, _HASH[hash_name]),
                          Attribute(Phase1Attr.AUTH_METHOD, _AUTH[auth]),
                          Attribute(Phase1Attr.GROUP, group),
                          Attribute(Phase1Attr.LIFE_TYPE, LifeType.SECONDS),
                          Attribute(Phase1Attr.LIFE_DURATION, ike_lifetime)]
                transforms.append(Transform(len(transforms) + 1, KEY_IKE, tuple(attrs)))
    return SA((Proposal(1, ProtocolId.ISAKMP, b"", tuple(transforms)),))


def _numbers(t: Transform) -> dict[int, int]:
    """Every attribute as an integer by type (the first of each type), whether it came as TV or as
    a TLV of any length (RFC 2408 §3.3)."""
    out: dict = {}
    for a in t.attributes:
        if a.type not in out:
            value = a.value
            out[a.type] = int.from_bytes(value, "big") if value.__class__ is bytes else value   # normalised: int or bytes
    return out


def _meaning(t: Transform) -> frozenset:
    return frozenset({(a.type, int.from_bytes(a.value, "big") if a.value.__class__ is bytes else a.value)
                      for a in t.attributes})


def same_transform(a: Transform, b: Transform) -> bool:
    """Whether two transforms say the same thing. Attribute order carries no meaning (RFC 2408
    §3.5) and an integer may come as TV or as TLV, so a responder that re-encodes the transform it
    accepted (as strongSwan does) is still answering with what we offered."""
    return a.transform_id == b.transform_id and _meaning(a) == _meaning(b)


def offered_transform(chosen: Transform, offered) -> bool:
    """Whether `chosen` says the same thing as one of the `offered` transforms (`same_transform`),
    its own meaning read once. The usual answer echoes an offered transform byte for byte, and the
    same bytes say the same thing: compared as bytes first (both are encoded already)."""
    wire = chosen.encode_body()
    for t in offered:
        if t.encode_body() == wire:
            return True
    wanted = None
    for t in offered:
        if t.transform_id == chosen.transform_id:
            if wanted is None:
                wanted = _meaning(chosen)
            if _meaning(t) == wanted:
                return True
    return False


#: the attributes a phase-1 transform is read by, in `read_phase1`'s order, and AES's cipher number:
#: named once, since a member read off its Enum class is a slow attribute hook in Python 3.11
_PHASE1_READ = (Phase1Attr.ENCRYPTION, Phase1Attr.KEY_LENGTH, Phase1Attr.GROUP, Phase1Attr.HASH,
                Phase1Attr.AUTH_METHOD, Phase1Attr.LIFE_DURATION)
_AES_CBC = Phase1Cipher.AES_CBC


def read_phase1(t: Transform) -> Phase1Choice | None:
    """The choice a transform describes, or None if we do not implement it."""
    enc, bits, group, hash_attr, auth_attr, life = map(_numbers(t).get, _PHASE1_READ)
    bits = bits or 0
    cipher = _P1_CIPHER_NAME.get((enc, bits if enc == _AES_CBC else 0))
    hash_name = _HASH_NAME.get(hash_attr)
    auth = _AUTH_NAME.get(auth_attr)
    if t.transform_id != KEY_IKE or auth is None:
        return None
    if cipher is None or hash_name is None or group is None:
        return None
    return Phase1Choice(cipher, hash_name, group, (bits or 192) // 8, 28800 if life is None else life, auth)


def choose_phase1(offer: SA, policy: PeerPolicy) -> tuple[Proposal, Transform, Phase1Choice] | None:
    """The responder's pick: the first offered transform this policy supports."""
    for proposal in offer.proposals:
        if proposal.protocol_id != ProtocolId.ISAKMP:
            continue
        for t in proposal.transforms:
            c = read_phase1(t)
            if (c and c.cipher in policy.ike_ciphers and c.hash in policy.ike_hashes and c.group in policy.dh_groups
                    and c.auth == policy.auth):
                return proposal, t, c
    return None


# The SA payloads built below come from parts already checked (a decoded proposal and one of its
# transforms, or our own cached transforms and a 4-byte SPI): they are built as the decoders build
# theirs, without `__post_init__` checking every field again, their bodies packed as they are built
# (`built_proposal`, `SA.of`) around transforms whose bodies are kept.


def answer_with(proposal: Proposal, transform: Transform, spi: bytes | None = None) -> SA:
    """The one-proposal SA naming the transform chosen from `proposal`, under `spi` (phase 2: our
    inbound SPI) or the proposal's own (phase 1)."""
    chosen = (transform,)
    return SA.of(built_proposal(proposal.number, proposal.protocol_id, proposal.spi if spi is None else spi,
                                chosen, transform_chain(chosen)))


# ----------------------------------------------------------------------------------- phase 2

@dataclass(frozen=True)
class ChildChoice:
    protocol: str        #: "esp" / "ah"
    cipher: str | None
    integrity: str
    encapsulation: int
    pfs_group: int | None


def phase2_offer(policy: PeerPolicy, spi: bytes, encapsulation: int) -> SA:
    """The phase-2 SA payload: one proposal with our SPI around the policy's transforms, which are
    built once per setting (immutable, like the phase-1 offer; only the SPI is new each time)."""
    key = (policy.protocol, policy.esp_ciphers, policy.esp_integrity, policy.ipsec_lifetime,
           policy.ipsec_lifetime_kb, policy.pfs_group, encapsulation)
    try:
        protocol_id, transforms, chain = _phase2_transforms(*key)
    except TypeError:   # an unhashable setting: build it afresh
        protocol_id, transforms, chain = _phase2_transforms.__wrapped__(*key)
    return SA.of(built_proposal(1, protocol_id, spi, transforms, chain))


@lru_cache(maxsize=256)
def _phase2_transforms(*setting) -> tuple[int, tuple[Transform, ...], bytes]:
    """The protocol and transforms of a phase-2 offer (`_phase2_offered`), and their chain encoded."""
    protocol_id, transforms = _phase2_offered(*setting)
    return protocol_id, transforms, transform_chain(transforms)


def _phase2_offered(protocol, esp_ciphers, esp_integrity, ipsec_lifetime, ipsec_lifetime_kb, pfs_group,
                    encapsulation) -> tuple[int, tuple[Transform, ...]]:
    transforms = []
    common = Life(ipsec_lifetime, ipsec_lifetime_kb).attributes(2) + [
        Attribute(IpsecAttr.ENCAPSULATION_MODE, encapsulation)]
    if pfs_group:
        common.append(Attribute(IpsecAttr.GROUP, pfs_group))
    if protocol == "ah":
        for integrity in esp_integrity:
            attrs = common + [Attribute(IpsecAttr.AUTH_ALGORITHM, _INTEGRITY[integrity])]
            transforms.append(Transform(len(transforms) + 1, _AH[integrity], tuple(attrs)))
        return ProtocolId.AH, tuple(transforms)
    for cipher in esp_ciphers:
        for integrity in esp_integrity:
            tid, bits = _ESP_CIPHER[cipher]
            attrs = common + [Attribute(IpsecAttr.AUTH_ALGORITHM, _INTEGRITY[integrity])]
            if bits:
                attrs.append(Attribute(IpsecAttr.KEY_LENGTH, bits))
            transforms.append(Transform(len(transforms) + 1, tid, tuple(attrs)))
    return ProtocolId.ESP, tuple(transforms)


#: what `read_phase2` reads of a transform, in its order, and the numbers it compares with (named
#: once, as `_PHASE1_READ`)
_PHASE2_READ = (IpsecAttr.AUTH_ALGORITHM, IpsecAttr.ENCAPSULATION_MODE, IpsecAttr.GROUP, IpsecAttr.KEY_LENGTH)
_TUNNEL, _AH_ID, _ESP_ID, _ESP_AES = (EncapsulationMode.TUNNEL, ProtocolId.AH, ProtocolId.ESP,
                                      EspTransform.ESP_AES)


def read_phase2(protocol_id: int, t: Transform) -> ChildChoice | None:
    auth_attr, encap, group, bits = map(_numbers(t).get, _PHASE2_READ)
    integrity = _INTEGRITY_NAME.get(auth_attr)
    if encap is None:
        encap = _TUNNEL
    if integrity is None:
        return None
    if protocol_id == _AH_ID:
        return ChildChoice("ah", None, integrity, encap, group) if _AH.get(integrity) == t.transform_id else None
    if protocol_id != _ESP_ID:
        return None
    bits = (bits or 0) if t.transform_id == _ESP_AES else 0
    cipher = _ESP_CIPHER_NAME.get((t.transform_id, bits))
    return ChildChoice("esp", cipher, integrity, encap, group) if cipher else None


def choose_phase2(offer: SA, policy: PeerPolicy, encapsulation: int) -> tuple[Proposal, Transform, ChildChoice] | None:
    """The first offered transform this policy supports with the encapsulation we expect."""
    for proposal in offer.proposals:
        for t in proposal.transforms:
            c = read_phase2(proposal.protocol_id, t)
            if c is None or c.protocol != policy.protocol or c.encapsulation != encapsulation:
                continue
            if c.integrity not in policy.esp_integrity or (c.cipher and c.cipher not in policy.esp_ciphers):
                continue
            if c.pfs_group != policy.pfs_group:
                continue
            return proposal, t, c
    return None


#: Main Mode's answer (under the proposal's SPI) and Quick Mode's (under ours), one function
phase1_answer = phase2_answer = answer_with


_MODE_NAMES = {EncapsulationMode.TUNNEL: "tunnel", EncapsulationMode.TRANSPORT: "transport",
               EncapsulationMode.UDP_TUNNEL: "udp-tunnel", EncapsulationMode.UDP_TRANSPORT: "udp-transport",
               EncapsulationMode.UDP_TUNNEL_DRAFT: "udp-tunnel", EncapsulationMode.UDP_TRANSPORT_DRAFT: "udp-transport"}


def mode_name(encapsulation: int) -> str:
    return _MODE_NAMES.get(encapsulation) or f"mode-{encapsulation}"


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
