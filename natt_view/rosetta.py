"""Log Rosetta stone: what strongSwan's charon really logged for each IKEv1 message.

The recordings in assets/captures are charon 5.9.8 logs (IKE/ENC/NET/CHD) from live interop runs
through a Linux NAT. charon writes one `[NET] received packet` / `[NET] sending packet` line per
datagram and names the message it parsed or generated on an `[ENC]` line, e.g.
`parsed ID_PROT request 0 [ KE No NAT-D NAT-D ]`. A log is cut into one segment per message at
those NET lines and each segment is named MM1-MM6 (RFC 2409 §5 Main Mode; NAT-D per RFC 3947 §3),
QM1-QM3 (RFC 2409 §5.5 Quick Mode) or INFO from charon's own words and its role.

A charon worker thread handles one received message from the NET line to the end of its reply, so
the thread number (`12[IKE]`) keeps another thread's lines out of a segment. Lines that only build
the reply (`sending … vendor ID`, `generating …`) open the reply's segment. Unknown or malformed
lines are skipped: a log this module does not understand yields an empty mapping, never an error.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from natt_core.lab.trace import Trace
from natt_view.steps import Journey

INITIATOR, RESPONDER = "initiator", "responder"
RECEIVED, SENT = "received", "sent"
#: the lesson labels a recording can cover
IKE_LABELS = ("MM1", "MM2", "MM3", "MM4", "MM5", "MM6", "QM1", "QM2", "QM3")

CAPTURES = Path(__file__).resolve().parents[1] / "assets" / "captures"
#: recording name -> (log file, charon's role in it, what happened in that run)
RECORDINGS = {
    "responder": ("strongswan-responder.charon.log", RESPONDER,
                  "our client dialled it from behind the NAT"),
    "initiator": ("strongswan-initiator.charon.log", INITIATOR,
                  "it dialled our server from behind the NAT"),
    "wrong-psk": ("strongswan-wrong-psk.charon.log", RESPONDER,
                  "our client dialled it with another pre-shared key"),
}

Key = tuple[str, str, str]          # (charon's role, message label, RECEIVED or SENT)

_LINE = re.compile(r"^(?:.*?\s)?(?P<thread>\d+)\[(?P<sub>[A-Z]{2,4})\] ?(?P<text>.*)$")
_ENC = re.compile(r"^(?P<verb>parsed|generating) (?P<exchange>[A-Z_0-9]+) (?P<kind>request|response) "
                  r"\d+ \[(?P<payloads>[^\]]*)\]")
_FAILED = re.compile(r"^(?P<exchange>[A-Z_0-9]+) (?P<kind>request|response) with message ID \d+ processing failed")


@dataclass(frozen=True)
class LogLine:
    raw: str        #: the line exactly as charon wrote it
    thread: str
    sub: str        #: IKE, ENC, NET, CHD, …
    text: str


@dataclass(frozen=True)
class Segment:
    """The lines charon wrote while handling one IKE message it received or sent."""
    role: str
    label: str | None           #: MM1…MM6, QM1…QM3, INFO, or None when charon did not say
    direction: str              #: RECEIVED or SENT
    lines: tuple[str, ...]


@dataclass
class _Open:
    direction: str
    thread: str
    lines: list[LogLine] = field(default_factory=list)


def parse_line(raw: str) -> LogLine | None:
    """One charon log line, or None for anything that is not `<thread>[<SUB>] text`."""
    m = _LINE.match(raw.rstrip("\r\n"))
    if m is None:
        return None
    return LogLine(raw.rstrip("\r\n"), m["thread"], m["sub"], m["text"])


def _outgoing(ln: LogLine) -> bool:
    """Lines charon writes while building a message it is about to send."""
    return (ln.sub == "ENC" and ln.text.startswith("generating ")) or \
           (ln.sub == "IKE" and ln.text.startswith("sending "))


def _net(ln: LogLine, what: str) -> bool:
    return ln.sub == "NET" and ln.text.startswith(what)


def _split(lines: list[LogLine]) -> list[_Open]:
    """Cut the log at NET lines; a thread's lines after its reply went out still belong to the
    message that thread received (e.g. `ID_PROT request … processing failed`)."""
    done: list[_Open] = []
    cur: _Open | None = None
    pending: dict[str, list[LogLine]] = {}  # thread -> lines that precede a message it initiates
    handler: dict[str, _Open] = {}          # thread -> the received message it is handling
    for ln in lines:
        same = cur is not None and cur.thread == ln.thread
        if _net(ln, "received packet"):
            cur = _Open(RECEIVED, ln.thread, [ln])
            done.append(cur)
            handler, pending = {ln.thread: cur}, {}
        elif _net(ln, "sending packet") or _outgoing(ln):
            if not (same and cur.direction == SENT):
                cur = _Open(SENT, ln.thread, pending.pop(ln.thread, []) + [ln])
                done.append(cur)
            else:
                cur.lines.append(ln)
            if ln.sub == "NET":
                cur = None
        elif same:
            cur.lines.append(ln)
        elif cur is None and ln.thread in handler:
            handler[ln.thread].lines.append(ln)
        else:
            cur = None
            pending.setdefault(ln.thread, []).append(ln)
    return done


def charon_role(lines: list[LogLine]) -> str | None:
    """charon's role from its first Main Mode line: a responder parses requests, generates responses."""
    for ln in lines:
        m = _ENC.match(ln.text) if ln.sub == "ENC" else None
        if m and m["exchange"] == "ID_PROT":
            return RESPONDER if (m["verb"] == "parsed") == (m["kind"] == "request") else INITIATOR
    return None


