"""IKEv2 in a capture, from what is in the clear: the fixed header and IKE_SA_INIT's payloads.

RFC 7296 §3.1: the 28-byte header carries both SPIs, the exchange type (IKE_SA_INIT 34, IKE_AUTH
35, CREATE_CHILD_SA 36, INFORMATIONAL 37, IKE_INTERMEDIATE 43 from RFC 9242) and the Initiator
and Response flags, so every message is named without keys. IKE_SA_INIT is not encrypted: its
Notify payloads say whether the responder wants a COOKIE (§2.6), another DH group
(INVALID_KE_PAYLOAD, §1.2) or found NO_PROPOSAL_CHOSEN, and carry the NAT_DETECTION hashes
(§2.23: SHA-1(SPIi | SPIr | IP | port)), checked here against this capture point's addresses
just as IKEv1's NAT-D. Everything after IKE_SA_INIT is inside SK (or SKF fragments, RFC 7383):
its outcome shows only by what follows (an answer, a move to UDP 4500, ESP).
"""
from __future__ import annotations

import hashlib

from ..reasons import Reason
from .findings import INFO, OK, PROBLEM, WARNING, Finding
from .observe import Exchange, IkeMessage, NatdCheck, Observations
from .packets import Address
from .payloads import notify_v2, walk

EXCHANGES = {34: "IKE_SA_INIT", 35: "IKE_AUTH", 36: "CREATE_CHILD_SA", 37: "INFORMATIONAL",
             38: "IKE_SESSION_RESUME", 43: "IKE_INTERMEDIATE"}
FLAG_INITIATOR, FLAG_RESPONSE = 0x08, 0x20
NOTIFY = {1: "UNSUPPORTED_CRITICAL_PAYLOAD", 4: "INVALID_IKE_SPI", 5: "INVALID_MAJOR_VERSION",
          7: "INVALID_SYNTAX", 9: "INVALID_MESSAGE_ID", 11: "INVALID_SPI", 14: "NO_PROPOSAL_CHOSEN",
          17: "INVALID_KE_PAYLOAD", 24: "AUTHENTICATION_FAILED", 34: "SINGLE_PAIR_REQUIRED",
          35: "NO_ADDITIONAL_SAS", 36: "INTERNAL_ADDRESS_FAILURE", 37: "FAILED_CP_REQUIRED",
          38: "TS_UNACCEPTABLE", 39: "INVALID_SELECTORS", 43: "TEMPORARY_FAILURE", 44: "CHILD_SA_NOT_FOUND",
          16384: "INITIAL_CONTACT", 16385: "SET_WINDOW_SIZE", 16386: "ADDITIONAL_TS_POSSIBLE",
          16387: "IPCOMP_SUPPORTED", 16388: "NAT_DETECTION_SOURCE_IP", 16389: "NAT_DETECTION_DESTINATION_IP",
          16390: "COOKIE", 16391: "USE_TRANSPORT_MODE", 16392: "HTTP_CERT_LOOKUP_SUPPORTED",
          16393: "REKEY_SA", 16394: "ESP_TFC_PADDING_NOT_SUPPORTED", 16395: "NON_FIRST_FRAGMENTS_ALSO",
          16396: "MOBIKE_SUPPORTED", 16407: "REDIRECT_SUPPORTED", 16408: "REDIRECT", 16409: "REDIRECTED_FROM",
          16430: "IKEV2_FRAGMENTATION_SUPPORTED", 16431: "SIGNATURE_HASH_ALGORITHMS"}
NAT_SOURCE, NAT_DESTINATION = 16388, 16389


def notify_name(number: int) -> str:
    return NOTIFY.get(number, str(number))


