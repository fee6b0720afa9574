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

from ..ike import main_mode
from ..reasons import Reason
from . import dialects

OK, INFO, WARNING, PROBLEM = "ok", "info", "warning", "problem"
MANY_FLOWS = 10                  #: more healthy ESP flows than this are summed up in one finding
TYPICAL_NAT_UDP_TIMEOUT = 30.0   #: seconds; RFC 4787 REQ-5 asks for >= 120 s, many home routers use 30-60
AUTH_NOTIFIES = main_mode.AUTH_NOTIFIES


@dataclass(frozen=True)
class Finding:
    severity: str          #: ok / info / warning / problem
    title: str
    detail: str
    packets: tuple[int, ...] = ()     #: Wireshark frame numbers
    reason: Reason | None = None      #: the machine-readable half (natt_core.reasons)


@dataclass(frozen=True)
class NatVerdict:
    initiator_behind_nat: bool | None     #: None: no NAT-D to judge by
    responder_behind_nat: bool | None
    where: str                            #: where this capture point sits, in words


def nat_verdict(ex) -> NatVerdict:
    """Who is behind a NAT, from the NAT-D hashes each side sent against this segment's addresses.

    The initiator's message (MM3, AM3, IKE_SA_INIT request): its own-address hash fails here if the
    initiator's address was rewritten before this point; its destination hash fails if the
    responder's was. The responder's (MM4, AM2, IKE_SA_INIT response) mirrors it. With only one
    side's hashes, only what they can tell is claimed.
    """
    if not ex.natd:
        return NatVerdict(None, None, "not known: no NAT discovery payloads in this capture")
    mine = next((c for c in ex.natd if c.from_initiator), None)
    theirs = next((c for c in ex.natd if not c.from_initiator), None)
    i_outside = bool(mine and not mine.src_matches)
    i_inside = bool(theirs and not theirs.dst_matches)
    r_outside = bool(theirs and not theirs.src_matches)
    r_inside = bool(mine and not mine.dst_matches)
    if i_outside and i_inside and r_outside and r_inside:
        return NatVerdict(None, None, "not judged: no NAT-D hash matches any address of this capture (addresses "
                          "rewritten after capture, e.g. anonymised, or every hash faked)")
    where = []
    if i_inside or i_outside:
        where.append(f"{'inside' if i_inside else 'outside'} the initiator's NAT")
    if r_inside or r_outside:
        where.append(f"{'inside' if r_inside else 'outside'} the responder's NAT")
    judged_i = i_inside or i_outside or (mine is not None and theirs is not None)
    judged_r = r_inside or r_outside or (mine is not None and theirs is not None)
    if not where and theirs is not None and mine is None and _floated_at_am3(ex):
        return NatVerdict(True, False, "outside the initiator's NAT: AM2's hashes match here, yet the initiator "
                          "moved to UDP 4500 for AM3, so they showed it a NAT between it and this point (its own "
                          "NAT-D travel encrypted in AM3, RFC 3947 §4)")
    if not where and not (mine and theirs):
        return NatVerdict(None if not judged_i else False, None if not judged_r else False,
                          "not known: only one side's NAT-D hashes are in this capture, and they match")
    return NatVerdict(i_outside or i_inside if judged_i else None, r_outside or r_inside if judged_r else None,
                      " and ".join(where) or "on a path without NAT (every hash matches these addresses)")


def _floated_at_am3(ex) -> bool:
    """Aggressive Mode whose AM3 went to UDP 4500: the initiator found a NAT in AM2's NAT-D."""
    am3 = ex.of("AM3") if ex.aggressive else []
    return bool(am3) and am3[0].on_4500


