"""Diagnosing a capture someone brings: what happened on the wire, and where NAT-T went wrong.

    d = diagnose(open("vpn.pcapng", "rb").read())
    d.headline, d.findings          # the first problem in words, then every finding in order

Works without keys on any libpcap/pcapng capture (the lab's own, a strongSwan live run, tcpdump or
Wireshark at home): the NAT-T evidence — Vendor IDs, NAT-D hashes, ports, ESP SPIs, keepalives —
is all in the clear. A broken file raises `DecodeError` and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..capture_read import Capture, read_capture
from .findings import INFO, PROBLEM, WARNING, Finding, NatVerdict, diagnose_dataplane, diagnose_exchange, nat_verdict
from .observe import Observations, observe


@dataclass(frozen=True)
class ExchangeReport:
    cookies: str
    initiator: str
    responder: str
    nat: NatVerdict
    messages: tuple[tuple[int, float, str, str, str, bool], ...]   #: (packet, time, label, src, dst, retransmission)
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Diagnosis:
    capture: Capture
    observations: Observations
    exchanges: tuple[ExchangeReport, ...]
    dataplane: tuple[Finding, ...]

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
        if not self.exchanges and not self.observations.esp:
            return Finding(PROBLEM, "No IKE or ESP in this capture",
                           f"{len(self.capture.packets)} IPv4 packets, none on UDP 500/4500 and no ESP/AH. Capture "
                           "on the VPN client's or server's interface while connecting.")
        return Finding("ok", "No problem found", "Every step that the capture shows worked.")


def diagnose(data: bytes) -> Diagnosis:
    capture = read_capture(data)
    obs = observe(capture)
    reports = []
    for ex in obs.exchanges.values():
        verdict = nat_verdict(ex)
        reports.append(ExchangeReport(
            f"{ex.icookie.hex()}:{ex.rcookie.hex()}", str(ex.initiator), str(ex.responder), verdict,
            tuple((m.index, m.time, m.label, str(m.src), str(m.dst), m.retransmission) for m in ex.messages),
            tuple(diagnose_exchange(ex, obs))))
    nat = any(r.nat.initiator_behind_nat or r.nat.responder_behind_nat for r in reports)
    dataplane = diagnose_dataplane(obs, nat)
    if obs.undecodable:
        n, why = obs.undecodable[0]
        dataplane.append(Finding(INFO, f"{len(obs.undecodable)} packet(s) could not be read",
                                 f"The first, packet {n}: {why}", tuple(i for i, _ in obs.undecodable[:5])))
    return Diagnosis(capture, obs, tuple(reports), tuple(dataplane))
