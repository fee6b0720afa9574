"""The story of one IKEv2 SA from what a capture shows without keys, and where it stops.

IKE_SA_INIT is in the clear, so a refusal there is read, not guessed. IKE_AUTH's answer is
encrypted: whether it carried AUTHENTICATION_FAILED or a refused CHILD_SA is inferred from what
follows — new ESP SPIs both ways (the CHILD_SA is up), an SK payload too small to hold IDr, AUTH
and SA (a lone error notify), an INFORMATIONAL right after it, or the request sent again — and the
finding says what cannot be known without the keys.
"""
from __future__ import annotations

import ipaddress

from ..reasons import Reason
from .findings import INFO, OK, PROBLEM, WARNING, Finding

#: An SK body (IV | ciphertext | ICV) this small cannot hold IDr + AUTH + SA: with the smallest IV
#: and ICV (8 + 8 bytes) it leaves 48 bytes of plaintext, less than IDr (>= 9), AUTH (>= 24) and an
#: SA (>= 24) need; a lone Notify (8 bytes) and its padding fit.
LONE_NOTIFY_SK = 64


def _ids(ms) -> tuple[int, ...]:
    return tuple(m.index for m in ms)


def _redirect_target(data: bytes) -> str:
    """RFC 5685 §8: GW Ident Type (1 IPv4, 2 IPv6, 3 FQDN), its length, the identity."""
    if len(data) < 2 or len(data) < 2 + data[1]:
        return "a gateway the notify does not name readably"
    kind, ident = data[0], data[2:2 + data[1]]
    try:
        if kind == 1 and len(ident) == 4 or kind == 2 and len(ident) == 16:
            return str(ipaddress.ip_address(ident))
        if kind == 3:
            return ident.decode("ascii")
    except (ValueError, UnicodeDecodeError):
        pass
    return f"gateway identity type {kind}"


def diagnose_v2(ex, obs, verdict, natd_finding) -> list[Finding]:
    f: list[Finding] = []
    msgs = ex.messages
    req = [m for m in msgs if m.exchange == 34 and m.from_initiator]
    resp = [m for m in msgs if m.exchange == 34 and not m.from_initiator]
    f.append(Finding(INFO, "IKEv2", f"{ex.initiator} → {ex.responder}, SPIs {ex.icookie.hex()}:{ex.rcookie.hex()}: "
                     + ", ".join(f"{len(ms)}× {label}" for label, ms in ex.by_label.items()) + ".",
                     _ids(msgs[:1]), Reason.IKEV2_SEEN))
    for n, why in ex.undecodable[:3]:
        label = next((m.label for m in msgs if m.index == n), "message")
        f.append(Finding(WARNING, f"Frame {n} ({label}) does not decode as IKEv2",
                         f"The IKEv2 decoder refused it: {why}. It is named from its header; what it carries is "
                         "left out of this diagnosis.", (n,), Reason.IKEV2_UNDECODABLE))
    if not req:
        f.append(Finding(INFO, "The capture starts after IKE_SA_INIT",
                         "The SA's first exchange is not in this capture, so whether NAT was detected and which "
                         "proposal was chosen cannot be told here.", _ids(msgs[:1]), Reason.MID_EXCHANGE))
    else:
        _init(f, ex, req, resp, verdict, natd_finding)
    _fragmentation(f, ex, req, resp)
    _float(f, ex, req, verdict)
    _auth(f, ex, obs)
    _later(f, ex)
    return f


