"""Computations behind the lesson widgets: the NAT-D workbench and the port-4500 demultiplexer.

NAT-D (RFC 3947 §3.2): each NAT-D payload is HASH(CKY-I | CKY-R | IP | port). The workbench takes
the hashes really carried by MM3/MM4 in the trace, recomputes them with natt_core.crypto.natd from
the addresses as they *arrived* (which a student may edit), and gives the verdict. HASH is the
phase-1 hash the peers negotiated: as secrets.json records it, or as MM2's chosen transform
says on the wire, never guessed from a hash's length. IKEv2 (RFC 7296 §2.23) carries the same
hash as two notifies in IKE_SA_INIT: NAT_DETECTION_DESTINATION_IP (16389) and _SOURCE_IP (16388),
over the SPIs instead of the cookies, always SHA-1; the workbench reads them as
(destination, sources...) so one verdict function serves both versions. The demux view
classifies every datagram on UDP 4500 with natt_core.wire.udp_encap.classify_4500 (RFC 3948 §2).
"""
from __future__ import annotations

from dataclasses import dataclass

from natt_core.crypto.natd import NatdVerdict, evaluate_natd
from natt_core.errors import DecodeError
from natt_core.lab.trace import Trace
from natt_core.wire.ip import decode_ipv4_header, decode_udp
from natt_core.ike.proposals import read_phase1
from natt_core.wire.isakmp import SA, NatD, decode_message
from natt_core.wire.numbers import IPProto, Port
from natt_core.wire.udp_encap import Kind, carried, classify_4500

from .steps import Journey, journeys




def _ike_messages(trace: Trace, labels: tuple[str, ...]):
    """(journey, header, payload chain) of every IKEv1 message with one of these labels, as sent;
    messages that do not decode are left out (the step view says why)."""
    for j in journeys(trace):
        if j.label not in labels:
            continue
        try:
            c = carried(j.first.packet)
            if c is None or c.kind != "ike":
                continue
            header, chain = decode_message(c.data)
        except DecodeError:
            continue
        yield j, header, chain

def _endpoints(packet: bytes) -> tuple[tuple[str, int], tuple[str, int], bytes] | None:
    """(source, destination, UDP payload) of a UDP packet, else None."""
    ip, body = decode_ipv4_header(packet)
    if ip.proto != IPProto.UDP:
        return None
    udp, payload = decode_udp(body, 20)
    return (ip.src, udp.sport), (ip.dst, udp.dport), payload


@dataclass(frozen=True)
class NatdCase:
    """One message carrying NAT-D payloads, seen from both ends."""
    journey: Journey
    hash_name: str
    icookie: bytes
    rcookie: bytes
    sent_src: tuple[str, int]       #: the sender's own address, as it put it on the wire
    sent_dst: tuple[str, int]       #: the peer's address, as the sender addressed it
    seen_src: tuple[str, int]       #: the source as it arrived at the receiver
    seen_dst: tuple[str, int]       #: the destination as it arrived (the receiver's own address)
    received: tuple[bytes, ...]     #: the NAT-D hashes in the packet, in payload order

    @property
    def label(self) -> str:
        return self.journey.label


def negotiated_hashes(trace: Trace) -> dict[bytes, str]:
    """Initiator cookie -> the phase-1 hash of that exchange: from trace.secrets, else from the
    transform the responder chose in MM2 (in the clear on the wire)."""
    names = {}
    for sa in trace.secrets.get("ike_sas", ()):
        try:
            names[bytes.fromhex(sa["initiator_cookie"])] = sa["hash"]
        except (KeyError, ValueError):
            continue
    for j, header, chain in _ike_messages(trace, ("MM2",)):
        sa = chain.first(SA)
        if header.icookie in names or sa is None or not sa.proposals or not sa.proposals[0].transforms:
            continue
        choice = read_phase1(sa.proposals[0].transforms[0])
        if choice is not None:
            names[header.icookie] = choice.hash
    return names


