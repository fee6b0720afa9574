"""Diagnosing a capture someone brings: what happened on the wire, and where NAT-T went wrong.

    d = diagnose(open("vpn.pcapng", "rb").read())
    d.headline, d.findings          # the first problem in words, then every finding in order

Works without keys on any libpcap/pcapng capture (the lab's own, a strongSwan live run, tcpdump or
Wireshark at home), IPv4 or IPv6, IKEv1 (any NAT-T draft, Main or Aggressive Mode) or IKEv2: the
NAT-T evidence — Vendor IDs, NAT-D hashes, ports, ESP SPIs, keepalives — is all in the clear. A
file that is no capture raises `DecodeError` and nothing else; a damaged one is read as far as it
goes, and the diagnosis says what was skipped. A pcapng holding several capture points (the lab's
all-segments download) is diagnosed one capture point at a time: the first, or the one asked for.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..capture_read import Capture, read_capture
from ..reasons import Reason
from .findings import INFO, PROBLEM, WARNING, Finding, NatVerdict, diagnose_dataplane, diagnose_exchange, nat_verdict
from .observe import Observations, observe


@dataclass(frozen=True)
class ExchangeReport:
    cookies: str
    initiator: str
    responder: str
    nat: NatVerdict
    messages: tuple[tuple[int, float, str, str, str, bool], ...]   #: (frame, time, label, src, dst, retransmission)
    findings: tuple[Finding, ...]
    version: int = 1


@dataclass(frozen=True)
class Diagnosis:
    capture: Capture
    observations: Observations
    exchanges: tuple[ExchangeReport, ...]
    dataplane: tuple[Finding, ...]
    interface: str | None = None         #: the capture point diagnosed, when the file holds several

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for e in self.exchanges for f in e.findings) + self.dataplane

    @property
    def headline(self) -> Finding:
        """The first problem (it usually explains the rest), else the first warning, else all is well."""
        for severity in (PROBLEM, WARNING):
            found = next((f for f in self.findings if f.severity == severity), None)
            if found:
                return found
        obs = self.observations
        if not self.exchanges and not obs.esp and not obs.ah:
            skipped = f", {self.capture.skipped} other frame(s) skipped" if self.capture.skipped else ""
            if obs.undecodable:
                skipped += f", {len(obs.undecodable)} packet(s) unreadable (first: frame {obs.undecodable[0][0]})"
            return Finding(PROBLEM, "No IKE or ESP in this capture",
                           f"{obs.packets} IP packets ({obs.ipv6} IPv6){skipped}; no readable IKE (UDP 500/4500), "
                           "ESP or AH. Capture on the VPN client's or server's interface while connecting.",
                           (), Reason.NO_IPSEC_TRAFFIC)
        return Finding("ok", "No problem found", "Every step that the capture shows worked.", (), Reason.ALL_WELL)


def _shown(m) -> str:
    """A message's label, saying when it was joined from IKEv1 fragments."""
    if not m.fragment_frames:
        return m.label
    f = m.fragment_frames
    return f"{m.label} ({len(f)} IKE fragments: #{f[0]}–{f[-1]})"


def diagnose(data: bytes, interface: str | None = None) -> Diagnosis:
    """Read, observe, judge: O(packets) all the way."""
    capture = read_capture(data)
    points = capture.interfaces
    if interface is None and len(points) > 1:
        interface = points[0]
    obs = observe(capture, interface)
    reports = []
    for ex in obs.exchanges.values():
        verdict = nat_verdict(ex)
        reports.append(ExchangeReport(
            f"{ex.icookie.hex()}:{ex.rcookie.hex()}", str(ex.initiator), str(ex.responder), verdict,
            tuple((m.index, m.time, _shown(m), str(m.src), str(m.dst), m.retransmission) for m in ex.messages),
            tuple(diagnose_exchange(ex, obs)), ex.version))
    nat = any(r.nat.initiator_behind_nat or r.nat.responder_behind_nat for r in reports)
    dataplane = diagnose_dataplane(obs, nat)
    if obs.undecodable:
        n, why = obs.undecodable[0]
        dataplane.append(Finding(INFO, f"{len(obs.undecodable)} packet(s) could not be read",
                                 f"The first, frame {n}: {why}", tuple(i for i, _ in obs.undecodable[:5]),
                                 Reason.UNREADABLE_PACKETS))
    if capture.notes:
        dataplane.append(Finding(INFO, "Part of the file was not read", "; ".join(capture.notes) + ".", (),
                                 Reason.CAPTURE_DAMAGED))
    if interface is not None and len(points) > 1:
        dataplane.append(Finding(INFO, f"{len(points)} capture points in this file",
                                 f"This diagnosis reads capture point '{interface}'; the file also holds "
                                 f"{', '.join(repr(p) for p in points if p != interface)}. Diagnose each on its own, "
                                 "or compare two of them to see what a NAT between them did.", (),
                                 Reason.SEVERAL_CAPTURE_POINTS))
    return Diagnosis(capture, obs, tuple(reports), tuple(dataplane), interface if len(points) > 1 else None)
