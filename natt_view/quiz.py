"""Predict-then-reveal questions whose answers are computed from engine runs, never typed in.

Each builder takes the Trace of the lesson that shows the answer and returns a Question: the
options, which one is right *in that run* (the next port after MM4, the NAT-D hash that differs
per RFC 3947 §3.2, whether a second client behind a helper connects, the check that drops plain
ESP, who refuses a server behind NAT, who sends keepalives per RFC 3948 §4), an explanation
quoted from the run, and the step of that lesson's page that shows it, as a deep link.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from natt_core.lab.trace import Trace
from natt_core.reasons import Reason

from .field_facts import first_failure, first_step, keepalive_times, peer_up, ports_of, refusal, step_of_event
from .steps import journeys
from .workbench import natd_cases, natd_check


class NoAnswer(Exception):
    """The run does not contain what the question asks about (the question is then left out)."""


@dataclass(frozen=True)
class Question:
    key: str
    prompt: str
    options: tuple[str, ...]
    answer: str
    explanation: str
    page: str                    #: url slug of the lesson page
    step: int                    #: 1-based step on that page
    query: dict = field(default_factory=dict)

    def link(self) -> str:
        extra = "".join(f"&{k}={v}" for k, v in self.query.items())
        return f"/{self.page}?step={self.step}{extra}"

    def grade(self, choice: str | None) -> bool | None:
        """True / False, or None when nothing was chosen."""
        return None if choice is None else choice == self.answer


def port_after_mm4(trace: Trace) -> Question:
    j = first_step(trace, "MM5")
    if j is None:
        raise NoAnswer("no MM5 in this run")
    ports = ports_of(j.first.packet)
    options = ("UDP 500, like MM1–MM4", "UDP 4500", "ESP (IP protocol 50)")
    answer = options[1] if ports and ports[2] == 4500 else options[0]
    said = [e.text for e in trace.events if e.event in ("NatDetected", "Floated") and e.peer == j.sender]
    return Question(
        "port", "The client has just read MM4. Which port does its next message, MM5, go to?", options, answer,
        f"MM5 left {j.sender} from port {ports[1]} to port {ports[2]}. What {j.sender} said: " + " · ".join(said),
        "float-4500", j.index)


def natd_mismatch(trace: Trace) -> Question:
    cases = [c for c in natd_cases(trace) if c.label == "MM3"]
    if not cases:
        raise NoAnswer("no MM3 with NAT-D")
    c = cases[0]
    v = natd_check(c, c.seen_src, c.seen_dst)
    options = ("the 1st NAT-D (destination: the server as the client addressed it)",
               "the 2nd NAT-D (source: the client as it sees itself)", "both", "neither")
    answer = options[{(True, False): 0, (False, True): 1, (True, True): 2}.get(
        (v.self_behind_nat, v.peer_behind_nat), 3)]
    return Question(
        "natd", "The server recomputes the two NAT-D hashes of MM3 from the packet as it arrived. "
        "Which one does not match?", options, answer,
        f"MM3 was sent from {c.sent_src[0]}:{c.sent_src[1]} and arrived from {c.seen_src[0]}:{c.seen_src[1]}; "
        f"it was addressed to {c.sent_dst[0]}:{c.sent_dst[1]} and arrived at {c.seen_dst[0]}:{c.seen_dst[1]}. "
        "A hash differs exactly where the address or port differs.",
        "nat-d", c.journey.index)


def second_client(trace: Trace) -> Question:
    names = [p for p in trace.report.get("peers", {}) if p != "server"]
    if len(names) < 2:
        raise NoAnswer("fewer than two clients")
    up = peer_up(trace, names[1])
    f = first_failure(trace)
    options = ("Yes: the NAT gives it its own ports", "No: the NAT will not let its IKE through")
    why = f.reason if (f is not None and not up) else "both clients have phase 1 and phase 2 up"
    return Question(
        "second", f"Two clients sit behind a NAT with an IPsec helper that keeps port 500 static. "
        f"{names[0]} connects first. Will {names[1]} connect?", options, options[0 if up else 1],
        f"In the run, {names[1]}: {why}", "several-clients", f.step if (f is not None and not up) else 1)


#: the exam's options, each with the failure codes that mean "this check failed first"
CHECKS = (("the IKE pre-shared key check (HASH_I)", (Reason.AUTH_FAILED,)),
          ("the NAT-D hashes", (Reason.NATD_MISMATCH_REFUSED_BY_RULE,)),
          ("the inner UDP checksum, which covers the original addresses", (Reason.CHECKSUM_AFTER_NAT,)),
          ("the AH ICV, which covers the IP addresses", (Reason.AH_AFTER_NAT,)))


def exam_question(trace: Trace) -> Question:
    f = first_failure(trace)
    if f is None:
        raise NoAnswer("nothing fails in this run")
    hits = [name for name, codes in CHECKS if f.code in codes]
    if not hits:
        raise NoAnswer(f"no listed check matches {f.code}: {f.reason}")
    return Question(
        "exam", "The exam question: L2TP/IPsec from behind a Windows 2000 NAT (no NAT-T) cannot connect, "
        "although it works between two inside computers. Which check fails first?",
        tuple(name for name, _ in CHECKS), hits[0],
        f"Step {f.step}, {f.label}: {f.where} — {f.reason}", "ipsec-meets-nat", f.step)


def who_refuses(trace: Trace) -> Question:
    found = refusal(trace)
    if found is None:
        raise NoAnswer("nobody refuses")
    event, j = found
    options = ("the Windows client", "the server", "the server's NAT")
    answer = options[0] if event.peer.startswith("client") else options[1]
    return Question(
        "refuse", "The server is behind a NAT with UDP 500 and 4500 forwarded; the Windows client has "
        "AssumeUDPEncapsulationContextOnSendRule = 0. Who stops the negotiation?", options, answer,
        f"{event.peer} at t = {event.time:.3f} s: {event.fields.get('reason') or event.text}",
        "server-behind-nat", j.index if j else 1)


def keepalive_sender(trace: Trace) -> Question:
    senders = keepalive_times(trace)
    options = ("only the client (behind the NAT)", "only the server", "both", "neither")
    if not senders:
        answer = options[3]
    elif set(senders) == {"server"}:
        answer = options[1]
    elif "server" in senders:
        answer = options[2]
    else:
        answer = options[0]
    first = first_step(trace, "keepalive")
    counts = ", ".join(f"{p} sent {len(ts)}" for p, ts in senders.items()) or "nobody sent one"
    return Question(
        "keepalive", "The client is behind a NAT and the server is not. Who sends the 0xFF NAT keepalives?",
        options, answer, f"In the run, {counts}.", "nat-timeouts", first.index if first else 1)


def ikev2_nat_found(trace: Trace) -> Question:
    """RFC 7296 §2.23: the NAT is found from IKE_SA_INIT's notifies, before any key exists."""
    found = next((e for e in trace.events if e.event == "NatDetected" and e.fields.get("self_behind_nat")), None)
    j = step_of_event(trace, found) if found is not None else None
    if j is None:
        raise NoAnswer("nobody in this run finds itself behind a NAT")
    ike = [k for k in journeys(trace)[:j.index] if k.label not in ("ESP-in-UDP", "keepalive")]
    options = ("in IKE_SA_INIT, from the NAT_DETECTION notifies, after 2 messages",
               "in IKE_AUTH, after 4 messages", "in the 3rd and 4th messages, as IKEv1's MM3/MM4",
               "only after Vendor IDs announced NAT-T")
    answer = options[0] if j.label.startswith("IKE_SA_INIT") and len(ike) == 2 else \
        options[1] if j.label.startswith("IKE_AUTH") else options[2]
    return Question(
        "ikev2-natd", "IKEv2, client behind a NAPT: when does the client learn that it is behind a NAT?",
        options, answer,
        f"Step {j.index}, {j.label} (IKE message {len(ike)} of the run): {found.text}", "playground",
        j.index, {"scenario": trace.report.get("scenario", "ikev2-client-behind-nat")})


