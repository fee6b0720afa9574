"""The ESP overhead budget against real packets: its parts add up to the packet on the wire, and
`largest_inner` agrees with what the engine's own ESP really produces at the edge of an MTU."""
from __future__ import annotations

import random

import pytest

from natt_core.ipsec.esp_sa import EspSa
from natt_view import overhead
from natt_view.overhead import IPV4, UDP, largest_inner, outer_size
from natt_view.steps import journeys

from .conftest import run_preset


def esp_budget(name: str, *settings: str):
    trace = run_preset(name, *settings)
    j = next(j for j in journeys(trace) if j.label.startswith("ESP"))
    return overhead.esp_budget(trace, j), j.hops[-1].packet


@pytest.mark.parametrize("name, settings, encapsulated", [
    ("client-behind-nat", (), True), ("no-nat", (), False),
    ("client-behind-nat", ("mode=tunnel",), True),
])
def test_the_parts_add_up_to_the_packet_on_the_wire(name, settings, encapsulated):
    b, packet = esp_budget(name, *settings)
    assert b.total == len(packet) and b.encapsulated is encapsulated
    assert (b.block, b.iv, b.icv) == (16, 16, 12)                 # AES-CBC, HMAC-SHA1-96 (RFC 3602, 2404)
    inner = next(p.size for p in b.parts if p.added_by == "inner")
    assert outer_size(inner, b) == len(packet)


@pytest.mark.parametrize("cipher, integrity", [("aes-cbc-128", "hmac-sha1-96"), ("3des-cbc", "hmac-sha256-128")])
@pytest.mark.parametrize("mtu", [1500, 1400, 1280, 576])
def test_largest_inner_is_exactly_what_the_engines_esp_can_carry(cipher, integrity, mtu):
    b, _ = esp_budget("client-behind-nat")
    sa = EspSa(0x1234, cipher, bytes(24 if cipher == "3des-cbc" else 16), integrity,
               bytes(32 if integrity == "hmac-sha256-128" else 20))
    block = 8 if cipher == "3des-cbc" else 16
    icv = 16 if integrity == "hmac-sha256-128" else 12
    b = type(b)(b.parts, block=block, iv=block, icv=icv, encapsulated=True)
    rng = random.Random(1)
    for encapsulated in (True, False):
        fits = largest_inner(mtu, b, encapsulated)
        wire = lambda n: IPV4 + (UDP if encapsulated else 0) + len(sa.protect(17, bytes(n), rng))   # noqa: E731
        assert wire(fits) <= mtu < wire(fits + 1), (encapsulated, fits)
    assert largest_inner(mtu, b, True) <= largest_inner(mtu, b, False)


def test_lesson_5_shows_the_budget_and_the_mtu_answer_from_the_run():
    from pathlib import Path
    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "lessons" / "05_quick_mode.py"),
                           default_timeout=60).run()
    assert not at.exception
    # known answers for AES-CBC + HMAC-SHA1-96 in UDP: 20 (IPv4) + 8 (UDP, RFC 3948 §2.1) + 8 (SPI,
    # sequence) + 16 (IV, RFC 3602) + 12 (ICV, RFC 2404) = 64 fixed bytes; the rest in whole 16-byte
    # blocks less the 2-byte trailer (RFC 4303 §2.4): (1500 - 64) // 16 * 16 - 2 = 1422, and 510 at 576
    text = "\n".join(m.value for m in at.markdown)
    assert "**1422 bytes** UDP-encapsulated" in text
    at.select_slider(key="oh:client-behind-nat:mtu").set_value(576).run()
    assert "**510 bytes** UDP-encapsulated" in "\n".join(m.value for m in at.markdown)
