"""ESP and AH SAs against scapy's independent SecurityAssociation, plus tamper/replay cases."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.ipsec import AH, ESP, IPSecIntegrityError, SecurityAssociation
from scapy.packet import Raw

from natt_core.crypto.primitives import CIPHERS, cbc_encrypt
from natt_core.errors import ConfigError, DecodeError, IntegrityError
from natt_core.ipsec.ah_sa import AhSa
from natt_core.ipsec.esp_sa import (INTEGRITY, MAX_SEQ, EspSa, ReplayError, SpiMismatchError,
                                    compute_icv)
from natt_core.wire.ip import encode_ipv4_header, incremental_update

SRC, DST = "192.168.1.10", "198.51.100.7"  # RFC 1918 / RFC 5737
SPI = 0xC0FFEE01
SCAPY_CIPHER = {"aes-cbc-128": "AES-CBC", "aes-cbc-256": "AES-CBC", "3des-cbc": "3DES"}
SCAPY_AUTH = {"hmac-sha1-96": "HMAC-SHA1-96", "hmac-sha256-128": "SHA2-256-128",
              "hmac-md5-96": "HMAC-MD5-96"}
SUITES = [(c, i) for c in ("aes-cbc-128", "3des-cbc") for i in ("hmac-sha1-96", "hmac-sha256-128")]
SUITES += [("aes-cbc-256", "hmac-md5-96")]


def keys(cipher: str, integrity: str, seed: int = 1) -> tuple[bytes, bytes]:
    rng = random.Random(seed)
    return rng.randbytes(CIPHERS[cipher].key_len), rng.randbytes(INTEGRITY[integrity].key_len)


def esp_pair(cipher: str, integrity: str, nat_t: bool = False,
             **kw) -> tuple[EspSa, SecurityAssociation]:
    ek, ak = keys(cipher, integrity)
    ours = EspSa(SPI, cipher, ek, integrity, ak, **kw)
    theirs = SecurityAssociation(
        ESP, spi=SPI, crypt_algo=SCAPY_CIPHER[cipher], crypt_key=ek,
        auth_algo=SCAPY_AUTH[integrity], auth_key=ak,
        nat_t_header=UDP(sport=4500, dport=4500) if nat_t else None)
    return ours, theirs


def inner_packets():
    """Transport-mode payloads of several lengths, so every pad length is exercised."""
    for n in range(0, 18):
        yield 17, bytes(UDP(sport=1000 + n, dport=2000) / Raw(bytes(range(n))))
    yield 6, bytes(TCP(sport=40000, dport=80, flags="S"))


def on_wire(esp: bytes, nat_t: bool):
    """Our ESP bytes in a real IPv4 packet (inside UDP 4500 for NAT-T), re-parsed by scapy."""
    if nat_t:
        pkt = IP(src=SRC, dst=DST) / UDP(sport=4500, dport=4500, chksum=0) / Raw(esp)
    else:
        pkt = IP(src=SRC, dst=DST, proto=50) / Raw(esp)
    return IP(bytes(pkt))


def esp_bytes(pkt, nat_t: bool) -> bytes:
    return bytes(pkt[UDP].payload) if nat_t else bytes(pkt[IP].payload)


# ---- ESP interop ----------------------------------------------------------------------------

@pytest.mark.parametrize("nat_t", [False, True], ids=["transport", "nat-t"])
@pytest.mark.parametrize("cipher, integrity", SUITES)
def test_scapy_decrypts_our_esp(cipher, integrity, nat_t):
    ours, theirs = esp_pair(cipher, integrity, nat_t)
    rng = random.Random(5)
    for next_header, inner in inner_packets():
        pkt = on_wire(ours.protect(next_header, inner, rng), nat_t)
        assert pkt.haslayer(ESP) and pkt[ESP].spi == SPI and pkt[ESP].seq == ours.seq
        plain = theirs.decrypt(pkt.copy())  # decrypt() mutates its argument
        assert plain[IP].proto == next_header
        assert bytes(plain[IP].payload) == inner


@pytest.mark.parametrize("nat_t", [False, True], ids=["transport", "nat-t"])
@pytest.mark.parametrize("cipher, integrity", SUITES)
def test_we_decrypt_scapy_esp(cipher, integrity, nat_t):
    ours, theirs = esp_pair(cipher, integrity, nat_t)
    for next_header, inner in inner_packets():
        layer = UDP(inner) if next_header == 17 else TCP(inner)
        pkt = IP(bytes(theirs.encrypt(IP(src=SRC, dst=DST) / layer)))
        if nat_t:
            assert pkt[UDP].dport == 4500 and pkt[UDP].chksum == 0
        assert ours.unprotect(esp_bytes(pkt, nat_t)) == (next_header, inner)


def test_protect_layout_and_padding():
    ours, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    rng = random.Random(9)
    for n in range(0, 40):
        out = ours.protect(17, bytes(n), rng)
        assert out[:4] == SPI.to_bytes(4, "big") and out[4:8] == ours.seq.to_bytes(4, "big")
        ciphertext_len = len(out) - 8 - 16 - 12
        assert ciphertext_len % 16 == 0 and ciphertext_len - (n + 2) in range(16)
    assert ours.seq == 40


def test_protect_is_deterministic_for_a_seeded_rng():
    a, _ = esp_pair("3des-cbc", "hmac-sha1-96")
    b, _ = esp_pair("3des-cbc", "hmac-sha1-96")
    assert a.protect(17, b"data", random.Random(3)) == b.protect(17, b"data", random.Random(3))


@settings(max_examples=100, deadline=None)
@given(payload=st.binary(max_size=100), next_header=st.integers(0, 255),
       suite=st.sampled_from(SUITES), seed=st.integers(0, 2**32))
def test_round_trip_property(payload, next_header, suite, seed):
    sender, _ = esp_pair(*suite)
    receiver, _ = esp_pair(*suite)
    assert receiver.unprotect(sender.protect(next_header, payload, random.Random(seed))) == \
        (next_header, payload)


# ---- ESP negative cases ---------------------------------------------------------------------

@pytest.mark.parametrize("cipher, integrity", [("aes-cbc-128", "hmac-sha1-96"),
                                               ("3des-cbc", "hmac-sha256-128")])
def test_every_single_bit_flip_is_rejected(cipher, integrity):
    sender, _ = esp_pair(cipher, integrity)
    receiver, _ = esp_pair(cipher, integrity)
    packet = sender.protect(17, b"ping", random.Random(1))
    for bit in range(len(packet) * 8):
        tampered = bytearray(packet)
        tampered[bit // 8] ^= 0x80 >> (bit % 8)
        with pytest.raises(IntegrityError):
            receiver.unprotect(bytes(tampered))
    assert receiver.unprotect(packet) == (17, b"ping")  # rejections left no state behind


def test_spi_mismatch():
    sender, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    other = EspSa(SPI + 1, "aes-cbc-128", sender.enc_key, "hmac-sha1-96", sender.auth_key)
    with pytest.raises(SpiMismatchError, match="SPI 0xc0ffee01 does not belong to this SA"):
        other.unprotect(sender.protect(17, b"x", random.Random(1)))


def test_replayed_packet():
    sender, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    receiver, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    packet = sender.protect(17, b"once", random.Random(1))
    receiver.unprotect(packet)
    with pytest.raises(ReplayError, match="replayed sequence number 1"):
        receiver.unprotect(packet)


def test_window_accepts_reordering_and_rejects_old():
    sender, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    receiver, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    rng = random.Random(2)
    packets = {sender.seq + 1: sender.protect(17, b"#%d" % i, rng) for i in range(70)}
    assert receiver.unprotect(packets[70]) == (17, b"#69")
    with pytest.raises(ReplayError, match="sequence number 6 is older than the replay window 7.."):
        receiver.unprotect(packets[6])
    for seq in (7, 40, 69, 8):  # out of order, inside the window
        assert receiver.unprotect(packets[seq]) == (17, b"#%d" % (seq - 1))
    with pytest.raises(ReplayError, match="replayed sequence number 40"):
        receiver.unprotect(packets[40])


def test_window_moves_only_after_the_icv_verified():
    sender, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    receiver, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    first = sender.protect(17, b"first", random.Random(1))
    forged = bytearray(first)
    forged[4:8] = (1000).to_bytes(4, "big")  # a far-ahead sequence number without a valid ICV
    with pytest.raises(IntegrityError, match="ICV mismatch for sequence number 1000"):
        receiver.unprotect(bytes(forged))
    assert receiver.unprotect(first) == (17, b"first")


def test_sequence_number_zero_is_never_valid():
    sender, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    receiver, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    sender.seq = -1  # makes the next packet carry 0; only a broken sender does this
    with pytest.raises(ReplayError, match="sequence number 0"):
        receiver.unprotect(sender.protect(17, b"", random.Random()))


@pytest.mark.parametrize("length", [0, 3, 8, 40, 53])
def test_bad_lengths_are_decode_errors(length):
    receiver, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    packet = SPI.to_bytes(4, "big") + bytes(max(0, length - 4))
    with pytest.raises(DecodeError) as err:
        receiver.unprotect(packet[:length])
    assert err.value.layer == "ESP"


def _authentic_packet(sa: EspSa, seq: int, plaintext: bytes) -> bytes:
    """A packet with a valid ICV around an arbitrary (possibly malformed) plaintext."""
    iv = bytes(16)
    body = SPI.to_bytes(4, "big") + seq.to_bytes(4, "big") + iv
    body += cbc_encrypt(sa.cipher, sa.enc_key, iv, plaintext)
    return body + compute_icv(sa.integrity, sa.auth_key, body)


def test_bad_padding_after_a_valid_icv():
    receiver, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    with pytest.raises(DecodeError, match="padding is not 1, 2, 3"):
        bad_pad = b"payload" + bytes([1, 2, 9, 4, 5, 6, 7]) + bytes([7, 17])
        receiver.unprotect(_authentic_packet(receiver, 1, bad_pad))
    with pytest.raises(DecodeError, match="pad length 200 exceeds"):
        receiver.unprotect(_authentic_packet(receiver, 2, bytes(14) + bytes([200, 17])))
    # The ICV verified, so (as RFC 4303 §3.4.3 says) the window recorded both numbers.
    with pytest.raises(ReplayError):
        receiver.unprotect(_authentic_packet(receiver, 1, bytes(14) + bytes([0, 17])))


def test_configuration_errors():
    ek, ak = keys("aes-cbc-128", "hmac-sha1-96")
    with pytest.raises(ConfigError, match="16-byte key"):
        EspSa(SPI, "aes-cbc-128", ek[:8], "hmac-sha1-96", ak)
    with pytest.raises(ConfigError, match="20-byte key"):
        EspSa(SPI, "aes-cbc-128", ek, "hmac-sha1-96", ak[:16])
    with pytest.raises(ConfigError, match="unknown integrity algorithm 'hmac-sha512'"):
        EspSa(SPI, "aes-cbc-128", ek, "hmac-sha512", ak)
    with pytest.raises(ConfigError, match="SPI 255"):
        EspSa(255, "aes-cbc-128", ek, "hmac-sha1-96", ak)
    sa = EspSa(SPI, "aes-cbc-128", ek, "hmac-sha1-96", ak, seq=MAX_SEQ)
    with pytest.raises(ConfigError, match="rekeyed"):
        sa.protect(17, b"", random.Random())


def test_disabled_replay_window_accepts_duplicates():
    sender, _ = esp_pair("aes-cbc-128", "hmac-sha1-96")
    receiver, _ = esp_pair("aes-cbc-128", "hmac-sha1-96", replay_window=0)
    packet = sender.protect(17, b"dup", random.Random(1))
    assert receiver.unprotect(packet) == receiver.unprotect(packet) == (17, b"dup")


# ---- AH -------------------------------------------------------------------------------------

def ah_pair(integrity: str) -> tuple[AhSa, SecurityAssociation]:
    ak = keys("aes-cbc-128", integrity)[1]
    return AhSa(SPI, integrity, ak), SecurityAssociation(
        AH, spi=SPI, auth_algo=SCAPY_AUTH[integrity], auth_key=ak)


INNER = bytes(UDP(sport=1000, dport=2000) / Raw(b"authenticated, not encrypted"))


@pytest.mark.parametrize("integrity", sorted(INTEGRITY))
def test_scapy_verifies_our_ah(integrity):
    ours, theirs = ah_pair(integrity)
    for ident in (1, 0xBEEF):
        body = ours.protect(SRC, DST, ident, 17, INNER)
        # Routers may change TTL/TOS/flags; the ICV must not depend on them.
        header = encode_ipv4_header(SRC, DST, 51, len(body), ident, ttl=3, tos=0x10, flags_frag=0)
        pkt = IP(header + body)
        assert pkt.haslayer(AH) and pkt[AH].seq == ours.seq
        plain = theirs.decrypt(pkt.copy())
        assert plain[IP].proto == 17 and bytes(plain[IP].payload) == INNER
        assert ours.verify(header, body) == (17, INNER)


@pytest.mark.parametrize("integrity", sorted(INTEGRITY))
def test_we_verify_scapy_ah(integrity):
    ours, theirs = ah_pair(integrity)
    raw = bytes(theirs.encrypt(IP(src=SRC, dst=DST, id=77, ttl=40) / UDP(INNER)))
    assert ours.verify(raw[:20], raw[20:]) == (17, INNER)


def _nat_rewrite_source(header: bytes, new_src: str) -> bytes:
    """What a NAT does: new source address, IPv4 checksum fixed incrementally (RFC 1624)."""
    new = bytes(int(x) for x in new_src.split("."))
    csum = incremental_update(int.from_bytes(header[10:12], "big"), header[12:16], new)
    return header[:10] + csum.to_bytes(2, "big") + new + header[16:]


def test_nat_breaks_ah_for_both_implementations():
    ours, theirs = ah_pair("hmac-sha1-96")
    body = ours.protect(SRC, DST, 5, 17, INNER)
    natted = _nat_rewrite_source(encode_ipv4_header(SRC, DST, 51, len(body), 5), "203.0.113.1")
    with pytest.raises(IntegrityError, match=r"AH ICV mismatch: .* source 203\.0\.113\.1"):
        ours.verify(natted, body)
    with pytest.raises(IPSecIntegrityError):
        theirs.decrypt(IP(natted + body))


def test_ah_tampering_and_malformed_input():
    ours, _ = ah_pair("hmac-sha256-128")
    body = ours.protect(SRC, DST, 5, 17, INNER)
    header = encode_ipv4_header(SRC, DST, 51, len(body), 5)
    flipped = body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(IntegrityError, match="AH ICV mismatch"):
        ours.verify(header, flipped)
    with pytest.raises(IntegrityError, match="AH ICV mismatch"):  # the ident is covered
        ours.verify(encode_ipv4_header(SRC, DST, 51, len(body), 6), body)
    other = AhSa(SPI + 1, "hmac-sha256-128", ours.auth_key)
    with pytest.raises(SpiMismatchError):
        other.verify(header, body)
    bad_len = body[:1] + bytes([4]) + body[2:]  # says a 12-byte ICV; SHA-256-128 needs 16
    with pytest.raises(DecodeError, match="12-byte ICV field"):
        ours.verify(header, bad_len)
    short = encode_ipv4_header(SRC, DST, 51, 10, 5)
    with pytest.raises(DecodeError) as err:
        ours.verify(short, body[:10])
    assert err.value.layer == "AH"
    with pytest.raises(DecodeError, match="total length"):
        ours.verify(header, body[:-1])
    with pytest.raises(DecodeError, match="protocol 50 is not AH"):
        ours.verify(encode_ipv4_header(SRC, DST, 50, len(body), 5), body)
