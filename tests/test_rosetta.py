"""The Log Rosetta stone against the three real charon logs in assets/captures, and in the app.

Every expected string below was read off those logs (strongSwan 5.9.8, recorded by the live
interop lab through a Linux NAT); a split at the wrong line hands them to the wrong message.
"""
from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from streamlit.testing.v1 import AppTest

from natt_core.lab.scenario import run
from natt_ui.runs import scenario_for
from natt_view.rosetta import (INITIATOR, RECEIVED, RESPONDER, SENT, charon_role, message_label,
                               parse_line, recording, rosetta, segments, step_log)
from natt_view.steps import journeys

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT / "assets" / "captures"
RESPONDER_LOG = (CAPTURES / "strongswan-responder.charon.log").read_text()
INITIATOR_LOG = (CAPTURES / "strongswan-initiator.charon.log").read_text()
WRONG_PSK_LOG = (CAPTURES / "strongswan-wrong-psk.charon.log").read_text()
EXPANDER = "What strongSwan 5.9.8 logs for this message"
FLOAT_LINE = "local endpoint changed from 192.168.1.10[500] to 192.168.1.10[4500]"   # responder log, MM5


def text(lines) -> str:
    return "\n".join(lines)


# --- the split, on the real logs ---------------------------------------------------------------

def test_roles_come_from_charons_own_lines():
    assert charon_role([parse_line(x) for x in RESPONDER_LOG.splitlines()]) == RESPONDER
    assert charon_role([parse_line(x) for x in INITIATOR_LOG.splitlines()]) == INITIATOR
    assert charon_role([parse_line(x) for x in WRONG_PSK_LOG.splitlines()]) == RESPONDER


def test_responder_log_messages_in_order():
    got = [(s.label, s.direction) for s in segments(RESPONDER_LOG)]
    assert got == [("MM1", RECEIVED), ("MM2", SENT), ("MM3", RECEIVED), ("MM4", SENT), ("MM5", RECEIVED),
                   ("MM6", SENT), ("QM1", RECEIVED), ("QM2", SENT), ("QM3", RECEIVED), ("INFO", SENT),
                   ("INFO", SENT)]


def test_initiator_log_messages_in_order():
    got = [(s.label, s.direction) for s in segments(INITIATOR_LOG)]
    assert got == [("MM1", SENT), ("MM2", RECEIVED), ("MM3", SENT), ("MM4", RECEIVED), ("MM5", SENT),
                   ("MM6", RECEIVED), ("QM1", SENT), ("QM2", RECEIVED), ("QM3", SENT), ("INFO", SENT),
                   ("INFO", SENT)]


@pytest.mark.parametrize("log", [RESPONDER_LOG, INITIATOR_LOG, WRONG_PSK_LOG],
                         ids=["responder", "initiator", "wrong-psk"])
def test_each_net_line_opens_or_closes_exactly_one_segment(log):
    net = [x for x in log.splitlines() if "[NET]" in x]
    segs = segments(log)
    assert len(segs) == len(net)
    for s in segs:
        own = [x for x in s.lines if "[NET]" in x]
        assert len(own) == 1
        if s.direction == RECEIVED:
            assert "received packet" in s.lines[0]
        else:
            assert "sending packet" in s.lines[-1]
    # no line is handed to two messages, none is made up
    assert not Counter(x for s in segs for x in s.lines) - Counter(log.splitlines())


def test_responder_mm3_finds_the_nat():
    m = rosetta(RESPONDER_LOG)
    assert "remote host is behind NAT" in text(m[(RESPONDER, "MM3", RECEIVED)])
    assert "parsed ID_PROT request 0 [ KE No NAT-D NAT-D ]" in text(m[(RESPONDER, "MM3", RECEIVED)])
    for other in [(RESPONDER, "MM1", RECEIVED), (RESPONDER, "MM4", SENT), (RESPONDER, "MM5", RECEIVED)]:
        assert "behind NAT" not in text(m[other])


def test_responder_mm5_floats_to_4500():
    m = rosetta(RESPONDER_LOG)
    mm5 = m[(RESPONDER, "MM5", RECEIVED)]
    assert mm5[0].endswith("[NET] received packet: from 192.168.1.30[4500] to 192.168.1.10[4500] (76 bytes)")
    assert FLOAT_LINE in text(mm5)
    assert "remote endpoint changed from 192.168.1.30[500] to 192.168.1.30[4500]" in text(mm5)
    assert "IKE_SA client-behind-nat[1] state change: CONNECTING => ESTABLISHED" in text(mm5)
    assert "generating" not in text(mm5)                            # the reply is MM6's
    assert "generating ID_PROT response 0 [ ID HASH ]" in text(m[(RESPONDER, "MM6", SENT)])
    assert FLOAT_LINE not in text(m[(RESPONDER, "MM3", RECEIVED)] + m[(RESPONDER, "MM6", SENT)])