def message_label(exchange: str, kind: str, payloads: tuple[str, ...], direction: str, role: str) -> str | None:
    """MM1…MM6 / QM1…QM3 / INFO from charon's exchange name, request/response and payload list."""
    if exchange == "ID_PROT":
        pair = 1 if "SA" in payloads else 2 if "KE" in payloads else 3 if {"ID", "HASH"} & set(payloads) else None
        # the Main Mode initiator sends the odd messages; charon calls them requests
        odd = (role == INITIATOR) == (direction == SENT)
        if pair is None or odd != (kind == "request"):
            return None
        return f"MM{2 * pair - 1 if odd else 2 * pair}"
    if exchange == "QUICK_MODE":
        if "SA" in payloads:
            return "QM1" if kind == "request" else "QM2"
        return "QM3" if payloads == ("HASH",) and kind == "request" else None
    if exchange.startswith("INFORMATIONAL"):
        return "INFO"
    return None


def _name(seg: _Open, role: str, last_mm: int) -> str | None:
    verb = "parsed" if seg.direction == RECEIVED else "generating"
    for ln in seg.lines:
        m = _ENC.match(ln.text) if ln.sub == "ENC" else None
        if m and m["verb"] == verb:
            return message_label(m["exchange"], m["kind"], tuple(m["payloads"].split()), seg.direction, role)
    if seg.direction != RECEIVED:
        return None
    # charon logs no `parsed` line when a message does not decrypt; it names the exchange when it
    # gives up, and in Main Mode that message is the next one the exchange was waiting for
    for ln in seg.lines:
        m = _FAILED.match(ln.text) if ln.sub == "IKE" else None
        if m and m["exchange"] == "ID_PROT":
            nxt = last_mm + 1
            # a responder receives the odd messages (requests), an initiator the even ones
            if nxt <= 6 and (nxt % 2 == 1) == (role == RESPONDER) == (m["kind"] == "request"):
                return f"MM{nxt}"
    return None