def observe_v2(obs: Observations, n: int, t: float, message: bytes, src: Address, dst: Address,
               on_4500: bool) -> None:
    spi_i, spi_r = message[0:8], message[8:16]
    first, exchange, flags = message[16], message[18], message[19]
    msgid = int.from_bytes(message[20:24], "big")
    ex = obs.exchanges.get(spi_i)
    if ex is None:
        ex = obs.exchanges[spi_i] = Exchange(spi_i, version=2)
    if spi_r != bytes(8):
        ex.rcookie = spi_r
    from_initiator, response = bool(flags & FLAG_INITIATOR), bool(flags & FLAG_RESPONSE)
    if ex.initiator is None:
        ex.initiator, ex.responder = (src, dst) if from_initiator else (dst, src)
        ex.mid = not (exchange == 34 and not response)
    chain, broken = walk(first, message[28:])
    types = tuple(p.type for p in chain)
    label = f"{EXCHANGES.get(exchange, f'exchange {exchange}')} {'response' if response else 'request'}"
    skf = next((p.body for p in chain if p.type == 53 and len(p.body) >= 4), None)
    if skf is not None:
        label += f" (fragment {int.from_bytes(skf[0:2], 'big')}/{int.from_bytes(skf[2:4], 'big')})"
    key = (spi_i, message)
    again = key in obs.seen
    obs.seen.setdefault(key, label)
    msg = IkeMessage(n, t, src, dst, on_4500, exchange, msgid, 46 in types or 53 in types, from_initiator,
                     label, types, again)
    notes = [(nt[0], nt[1]) for p in chain if p.type == 41 and (nt := notify_v2(p.body))]
    msg.notifications = tuple(notify_name(k) for k, _ in notes)
    obs.labels[n] = label
    if not again:
        if exchange == 34:
            _learn_init(ex, msg, chain, notes, spi_i, spi_r)
        if broken:
            obs.undecodable.append((n, f"IKEv2 {label}: {broken}"))
    ex.messages.append(msg)
    ex.by_label.setdefault(label, []).append(msg)


def _learn_init(ex: Exchange, m: IkeMessage, chain, notes, spi_i: bytes, spi_r: bytes) -> None:
    from .dialects import vid_name
    vids = tuple(vid_name(p.body) for p in chain if p.type == 43)
    if m.from_initiator:
        ex.vids_initiator = vids or ex.vids_initiator
    else:
        ex.vids_responder = vids or ex.vids_responder
    sources = {data for k, data in notes if k == NAT_SOURCE}
    dest = next((data for k, data in notes if k == NAT_DESTINATION), None)
    if sources and dest is not None:
        def h(where: Address) -> bytes:
            return hashlib.sha1(spi_i + spi_r + where.packed_ip + where.port.to_bytes(2, "big")).digest()
        other = next((p for p in (500, 4500) if p != m.src.port and h(Address(m.src.ip, p)) in sources), None)
        check = NatdCheck(m.label, m.dst, m.src, h(m.dst) == dest, h(m.src) in sources, other, m.from_initiator)
        ex.natd = [c for c in ex.natd if c.from_initiator != m.from_initiator] + [check]


# --- findings ------------------------------------------------------------------------------------

