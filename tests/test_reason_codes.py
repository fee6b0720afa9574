"""Reason codes: every drop, refusal and failure carries one, presets give the expected ones, and
decisions downstream (quiz answers, verdicts, the troubleshooter, report.json) follow the codes:
rewording every sentence the engine writes changes none of them."""
from __future__ import annotations

import json
import random

import pytest

from natt_core.errors import IntegrityError
from natt_core.ike import events as ev
from natt_core.ike.core import PeerCore
from natt_core.ipsec.esp_sa import EspSa, ReplayError
from natt_core.lab.presets import PRESETS, preset
from natt_core.lab.scenario import run
from natt_core.lab.settings import apply_settings
from natt_core.lab.trace import Trace
from natt_core.net.nat import Nat, NatConfig
from natt_core.net.network import Network
from natt_core.reasons import Reason, reason_of
from natt_core.wire.ip import encode_ipv4_header
from natt_core.wire.numbers import IPProto
from natt_ui.field_lesson import cell
from natt_view import quiz
from natt_view.field_facts import failures, first_failure, success
from natt_view.troubleshoot import SYMPTOMS

FAILURE_EVENTS = ("PacketDropped", "Refused", "PeerRefused", "AuthenticationFailed", "GaveUp")
_runs: dict = {}


def trace(name: str, *settings: str) -> Trace:
    if (name, settings) not in _runs:
        _runs[(name, settings)] = run(apply_settings(preset(name), list(settings)))
    return _runs[(name, settings)]


def codes(t: Trace, event: str, peer: str | None = None) -> set[str]:
    return {e.fields["code"] for e in t.events if e.event == event and (peer is None or e.peer == peer)}


def report_code(t: Trace, peer: str) -> str | None:
    return t.report["peers"][peer]["reason_code"]


# ------------------------------------------------------------------ every failure has a code
@pytest.mark.parametrize("name", list(PRESETS))
def test_every_drop_refusal_and_failure_of_every_preset_has_a_code(name):
    t = trace(name)
    for h in t.hops:
        assert (h.dropped is None) == (h.drop_code is None), h
        assert h.drop_code is None or reason_of(h.drop_code) is not None
    for e in t.events:
        if e.event in FAILURE_EVENTS:
            assert reason_of(e.fields.get("code")) is not None, e
    for p in t.report["peers"].values():
        assert (p["reason"] is None) == (p["reason_code"] is None), p
        assert p["reason_code"] is None or reason_of(p["reason_code"]) is not None


# ------------------------------------------------------------------ representative presets
def test_the_exam_failures_have_their_own_codes():
    legacy = trace("legacy-behind-nat")
    assert codes(legacy, "PacketDropped", "server") == {"CHECKSUM_AFTER_NAT"}
    assert report_code(legacy, "server") == "CHECKSUM_AFTER_NAT" and report_code(legacy, "client") is None
    ah = trace("ah-behind-nat")
    assert codes(ah, "PacketDropped", "server") == {"AH_AFTER_NAT"}
    assert report_code(ah, "server") == "AH_AFTER_NAT"
    # the same AH without a NAT is not blamed on one (and works)
    assert success(trace("ah-behind-nat", "nat.kind=none"))


def test_the_windows_rule_refusal_and_what_the_server_sees():
    t = trace("server-behind-nat")
    assert codes(t, "Refused", "client") == {"NATD_MISMATCH_REFUSED_BY_RULE"}
    assert report_code(t, "client") == "NATD_MISMATCH_REFUSED_BY_RULE"
    assert codes(t, "GaveUp", "server") == {"GAVE_UP"} and report_code(t, "server") == "GAVE_UP"
    assert codes(t, "PacketDropped", "client") == {"UNEXPECTED_MESSAGE"}   # MM4 again, after the refusal