def segments(text: str, role: str | None = None) -> tuple[Segment, ...]:
    """Every message segment of a charon log, in log order (retransmissions included)."""
    if not isinstance(text, str):
        return ()
    lines = [ln for ln in map(parse_line, text.splitlines()) if ln is not None]
    role = role or charon_role(lines)
    if role not in (INITIATOR, RESPONDER):
        return ()
    out, last_mm = [], 0
    for seg in _split(lines):
        label = _name(seg, role, last_mm)
        parsed = any(_ENC.match(ln.text) for ln in seg.lines if ln.sub == "ENC")
        if label and label.startswith("MM") and parsed:     # a failed message does not advance it
            last_mm = max(last_mm, int(label[2:]))
        out.append(Segment(role, label, seg.direction, tuple(ln.raw for ln in seg.lines)))
    return tuple(out)


def rosetta(text: str, role: str | None = None) -> dict[Key, tuple[str, ...]]:
    """(charon's role, label, RECEIVED/SENT) -> the lines of the first such message in the log."""
    mapping: dict[Key, tuple[str, ...]] = {}
    for seg in segments(text, role):
        if seg.label is not None:
            mapping.setdefault((seg.role, seg.label, seg.direction), seg.lines)
    return mapping


@lru_cache(maxsize=None)
def recording(name: str) -> Mapping[Key, tuple[str, ...]]:
    """A stored recording's mapping, read and parsed once per process (empty if it is missing)."""
    entry = RECORDINGS.get(name)
    if entry is None:
        return MappingProxyType({})
    try:
        text = (CAPTURES / entry[0]).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return MappingProxyType({})
    return MappingProxyType(rosetta(text, entry[1]))


@dataclass(frozen=True)
class StepLog:
    """What charon logged on receiving the message of one lesson step, and where it comes from."""
    name: str                   #: key of RECORDINGS
    role: str                   #: charon's role in that recording = the receiver's role here
    lines: tuple[str, ...]

    @property
    def about(self) -> str:
        return RECORDINGS[self.name][2]

    def shown(self) -> tuple[str, ...]:
        """The lines without charon's leading timestamp (one second for the whole exchange)."""
        return tuple(_LINE.sub(r"\g<thread>[\g<sub>] \g<text>", x) for x in self.lines)


def _peer(report: dict, name: str) -> dict:
    peer = report.get("peers", {}).get(name) if isinstance(report, dict) else None
    return peer if isinstance(peer, dict) else {}


def _psks_differ(trace: Trace) -> bool:
    """The run's scenario (a dict, as in scenario.json) gives the two peers different keys."""
    scenario = trace.scenario if isinstance(trace.scenario, dict) else {}
    client, server = scenario.get("client") or {}, scenario.get("server") or {}
    return isinstance(client, dict) and isinstance(server, dict) and client.get("psk") != server.get("psk")


def step_log(trace: Trace, j: Journey) -> StepLog | None:
    """charon's lines for this step's message as the receiver would have logged them, only when the
    run is the recorded situation: initiator behind a NAT, responder in the open, RFC 3947 NAT-T."""
    if j.label not in IKE_LABELS or j.dropped:
        return None
    receiver, sender = _peer(trace.report, j.receiver), _peer(trace.report, j.sender)
    role = receiver.get("role")
    if role not in (INITIATOR, RESPONDER) or sender.get("role") == role:
        return None
    ini, res = (receiver, sender) if role == INITIATOR else (sender, receiver)
    if not ((ini.get("behind_nat") or {}).get("self") and not (res.get("behind_nat") or {}).get("self")):
        return None
    if ini.get("nat_t") != "rfc3947" or res.get("nat_t") != "rfc3947":
        return None
    name = "wrong-psk" if role == RESPONDER and _psks_differ(trace) else role
    # the good recordings hold no retransmissions; charon logs those in other words
    if name != "wrong-psk" and any(e.event == "Retransmitted" for e in j.events):
        return None
    lines = recording(name).get((role, j.label, RECEIVED))
    return StepLog(name, role, lines) if lines else None