def test_responder_mm1_sees_vendor_ids_and_mm2_sends_its_own():
    m = rosetta(RESPONDER_LOG)
    assert "received NAT-T (RFC 3947) vendor ID" in text(m[(RESPONDER, "MM1", RECEIVED)])
    assert "sending NAT-T (RFC 3947) vendor ID" in text(m[(RESPONDER, "MM2", SENT)])
    assert "sending" not in text(m[(RESPONDER, "MM1", RECEIVED)])


def test_responder_qm3_installs_the_child_sa():
    m = rosetta(RESPONDER_LOG)
    qm3 = text(m[(RESPONDER, "QM3", RECEIVED)])
    assert "adding inbound ESP SA" in qm3 and "state change: INSTALLING => INSTALLED" in qm3
    assert "queueing QUICK_DELETE task" not in qm3                   # thread 00's teardown is not QM3's
    assert "queueing QUICK_DELETE task" in text(m[(RESPONDER, "INFO", SENT)])


def test_initiator_learns_it_is_behind_nat_at_mm4():
    m = rosetta(INITIATOR_LOG)
    assert "local host is behind NAT, sending keep alives" in text(m[(INITIATOR, "MM4", RECEIVED)])
    for other in [(INITIATOR, "MM2", RECEIVED), (INITIATOR, "MM5", SENT), (INITIATOR, "MM6", RECEIVED)]:
        assert "behind NAT" not in text(m[other])
    mm5 = text(m[(INITIATOR, "MM5", SENT)])
    assert "generating ID_PROT request 0 [ ID HASH N(INITIAL_CONTACT) ]" in mm5
    assert "sending packet: from 192.168.11.20[4500] to 192.168.1.10[4500]" in mm5
    assert "initiating Main Mode IKE_SA client-behind-nat[1] to 192.168.1.10" in text(m[(INITIATOR, "MM1", SENT)])


def test_wrong_psk_mm5_shows_the_decryption_failure():
    segs = segments(WRONG_PSK_LOG)
    mm5 = [s for s in segs if s.label == "MM5"]
    assert len(mm5) == 3 and all(s.direction == RECEIVED for s in mm5)   # the original and two retransmits
    lines = text(rosetta(WRONG_PSK_LOG)[(RESPONDER, "MM5", RECEIVED)])
    assert "invalid ID_V1 payload length, decryption failed?" in lines
    assert "could not decrypt payloads" in lines and "message parsing failed" in lines
    # logged by the same thread after its INFO went out: still the handling of MM5
    assert "ID_PROT request with message ID 0 processing failed" in lines
    assert "generating INFORMATIONAL_V1 request 668154511 [ HASH N(PLD_MAL) ]" not in lines
    assert "N(PLD_MAL)" in text(rosetta(WRONG_PSK_LOG)[(RESPONDER, "INFO", SENT)])
    assert (RESPONDER, "MM6", SENT) not in rosetta(WRONG_PSK_LOG)
    assert "decrypt" not in text(rosetta(RESPONDER_LOG)[(RESPONDER, "MM5", RECEIVED)])


def test_another_threads_line_stays_out_of_a_message():
    lines = RESPONDER_LOG.splitlines()
    at = next(i for i, x in enumerate(lines) if "remote host is behind NAT" in x)
    foreign = "1795219585 07[IKE] a line of another worker"
    m = rosetta("\n".join(lines[:at] + [foreign] + lines[at:]))
    assert not any(foreign in v for v in m.values())
    # thread 10 goes on handling MM3 after thread 07's line, then builds MM4
    assert "remote host is behind NAT" in text(m[(RESPONDER, "MM3", RECEIVED)])
    assert m[(RESPONDER, "MM4", SENT)] == rosetta(RESPONDER_LOG)[(RESPONDER, "MM4", SENT)]


@pytest.mark.parametrize("exchange,kind,payloads,direction,role,want", [
    ("ID_PROT", "request", ("SA", "V", "V"), RECEIVED, RESPONDER, "MM1"),
    ("ID_PROT", "response", ("SA", "V"), RECEIVED, INITIATOR, "MM2"),
    ("ID_PROT", "request", ("KE", "No", "NAT-D", "NAT-D"), SENT, INITIATOR, "MM3"),
    ("ID_PROT", "response", ("KE", "No", "NAT-D", "NAT-D"), SENT, RESPONDER, "MM4"),
    ("ID_PROT", "request", ("ID", "HASH", "N(INITIAL_CONTACT)"), SENT, INITIATOR, "MM5"),
    ("ID_PROT", "response", ("ID", "HASH"), SENT, RESPONDER, "MM6"),
    ("ID_PROT", "response", ("ID", "HASH"), RECEIVED, RESPONDER, None),     # contradicts the role
    ("QUICK_MODE", "request", ("HASH", "SA", "No", "ID", "ID"), RECEIVED, RESPONDER, "QM1"),
    ("QUICK_MODE", "response", ("HASH", "SA", "No", "ID", "ID"), RECEIVED, INITIATOR, "QM2"),
    ("QUICK_MODE", "request", ("HASH",), SENT, INITIATOR, "QM3"),
    ("INFORMATIONAL_V1", "request", ("HASH", "D"), SENT, RESPONDER, "INFO"),
    ("TRANSACTION", "request", ("HASH", "CPRQ"), SENT, RESPONDER, None),
])
def test_message_label(exchange, kind, payloads, direction, role, want):
    assert message_label(exchange, kind, payloads, direction, role) == want