def diagnose_v2(ex: Exchange, obs: Observations, verdict, natd_finding) -> list[Finding]:
    """The story of one IKEv2 SA, from what the capture shows in the clear."""
    f: list[Finding] = []
    ids = lambda ms: tuple(m.index for m in ms)                                   # noqa: E731
    req = [m for m in ex.messages if m.exchange == 34 and m.from_initiator]
    resp = [m for m in ex.messages if m.exchange == 34 and not m.from_initiator]
    auth_req = [m for m in ex.messages if m.exchange == 35 and m.from_initiator]
    auth_resp = [m for m in ex.messages if m.exchange == 35 and not m.from_initiator]
    inter = [m for m in ex.messages if m.exchange == 43]
    f.append(Finding(INFO, "IKEv2", f"{ex.initiator} → {ex.responder}, SPIs {ex.icookie.hex()}:{ex.rcookie.hex()}: "
                     + ", ".join(f"{len(ms)}× {label}" for label, ms in ex.by_label.items()) + ".",
                     ids(ex.messages[:1]), Reason.IKEV2_SEEN))
    if not req:
        f.append(Finding(INFO, "The capture starts after IKE_SA_INIT",
                         "The SA's first exchange is not in this capture, so whether NAT was detected and which "
                         "proposal was chosen cannot be told here.", ids(ex.messages[:1]), Reason.MID_EXCHANGE))
    else:
        notes = [n for m in resp for n in m.notifications]
        if "COOKIE" in notes:
            f.append(Finding(INFO, "The responder asked for a COOKIE",
                             "It answered IKE_SA_INIT with N(COOKIE) (RFC 7296 §2.6): it is under load or always "
                             "checks the initiator's address first. The initiator must repeat IKE_SA_INIT with "
                             "the cookie" + (", and did." if len(req) > 1 else "; it did not in this capture."),
                             ids([m for m in resp if "COOKIE" in m.notifications][:1]), Reason.IKEV2_COOKIE))
        if "INVALID_KE_PAYLOAD" in notes:
            f.append(Finding(INFO if any(m.payloads and 33 in m.payloads for m in resp) else PROBLEM,
                             "The responder wants another Diffie-Hellman group (INVALID_KE_PAYLOAD)",
                             "The initiator guessed a KE group the responder does not accept; it must retry with "
                             "the group the notify names (RFC 7296 §1.2).",
                             ids([m for m in resp if "INVALID_KE_PAYLOAD" in m.notifications][:1]), Reason.NO_PROPOSAL))
        if "NO_PROPOSAL_CHOSEN" in notes:
            f.append(Finding(PROBLEM, "The responder refused IKE_SA_INIT: NO_PROPOSAL_CHOSEN",
                             "No proposal (encryption, integrity, PRF, DH group) was acceptable: compare both "
                             "sides' IKE proposals.",
                             ids([m for m in resp if "NO_PROPOSAL_CHOSEN" in m.notifications][:1]), Reason.NO_PROPOSAL))
        accepted = [m for m in resp if 33 in m.payloads]
        if not resp:
            f.append(Finding(PROBLEM, f"The responder never answered IKE_SA_INIT ({len(req)} sent)",
                             f"{ex.initiator} → {ex.responder}: nothing came back. A firewall drops UDP 500, "
                             "the address is wrong, or no IKE service listens there.", ids(req), Reason.NO_ANSWER))
        elif accepted:
            f.append(Finding(OK, "IKE_SA_INIT answered with a proposal",
                             "The responder chose a proposal and sent its KE and nonce.",
                             ids(req[-1:] + accepted[:1]), Reason.PROPOSAL_ACCEPTED))
        if ex.natd:
            f.append(natd_finding(ex, verdict))
        elif accepted:
            f.append(Finding(INFO, "No NAT_DETECTION notifies",
                             "Without them neither side can detect a NAT (RFC 7296 §2.23): no move to UDP 4500, "
                             "no UDP encapsulation.", ids(req[:1]), Reason.NO_NATD))
    later = auth_req + inter + [m for m in ex.messages if m.exchange in (36, 37)]
    nat = bool(verdict.initiator_behind_nat or verdict.responder_behind_nat)
    if later and req:
        first = later[0]
        if first.on_4500 and not req[0].on_4500:
            f.append(Finding(OK, f"Moved to UDP 4500 at {first.label}",
                             f"{first.src} → {first.dst} behind the non-ESP marker (RFC 7296 §2.23)"
                             + (": a NAT was detected." if nat else " (MOBIKE or a forced encapsulation: "
                                "the NAT_DETECTION hashes here show no NAT)."), (first.index,), Reason.FLOATED))
        elif nat and not first.on_4500:
            f.append(Finding(PROBLEM, "A NAT was detected but IKE stayed on UDP 500",
                             "RFC 7296 §2.23: after NAT detection the initiator moves to port 4500.",
                             (first.index,), Reason.NO_FLOAT))
    if auth_req:
        if auth_resp:
            esp = any({x.src.ip, x.dst.ip} == {ex.initiator.ip, ex.responder.ip} for x in obs.esp.values())
            f.append(Finding(OK, "IKE_AUTH answered" + (", and ESP flows: the CHILD_SA is up" if esp else ""),
                             "Its contents are encrypted: an AUTHENTICATION_FAILED or a refused CHILD_SA "
                             "(NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE) would be inside. "
                             + ("ESP between the peers shows the CHILD_SA came up." if esp else
                                "No ESP follows in this capture, so the outcome cannot be told without keys."),
                             ids(auth_req[:1] + auth_resp[:1]), Reason.CHILD_SA_UP if esp else Reason.IKEV2_AUTH_ANSWERED))
        elif auth_req[0].on_4500:
            f.append(Finding(PROBLEM, f"No answer to IKE_AUTH on UDP 4500 ({len(auth_req)} sent)",
                             "IKE_SA_INIT worked on 500 but nothing came back on 4500: a firewall blocks UDP 4500, or "
                             "a server behind NAT has 500 forwarded but not 4500.", ids(auth_req), Reason.NO_ANSWER))
        else:
            f.append(Finding(PROBLEM, f"No answer to IKE_AUTH ({len(auth_req)} sent)",
                             "The responder stayed silent after IKE_SA_INIT: large IKE_AUTH messages (certificates) "
                             "are often lost as IP fragments; RFC 7383 IKE fragmentation avoids that.",
                             ids(auth_req), Reason.NO_ANSWER))
    children = [m for m in ex.messages if m.exchange == 36]
    if children:
        answered = len({m.message_id for m in children if not m.from_initiator})
        f.append(Finding(INFO, f"{len({m.message_id for m in children})} CREATE_CHILD_SA exchange(s), {answered} answered",
                         "New or rekeyed CHILD_SAs (or an IKE SA rekey); their contents are encrypted.",
                         ids(children[:2]), Reason.IKEV2_SEEN))
    return f
