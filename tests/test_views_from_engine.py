"""Views show what the engine knew. The decrypt view opens IKE with the IVs the engine used
(secrets.json), and those IVs are the ones RFC 2409 Appendix B defines, recomputed here with hashlib
from the KE payloads on the wire; the NAT-D workbench hashes with the negotiated phase-1 hash."""
from __future__ import annotations

import hashlib

from natt_core.wire.isakmp import KE, decode_header, decode_message
from natt_core.wire.udp_encap import carried
from natt_view.decrypt import open_step
from natt_view.steps import journeys

from .conftest import run_preset


def _messages(trace):
    """(label, ISAKMP bytes) of every IKE step, in wire order."""
    for j in journeys(trace):
        c = carried(j.first.packet)
        if c is not None and c.kind == "ike":
            yield j, c.data


def test_recorded_ivs_follow_rfc_2409_appendix_b():
    t = run_preset("client-behind-nat")
    sa = t.secrets["ike_sas"][0]
    assert (sa["hash"], sa["cipher"]) == ("sha1", "aes-cbc-128")
    recorded = {(int(r["message_id"], 16), r["first_block"]): bytes.fromhex(r["iv"]) for r in sa["ivs"]}
    ke, body_of = [], {}
    for j, message in _messages(t):
        header, body = decode_header(message)
        if header.encrypted:
            body_of.setdefault(j.label, (header.message_id, body))
        elif (k := decode_message(message)[1].first(KE)) is not None and k.data not in ke:
            ke.append(k.data)

    def iv_of(label):
        mid, body = body_of[label]
        return recorded[(mid, body[:16].hex())]

    assert iv_of("MM5") == hashlib.sha1(ke[0] + ke[1]).digest()[:16]              # g^xi | g^xr
    assert iv_of("MM6") == body_of["MM5"][1][-16:]                               # CBC chaining
    mid = body_of["QM1"][0]
    assert iv_of("QM1") == hashlib.sha1(body_of["MM6"][1][-16:] + mid.to_bytes(4, "big")).digest()[:16]
    assert iv_of("QM2") == body_of["QM1"][1][-16:] and iv_of("QM3") == body_of["QM2"][1][-16:]


def test_the_view_says_which_iv_it_used_and_opens_every_encrypted_message():
    t = run_preset("client-behind-nat")
    ivs = {r["iv"] for r in t.secrets["ike_sas"][0]["ivs"]}
    opened = [(j.label, open_step(t, j)) for j, message in _messages(t) if decode_header(message)[0].encrypted]
    assert [label for label, _ in opened] == ["MM5", "MM6", "QM1", "QM2", "QM3"]
    for label, o in opened:
        assert o is not None and any(iv in o.how for iv in ivs), label
        assert o.fields and o.fields[0].layer.endswith("payload"), label


def test_without_the_recorded_iv_the_view_opens_nothing_rather_than_guess():
    from dataclasses import replace
    t = run_preset("client-behind-nat")
    sa = dict(t.secrets["ike_sas"][0], ivs=[])
    bare = replace(t, secrets=dict(t.secrets, ike_sas=[sa]))
    mm5 = next(j for j in journeys(bare) if j.label == "MM5")
    assert open_step(bare, mm5) is None


def test_the_natd_workbench_uses_the_negotiated_hash_not_the_hash_length():
    from dataclasses import replace

    from natt_view.workbench import natd_cases
    t = run_preset("client-behind-nat")
    cases = natd_cases(t)
    assert [c.label for c in cases] == ["MM3", "MM4"] and {c.hash_name for c in cases} == {"sha1"}
    # a record that says md5 is believed over the 20-byte hashes on the wire: the record decides
    told = replace(t, secrets=dict(t.secrets, ike_sas=[dict(t.secrets["ike_sas"][0], hash="md5")]))
    assert {c.hash_name for c in natd_cases(told)} == {"md5"}
    # without secrets, MM2's chosen transform (in the clear) still names the hash
    bare = replace(t, secrets=dict(t.secrets, ike_sas=[]))
    assert {c.hash_name for c in natd_cases(bare)} == {"sha1"}