def diagnose_exchange(ex, obs) -> list[Finding]:
    if ex.version == 2:
        from .ikev2_findings import diagnose_v2
        return diagnose_v2(ex, obs, nat_verdict(ex), _natd_finding)
    f: list[Finding] = []
    aggressive = ex.aggressive
    p1 = ("AM1", "AM2", "AM3") if aggressive else ("MM1", "MM2", "MM3", "MM4", "MM5", "MM6")
    mm = {label: ex.of(label) for label in p1 + ("QM1", "QM2", "QM3")}
    first, second = mm[p1[0]], mm[p1[1]]
    infos = ex.of("INFO") + ex.of("MM notify")
    ids = lambda ms: tuple(m.index for m in ms)                                  # noqa: E731
    who = f"{ex.initiator} → {ex.responder}"
    if ex.authip:
        f.append(Finding(INFO, "Microsoft AuthIP", "Windows' Authenticated IP (MS-AIPS) rather than IKE: "
                         "Main/Quick/Extended Mode exchanges with Kerberos or certificates, seen by their exchange "
                         "types (243–246) or the MS-MamieExists / IKE CGA Vendor IDs.", ids(ex.messages[:1]), Reason.AUTHIP))
    if aggressive:
        f.append(Finding(INFO, "Aggressive Mode", "Three messages instead of six; the identities travel in the "
                         "clear, and with a pre-shared key AM2's hash can be attacked offline (RFC 2409 §5.4).",
                         ids(first[:1] + second[:1]), Reason.AGGRESSIVE_MODE))
    joined = [m for m in ex.messages if m.fragment_frames]
    if joined:
        parts = "; ".join(f"{m.label}: {len(m.fragment_frames)}" for m in joined)
        f.append(Finding(INFO, f"IKE fragments (IKEv1): {len(joined)} message(s) split by IKE itself",
                         "Fragment payloads (132, the FRAGMENTATION Vendor ID's scheme of strongSwan, Windows and "
                         "Cisco) carry slices of a message too big for one datagram, so no IP fragment has to cross "
                         f"a NAT; each was joined here and read as a whole ({parts} fragments).",
                         tuple(n for m in joined[:3] for n in m.fragment_frames), Reason.IKEV1_FRAGMENTS))
    if not first:
        f.append(Finding(INFO, "The capture starts after the exchange began",
                         f"No {p1[0]} for cookie {ex.icookie.hex()} (the first message here is {ex.messages[0].label}): "
                         "the story starts mid-way, so what was offered and chosen cannot be told here.",
                         ids(ex.messages[:1]), Reason.MID_EXCHANGE))
    elif not second:
        refused = [n for m in infos for n in m.notifications]
        if refused:
            f.append(Finding(PROBLEM, f"The responder refused {p1[0]}: {', '.join(refused)}",
                             "No phase-1 proposal was acceptable. The initiator offered: "
                             f"{'; '.join(ex.offered) or 'nothing readable'}. Compare with the responder's "
                             "proposals (DH group, cipher, hash, authentication method).", ids(first + infos),
                             Reason.NO_PROPOSAL))
        else:
            f.append(Finding(PROBLEM, f"The responder never answered {p1[0]} ({len(first)} sent)",
                             f"{who}: nothing came back on UDP {first[0].dst.port}. A firewall drops it, the address "
                             "is wrong, or no IKE service listens there. Capture on the other side to tell which.",
                             ids(first), Reason.NO_ANSWER))
        return f
    if first and second:
        f.append(Finding(OK, "Phase-1 proposal accepted",
                         f"The responder chose {ex.chosen or 'a transform'}"
                         + (f" out of {len(ex.offered)} offered." if ex.offered else "."),
                         ids(first[:1] + second[:1]), Reason.PROPOSAL_ACCEPTED))
        f.append(_nat_t(ex, first + second))
    verdict = nat_verdict(ex)
    if ex.natd:
        f.append(_natd_finding(ex, verdict))
    nat = bool(verdict.initiator_behind_nat or verdict.responder_behind_nat)
    if aggressive:
        _aggressive_rest(f, ex, mm, nat, infos)
    else:
        if mm["MM4"] and not mm["MM5"]:
            f.append(Finding(PROBLEM, "The initiator stopped after MM4",
                             "It received the responder's keys and NAT-D and sent nothing more. "
                             + ("The responder is behind a NAT: a Windows client does exactly this when "
                                "AssumeUDPEncapsulationContextOnSendRule is not set (error 809); set it to 2 and reboot."
                                if verdict.responder_behind_nat else
                                "Its own policy refused the SA after NAT discovery (look at the initiator's log)."),
                             ids(mm["MM4"]), Reason.NATD_MISMATCH_REFUSED_BY_RULE if verdict.responder_behind_nat
                             else Reason.INITIATOR_GAVE_UP))
            return f
        if mm["MM5"]:
            f.extend(_float(ex, mm, nat, infos))
        if mm["MM6"]:
            f.append(Finding(OK, "Phase 1 established (MM6 answered MM5)", dialects.proof_of(ex.auth) + ".",
                             ids(mm["MM6"][:1]), Reason.PHASE1_UP))
    if mm["QM1"]:
        done = bool(mm["QM2"]) and bool(mm["QM3"])
        f.append(Finding(OK if done else PROBLEM, "Quick Mode " + ("completed" if done else "did not complete"),
                         "QM1, QM2 and QM3 were exchanged: an IPsec SA pair exists." if done else
                         "QM1 got no full answer: the phase-2 proposal (mode, encapsulation, ciphers or traffic "
                         "selectors) was probably refused.", ids(mm["QM1"][:1] + mm["QM2"][:1] + mm["QM3"][:1]),
                         Reason.QUICK_MODE_DONE if done else Reason.QUICK_MODE_INCOMPLETE))
    elif mm["QM2"] or mm["QM3"]:
        f.append(Finding(INFO, "Quick Mode seen from its middle", "The capture starts after QM1 of this Message ID.",
                         ids((mm["QM2"] + mm["QM3"])[:1]), Reason.MID_EXCHANGE))
    return f