def _ikev2_natd(ike: bytes) -> tuple[bytes, bytes, tuple[bytes, ...]] | None:
    """(SPIi, SPIr, (destination hash, source hashes...)) of an IKEv2 message with both NAT
    detection notifies (RFC 7296 §2.23), else None. DecodeError for malformed bytes."""
    from natt_core.wire.ikev2 import Notify, decode_message as decode_v2
    from natt_core.wire.ikev2_numbers import NotifyType
    msg = decode_v2(ike)
    of = lambda t: tuple(p.data for p in msg.payloads if isinstance(p, Notify) and p.notify_type == t)
    dest, sources = of(NotifyType.NAT_DETECTION_DESTINATION_IP), of(NotifyType.NAT_DETECTION_SOURCE_IP)
    if not dest or not sources:
        return None
    return msg.header.spi_i, msg.header.spi_r, dest[:1] + sources


def natd_cases(trace: Trace) -> list[NatdCase]:
    """Every delivered plaintext message of the trace that carries NAT-D payloads (MM3, MM4; the
    IKEv2 IKE_SA_INIT request and response)."""
    out = []
    hashes_of = negotiated_hashes(trace)
    for j in journeys(trace):
        if j.dropped:
            continue
        try:
            first, last = carried(j.first.packet), carried(j.last.packet)
            if first is None or last is None or last.kind != "ike":
                continue
            ike = last.data
            if len(ike) >= 28 and ike[17] >> 4 == 2:        # IKEv2: the notifies, SHA-1 over the SPIs
                found = _ikev2_natd(ike)
                if found is not None:
                    out.append(NatdCase(j, "sha1", found[0], found[1], first.src, first.dst, last.src, last.dst,
                                        found[2]))
                continue
            if len(ike) < 28 or ike[19] & 1:
                continue
            header, chain = decode_message(ike)
        except DecodeError:
            continue
        hashes = tuple(p.hash for p in chain.all(NatD))
        if len(hashes) < 2:
            continue
        name = hashes_of.get(header.icookie)
        if name is None:             # no record of the negotiation: nothing to recompute with
            continue
        out.append(NatdCase(j, name, header.icookie, header.rcookie, first.src, first.dst, last.src, last.dst, hashes))
    return out


def natd_check(case: NatdCase, seen_src: tuple[str, int], seen_dst: tuple[str, int]) -> NatdVerdict:
    """The receiver's verdict for these arrival addresses (ConfigError for an invalid address/port)."""
    return evaluate_natd(case.hash_name, case.icookie, case.rcookie, case.received,
                         local=seen_dst, remote_seen=seen_src)


def translation_sentence(case: NatdCase) -> str:
    """Answers 'was only the address changed, or the port too?' by comparing both views."""
    parts = []
    for what, sent, seen in (("source", case.sent_src, case.seen_src), ("destination", case.sent_dst, case.seen_dst)):
        ip_changed, port_changed = sent[0] != seen[0], sent[1] != seen[1]
        if ip_changed and port_changed:
            parts.append(f"the {what} address **and** port were changed "
                         f"({sent[0]}:{sent[1]} → {seen[0]}:{seen[1]})")
        elif ip_changed:
            parts.append(f"only the {what} address was changed ({sent[0]} → {seen[0]}, port {sent[1]} kept)")
        elif port_changed:
            parts.append(f"only the {what} port was changed ({sent[1]} → {seen[1]})")
    if not parts:
        return "Nothing was changed: the packet arrived with the addresses and ports it was sent with."
    return "On the way, " + "; ".join(parts) + "."


def verdict_sentences(case: NatdCase, v: NatdVerdict) -> list[str]:
    """The 2×2 verdict in plain words, from the receiver's point of view."""
    j = case.journey
    return [
        (f"Destination hash {'differs' if v.self_behind_nat else 'matches'} → "
         + (f"**{j.receiver} is behind a NAT** (it was addressed differently from how it sees itself)"
            if v.self_behind_nat else f"{j.receiver} is not behind a NAT")),
        (f"Source hash {'differs' if v.peer_behind_nat else 'matches'} → "
         + (f"**{j.sender} is behind a NAT** (its packet arrived from an address it did not hash)"
            if v.peer_behind_nat else f"{j.sender} is not behind a NAT")),
    ]


# --- the port-4500 demultiplexer ----------------------------------------------------------------

MEANING = {Kind.KEEPALIVE: "NAT-keepalive: one 0xFF byte, ignored by the receiver",
           Kind.IKE: "non-ESP marker 00 00 00 00: an IKE message follows",
           Kind.ESP: "anything else: these 4 bytes are the ESP SPI"}


