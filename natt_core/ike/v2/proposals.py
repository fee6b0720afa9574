"""What an IKEv2 peer offers and accepts: IKE and ESP proposals, and traffic selector narrowing.

RFC 7296 §2.7 (proposal choice: one transform of each type, AEAD proposals without INTEG),
§3.3 (SA payload), §2.9 (narrowing: the responder answers with a subset of what was asked).
The offer is derived from the IKEv1 `PeerPolicy` (same PSK, groups, ciphers) plus its `v2`
(`options.V2Options`) for what IKEv1 has no word for (AES-GCM, PRF, cookies).
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from functools import lru_cache

from ...errors import ConfigError
from ...wire.ikev2 import SA, Attribute, Proposal, TrafficSelector, Transform
from ...wire.ikev2_numbers import KEY_LENGTH_ATTR, Esn, Protocol, TransformType
from ..policy import PeerPolicy
from .options import V2Options, parse_esp_suite, parse_suite  # noqa: F401  (V2Options re-exported)
from .suites import ENCR, INTEG, PRF, EncrSpec, IntegSpec, encr_by_wire, integ_by_wire, prf_by_wire

#: IKEv1 hash name -> (IKEv2 PRF, IKEv2 integrity) for suites derived from a PeerPolicy
_FROM_HASH = {"sha1": ("sha1", "hmac-sha1-96"), "sha256": ("sha256", "hmac-sha256-128")}


@dataclass(frozen=True)
class IkeChoice:
    encr: EncrSpec
    integ: IntegSpec | None
    prf: str
    group: int
    number: int = 1

    @property
    def name(self) -> str:
        return "/".join(x for x in (self.encr.name, self.integ.name if self.integ else "", f"prf-{self.prf}",
                                    f"group-{self.group}") if x)


@dataclass(frozen=True)
class EspChoice:
    encr: EncrSpec
    integ: IntegSpec | None   #: None for AES-GCM
    spi: int       #: the peer's SPI from its proposal (what we send with)
    number: int


def ike_suites(policy: PeerPolicy, options: V2Options) -> list[tuple[EncrSpec, IntegSpec | None, str]]:
    return _suites(options.ike_suites, policy.ike_ciphers, policy.ike_hashes)


def _suites(named, ike_ciphers, ike_hashes) -> list[tuple[EncrSpec, IntegSpec | None, str]]:
    """`ike_suites` from the settings it reads: the options' suites, else the policy's ciphers and hashes."""
    if named:
        return [parse_suite(s) for s in named]
    out = [(ENCR[c], INTEG[_FROM_HASH[h][1]], _FROM_HASH[h][0]) for c in ike_ciphers if c in ENCR
           for h in ike_hashes if h in _FROM_HASH]
    if not out:
        raise ConfigError("no IKEv2 suite in this policy: IKEv2 here speaks AES-CBC/AES-GCM with SHA-1/SHA-256")
    return out


def ike_groups(policy: PeerPolicy, options: V2Options) -> tuple[int, ...]:
    return tuple(options.groups or policy.dh_groups)


def _encr_transform(e: EncrSpec) -> Transform:
    return Transform(TransformType.ENCR, e.transform_id, (Attribute(KEY_LENGTH_ATTR, e.key_bits),))


def ike_offer(policy: PeerPolicy, options: V2Options, spi: bytes = b"") -> SA:
    """One proposal per suite, each with every acceptable group (the first is the KE we send).
    `spi` is empty for IKE_SA_INIT and the new 8-byte SPI when rekeying the IKE SA (§1.3.2).
    IKE_SA_INIT's is built once per setting (an SA is immutable, and every peer of these settings
    offers the same), as the IKEv1 phase-1 offer is."""
    settings = (options.ike_suites, policy.ike_ciphers, policy.ike_hashes, options.groups, policy.dh_groups, spi)
    if spi:     # a rekey's own SPI: nothing to share
        return _ike_offer.__wrapped__(*settings)
    try:
        return _ike_offer(*settings)
    except TypeError:   # an unhashable setting: build it afresh
        return _ike_offer.__wrapped__(*settings)


@lru_cache(maxsize=256)
def _ike_offer(named_suites, ike_ciphers, ike_hashes, groups, dh_groups, spi: bytes) -> SA:
    groups = [Transform(TransformType.DH, g) for g in (groups or dh_groups)]     # `ike_groups`
    proposals = []
    for n, (encr, integ, prf) in enumerate(_suites(named_suites, ike_ciphers, ike_hashes), start=1):
        ts = [_encr_transform(encr), Transform(TransformType.PRF, PRF[prf])]
        if integ:
            ts.append(Transform(TransformType.INTEG, integ.transform_id))
        proposals.append(Proposal(n, Protocol.IKE, spi, tuple(ts + groups)))
    return SA(tuple(proposals))


_TRANSFORM_TYPES = frozenset(TransformType)
_NONE = (None,)


def _by_type(p: Proposal) -> dict[int, list[Transform]]:
    """The proposal's transforms by type, each list in order: one pass over the proposal instead
    of one per type asked about."""
    out: dict[int, list[Transform]] = {}
    for t in p.transforms:
        kind = t.type
        if kind in out:
            out[kind].append(t)
        else:
            out[kind] = [t]
    return out


def read_ike(p: Proposal) -> IkeChoice | None:
    """The single choice a responder's answer (one transform per type) stands for."""
    if p.protocol != Protocol.IKE:
        return None
    by = _by_type(p)
    for kind, ts in by.items():
        if len(ts) > 1 and kind in _TRANSFORM_TYPES:
            return None
    e, f, i, d = [(by.get(t) or _NONE)[0]
                  for t in (TransformType.ENCR, TransformType.PRF, TransformType.INTEG, TransformType.DH)]
    encr = encr_by_wire(e.id, e.key_length) if e else None
    prf = prf_by_wire(f.id) if f else None
    integ = integ_by_wire(i.id) if i else None
    if encr is None or prf is None or d is None or (encr.aead != (i is None)) or (i and integ is None):
        return None
    return IkeChoice(encr, integ, prf, d.id, p.number)