def _aggressive_rest(f: list, ex, mm, nat: bool, infos) -> None:
    ids = lambda ms: tuple(m.index for m in ms)                                  # noqa: E731
    if mm["AM3"]:
        if mm["AM3"][0].on_4500:
            f.append(Finding(OK, "The initiator moved to UDP 4500 for AM3",
                             "AM2's NAT-D showed it a NAT, so AM3 and everything after it travel on UDP 4500 behind "
                             "the non-ESP marker (RFC 3947 §4); AM3 itself, with the initiator's NAT-D, is encrypted.",
                             ids(mm["AM3"][:1]), Reason.FLOATED))
        f.append(Finding(OK, "Phase 1 established (AM3 answered AM2)", dialects.proof_of(ex.auth) + ".",
                         ids(mm["AM3"][:1]), Reason.PHASE1_UP))
        if nat and not mm["AM3"][0].on_4500 and ex.natt and ex.natt.floats:
            f.append(Finding(WARNING, "A NAT was found but AM3 stayed on UDP 500",
                             "RFC 3947 §4 moves to 4500 with AM3 (or right after it).", ids(mm["AM3"][:1]), Reason.NO_FLOAT))
    else:
        complaints = [n for m in infos for n in m.notifications if n in AUTH_NOTIFIES]
        title, cause = dialects.auth_failure_words(ex.auth)
        if complaints:
            f.append(Finding(PROBLEM, title, f"The initiator answered AM2 with {', '.join(complaints)}: {cause}.",
                             ids(mm["AM2"][:1] + infos), Reason.AUTH_FAILED))
        else:
            f.append(Finding(PROBLEM, "The initiator never sent AM3",
                             "It received AM2 and sent nothing more: it did not accept the responder's proof or "
                             "proposal (look at the initiator's log).", ids(mm["AM2"][:1]), Reason.INITIATOR_GAVE_UP))