def test_nat_drops_have_their_codes():
    helper = trace("multi-client-helper")
    assert {h.drop_code for h in helper.hops if h.dropped} == {"NAT_PORT_TAKEN"}
    assert report_code(helper, "client2") == "NAT_PORT_TAKEN"    # it gave up because of that drop
    timeout = trace("keepalive-vs-timeout")
    assert {h.drop_code for h in timeout.hops if h.dropped} == {"NAT_MAPPING_EXPIRED"}
    assert report_code(timeout, "server") == "NAT_MAPPING_EXPIRED"
    only500 = trace("server-behind-nat", "client.assume_udp_rule=2", "nat2.forwards=500")
    assert first_failure(only500).code is Reason.NAT_NO_MAPPING
    wrong_host = trace("multi-client-helper", "nat.helper=esp-last-client", "client.nat_t=none", "server.nat_t=none",
                       "mode=tunnel")
    assert report_code(wrong_host, "client1") == "NAT_MISDELIVERED" and report_code(wrong_host, "client2") is None
    assert codes(wrong_host, "PacketDropped", "client2") == {"NO_IPSEC_SA"}
    lossy = trace("client-behind-nat", "link.loss=1")
    assert {h.drop_code for h in lossy.hops if h.dropped} == {"LINK_LOSS"}
    assert report_code(lossy, "client") == "LINK_LOSS"


def test_negotiation_failures_have_their_codes():
    t = trace("dh-group-mismatch", "client.dh_groups=14")
    assert codes(t, "Refused", "server") == {"NO_PROPOSAL"} and codes(t, "PeerRefused", "client") == {"NO_PROPOSAL"}
    assert report_code(t, "client") == "NO_PROPOSAL" and report_code(t, "server") == "NO_PROPOSAL"
    psk = trace("client-behind-nat", "client.psk=not-the-servers-secret")
    assert codes(psk, "AuthenticationFailed", "server") == {"AUTH_FAILED"}
    assert "DECRYPT_FAILED" in codes(psk, "PacketDropped", "server")
    assert codes(psk, "PeerRefused", "client") <= {"AUTH_FAILED"}
    assert report_code(psk, "server") == "AUTH_FAILED"


def test_codes_survive_the_json_round_trip():
    t = trace("multi-client-helper")
    back = Trace.from_json(t.to_json())
    assert [h.drop_code for h in back.hops] == [h.drop_code for h in t.hops]
    assert [e.fields.get("code") for e in back.events] == [e.fields.get("code") for e in t.events]
    assert json.loads(t.to_json())["report"]["peers"]["client2"]["reason_code"] == "NAT_PORT_TAKEN"


# ------------------------------------------------------------------ codes below the peers
def test_replay_and_icv_errors_carry_their_codes():
    sa = EspSa(0x1000, "aes-cbc-128", bytes(16), "hmac-sha1-96", bytes(20))
    rx = EspSa(0x1000, "aes-cbc-128", bytes(16), "hmac-sha1-96", bytes(20))
    packet = sa.protect(IPProto.UDP, b"hello", random.Random(1))
    rx.unprotect(packet)
    with pytest.raises(ReplayError) as replay:
        rx.unprotect(packet)
    assert replay.value.code is Reason.REPLAY
    second = bytearray(sa.protect(IPProto.UDP, b"again", random.Random(2)))
    second[-1] ^= 1
    with pytest.raises(IntegrityError) as icv:
        rx.unprotect(bytes(second))
    assert icv.value.code is Reason.ICV


def test_the_nat_names_fragments_and_protocols_it_cannot_translate():
    nat = Nat(NatConfig(public_ip="192.168.1.30"), random.Random(1))
    body = b"\x00" * 16
    fragment = bytearray(encode_ipv4_header("192.168.11.20", "192.168.1.10", IPProto.UDP, len(body),
                                            flags_frag=0x2000) + body)   # More Fragments set
    tr = Nat(NatConfig(public_ip="192.168.1.30", fragments="drop"), random.Random(1)).outbound(bytes(fragment), 0)
    assert tr.packet is None and tr.drop_code is Reason.FRAGMENT_DROPPED
    later = bytearray(encode_ipv4_header("192.168.11.20", "192.168.1.10", IPProto.UDP, len(body),
                                         flags_frag=0x0002) + body)     # offset 16: no ports, first never seen
    held = nat.outbound(bytes(later), 0)         # a passing NAT holds it until its first fragment comes
    assert held.packet is None and held.drop_code is None and "held" in held.note
    first_only = Nat(NatConfig(public_ip="192.168.1.30", fragments="first-only"), random.Random(1))
    assert first_only.outbound(bytes(later), 0).drop_code is Reason.FRAGMENT_DROPPED
    gre = encode_ipv4_header("192.168.11.20", "192.168.1.10", 47, len(body)) + body
    assert nat.outbound(gre, 0).drop_code is Reason.NAT_UNSUPPORTED_PROTOCOL
    assert nat.outbound(b"\x45\x00", 0).drop_code is Reason.MALFORMED


