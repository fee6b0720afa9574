"""The verdict names what failed in the end (report.json, layer by layer), not the first packet
lost on the way: a lossy link whose early losses were resent still fails because of a wrong PSK,
an unacknowledged L2TP message or a NAT that breaks ESP's inner checksum."""
from __future__ import annotations

from natt_core.reasons import Reason
from natt_view.field_facts import decisive_failure, first_failure

from .conftest import run_preset


def test_a_run_that_works_has_no_failure():
    assert decisive_failure(run_preset("client-behind-nat")) is None


def test_a_wrong_psk_on_a_lossy_link_is_no_ipsec_sa_not_the_first_loss():
    t = run_preset("client-behind-nat", "link.loss=0.2", "server.psk=other")
    first = first_failure(t)
    assert first.code is Reason.LINK_LOSS and first.step == 1          # MM1 was lost, then resent
    o = decisive_failure(t)
    assert (o.layer, o.who, o.code) == ("IPsec", "client", Reason.AUTH_FAILED)
    assert "no IPsec SA for client" in o.sentence and "pre-shared keys" in o.sentence
    assert o.step.label == "MM5" and o.step.code is Reason.AUTH_FAILED and o.step.step > first.step


def test_an_unacknowledged_l2tp_message_is_l2tp_not_delivered():
    t = run_preset("client-behind-nat", "link.loss=0.15", "seed=5")
    assert t.report["peers"]["client"]["phase2"] == "established"
    o = decisive_failure(t)
    assert (o.layer, o.code, o.cause) == ("L2TP", Reason.L2TP_NO_ACK, Reason.LINK_LOSS)
    assert "ICCN" in o.sentence and "was not acknowledged" in o.sentence
    assert o.step.code is Reason.LINK_LOSS and o.step.step > first_failure(t).step   # the last loss, not the first


def test_ppp_that_never_authenticates_is_named():
    o = decisive_failure(run_preset("client-behind-nat", "link.loss=0.2"))
    assert o.layer == "PPP" and "PPP authentication never succeeded" in o.sentence and o.cause is Reason.LINK_LOSS


def test_l2tp_dropped_by_the_server_names_the_drop_as_the_cause():
    o = decisive_failure(run_preset("legacy-behind-nat"))
    assert (o.layer, o.code, o.cause) == ("L2TP", Reason.L2TP_NO_ACK, Reason.CHECKSUM_AFTER_NAT)
    assert o.step.label == "ESP" and o.step.where == "server"


def test_a_refusal_is_no_ipsec_sa_at_its_step():
    o = decisive_failure(run_preset("server-behind-nat"))
    assert (o.layer, o.code, o.step.step, o.step.label) == ("IPsec", Reason.NATD_MISMATCH_REFUSED_BY_RULE, 4, "MM4")
