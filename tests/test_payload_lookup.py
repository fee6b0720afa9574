"""Main Mode's payload lookups: `only_each` finds several classes in one pass and refuses exactly
as `only` does, one class at a time, in the order asked."""
import pytest

from natt_core.errors import DecodeError
from natt_core.ike.main_mode import only, only_each
from natt_core.wire.isakmp import KE, Hash, Nonce, VendorID, decode_payloads, encode_payloads
from natt_core.wire.numbers import PayloadType


def chain(*payloads):
    return decode_payloads(PayloadType(payloads[0].payload_type), encode_payloads(list(payloads)))


def refusal(fn, *args) -> str:
    with pytest.raises(DecodeError) as exc:
        fn(*args)
    return str(exc.value)


def test_one_of_each_in_the_order_asked():
    c = chain(VendorID(b"v" * 16), Nonce(b"n" * 32), KE(b"k" * 128))
    ke, nonce = only_each(c, (KE, Nonce), "MM3")
    assert ke is only(c, KE, "MM3") and nonce is only(c, Nonce, "MM3")


@pytest.mark.parametrize("payloads", [
    (Nonce(b"n" * 32),),                                   # no KE
    (KE(b"k" * 128), Nonce(b"n" * 32), KE(b"k" * 128)),     # two KEs
    (KE(b"k" * 128), Nonce(b"n" * 32), Nonce(b"m" * 32)),   # two nonces
    (KE(b"k" * 128), Nonce(b"n" * 32), Nonce(b"m" * 32), Nonce(b"o" * 32)),   # three
    (Hash(b"h" * 20),),                                    # neither: the first asked is named
])
def test_refused_as_only_refuses(payloads):
    c = chain(*payloads)
    first_wrong = next(cls for cls in (KE, Nonce) if sum(isinstance(p, cls) for p in c.payloads) != 1)
    assert refusal(only_each, c, (KE, Nonce), "MM4") == refusal(only, c, first_wrong, "MM4")


# ---- IKEv2: the same lookups over a payload list ---------------------------------------------

from natt_core.ike.v2.auth import _only, _only_each  # noqa: E402
from natt_core.ike.v2.peer import one, one_each  # noqa: E402
from natt_core.wire import ikev2 as v2  # noqa: E402

KE2, NONCE2, NOTE2 = v2.KE(14, b"k" * 256), v2.Nonce(b"n" * 32), v2.Notify(16388, b"x" * 20)


def test_v2_one_of_each_in_the_order_asked():
    payloads = [NOTE2, NONCE2, KE2]
    assert one_each(payloads, (v2.KE, v2.Nonce), "IKE_SA_INIT") == (KE2, NONCE2)
    assert _only_each(payloads, (v2.KE, v2.Nonce, v2.SA)) == (KE2, NONCE2, None)


@pytest.mark.parametrize("payloads", [[NONCE2], [KE2, NONCE2, KE2], [KE2, NONCE2, NONCE2, NONCE2], [NOTE2]])
def test_v2_refused_as_one_refuses(payloads):
    first_wrong = next(cls for cls in (v2.KE, v2.Nonce) if sum(isinstance(p, cls) for p in payloads) != 1)
    assert refusal(one_each, payloads, (v2.KE, v2.Nonce), "X") == refusal(one, payloads, first_wrong, "X")
    assert _only_each(payloads, (v2.KE, v2.Nonce)) == (_only(payloads, v2.KE), _only(payloads, v2.Nonce))


# ---- the SA fast path: one pass over proposals and transforms, or None for the strict decoder --

def _sa_bodies():
    from natt_core.ike.policy import PeerPolicy
    from natt_core.ike.proposals import phase1_offer, phase2_offer
    policy = PeerPolicy()
    return [phase1_offer(policy).encode_body(), phase2_offer(policy, b"\x01\x02\x03\x04", 3).encode_body(),
            phase2_offer(PeerPolicy(protocol="ah"), b"\x05\x06\x07\x08", 1).encode_body()]


@pytest.mark.parametrize("which", range(3))
def test_usual_sa_bodies_take_the_fast_path_and_agree_with_the_strict_decoder(which):
    from natt_core.wire.codec import Reader
    from natt_core.wire.isakmp import SA
    from natt_core.wire.isakmp_payloads import _SA_SIZE
    from natt_core.wire.isakmp_proposals import proposals_from_body
    body = _sa_bodies()[which]
    fast = proposals_from_body(body, _SA_SIZE)
    assert fast is not None and fast == SA.decode_body(Reader(body, "SA")).proposals


def test_unusual_sa_bodies_leave_the_fast_path():
    from natt_core.wire.isakmp_payloads import _SA_SIZE
    from natt_core.wire.isakmp_proposals import proposals_from_body
    body = _sa_bodies()[0]
    first = _SA_SIZE                                   # the first proposal's generic header
    for broken in (body[:-1],                          # a transform cut short
                   body + b"\x00",                     # a byte after the last proposal
                   body[:first + 1] + b"\x01" + body[first + 2:],     # RESERVED set
                   body[:first + 7] + bytes([body[first + 7] + 1]) + body[first + 8:]):  # one transform more than there are
        assert proposals_from_body(broken, _SA_SIZE) is None