def choose_ike(offer: SA, policy: PeerPolicy, options: V2Options, ke_group: int | None = None,
               spi_size: int = 0) -> tuple[Proposal, IkeChoice] | None:
    """The first offered proposal we accept, reduced to one transform per type (§2.7). Among the
    groups both accept, the one the initiator's KE already uses wins (no INVALID_KE round trip)."""
    ours = ike_suites(policy, options)
    groups = ike_groups(policy, options)
    for p in offer.proposals:
        if p.protocol != Protocol.IKE or len(p.spi) != spi_size:
            continue
        by = _by_type(p)
        encrs, prfs = by.get(TransformType.ENCR, ()), by.get(TransformType.PRF, ())
        integs = by.get(TransformType.INTEG, ())
        offered_groups = [t.id for t in by.get(TransformType.DH, ())]
        common = [g for g in groups if g in offered_groups]
        if not common:
            continue
        group = ke_group if ke_group in common else common[0]
        for encr, integ, prf in ours:
            e = next((t for t in encrs if t.id == encr.transform_id and t.key_length == encr.key_bits), None)
            f = next((t for t in prfs if t.id == PRF[prf]), None)
            i = next((t for t in integs if integ and t.id == integ.transform_id), None)
            if e and f and (i if integ else not integs):
                picked = (e, f) + ((i,) if i else ()) + (Transform(TransformType.DH, group),)
                return Proposal(p.number, Protocol.IKE, p.spi, picked), IkeChoice(encr, integ, prf, group, p.number)
    return None


# --- ESP ------------------------------------------------------------------------------------

def esp_suites(policy: PeerPolicy, options: V2Options | None = None) -> list[tuple[EncrSpec, IntegSpec | None]]:
    if options and options.esp_suites:
        return [parse_esp_suite(s) for s in options.esp_suites]
    out = [(ENCR[c], INTEG[i]) for c in policy.esp_ciphers if c in ENCR and not ENCR[c].aead
           for i in policy.esp_integrity if i in INTEG]
    if not out:
        raise ConfigError("no IKEv2 ESP suite in this policy: AES-CBC with HMAC-SHA1-96 or HMAC-SHA256-128")
    return out


@lru_cache(maxsize=64)
def _esp_transforms(e: EncrSpec, i: IntegSpec | None) -> tuple[Transform, ...]:
    """An ESP suite's transforms, built once per suite (immutable, as IKEv1's phase-2 transforms):
    every offer and answer needs them; only the SPI around them is new."""
    integ = (Transform(TransformType.INTEG, i.transform_id),) if i else ()
    return (_encr_transform(e),) + integ + (Transform(TransformType.ESN, Esn.NO),)