def _nat_t(ex, packets) -> Finding:
    ids = tuple(m.index for m in packets[:2])
    nat_vids = [v for v in ex.vids_initiator if v.startswith("NAT-T")]
    if ex.natt:
        d = ex.natt
        draft = d.name != "RFC 3947"
        extra = ""
        if draft:
            extra = (f" This is a pre-RFC draft: NAT-D is payload {d.natd_type}" if d.natd_type else
                     " This early draft defines no NAT-D payload") + \
                (", and the peers move to UDP 4500 once a NAT is seen." if d.floats else
                 "; it has no move to UDP 4500 (no float): IKE stays on 500.")
        return Finding(OK, f"Both speak NAT-T: {d.name}",
                       f"Initiator announced {', '.join(ex.vids_initiator) or 'nothing'}; the responder answered "
                       f"with {', '.join(ex.vids_responder)}.{extra}", ids,
                       Reason.NATT_DRAFT_VID if draft else Reason.NATT_AGREED)
    if ex.natd_types:      # NAT-D flowed although no NAT-T Vendor ID was seen from the responder
        return Finding(OK, "Both speak NAT-T (NAT-D payloads exchanged)",
                       f"The responder sent no NAT-T Vendor ID the initiator could recognise, but NAT-D payloads "
                       f"(type {', '.join(map(str, sorted(ex.natd_types)))}) were exchanged.", ids, Reason.NATT_AGREED)
    if nat_vids:
        return Finding(WARNING, "The responder does not speak NAT-T",
                       f"The initiator announced {', '.join(nat_vids)}, "
                       "the responder answered with no NAT-T Vendor ID: no NAT discovery, no UDP encapsulation. "
                       "Through a NAT the ESP packets will not arrive.", ids, Reason.NATT_NOT_ANSWERED)
    return Finding(WARNING, "No NAT-T Vendor IDs at all",
                   "Neither side offers NAT traversal (a Windows 2000 peer without update 818043 looks like this). "
                   "Fine without NAT; through a NAT, ESP (IP protocol 50) has no ports to translate.", ids, Reason.NO_NATT)


def _natd_finding(ex, v: NatVerdict) -> Finding:
    parts = []
    for c in ex.natd:
        own = "matches" if c.src_matches else (
            f"matches with port {c.src_same_ip_other_port}: only the port was translated"
            if c.src_same_ip_other_port else "does not match: the sender's address or port was rewritten")
        dest = "matches" if c.dst_matches else "does not match: a NAT rewrote the destination on the way"
        parts.append(f"{c.message} {c.src} → {c.dst}: the sender's own hash {own}; its destination hash {dest}.")
    behind = [name for name, flag in (("the initiator", v.initiator_behind_nat),
                                      ("the responder", v.responder_behind_nat)) if flag]
    if behind:
        title, reason = f"{' and '.join(behind).capitalize()} {'is' if len(behind) == 1 else 'are'} behind a NAT", \
            Reason.NAT_DETECTED
    elif v.initiator_behind_nat is None or v.responder_behind_nat is None:
        title, reason = "NAT not judged from these NAT-D hashes", Reason.NO_NATD
    else:
        title, reason = "No NAT between the peers", Reason.NO_NAT
    return Finding(INFO, title, f"This capture point is {v.where}. " + " ".join(parts)
                   + " (A peer may also fake its NAT-D to force UDP encapsulation, as strongSwan does with "
                     "forceencaps or kernel-libipsec.)",
                   tuple(dict.fromkeys(m.index for m in ex.messages for c in ex.natd
                                       if m.label == c.message and not m.retransmission)), reason)


def _float(ex, mm, nat: bool, infos) -> list[Finding]:
    f = []
    first = mm["MM5"][0]
    floats = ex.natt.floats if ex.natt else True
    if first.on_4500:
        f.append(Finding(OK, "Floated to UDP 4500 at MM5",
                         f"MM5 went {first.src} → {first.dst} behind the non-ESP marker (RFC 3947 §4).", (first.index,),
                         Reason.FLOATED))
    elif nat and floats:
        f.append(Finding(PROBLEM, "A NAT was found but MM5 stayed on UDP 500",
                         "RFC 3947 §4 requires the float to 4500 once NAT is detected.", (first.index,), Reason.NO_FLOAT))
    if not mm["MM6"]:
        complaints = [m for m in infos if m.index > first.index and not m.from_initiator]
        named = [n for m in complaints for n in m.notifications if n in AUTH_NOTIFIES]
        title, cause = dialects.auth_failure_words(ex.auth)
        if named or any(m.encrypted for m in complaints):
            f.append(Finding(PROBLEM, title,
                             f"The responder answered MM5 with {', '.join(named) or 'an encrypted notification'}"
                             f" instead of MM6: {cause}.", tuple(m.index for m in mm["MM5"] + complaints),
                             Reason.AUTH_FAILED))
        elif first.on_4500:
            f.append(Finding(PROBLEM, f"No answer on UDP 4500 ({len(mm['MM5'])} MM5 sent)",
                             "UDP 500 worked but nothing came back on 4500: a firewall blocks UDP 4500, or a server "
                             "behind NAT has 500 forwarded but not 4500.", tuple(m.index for m in mm["MM5"]),
                             Reason.NO_ANSWER))
        else:
            f.append(Finding(PROBLEM, f"No answer to MM5 ({len(mm['MM5'])} sent)",
                             "Nothing came back: the responder rejected MM5 silently (often a "
                             + ("pre-shared key mismatch)." if ex.auth in (None, 1) else "certificate it did not accept)."),
                             tuple(m.index for m in mm["MM5"]), Reason.NO_ANSWER))
    return f