def _init(f, ex, req, resp, verdict, natd_finding) -> None:
    def first_with(name):
        return [m for m in resp if name in m.notifications][:1]
    notes = {k: d for m in resp for k, d in m.notify_data}
    if "COOKIE" in notes:
        f.append(Finding(INFO, "The responder asked for a COOKIE",
                         "It answered IKE_SA_INIT with N(COOKIE) (RFC 7296 §2.6): it is under load or always "
                         "checks the initiator's address first. The initiator must repeat IKE_SA_INIT with "
                         "the cookie" + (", and did." if len(req) > 1 else "; it did not in this capture."),
                         _ids(first_with("COOKIE")), Reason.IKEV2_COOKIE))
    if "INVALID_KE_PAYLOAD" in notes:
        data = notes["INVALID_KE_PAYLOAD"]
        group = f" group {int.from_bytes(data[:2], 'big')}" if len(data) >= 2 else " the group the notify names"
        retried = len([m for m in req if not m.retransmission]) > 1
        f.append(Finding(INFO if retried else PROBLEM,
                         "The responder wants another Diffie-Hellman group (INVALID_KE_PAYLOAD)",
                         f"The initiator's KE used a group the responder does not accept; it must retry with"
                         f"{group} (RFC 7296 §1.3)" + (", and sent IKE_SA_INIT again." if retried else
                                                       "; no retry follows in this capture."),
                         _ids(first_with("INVALID_KE_PAYLOAD")), Reason.IKEV2_INVALID_KE))
    if "REDIRECT" in notes:
        f.append(Finding(WARNING, f"The responder redirected the client to {_redirect_target(notes['REDIRECT'])}",
                         "N(REDIRECT) in the IKE_SA_INIT response (RFC 5685 §5): this gateway sends the client to "
                         "another one, which should appear next in a capture taken at the client.",
                         _ids(first_with("REDIRECT")), Reason.IKEV2_REDIRECT))
    for name in ("NO_PROPOSAL_CHOSEN", "AUTHENTICATION_FAILED"):
        if name in notes:
            f.append(Finding(PROBLEM, f"The responder refused IKE_SA_INIT: {name}",
                             "No proposal (encryption, integrity, PRF, DH group) was acceptable: compare both "
                             "sides' IKE proposals." if name == "NO_PROPOSAL_CHOSEN" else
                             "Sent in the clear in the IKE_SA_INIT response.", _ids(first_with(name)),
                             Reason.NO_PROPOSAL if name == "NO_PROPOSAL_CHOSEN" else Reason.IKEV2_AUTH_REFUSED))
    accepted = [m for m in resp if 33 in m.payloads]
    if not resp:
        f.append(Finding(PROBLEM, f"The responder never answered IKE_SA_INIT ({len(req)} sent)",
                         f"{ex.initiator} → {ex.responder}: nothing came back. A firewall drops UDP 500, "
                         "the address is wrong, or no IKE service listens there.", _ids(req), Reason.NO_ANSWER))
    elif accepted:
        f.append(Finding(OK, "IKE_SA_INIT answered with a proposal",
                         "The responder chose a proposal and sent its KE and nonce.",
                         _ids(req[-1:] + accepted[:1]), Reason.PROPOSAL_ACCEPTED))
    if ex.natd:
        f.append(natd_finding(ex, verdict))
    elif accepted:
        f.append(Finding(INFO, "No NAT_DETECTION notifies",
                         "Without them neither side can detect a NAT (RFC 7296 §2.23): no move to UDP 4500, "
                         "no UDP encapsulation.", _ids(req[:1]), Reason.NO_NATD))


