"""One direction of an ESP SA with AES-GCM-16 (RFC 4106): the AEAD sibling of `EspSa`.

    SPI(4) | Seq(4) | IV(8) | E(payload | padding 1,2,3.. | pad length | next header) | ICV(16)

The key is the cipher key plus a 4-byte salt (RFC 4106 §8.1, the tail of the KEYMAT slice);
nonce = salt | IV, AAD = SPI | Seq (§5, no ESN). Padding only aligns to 4 bytes (§3.2). Inbound
order as `EspSa`: SPI, the anti-replay check, the ICV (GCM's tag), and the window moves last.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..crypto.primitives import GCM_IV, GCM_SALT
from ..errors import ConfigError, DecodeError, IntegrityError
from ..wire.esp import ESP_HEAD, ESP_HEADER_LEN, pad_plaintext, read_esp_header, strip_trailer
from .esp_sa import MAX_SEQ, ReplayWindow, SpiMismatchError, check_spi
from ..net.records import fast_init_all

ICV_LEN = 16
KEY_LENS = {"aes-gcm-16-128": 16 + GCM_SALT, "aes-gcm-16-256": 32 + GCM_SALT}


class _KeyedGcm:
    """The SA's AES key made ready once (`cryptography`'s AESGCM), not a cipher context built per
    packet; its tag is the full 16-byte ICV. Immutable, so copies of the SA share it."""
    __slots__ = ("aead",)

    def __init__(self, key: bytes):
        self.aead = AESGCM(key)

    def __deepcopy__(self, memo) -> "_KeyedGcm":
        return self


@dataclass
class EspGcmSa:
    spi: int
    cipher: str          #: "aes-gcm-16-128" or "aes-gcm-16-256"
    enc_key: bytes       #: key | salt
    integrity: None = None
    auth_key: bytes = b""
    seq: int = 0
    replay_window: int = 64
    window: ReplayWindow = field(init=False, repr=False)
    _gcm: _KeyedGcm = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_spi(self.spi)
        if self.cipher not in KEY_LENS:
            raise ConfigError(f"unknown ESP AEAD cipher {self.cipher!r}; choose one of {', '.join(KEY_LENS)}")
        if len(self.enc_key) != KEY_LENS[self.cipher]:
            raise ConfigError(f"{self.cipher} needs a {KEY_LENS[self.cipher]}-byte key (salt included)")
        self.window = ReplayWindow(self.replay_window)
        self._gcm = _KeyedGcm(self.enc_key[:-GCM_SALT])

    @property
    def _salt(self) -> bytes:
        return self.enc_key[-GCM_SALT:]

    def protect(self, next_header: int, payload: bytes, rng: random.Random) -> bytes:
        if self.seq >= MAX_SEQ:
            raise ConfigError("ESP sequence numbers exhausted: the SA must be rekeyed (RFC 4303 §3.3.3)")
        self.seq = seq = self.seq + 1
        iv = rng.getrandbits(8 * GCM_IV).to_bytes(GCM_IV, "big")
        head = ESP_HEAD.pack(self.spi, seq)
        return head + iv + self._gcm.aead.encrypt(self._salt + iv, pad_plaintext(payload, next_header, 4), head)

    def unprotect(self, data: bytes) -> tuple[int, bytes]:
        spi, seq = read_esp_header(data)
        if len(data) - ESP_HEADER_LEN < GCM_IV + 4 + ICV_LEN:
            raise DecodeError("ESP", ESP_HEADER_LEN, f"{len(data)} bytes cannot hold header, 8-byte IV, trailer "
                                                     f"and a {ICV_LEN}-byte ICV")
        if spi != self.spi:
            raise SpiMismatchError(f"SPI 0x{spi:08x} does not belong to this SA (expected 0x{self.spi:08x})")
        self.window.check(seq)
        start = ESP_HEADER_LEN + GCM_IV
        try:
            plaintext = self._gcm.aead.decrypt(self._salt + data[ESP_HEADER_LEN:start], data[start:],
                                               data[:ESP_HEADER_LEN])
        except InvalidTag:
            raise IntegrityError("AES-GCM ICV mismatch: the message was altered or the key is wrong") from None
        self.window.accept(seq)
        payload, next_header = strip_trailer(plaintext, start)
        return next_header, payload


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
