"""The troubleshooter: every symptom really fails and every fix really works (engine runs, no mocks),
pasted text picks the right symptom, and the page and its deep links show the failing step."""
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from natt_view.field_facts import first_failure, success
from natt_view.troubleshoot import BY_KEY, SYMPTOMS, lesson_url, match, playground_url

from .conftest import run_preset

LESSONS = Path(__file__).parent.parent / "lessons"
PAGE = "../lessons/troubleshoot.py"


def _run(name, settings):
    return run_preset(name, *settings)


@pytest.mark.parametrize("symptom", SYMPTOMS, ids=lambda s: s.key)
def test_reproduction_fails_and_fix_succeeds(symptom):
    broken = _run(symptom.preset, symptom.settings)
    assert not success(broken)
    assert first_failure(broken) is not None
    assert success(_run(symptom.preset, symptom.fix_settings))


EXPECTED_FAILURE = {        # symptom -> (who stops it, a word of the engine's reason)
    "win809-server": ("client", "809"),
    "win809-both": ("client", "it needs 2"),
    "udp4500-not-forwarded": ("server-nat", "4500"),
    "second-client": ("nat", "static-port-500"),
    "idle-keepalive": ("nat", "expired"),
    "l2tp-no-natt": ("server", "checksum"),
    "ah-through-nat": ("server", "ICV"),
    "no-proposal": ("server", "NO-PROPOSAL-CHOSEN"),
    "psk-mismatch": ("server", "MM5"),
    "ikev2-13801": ("server", "AUTH does not verify"),
    "ikev2-no-proposal": ("server", "NO_PROPOSAL_CHOSEN"),
    "ikev2-auth-lost": ("server-nat", "4500"),
    "certs-fragments": ("nat", "drops IP fragments"),
    "linux-two-clients": ("server", "policy"),
}


def test_each_failure_is_the_one_the_symptom_describes():
    assert set(EXPECTED_FAILURE) == set(BY_KEY)
    for key, (where, word) in EXPECTED_FAILURE.items():
        s = BY_KEY[key]
        f = first_failure(_run(s.preset, s.settings))
        assert f.where == where and word in f.reason, (key, f)


@pytest.mark.parametrize("text, key", [
    ("Error 809: The network connection between your computer and the VPN server could not be established",
     "win809-server"),
    ("received NO_PROPOSAL_CHOSEN error notify", "no-proposal"),
    ("INVALID_HASH_INFORMATION", "psk-mismatch"),
    ("local host is behind NAT, sending keep alives", "idle-keepalive"),
    ("AUTHENTICATION-FAILED", "psk-mismatch"),
    ("set AssumeUDPEncapsulationContextOnSendRule but both behind NAT", "win809-both"),
    ("the router has IPsec passthrough on and a second client cannot connect", "second-client"),
    ("AH packets dropped: ICV mismatch", "ah-through-nat"),
    ("only UDP 500 is forwarded, not 4500", "udp4500-not-forwarded"),
    ("L2TP inner UDP checksum does not verify", "l2tp-no-natt"),
    ("Error 13801: IKE authentication credentials are unacceptable", "ikev2-13801"),
    ("error 13806 IKE failed to find valid machine certificate", "ikev2-13801"),
    ("Error 13868: Policy match error", "ikev2-no-proposal"),
    ("IKE_SA_INIT answered but IKE_AUTH retransmitted, IKEv2 fragmentation?", "ikev2-auth-lost"),
])
def test_match_picks_the_symptom(text, key):
    hits = match(text)
    assert hits and hits[0][0].key == key
    assert hits[0][1]                          # the matched words are reported


@pytest.mark.parametrize("text", ["the weather is nice today", "", "chain ahead: esprit de corps", "12345"])
def test_unrelated_text_matches_nothing(text):
    assert match(text) == []


def test_links():
    s = BY_KEY["win809-both"]
    assert lesson_url(s, 4) == "/server-behind-nat?topology=both-nat&winrule=1&step=4"
    url = playground_url("server-behind-nat", ("nat2.forwards=500,4500",), 5)
    assert parse_qsl(urlsplit(url).query) == [("scenario", "server-behind-nat"),
                                              ("set", "nat2.forwards=500,4500"), ("step", "5")]
    assert lesson_url(BY_KEY["no-proposal"]) is None


def _page_text(at):
    return " ".join([m.value for m in at.markdown] + [e.value for e in at.error] + [e.value for e in at.success]
                    + [e.value for e in at.info] + [e.value for e in at.warning] + [h.value for h in at.header]
                    + [h.value for h in at.subheader])


def test_page_symptom_failure_and_fix():
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception and not at.error
    at.selectbox(key="ts:symptom").set_value("udp4500-not-forwarded").run()
    assert not at.exception
    assert "Step 5 (MM5): the router **server-nat** dropped" in at.error[0].value and "server-nat" in at.error[0].value
    assert "Connected." in at.success[0].value
    text = _page_text(at)
    assert "/l2tp-end-to-end?step=5" in text and "forward **UDP 4500**" in text
    assert at.query_params["symptom"] in ("udp4500-not-forwarded", ["udp4500-not-forwarded"])


def test_page_paste_and_no_match():
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_area(key="ts:paste").input("received NO_PROPOSAL_CHOSEN error notify").run()
    assert not at.exception
    assert "no proposal" in at.info[0].value and "NO-PROPOSAL-CHOSEN" in at.error[0].value
    assert "Connected." in at.success[0].value
    at.text_area(key="ts:paste").input("Error 809 could not be established").run()
    assert at.radio(key="ts:match").value == "win809-server"
    assert "refused" in at.error[0].value
    at.text_area(key="ts:paste").input("qwerty zxcv").run()
    assert not at.exception and not at.error
    assert "No match" in at.warning[0].value and BY_KEY["psk-mismatch"].title in at.warning[0].value


@pytest.mark.parametrize("key", [s.key for s in SYMPTOMS if s.lesson])
def test_deep_link_opens_the_failing_step(key):
    """The lesson the page links to, opened from that link, shows the failing packet at that step."""
    s = BY_KEY[key]
    f = first_failure(_run(s.preset, s.settings))
    url = urlsplit(lesson_url(s, f.step))
    page = next(p for p in LESSONS.glob("*.py") if f"# url: {url.path.strip('/')}\n" in p.read_text())
    at = AppTest.from_file(str(page), default_timeout=30)
    for k, v in parse_qsl(url.query):
        at.query_params[k] = v
    at.run()
    assert not at.exception
    heading = next(h.value for h in at.subheader if h.value.startswith("Step "))
    assert heading.startswith(f"Step {f.step} of ")
    assert f" — {f.label}: " in heading or f" — {f.label}, IP fragment " in heading     # a fragment says which
    assert f.reason.split(":")[0][:40] in _page_text(at)


@pytest.mark.parametrize("key", ["no-proposal", "psk-mismatch"])
def test_playground_link_opens_the_failing_step(key):
    s = BY_KEY[key]
    f = first_failure(_run(s.preset, s.settings))
    url = urlsplit(playground_url(s.preset, s.settings, f.step))
    assert url.path == "/playground"
    at = AppTest.from_file("../lessons/playground.py", default_timeout=30)
    for k, v in parse_qsl(url.query):
        at.query_params[k] = v
    at.run()
    assert not at.exception
    heading = next(h.value for h in at.subheader if h.value.startswith("Step "))
    assert heading.startswith(f"Step {f.step} of ") and f" — {f.label}: " in heading