def _fragmentation(f, ex, req, resp) -> None:
    said = [any("IKEV2_FRAGMENTATION_SUPPORTED" in m.notifications for m in side) for side in (req, resp)]
    frags = [m for m in ex.messages if m.fragment and not m.retransmission]
    if any(said) and not frags:
        f.append(Finding(INFO, "IKE fragmentation " + ("agreed by both sides" if all(said) else
                                                         f"offered by the {'initiator' if said[0] else 'responder'} only"),
                         "IKEV2_FRAGMENTATION_SUPPORTED (RFC 7383 §2.3): large encrypted messages may be sent "
                         "as SKF fragments instead of IP fragments.",
                         _ids([m for m in req + resp if "IKEV2_FRAGMENTATION_SUPPORTED" in m.notifications][:2]),
                         Reason.IKEV2_FRAGMENTATION))
    if not frags:
        return
    groups: dict[tuple, list] = {}
    for m in frags:
        groups.setdefault((m.exchange, m.message_id, m.from_initiator, m.fragment[1]), []).append(m)
    parts = []
    missing = []
    for (exchange, mid, _, total), ms in groups.items():
        have = {m.fragment[0] for m in ms}
        parts.append(f"{ms[0].label.split(' (')[0]} (Message ID {mid}): {len(have)} of {total}")
        if len(have) < total:
            missing.append(ms[0])
    f.append(Finding(WARNING if missing else INFO,
                     f"IKE fragments (RFC 7383): {len(frags)} SKF message(s)" + (", some missing" if missing else ""),
                     "Messages split by IKE itself, each fragment encrypted on its own (SK Fragment payload 53, "
                     "fragment number and total in the clear): " + "; ".join(parts[:4]) + "."
                     + (" A message is only processed when every fragment arrived: the missing ones were lost "
                        "on the way or the capture missed them." if missing else ""),
                     _ids(frags[:4]), Reason.IKEV2_FRAGMENTS))


def _float(f, ex, req, verdict) -> None:
    later = [m for m in ex.messages if m.exchange != 34]
    nat = bool(verdict.initiator_behind_nat or verdict.responder_behind_nat)
    if not (later and req):
        return
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


def _child_esp(ex, obs, after: float):
    """ESP SPIs first seen after `after` between the two peers (as addressed at this capture point)."""
    peers = {ex.initiator.ip, ex.responder.ip}
    new = [x for x in obs.esp.values() if {x.src.ip, x.dst.ip} == peers and x.times and x.times[0] >= after]
    out = [x for x in new if x.src.ip == ex.initiator.ip]
    back = [x for x in new if x.src.ip == ex.responder.ip]
    return out, back


