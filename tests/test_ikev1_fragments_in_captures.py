"""IKEv1 fragments met by diagnose: joined in any order, bounded against a flood, refused when they
join into nothing."""
from __future__ import annotations

import random

import pytest

from natt_core.analysis.ikev1_fragments import FRAGMENT, MAX_PENDING, V1Fragments
from natt_core.errors import DecodeError


def fragment(icookie: bytes, fid: int, number: int, last: bool, data: bytes) -> bytes:
    body = fid.to_bytes(2, "big") + bytes([number, 1 if last else 0]) + data
    payload = bytes([0, 0]) + (4 + len(body)).to_bytes(2, "big") + body
    return icookie + bytes(8) + bytes([FRAGMENT, 0x10, 2, 0]) + bytes(4) + (28 + len(payload)).to_bytes(4, "big") + payload


def test_fragments_join_in_any_order_and_name_their_frames():
    whole = bytes(range(256)) * 3
    pieces = [whole[i:i + 100] for i in range(0, len(whole), 100)]
    order = list(range(len(pieces)))
    random.Random(7).shuffle(order)
    f, done = V1Fragments(), None
    for frame, k in enumerate(order, 1):
        done = f.add(frame, fragment(b"C" * 8, 5, k + 1, k == len(pieces) - 1, pieces[k]), "src")
    assert done == (whole, tuple(order.index(k) + 1 for k in range(len(pieces))))
    assert not f.pending


def test_a_flood_of_unfinished_fragments_holds_bounded_state():
    f, rng = V1Fragments(), random.Random(1)
    for frame in range(20_000):
        f.add(frame, fragment(rng.randbytes(8), rng.randrange(65536), 1, False, b"x" * 50), f"10.0.{frame % 250}.1")
    assert len(f.pending) == MAX_PENDING


@pytest.mark.parametrize("number", [0, 200])
def test_an_impossible_fragment_number_is_a_decode_error(number):
    with pytest.raises(DecodeError):
        V1Fragments().add(1, fragment(b"C" * 8, 1, number, True, b"x"), "src")