def esp_offer(policy: PeerPolicy, spi: int, options: V2Options | None = None) -> SA:
    spi_b = spi.to_bytes(4, "big")
    return SA(tuple(Proposal(n, Protocol.ESP, spi_b, _esp_transforms(e, i))
                    for n, (e, i) in enumerate(esp_suites(policy, options), start=1)))


def choose_esp(offer: SA, policy: PeerPolicy, options: V2Options | None = None) -> tuple[Proposal, EspChoice] | None:
    """Pick an ESP proposal; the answer carries the same number, our SPI is filled in later."""
    for p in offer.proposals:
        if p.protocol != Protocol.ESP or len(p.spi) != 4 or int.from_bytes(p.spi, "big") < 256:
            continue   # SPIs 0-255 are reserved (RFC 4303 §2.1)
        by = _by_type(p)
        encrs, integs = by.get(TransformType.ENCR, ()), by.get(TransformType.INTEG, ())
        esns = by.get(TransformType.ESN, ())
        for encr, integ in esp_suites(policy, options):
            e = next((t for t in encrs if t.id == encr.transform_id and t.key_length == encr.key_bits), None)
            i = next((t for t in integs if integ and t.id == integ.transform_id), None)
            integ_ok = bool(i) if integ else not [t for t in integs if t.id]
            esn_ok = not esns or any(t.id == Esn.NO for t in esns)
            if e and integ_ok and esn_ok and TransformType.DH not in by:
                return p, EspChoice(encr, integ, int.from_bytes(p.spi, "big"), p.number)
    return None


def esp_answer(p: Proposal, choice: EspChoice, our_spi: int) -> SA:
    return SA((Proposal(p.number, Protocol.ESP, our_spi.to_bytes(4, "big"),
                        _esp_transforms(choice.encr, choice.integ)),))


def read_esp(answer: SA, offered: SA) -> EspChoice | None:
    """The responder's ESP answer, checked against what we offered."""
    if len(answer.proposals) != 1:
        return None
    p = answer.proposals[0]
    mine = next((q for q in offered.proposals if q.number == p.number), None)
    if mine is None or p.protocol != Protocol.ESP or len(p.spi) != 4 or int.from_bytes(p.spi, "big") < 256:
        return None
    by = _by_type(p)
    e, i = (by.get(TransformType.ENCR) or _NONE)[0], (by.get(TransformType.INTEG) or _NONE)[0]
    if not e or e not in mine.transforms or (i and i not in mine.transforms):
        return None
    encr, integ = encr_by_wire(e.id, e.key_length), integ_by_wire(i.id) if i else None
    if encr is None or (integ is None) != encr.aead:
        return None
    return EspChoice(encr, integ, int.from_bytes(p.spi, "big"), p.number)


# --- traffic selectors (§2.9) ---------------------------------------------------------------

ANY = TrafficSelector("0.0.0.0", "255.255.255.255")


def _ip(a: str) -> int:
    # a selector's address is canonical dotted IPv4 (TrafficSelector checked it): the C parser reads it
    return int.from_bytes(socket.inet_aton(a), "big")


def intersect(a: TrafficSelector, b: TrafficSelector) -> TrafficSelector | None:
    """The overlap of two selectors (addresses, ports, protocol with 0 = any), or None."""
    if a.ip_proto and b.ip_proto and a.ip_proto != b.ip_proto:
        return None
    lo, hi = max(_ip(a.start_addr), _ip(b.start_addr)), min(_ip(a.end_addr), _ip(b.end_addr))
    plo, phi = max(a.start_port, b.start_port), min(a.end_port, b.end_port)
    if lo > hi or plo > phi:
        return None
    return TrafficSelector(socket.inet_ntoa(lo.to_bytes(4, "big")), socket.inet_ntoa(hi.to_bytes(4, "big")),
                           a.ip_proto or b.ip_proto, plo, phi)


def narrow(asked: tuple[TrafficSelector, ...], allowed: TrafficSelector) -> tuple[TrafficSelector, ...]:
    out = []      # a loop: generator expressions are a frame and a resumption per selector
    for t in asked:
        x = intersect(t, allowed)
        if x is not None:
            out.append(x)
    return tuple(out)


def with_address(ts: TrafficSelector, addr: str) -> TrafficSelector:
    """The same selector for a single other address (§2.23.1 transport-mode substitution)."""
    return TrafficSelector(addr, addr, ts.ip_proto, ts.start_port, ts.end_port)