def demux_rows(trace: Trace) -> list[dict]:
    """Every datagram that arrived on UDP 4500, classified exactly as a receiver does."""
    rows = []
    for j in journeys(trace):
        try:
            ends = _endpoints(j.last.packet)
            if ends is None or Port.NAT_T not in (ends[0][1], ends[1][1]):
                continue
            kind, _ = classify_4500(ends[2])
        except DecodeError as e:
            rows.append({"step": j.index, "packet": j.label, "from": j.sender, "first bytes": "",
                         "verdict": f"not valid on port 4500: {e.reason}"})
            continue
        head = ends[2][:4]
        rows.append({"step": j.index, "packet": j.label, "from": j.sender,
                     "UDP payload bytes": len(ends[2]), "first bytes": " ".join(f"{b:02x}" for b in head),
                     "verdict": kind.value, "why": MEANING[kind]})
    return rows


def keepalive_senders(trace: Trace) -> dict[str, int]:
    """Keepalives counted per sending peer, from the packets themselves."""
    counts: dict[str, int] = {}
    for row in demux_rows(trace):
        if row.get("verdict") == Kind.KEEPALIVE.value:
            counts[row["from"]] = counts.get(row["from"], 0) + 1
    return counts


# --- Vendor IDs ---------------------------------------------------------------------------------

def vid_rows(trace: Trace) -> list[dict]:
    """Every NAT-T version: its string, the MD5 recomputed here, and who announced it in MM1/MM2."""
    from natt_core.ike.nat_t import NattVersion, vendor_id, version_of_vid
    from natt_core.wire.isakmp import VendorID
    announced: dict[str, set[str]] = {}
    for j, _, chain in _ike_messages(trace, ("MM1", "MM2")):
        for p in chain.all(VendorID):
            version = version_of_vid(p.data)
            if version is not None:
                announced.setdefault(version.value, set()).add(j.sender)
    rows = []
    for v in NattVersion:
        rows.append({"version": v.value, "string hashed": repr(v.vid_text.decode()),
                     "MD5 = Vendor ID": vendor_id(v.vid_text).hex(),
                     "announced by": ", ".join(sorted(announced.get(v.value, ()))) or "—",
                     "NAT-D / NAT-OA payload": f"{int(v.natd_type)} / {int(v.natoa_type)}",
                     "UDP tunnel / transport": f"{int(v.encapsulation(True))} / {int(v.encapsulation(False))}"})
    return rows


def chosen_version(trace: Trace) -> dict[str, str | None]:
    """The NAT-T version each peer settled on, from the VendorIdsSeen events."""
    return {e.peer: e.fields.get("nat_t") for e in trace.events if e.event == "VendorIdsSeen"}


_HASHLIB = {"md5": "md5", "sha1": "sha1", "sha256": "sha256"}


def verify_snippet(case: NatdCase) -> str:
    """A self-contained Python 3 script (hashlib only) that recomputes the NAT-D hashes of `case`
    from the addresses on both sides of the NAT: "verify it yourself", as RFC 3947 §3.2 defines it."""
    (sip, sport), (dip, dport) = case.sent_src, case.sent_dst
    (aip, aport), (bip, bport) = case.seen_src, case.seen_dst
    received = ", ".join(f'"{h.hex()}"' for h in case.received)
    return f'''python3 - <<'EOF'
import hashlib, ipaddress
cky_i, cky_r = bytes.fromhex("{case.icookie.hex()}"), bytes.fromhex("{case.rcookie.hex()}")
def natd(ip, port):  # RFC 3947 §3.2: HASH(CKY-I | CKY-R | IP | Port), the phase-1 hash ({case.hash_name})
    return hashlib.{_HASHLIB[case.hash_name]}(cky_i + cky_r + ipaddress.IPv4Address(ip).packed
                          + port.to_bytes(2, "big")).hexdigest()
received = [{received}]   # the NAT-D payloads of {case.label}, in order
for what, ip, port, h in [("destination as sent", "{dip}", {dport}, received[0]),
                          ("destination as received", "{bip}", {bport}, received[0]),
                          ("source as sent", "{sip}", {sport}, received[1]),
                          ("source as received", "{aip}", {aport}, received[1])]:
    print(f"{{what:24}} {{ip + ':' + str(port):22}} {{natd(ip, port)}}  {{'matches' if natd(ip, port) == h else 'DIFFERS'}}")
EOF'''