def _auth(f, ex, obs) -> None:
    auth_req = [m for m in ex.messages if m.exchange == 35 and m.from_initiator]
    auth_resp = [m for m in ex.messages if m.exchange == 35 and not m.from_initiator]
    if not auth_req:
        return
    if not auth_resp:
        if auth_req[0].on_4500:
            f.append(Finding(PROBLEM, f"No answer to IKE_AUTH on UDP 4500 ({len(auth_req)} sent)",
                             "IKE_SA_INIT worked on 500 but nothing came back on 4500: a firewall blocks UDP 4500, "
                             "or a server behind NAT has 500 forwarded but not 4500.", _ids(auth_req), Reason.NO_ANSWER))
        else:
            f.append(Finding(PROBLEM, f"No answer to IKE_AUTH ({len(auth_req)} sent)",
                             "The responder stayed silent after IKE_SA_INIT: large IKE_AUTH messages (certificates) "
                             "are often lost as IP fragments; RFC 7383 IKE fragmentation avoids that.",
                             _ids(auth_req), Reason.NO_ANSWER))
        return
    last = auth_resp[-1]
    out, back = _child_esp(ex, obs, auth_resp[0].time)
    unknown = ("Its contents are encrypted: without the IKE keys the notify inside (AUTHENTICATION_FAILED, "
               "NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE, FAILED_CP_REQUIRED…) cannot be read; the peers' logs, or "
               "Wireshark with the IKEv2 decryption table, name it.")
    if out and back:
        spis = ", ".join(f"0x{x.spi:08x}" for x in (out[:1] + back[:1]))
        f.append(Finding(OK, "IKE_AUTH answered, and ESP flows both ways: the CHILD_SA is up",
                         f"New ESP SPIs after the IKE_AUTH response, one per direction ({spis}).",
                         _ids(auth_req[:1] + auth_resp[:1]) + (out[0].indexes[0], back[0].indexes[0]),
                         Reason.CHILD_SA_UP))
        return
    if out or back:
        x = (out or back)[0]
        f.append(Finding(PROBLEM, f"CHILD_SA traffic one way only: SPI 0x{x.spi:08x} {x.src} → {x.dst}",
                         "IKE_AUTH was answered and ESP started, but nothing comes back under a new SPI: the far "
                         "side does not receive or does not accept it (a NAT or firewall on the way, a mismatched "
                         "encapsulation).", _ids(auth_resp[:1]) + (x.indexes[0],), Reason.CHILD_SA_ONE_WAY))
        return
    sk = [m.sk_len for m in auth_resp if m.sk_len is not None and not m.fragment]
    small = bool(sk) and max(sk) <= LONE_NOTIFY_SK
    after = [m for m in ex.messages if m.index > last.index]
    info = [m for m in after if m.exchange == 37]
    again = [m for m in after if m.exchange == 35 and m.from_initiator]
    signs = []
    if small:
        signs.append(f"its encrypted part is only {max(sk)} bytes: too small to hold the responder's identity, "
                     "AUTH and a CHILD_SA proposal, so it carries a lone error notify")
    if info:
        signs.append(f"an INFORMATIONAL follows (frame {info[0].index}, from the "
                     f"{'initiator' if info[0].from_initiator else 'responder'}), typically a DELETE or the "
                     "initiator's AUTHENTICATION_FAILED")
    if again:
        signs.append(f"the initiator sent IKE_AUTH again {len(again)} time(s) after the answer")
    children = [m for m in after if m.exchange == 36 and not m.from_initiator]
    if children and not small:
        f.append(Finding(OK, "IKE_AUTH answered, and the IKE SA is in use",
                         f"CREATE_CHILD_SA exchanges are answered after it (first answer: frame {children[0].index}): "
                         "only an established IKE SA carries them. No ESP in this capture shows the CHILD_SAs' "
                         "traffic. " + unknown, _ids(auth_req[:1] + auth_resp[:1] + children[:1]),
                         Reason.IKEV2_AUTH_ANSWERED))
    elif signs:
        f.append(Finding(PROBLEM, "IKE_AUTH refused (inferred): most likely AUTHENTICATION_FAILED",
                         "The IKE_AUTH response came, but no ESP follows and " + "; ".join(signs) + ". A wrong "
                         "pre-shared key, an untrusted certificate or an identity mismatch does this; a refused "
                         "CHILD_SA (NO_PROPOSAL_CHOSEN, TS_UNACCEPTABLE) looks alike. " + unknown,
                         _ids(auth_req[:1] + auth_resp[:1] + info[:1]), Reason.IKEV2_AUTH_REFUSED))
    else:
        f.append(Finding(WARNING, "IKE_AUTH answered, but no CHILD_SA traffic follows",
                         "The response is large enough to carry AUTH and a CHILD_SA, yet no new ESP SPI appears in "
                         "this capture: no traffic was sent yet, the capture ended, or the CHILD_SA was refused. "
                         + unknown, _ids(auth_req[:1] + auth_resp[:1]), Reason.IKEV2_AUTH_OUTCOME_UNKNOWN))


def _later(f, ex) -> None:
    counts = []
    for number, name in ((43, "IKE_INTERMEDIATE"), (36, "CREATE_CHILD_SA"), (37, "INFORMATIONAL")):
        ms = [m for m in ex.messages if m.exchange == number and not m.retransmission]
        if ms:
            ids = {m.message_id for m in ms}
            answered = {m.message_id for m in ms if m.label.split(" ")[1].startswith("response")}
            counts.append((f"{len(ids)} {name} exchange(s), {len(answered & ids)} answered", ms))
    if counts:
        f.append(Finding(INFO, "; ".join(c for c, _ in counts),
                         "IKE_INTERMEDIATE (RFC 9242) carries extra key exchanges before IKE_AUTH; CREATE_CHILD_SA "
                         "makes or rekeys a CHILD_SA (or rekeys the IKE SA); INFORMATIONAL carries DELETE, "
                         "liveness checks and errors. Their contents are encrypted.",
                         tuple(m.index for _, ms in counts for m in ms[:2]), Reason.IKEV2_EXCHANGES))
