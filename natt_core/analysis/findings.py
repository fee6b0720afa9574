"""From observations to a diagnosis: what went right, and the first thing that went wrong.

Each finding names the packets that show it (Wireshark's numbering) and the RFC rule or device
behaviour behind it. The checks follow an exchange in order — does the responder answer, do the
proposals meet, do both speak NAT-T, who is behind a NAT (from the public NAT-D hashes), does the
initiator float to 4500 and get an answer there, does ESP flow both ways and in what form, who
keeps the NAT mapping alive — because the first failure explains the rest.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from ..ike.main_mode import AUTH_NOTIFIES
from .observe import Exchange, Observations

OK, INFO, WARNING, PROBLEM = "ok", "info", "warning", "problem"
TYPICAL_NAT_UDP_TIMEOUT = 30.0   #: seconds; RFC 4787 REQ-5 asks for >= 120 s, many home routers use 30-60


@dataclass(frozen=True)
class Finding:
    severity: str          #: ok / info / warning / problem
    title: str
    detail: str
    packets: tuple[int, ...] = ()


@dataclass(frozen=True)
class NatVerdict:
    initiator_behind_nat: bool | None     #: None: no NAT-D to judge by
    responder_behind_nat: bool | None
    where: str                            #: where this capture point sits, in words


def nat_verdict(ex: Exchange) -> NatVerdict:
    """Who is behind a NAT, from MM3's and MM4's hashes against this segment's addresses.

    MM3 (initiator -> responder): its own-address hash fails here if the initiator's address was
    rewritten before this point; its destination hash fails if the responder's was. MM4 mirrors it.
    """
    by = {c.message: c for c in ex.natd}
    if not by:
        return NatVerdict(None, None, "no NAT-D payloads: NAT discovery did not happen")
    mm3, mm4 = by.get("MM3"), by.get("MM4")
    # a sender's own address already rewritten here: this point is outside the sender's NAT;
    # the address the sender aimed at already rewritten here: this point is inside the receiver's NAT
    i_outside = bool(mm3 and not mm3.src_matches)
    i_inside = bool(mm4 and not mm4.dst_matches)
    r_outside = bool(mm4 and not mm4.src_matches)
    r_inside = bool(mm3 and not mm3.dst_matches)
    where = []
    if i_inside or i_outside:
        where.append(f"{'inside' if i_inside else 'outside'} the initiator's NAT")
    if r_inside or r_outside:
        where.append(f"{'inside' if r_inside else 'outside'} the responder's NAT")
    return NatVerdict(i_outside or i_inside, r_outside or r_inside,
                      " and ".join(where) or "on a path without NAT (every hash matches these addresses)")


def diagnose_exchange(ex: Exchange, obs: Observations) -> list[Finding]:
    f: list[Finding] = []
    mm = {label: ex.of(label) for label in ("MM1", "MM2", "MM3", "MM4", "MM5", "MM6", "QM1", "QM2", "QM3")}
    infos = [m for m in ex.messages if m.label == "INFO"]
    ids = lambda ms: tuple(m.index for m in ms)                                  # noqa: E731
    who = f"{ex.initiator} → {ex.responder}"
    if not mm["MM1"]:
        f.append(Finding(INFO, "The capture starts after Main Mode began",
                         f"No MM1 for cookie {ex.icookie.hex()}; the story below starts mid-way.", ids(ex.messages[:1])))
    elif not mm["MM2"]:
        refused = [n for m in infos for n in m.notifications]
        if refused:
            f.append(Finding(PROBLEM, f"The responder refused MM1: {', '.join(refused)}",
                             "No phase-1 proposal was acceptable. The initiator offered: "
                             f"{'; '.join(ex.offered) or 'nothing readable'}. Compare with the responder's "
                             "proposals (DH group, cipher, hash, authentication method).", ids(mm['MM1'] + infos)))
        else:
            f.append(Finding(PROBLEM, f"The responder never answered MM1 ({len(mm['MM1'])} sent)",
                             f"{who}: nothing came back on UDP 500. A firewall drops UDP 500, the address is "
                             "wrong, or no IKE service listens there. Capture on the other side to tell which.",
                             ids(mm["MM1"])))
        return f
    f.append(Finding(OK, "Phase-1 proposal accepted",
                     f"The responder chose {ex.chosen or 'a transform'} out of {len(ex.offered)} offered.",
                     ids(mm["MM1"][:1] + mm["MM2"][:1])))
    f.append(_nat_t(ex, mm))
    verdict = nat_verdict(ex)
    if verdict.initiator_behind_nat is not None:
        f.append(_natd_finding(ex, verdict))
    nat = bool(verdict.initiator_behind_nat or verdict.responder_behind_nat)
    if mm["MM4"] and not mm["MM5"]:
        f.append(Finding(PROBLEM, "The initiator stopped after MM4",
                         "It received the responder's keys and NAT-D and sent nothing more. "
                         + ("The responder is behind a NAT: a Windows client does exactly this when "
                            "AssumeUDPEncapsulationContextOnSendRule is not set (error 809); set it to 2 and reboot."
                            if verdict.responder_behind_nat else
                            "Its own policy refused the SA after NAT discovery (look at the initiator's log)."),
                         ids(mm["MM4"])))
        return f
    if mm["MM5"]:
        f.extend(_float(ex, mm, nat, infos))
    if mm["MM6"]:
        f.append(Finding(OK, "Phase 1 established (MM6 answered MM5)",
                         "Both sides proved they hold the same pre-shared key.", ids(mm["MM6"][:1])))
    if mm["QM1"]:
        done = bool(mm["QM2"]) and bool(mm["QM3"])
        f.append(Finding(OK if done else PROBLEM, "Quick Mode " + ("completed" if done else "did not complete"),
                         "QM1, QM2 and QM3 were exchanged: an IPsec SA pair exists." if done else
                         "QM1 got no full answer: the phase-2 proposal (mode, encapsulation, ciphers or traffic "
                         "selectors) was probably refused.", ids(mm["QM1"][:1] + mm["QM2"][:1] + mm["QM3"][:1])))
    return f


def _nat_t(ex: Exchange, mm) -> Finding:
    packets = tuple(m.index for m in mm["MM1"][:1] + mm["MM2"][:1])
    if ex.nat_t:
        return Finding(OK, f"Both speak NAT-T: {ex.nat_t}",
                       f"Initiator announced {', '.join(ex.vids_initiator)}; the responder answered with "
                       f"{', '.join(ex.vids_responder)}.", packets)
    if any(v.startswith("NAT-T") for v in ex.vids_initiator):
        return Finding(WARNING, "The responder does not speak NAT-T",
                       f"The initiator announced {', '.join(v for v in ex.vids_initiator if v.startswith('NAT-T'))}, "
                       "the responder answered with no NAT-T Vendor ID: no NAT discovery, no UDP encapsulation. "
                       "Through a NAT the ESP packets will not arrive.", packets)
    return Finding(WARNING, "No NAT-T Vendor IDs at all",
                   "Neither side offers NAT traversal (a Windows 2000 peer without update 818043 looks like this). "
                   "Fine without NAT; through a NAT, ESP (IP protocol 50) has no ports to translate.", packets)


def _natd_finding(ex: Exchange, v: NatVerdict) -> Finding:
    parts = []
    for c in ex.natd:
        own = "matches" if c.src_matches else (
            f"matches with port {c.src_same_ip_other_port}: only the port was translated"
            if c.src_same_ip_other_port else "does not match: the sender's address or port was rewritten")
        dest = "matches" if c.dst_matches else "does not match: a NAT rewrote the destination on the way"
        parts.append(f"{c.message} {c.src} → {c.dst}: the sender's own hash {own}; its destination hash {dest}.")
    behind = [name for name, flag in (("the initiator", v.initiator_behind_nat),
                                      ("the responder", v.responder_behind_nat)) if flag]
    title = f"{' and '.join(behind).capitalize()} {'is' if len(behind) == 1 else 'are'} behind a NAT" if behind \
        else "No NAT between the peers"
    return Finding(INFO, title, f"This capture point is {v.where}. " + " ".join(parts)
                   + " (A peer may also fake its NAT-D to force UDP encapsulation, as strongSwan does with "
                     "forceencaps or kernel-libipsec.)",
                   tuple(m.index for m in ex.messages if m.label in ("MM3", "MM4") and not m.retransmission))


def _float(ex: Exchange, mm, nat: bool, infos) -> list[Finding]:
    f = []
    first = mm["MM5"][0]
    if first.on_4500:
        f.append(Finding(OK, "Floated to UDP 4500 at MM5",
                         f"MM5 went {first.src} → {first.dst} behind the non-ESP marker (RFC 3947 §4).", (first.index,)))
    elif nat:
        f.append(Finding(PROBLEM, "A NAT was found but MM5 stayed on UDP 500",
                         "RFC 3947 §4 requires the float to 4500 once NAT is detected.", (first.index,)))
    if not mm["MM6"]:
        complaints = [m for m in infos if m.index > first.index and not m.from_initiator]
        named = [n for m in complaints for n in m.notifications if n in AUTH_NOTIFIES]
        if named or any(m.encrypted for m in complaints):
            f.append(Finding(PROBLEM, "The pre-shared keys differ",
                             f"The responder answered MM5 with {', '.join(named) or 'an encrypted notification'}"
                             " instead of MM6: it could not decrypt or verify MM5 with the key it derived from its "
                             "own pre-shared key.", tuple(m.index for m in mm["MM5"] + complaints)))
        elif first.on_4500:
            f.append(Finding(PROBLEM, f"No answer on UDP 4500 ({len(mm['MM5'])} MM5 sent)",
                             "UDP 500 worked but nothing came back on 4500: a firewall blocks UDP 4500, or a server "
                             "behind NAT has 500 forwarded but not 4500.", tuple(m.index for m in mm["MM5"])))
        else:
            f.append(Finding(PROBLEM, f"No answer to MM5 ({len(mm['MM5'])} sent)",
                             "Nothing came back: the responder rejected MM5 silently (often a PSK mismatch).",
                             tuple(m.index for m in mm["MM5"])))
    return f


def diagnose_dataplane(obs: Observations, nat: bool) -> list[Finding]:
    f = []
    flows = list(obs.esp.values())
    plain = [x for x in flows if not x.encapsulated]
    if plain and nat:
        f.append(Finding(PROBLEM, "ESP as IP protocol 50 through a NAT",
                         "ESP has no ports: an N:1 NAT cannot tell whose it is (RFC 3715 §2.1). With NAT-T it "
                         "would be UDP-encapsulated on 4500.", tuple(x.indexes[0] for x in plain)))
    elif plain:
        f.append(Finding(INFO, "ESP travels as IP protocol 50",
                         "No NAT on the path, so no UDP encapsulation: a firewall between the peers must pass IP "
                         "protocol 50 as well as UDP 500 (and UDP 4500 for clients that are behind NAT).",
                         tuple(x.indexes[0] for x in plain)))
    for x in flows:
        back = [y for y in flows if y.src.ip == x.dst.ip and y.dst.ip == x.src.ip]
        form = "ESP-in-UDP" if x.encapsulated else "ESP (protocol 50)"
        if back:
            f.append(Finding(OK, f"{form} SPI 0x{x.spi:08x}: {len(x.times)} packet(s) {x.src} → {x.dst}",
                             "Traffic flows, and there is traffic the other way too.", (x.indexes[0],)))
        else:
            f.append(Finding(PROBLEM, f"One-way {form}: SPI 0x{x.spi:08x} {x.src} → {x.dst}, nothing back",
                             "The other side never answers: it does not receive these packets (no NAT-T through a "
                             "NAT, an expired mapping, a passthrough helper that sends them to another host) or "
                             "drops them (an inner checksum or ICV that a NAT broke).", (x.indexes[0],)))
    ah_pairs = {(str(s.ip), str(d.ip)) for _, s, d in obs.ah}
    if obs.ah:
        one_way = [p for p in ah_pairs if (p[1], p[0]) not in ah_pairs]
        f.append(Finding(PROBLEM if nat or one_way else INFO, "AH packets" + (", answered by none" if one_way else ""),
                         "AH's ICV covers the IP addresses, so a NAT that rewrites them breaks every packet "
                         "(RFC 3715 §2.1), and NAT-T cannot help AH: use ESP.", tuple(n for n, _, _ in obs.ah[:3])))
    if obs.fragments:
        flows = sorted({f"{s} → {d}" for _, s, d, _ in obs.fragments})
        f.append(Finding(WARNING, f"{len(obs.fragments)} IP fragment(s)",
                         f"Packets too big for the path were fragmented ({', '.join(flows)}). Many NATs and "
                         "firewalls drop fragments, and a NAT cannot translate the ports of a non-first "
                         "fragment; IKE with certificates is the usual cause (RFC 7383 adds IKE fragmentation "
                         "for IKEv2), a large ESP packet the other.", tuple(n for n, _, _, _ in obs.fragments[:6])))
    f.extend(_keepalives(obs))
    return f


def _keepalives(obs: Observations) -> list[Finding]:
    if not obs.keepalives:
        return []
    senders = sorted({src.ip for _, _, src, _ in obs.keepalives})
    ports = sorted({src.port for _, _, src, _ in obs.keepalives})
    times = [t for _, t, _, _ in obs.keepalives]
    gaps = [b - a for a, b in zip(times, times[1:])]
    every = f", about every {statistics.median(gaps):.0f} s" if gaps else ""
    f = [Finding(INFO, f"{len(times)} NAT keepalive(s) from {', '.join(senders)}{every}",
                 "One 0xFF byte on UDP 4500 (RFC 3948 §2.3), sent by the side behind the NAT to keep its "
                 "mapping alive.", tuple(n for n, _, _, _ in obs.keepalives[:3]))]
    if len(ports) > len(senders):
        f.append(Finding(PROBLEM, f"The keepalives left from {len(ports)} different source ports",
                         "This capture is outside the NAT, and the NAT gave the same inside host a new port again "
                         "and again: its mapping expired between packets. The far side keeps sending to the old "
                         "port, so its traffic dies. Send keepalives more often than the NAT's UDP timeout.",
                         tuple(n for n, _, _, _ in obs.keepalives[:5])))
    if gaps and max(gaps) > TYPICAL_NAT_UDP_TIMEOUT:
        f.append(Finding(WARNING, f"{max(gaps):.0f} s between keepalives",
                         f"Many NATs forget an idle UDP mapping after {TYPICAL_NAT_UDP_TIMEOUT:.0f}-60 s; with a "
                         "longer interval traffic from the far side finds no mapping. 20 s is the usual default.",
                         ()))
    return f