# --- malformed input: empty mapping or skipped lines, never an exception -------------------------

@pytest.mark.parametrize("bad", ["", "\n\n", "not a charon log", "12[NET] received packet:", None, b"bytes",
                                 "1795219585 12[ENC] parsed QUICK_MODE request 3 [ HASH ]"])
def test_unknown_logs_give_an_empty_mapping(bad):
    assert rosetta(bad) == {}


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(0, 3))
def test_cut_and_shuffled_real_logs_never_raise(rnd: random.Random, how: int):
    lines = rnd.choice([RESPONDER_LOG, INITIATOR_LOG, WRONG_PSK_LOG]).splitlines()
    if how == 0:
        lines = lines[:rnd.randrange(len(lines) + 1)]
    elif how == 1:
        rnd.shuffle(lines)
    elif how == 2:
        lines = [x[:rnd.randrange(len(x) + 1)] for x in lines]
    else:
        lines = [x for x in lines if rnd.random() < 0.7]
    m = rosetta("\n".join(lines))
    assert all(isinstance(v, tuple) and v for v in m.values())


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789 []NETCKHDI\nparsedgenratingID_PROTrequstpo"), max_size=400))
def test_arbitrary_text_never_raises(s):
    assert isinstance(rosetta(s), dict)


# --- which recording a lesson step gets ----------------------------------------------------------

def _steps(*settings_):
    trace = run(scenario_for("client-behind-nat", settings_))
    return trace, journeys(trace)


def test_step_log_picks_the_receivers_role():
    trace, steps = _steps()
    by_label = {}
    for j in steps:
        by_label.setdefault(j.label, j)
    mm5 = step_log(trace, by_label["MM5"])                     # client -> server: charon as responder
    assert mm5.role == RESPONDER and mm5.name == "responder" and FLOAT_LINE in text(mm5.lines)
    mm4 = step_log(trace, by_label["MM4"])                     # server -> client: charon as initiator
    assert mm4.role == INITIATOR and "local host is behind NAT, sending keep alives" in text(mm4.lines)
    assert step_log(trace, by_label["QM3"]).lines == recording("responder")[(RESPONDER, "QM3", RECEIVED)]
    for label in ("keepalive", "ESP-in-UDP"):
        assert step_log(trace, by_label[label]) is None


def test_step_log_only_for_the_recorded_situation():
    trace, steps = _steps("nat.kind=none")                     # no NAT: charon would not float
    assert all(step_log(trace, j) is None for j in steps)
    trace, steps = _steps("client.psk=something-else")        # the wrong-PSK recording at MM5
    first_mm5 = next(j for j in steps if j.label == "MM5")
    log = step_log(trace, first_mm5)
    assert log.name == "wrong-psk" and "could not decrypt payloads" in text(log.lines)


# --- in the app ---------------------------------------------------------------------------------

def _open_lesson4(step: int) -> AppTest:
    at = AppTest.from_file(str(ROOT / "lessons/04_float_4500.py"), default_timeout=60)
    at.query_params["step"] = str(step)
    return at.run()


def _index(label: str) -> int:
    return next(j.index for j in _steps()[1] if j.label == label)


def test_lesson4_mm5_shows_charons_float_line():
    step = _index("MM5")
    at = _open_lesson4(step)
    assert not at.exception and not at.error
    assert "MM5" in at.subheader[0].value and at.subheader[0].value.startswith(f"Step {step} of ")
    exp = [e for e in at.expander if e.label == EXPANDER]
    assert len(exp) == 1
    body = "\n".join(c.value for c in exp[0].code)
    assert FLOAT_LINE in body and "remote host is behind NAT" not in body
    assert "Linux NAT" in " ".join(c.value for c in exp[0].caption)


@pytest.mark.parametrize("label", ["keepalive", "ESP-in-UDP"])
def test_lesson4_steps_without_a_recording_have_no_expander(label):
    at = _open_lesson4(_index(label))
    assert not at.exception and not at.error
    assert label in at.subheader[0].value
    assert not [e for e in at.expander if e.label == EXPANDER]