def diagnose_dataplane(obs, nat: bool) -> list[Finding]:
    f = []
    flows = list(obs.esp.values())
    plain = [x for x in flows if not x.encapsulated]
    if plain and nat:
        f.append(Finding(PROBLEM, "ESP as IP protocol 50 through a NAT",
                         "ESP has no ports: an N:1 NAT cannot tell whose it is (RFC 3715 §2.1). With NAT-T it "
                         "would be UDP-encapsulated on 4500.", tuple(x.indexes[0] for x in plain[:8]),
                         Reason.NAT_UNSUPPORTED_PROTOCOL))
    elif plain:
        f.append(Finding(INFO, "ESP travels as IP protocol 50",
                         "No NAT seen on the path, so no UDP encapsulation: a firewall between the peers must pass IP "
                         "protocol 50 as well as UDP 500 (and UDP 4500 for clients that are behind NAT).",
                         tuple(x.indexes[0] for x in plain[:8]), Reason.ESP_PROTOCOL_50))
    by_pair: dict[tuple[str, str], int] = {}
    for x in flows:
        by_pair[(x.src.ip, x.dst.ip)] = by_pair.get((x.src.ip, x.dst.ip), 0) + 1
    answered = [x for x in flows if (x.dst.ip, x.src.ip) in by_pair]
    if len(answered) > MANY_FLOWS:          # one line for the healthy majority; one-way flows stay listed
        f.append(Finding(OK, f"{len(answered)} ESP flows (SPIs) with traffic both ways",
                         f"{sum(len(x.times) for x in answered)} packets; the first: " + ", ".join(
                             f"0x{x.spi:08x} {x.src} → {x.dst}" for x in answered[:3]) + ".",
                         tuple(x.indexes[0] for x in answered[:8]), Reason.ESP_FLOWS))
    for x in flows:
        form = "ESP-in-UDP" if x.encapsulated else "ESP (protocol 50)"
        if (x.dst.ip, x.src.ip) in by_pair:
            if len(answered) > MANY_FLOWS:
                continue
            f.append(Finding(OK, f"{form} SPI 0x{x.spi:08x}: {len(x.times)} packet(s) {x.src} → {x.dst}",
                             "Traffic flows, and there is traffic the other way too.", (x.indexes[0],), Reason.ESP_FLOWS))
        else:
            f.append(Finding(PROBLEM, f"One-way {form}: SPI 0x{x.spi:08x} {x.src} → {x.dst}, nothing back",
                             "The other side never answers in this capture: it does not receive these packets (no NAT-T "
                             "through a NAT, an expired mapping, a passthrough helper that sends them to another host) "
                             "or drops them (an inner checksum or ICV that a NAT broke). A capture filtered to one "
                             "direction looks the same.", (x.indexes[0],), Reason.ESP_ONE_WAY))
    f.extend(_ah(obs, nat))
    if obs.fragments:
        pairs = sorted({f"{s} → {d}" for _, s, d, _ in obs.fragments})
        done = f" {obs.reassembled} datagram(s) were reassembled here and read." if obs.reassembled else ""
        f.append(Finding(WARNING, f"{len(obs.fragments)} IP fragment(s)",
                         f"Packets too big for the path were fragmented ({', '.join(pairs[:4])}). Many NATs and "
                         "firewalls drop fragments, and a NAT cannot translate the ports of a non-first "
                         "fragment; IKE with certificates is the usual cause (RFC 7383 adds IKE fragmentation "
                         f"for IKEv2), a large ESP packet the other.{done}", tuple(n for n, _, _, _ in obs.fragments[:6]),
                         Reason.IP_FRAGMENTS))
    f.extend(_keepalives(obs))
    return f