# ------------------------------------------------------------------ decisions read codes, not sentences
REWORDED = "(this sentence was reworded)"

#: runs whose decisions are compared with and without rewording
RUNS = [("legacy-behind-nat", ()), ("ah-behind-nat", ()), ("server-behind-nat", ()),
        ("multi-client-helper", ()), ("multi-client-helper", ("nat.helper=none",)), ("keepalive-vs-timeout", ()),
        ("client-behind-nat", ()), ("no-nat", ())] + [(s.preset, s.settings) for s in SYMPTOMS]


def _answer(builder, t):
    try:
        q = builder(t)
    except quiz.NoAnswer:
        return None
    return q.answer, q.step


def decisions(t: Trace) -> dict:
    """Everything a view decides from a run: quiz answers, the verdict, matrix cells, the failures."""
    f = first_failure(t)
    return {
        "quiz": {key: _answer(b, t) for key, b in quiz.BUILDERS.items()},
        "success": success(t),
        "first": f and (f.step, f.kind, f.where, f.code),
        "failures": [(x.step, x.kind, x.where, x.code) for x in failures(t)],
        "cell": cell(t).split(":")[0],
        "report": {p: (r["phase1"], r["phase2"], r["reason_code"]) for p, r in t.report["peers"].items()},
        "troubleshooter": [s.key for s in SYMPTOMS if f is not None and s.reproduces(f.code)],
    }


def reword(monkeypatch) -> None:
    """Every sentence the engine writes about a failure becomes the same meaningless one."""
    emit, fail, record = PeerCore._emit, PeerCore._fail, Network._record

    def reworded_emit(self, event_cls, **fields):
        if "reason" in fields:
            fields["reason"] = REWORDED
        emit(self, event_cls, **fields)

    def reworded_fail(self, sa, reason, failure, code):
        fail(self, sa, REWORDED, failure, code)

    def reworded_record(self, time, sent, sender, receiver, packet, before, changes, dropped, *rest, **kw):
        record(self, time, sent, sender, receiver, packet, before, changes, dropped and REWORDED, *rest, **kw)

    from dataclasses import replace as _replace

    from natt_core.ipsec.spd import Spd
    inbound = Spd.inbound

    def reworded_inbound(self, child):            # the server's policy check speaks too
        decision = inbound(self, child)
        return decision if decision.ok else _replace(decision, text=REWORDED)

    monkeypatch.setattr(PeerCore, "_emit", reworded_emit)
    monkeypatch.setattr(PeerCore, "_fail", reworded_fail)
    monkeypatch.setattr(Network, "_record", reworded_record)
    monkeypatch.setattr(Spd, "inbound", reworded_inbound)
    for cls in (ev.PacketDropped, ev.Refused, ev.PeerRefused, ev.AuthenticationFailed, ev.GaveUp, ev.NatDetected,
                ev.Floated):
        monkeypatch.setattr(cls, "describe", lambda self: REWORDED)


def test_rewording_every_sentence_changes_no_decision(monkeypatch):
    before = {(name, settings): decisions(trace(name, *settings)) for name, settings in RUNS}
    reword(monkeypatch)
    for name, settings in RUNS:
        after = run(apply_settings(preset(name), list(settings)))
        reasons = [e.fields["reason"].removeprefix("policy check: ") for e in after.events if "reason" in e.fields]
        assert all(r == REWORDED for r in reasons) and all(h.dropped in (None, REWORDED) for h in after.hops)
        assert all(e.text == REWORDED for e in after.events if e.event in FAILURE_EVENTS)
        assert decisions(after) == before[(name, settings)], (name, settings)


def test_the_decisions_compared_are_the_interesting_ones():
    """The rewording test compares real answers: the exam, the refusal and the troubleshooter's
    diagnosis are present in these runs, so a prose match would have had something to break."""
    assert decisions(trace("legacy-behind-nat"))["quiz"]["exam"][0].startswith("the inner UDP checksum")
    assert decisions(trace("ah-behind-nat"))["quiz"]["exam"][0].startswith("the AH ICV")
    assert decisions(trace("server-behind-nat"))["quiz"]["refuse"][0] == "the Windows client"
    assert decisions(trace("server-behind-nat"))["cell"] == "✗ client refuses (error 809)"
    for s in SYMPTOMS:
        assert s.key in decisions(trace(s.preset, *s.settings))["troubleshooter"], s.key
