"""RFC 3947 §3.2 NAT-D: a hand-computed hash and the evaluation truth table."""
from __future__ import annotations

import hashlib
import ipaddress

import pytest

from natt_core.crypto.natd import NatdVerdict, evaluate_natd, natd_hash
from natt_core.errors import ConfigError, DecodeError
from tests.vectors_crypto import NATD_ADDRESS, NATD_COOKIES, NATD_EXPECTED, NATD_INPUT

CKY_I, CKY_R = NATD_COOKIES


@pytest.mark.parametrize("name", sorted(NATD_EXPECTED))
def test_natd_hash_known_answer(name):
    ip, port = NATD_ADDRESS
    spelled_out = CKY_I + CKY_R + ipaddress.IPv4Address(ip).packed + port.to_bytes(2, "big")
    assert spelled_out == NATD_INPUT
    expected = hashlib.new(name, spelled_out).digest()
    assert expected == NATD_EXPECTED[name]
    assert natd_hash(name, CKY_I, CKY_R, ip, port) == expected


def test_natd_hash_inputs_all_matter():
    base = natd_hash("sha1", CKY_I, CKY_R, "192.168.1.10", 500)
    assert natd_hash("sha1", CKY_R, CKY_I, "192.168.1.10", 500) != base  # cookie order
    assert natd_hash("sha1", CKY_I, CKY_R, "192.168.1.11", 500) != base
    assert natd_hash("sha1", CKY_I, CKY_R, "192.168.1.10", 4500) != base


def test_natd_hash_rejects_bad_arguments():
    with pytest.raises(ConfigError, match="CKY-R must be 8 bytes"):
        natd_hash("sha1", CKY_I, b"\x00" * 7, "192.168.1.10", 500)
    with pytest.raises(ConfigError, match="invalid IPv4"):
        natd_hash("sha1", CKY_I, CKY_R, "192.168.1.300", 500)
    with pytest.raises(ConfigError, match="invalid port"):
        natd_hash("sha1", CKY_I, CKY_R, "192.168.1.10", 70000)


# The responder's view in the truth table: it is at 198.51.100.7:500 (RFC 5737). The initiator
# has a private address 192.168.1.10:500; a NAT in front of it maps to 203.0.113.1:<port>.
RESPONDER = ("198.51.100.7", 500)
INITIATOR = ("192.168.1.10", 500)


def sent_by_initiator(dest_as_addressed, own):
    """The two NAT-D hashes the initiator puts in MM3: where it sends, then itself."""
    return [natd_hash("sha1", CKY_I, CKY_R, *dest_as_addressed),
            natd_hash("sha1", CKY_I, CKY_R, *own)]


@pytest.mark.parametrize("label, addressed, seen_source, self_nat, peer_nat", [
    ("no NAT", RESPONDER, INITIATOR, False, False),
    ("peer behind NAPT", RESPONDER, ("203.0.113.1", 61000), False, True),
    ("port-only rewrite", RESPONDER, ("192.168.1.10", 1024), False, True),
    # The responder itself is behind a port forward: the initiator addressed its public side.
    ("self behind NAT", ("203.0.113.50", 500), INITIATOR, True, False),
    ("both behind NAT", ("203.0.113.50", 500), ("203.0.113.1", 61000), True, True),
    ("self behind port-only NAT", ("198.51.100.7", 4501), INITIATOR, True, False),
])
def test_evaluate_natd_truth_table(label, addressed, seen_source, self_nat, peer_nat):
    received = sent_by_initiator(addressed, INITIATOR)
    v = evaluate_natd("sha1", CKY_I, CKY_R, received, local=RESPONDER, remote_seen=seen_source)
    assert (v.self_behind_nat, v.peer_behind_nat) == (self_nat, peer_nat), label
    assert v.nat_detected == (self_nat or peer_nat)
    assert v.expected_self == natd_hash("sha1", CKY_I, CKY_R, *RESPONDER)
    assert v.expected_peer == natd_hash("sha1", CKY_I, CKY_R, *seen_source)
    assert v.received_dest == received[0]
    assert v.received_sources == (received[1],)


def test_any_of_several_source_hashes_matches():
    received = [natd_hash("sha1", CKY_I, CKY_R, *RESPONDER),
                natd_hash("sha1", CKY_I, CKY_R, "10.0.0.5", 500),
                natd_hash("sha1", CKY_I, CKY_R, *INITIATOR)]
    v = evaluate_natd("sha1", CKY_I, CKY_R, received, local=RESPONDER, remote_seen=INITIATOR)
    assert v == NatdVerdict(False, False, received[0], received[0], received[2],
                            tuple(received[1:]))
    assert not v.nat_detected


def test_forced_encapsulation_random_hash_looks_like_nat():
    received = [natd_hash("sha1", CKY_I, CKY_R, *RESPONDER), b"\x5a" * 20]
    v = evaluate_natd("sha1", CKY_I, CKY_R, received, local=RESPONDER, remote_seen=INITIATOR)
    assert v.peer_behind_nat and not v.self_behind_nat


def test_first_hash_never_counts_as_a_source():
    """Position matters: a destination hash equal to the seen source proves nothing."""
    received = [natd_hash("sha1", CKY_I, CKY_R, *INITIATOR), b"\x5a" * 20]
    v = evaluate_natd("sha1", CKY_I, CKY_R, received, local=INITIATOR, remote_seen=INITIATOR)
    assert v.peer_behind_nat and not v.self_behind_nat


@pytest.mark.parametrize("count", [0, 1])
def test_too_few_natd_payloads(count):
    received = [natd_hash("sha1", CKY_I, CKY_R, *RESPONDER)][:count]
    with pytest.raises(DecodeError) as err:
        evaluate_natd("sha1", CKY_I, CKY_R, received, local=RESPONDER, remote_seen=INITIATOR)
    assert (err.value.layer, err.value.offset) == ("NAT-D", 0)
    assert f"got {count}" in err.value.reason