def ikev2_first_on_4500(trace: Trace) -> Question:
    """RFC 7296 §2.23: after NAT detection, IKE moves to UDP 4500 with the IKE_AUTH request."""
    first = None
    for label in ("IKE_SA_INIT", "IKE_SA_INIT response", "IKE_AUTH", "IKE_AUTH response"):
        j = first_step(trace, label)
        ports = ports_of(j.first.packet) if j else None
        if ports and 4500 in ports[1:]:
            first = j
            break
    options = ("IKE_SA_INIT", "IKE_SA_INIT response", "IKE_AUTH", "none: IKE stays on UDP 500")
    answer = first.label if first is not None else options[3]
    return Question(
        "ikev2-float", "IKEv2, client behind a NAPT: which is the first IKE message on UDP 4500?", options,
        answer, (f"{first.title()}, from port {ports_of(first.first.packet)[1]} to "
                 f"{ports_of(first.first.packet)[2]}, behind the non-ESP marker" if first else
                 "No IKE message of this run used UDP 4500."), "playground",
        first.index if first else 1, {"scenario": trace.report.get("scenario", "ikev2-client-behind-nat")})


BUILDERS = {"port": port_after_mm4, "natd": natd_mismatch, "second": second_client, "exam": exam_question,
            "refuse": who_refuses, "keepalive": keepalive_sender, "ikev2-natd": ikev2_nat_found,
            "ikev2-float": ikev2_first_on_4500}