def _ah(obs, nat: bool) -> list[Finding]:
    if not obs.ah:
        return []
    pairs = {(s.ip, d.ip) for _, s, d in obs.ah}
    multicast = {(s, d) for s, d in pairs if d.startswith("ff") or d.split(".")[0].isdigit()
                 and 224 <= int(d.split(".")[0]) <= 239}
    one_way = sorted(p for p in pairs - multicast if (p[1], p[0]) not in pairs)
    packets = tuple(n for n, _, _ in obs.ah[:3])
    why = "AH's ICV covers the IP addresses, so a NAT that rewrites them breaks every packet (RFC 3715 §2.1), " \
          "and NAT-T cannot help AH: use ESP where a NAT may come between."
    if nat:
        return [Finding(PROBLEM, "AH packets through a NAT", why, packets, Reason.AH_AFTER_NAT)]
    if one_way:
        return [Finding(PROBLEM, f"AH one way: {one_way[0][0]} → {one_way[0][1]}, nothing back",
                        "The other side never answers in this capture. " + why, packets, Reason.AH_ONE_WAY)]
    return [Finding(OK, f"AH both ways: {len(obs.ah)} packet(s)",
                    "Authenticated traffic flows between " + ", ".join(f"{s} ↔ {d}" for s, d in sorted(pairs)[:3])
                    + ". Fine as it is; but " + why, packets, Reason.AH_BOTH_WAYS)]


def _keepalives(obs: Observations) -> list[Finding]:
    if not obs.keepalives:
        return []
    senders = sorted({src.ip for _, _, src, _ in obs.keepalives})
    ports = sorted({src.port for _, _, src, _ in obs.keepalives})
    times = [t for _, t, _, _ in obs.keepalives]
    gaps = [b - a for a, b in zip(times, times[1:])]
    every = f", about every {statistics.median(gaps):.0f} s" if gaps and statistics.median(gaps) >= 1 else ""
    f = [Finding(INFO, f"{len(times)} NAT keepalive(s) from {', '.join(senders)}{every}",
                 "One 0xFF byte on UDP 4500 (RFC 3948 §2.3), sent by the side behind the NAT to keep its "
                 "mapping alive.", tuple(n for n, _, _, _ in obs.keepalives[:3]), Reason.KEEPALIVES)]
    if len(ports) > len(senders):
        f.append(Finding(PROBLEM, f"The keepalives left from {len(ports)} different source ports",
                         "This capture is outside the NAT, and the NAT gave the same inside host a new port again "
                         "and again: its mapping expired between packets. The far side keeps sending to the old "
                         "port, so its traffic dies. Send keepalives more often than the NAT's UDP timeout.",
                         tuple(n for n, _, _, _ in obs.keepalives[:5]), Reason.NAT_MAPPING_EXPIRED))
    # RFC 3948 §4: a keepalive is sent only when nothing else was, so ESP-in-UDP from the same
    # sender refreshes the mapping as well; the longest silence is what the NAT sees
    sent = sorted(times + [t for flow in obs.esp.values() if flow.encapsulated and flow.src.ip in senders
                           for t in flow.times if times[0] <= t <= times[-1]])
    idle = [b - a for a, b in zip(sent, sent[1:])]
    if idle and max(idle) > TYPICAL_NAT_UDP_TIMEOUT:
        f.append(Finding(WARNING, f"{max(idle):.0f} s between keepalives",
                         f"Many NATs forget an idle UDP mapping after {TYPICAL_NAT_UDP_TIMEOUT:.0f}-60 s; with a "
                         "longer interval traffic from the far side finds no mapping. 20 s is the usual default.",
                         (), Reason.KEEPALIVE_INTERVAL))
    return f
