"""One direction of an ESP security association: protect and unprotect packets (RFC 4303).

Packet layout (RFC 4303 §2, CBC ciphers per RFC 3602 (AES) and RFC 2451 (3DES)):

    SPI(4) | Seq(4) | IV(block) | E(payload | padding 1,2,3.. | pad length | next header) | ICV

The ICV is the truncated HMAC (RFC 2403 MD5-96, RFC 2404 SHA1-96, RFC 4868 SHA256-128) over
everything from the SPI to the end of the ciphertext. Inbound processing follows RFC 4303 §3.4:
SPI, then the cheap anti-replay check, then the ICV, then decryption; the replay window moves only
once the ICV has verified, so a forged packet cannot push genuine traffic out of the window.

The same bytes travel inside UDP 4500 under NAT-T (RFC 3948): encapsulation does not touch them.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from hmac import compare_digest
from typing import NamedTuple

from ..errors import ConfigError, DecodeError, IntegrityError
from ..reasons import Reason
from ..wire.esp import ESP_HEAD, ESP_HEADER_LEN, pad_plaintext, read_esp_header, strip_trailer
from ..crypto.primitives import KeyedCbc, KeyedHmac, cipher_spec, prf
from ..net.records import fast_init_all

MAX_SEQ = 0xFFFFFFFF  #: 32-bit counter without ESN; it must not wrap (RFC 4303 §3.3.3)


class ReplayError(IntegrityError):
    """A sequence number already seen, or too old for the anti-replay window (RFC 4303 §3.4.3)."""
    code = Reason.REPLAY


class SpiMismatchError(IntegrityError):
    """A packet carrying another SA's SPI: it cannot be authenticated under this SA."""
    code = Reason.NO_IPSEC_SA


class IntegritySpec(NamedTuple):
    hash_name: str
    key_len: int  #: bytes of authentication key
    icv_len: int  #: bytes of HMAC output kept on the wire


#: Integrity algorithms by the names the lab exports to secrets.json.
INTEGRITY: dict[str, IntegritySpec] = {
    "hmac-sha1-96": IntegritySpec("sha1", 20, 12),  # RFC 2404
    "hmac-sha256-128": IntegritySpec("sha256", 32, 16),  # RFC 4868 §2.1
    "hmac-md5-96": IntegritySpec("md5", 16, 12),  # RFC 2403
}


def integrity_spec(name: str) -> IntegritySpec:
    try:
        return INTEGRITY[name]
    except KeyError:
        raise ConfigError(f"unknown integrity algorithm {name!r}; choose one of "
                          f"{sorted(INTEGRITY)}") from None


def compute_icv(integrity: str, key: bytes, data: bytes) -> bytes:
    """HMAC over data, truncated to the algorithm's ICV length (shared with AH)."""
    spec = integrity_spec(integrity)
    return prf(spec.hash_name, key, data)[:spec.icv_len]


def check_spi(spi: int) -> int:
    """SPIs 1-255 are reserved by IANA and 0 means 'no SA' (RFC 4303 §2.1)."""
    if not isinstance(spi, int) or not 256 <= spi <= 0xFFFFFFFF:
        raise ConfigError(f"SPI {spi!r} must be a 32-bit value >= 256")
    return spi


@dataclass
class ReplayWindow:
    """The RFC 4303 §3.4.3 sliding window: the highest sequence number seen plus a bitmap.

    Bit i of `bitmap` is set when sequence number `highest - i` has been accepted. A window of
    size 0 disables the check (allowed by RFC 4303 when the receiver does not want it).
    """
    size: int = 64
    highest: int = 0
    bitmap: int = 0

    def check(self, seq: int) -> None:
        """Raise ReplayError if seq must be dropped; changes nothing (the ICV is not yet known)."""
        if self.size == 0:
            return
        if seq == 0:
            raise ReplayError("sequence number 0 is never sent (counters start at 1)")
        if seq > self.highest:
            return
        age = self.highest - seq
        if age >= self.size:
            low = self.highest - self.size + 1
            raise ReplayError(f"sequence number {seq} is older than the replay window "
                              f"{low}..{self.highest}")
        if self.bitmap >> age & 1:
            raise ReplayError(f"replayed sequence number {seq}")

    def accept(self, seq: int) -> None:
        """Record seq as received; call only after its ICV verified."""
        if self.size == 0:
            return
        if seq > self.highest:
            self.bitmap = ((self.bitmap << (seq - self.highest)) | 1) & ((1 << self.size) - 1)
            self.highest = seq
        else:
            self.bitmap |= 1 << (self.highest - seq)


@dataclass
class EspSa:
    """One ESP SA (one direction). Mutable: the send counter and the replay window are state."""
    spi: int
    cipher: str  #: a primitives.CIPHERS name, e.g. "aes-cbc-128"
    enc_key: bytes
    integrity: str  #: an INTEGRITY name, e.g. "hmac-sha1-96"
    auth_key: bytes
    seq: int = 0  #: last sequence number sent
    replay_window: int = 64  #: receive window size in packets (RFC 4303 §3.4.3); 0 disables
    window: ReplayWindow = field(init=False, repr=False)
    #: the SA's keys made ready once (AES key schedule, keyed HMAC), not once per packet, and only
    #: when its first packet needs them (`__getattr__`): a Quick Mode installs four SAs, some never used
    _cbc: KeyedCbc = field(init=False, repr=False, compare=False)
    _mac: KeyedHmac = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_spi(self.spi)
        spec = cipher_spec(self.cipher)
        if len(self.enc_key) != spec.key_len:
            raise ConfigError(f"{self.cipher} needs a {spec.key_len}-byte key, "
                              f"got {len(self.enc_key)}")
        ispec = integrity_spec(self.integrity)
        if len(self.auth_key) != ispec.key_len:
            raise ConfigError(f"{self.integrity} needs a {ispec.key_len}-byte key, "
                              f"got {len(self.auth_key)}")
        if not 0 <= self.replay_window <= 1024:
            raise ConfigError(f"replay window {self.replay_window} must be 0..1024")
        self.window = ReplayWindow(self.replay_window)

    def __getattr__(self, name: str):
        # reached only while `_cbc`/`_mac` are not yet in the instance: both are built, from the
        # keys __post_init__ checked, and every later read is a plain attribute
        if name != "_cbc" and name != "_mac":
            raise AttributeError(name)
        ispec = integrity_spec(self.integrity)
        self._cbc = KeyedCbc(self.cipher, self.enc_key)
        self._mac = KeyedHmac(ispec.hash_name, self.auth_key, ispec.icv_len)
        return self.__dict__[name]

    @property
    def block(self) -> int:
        return self._cbc.block

    @property
    def icv_len(self) -> int:
        return self._mac.length

    def protect(self, next_header: int, payload: bytes, rng: random.Random) -> bytes:
        """Encrypt and authenticate one payload; returns the ESP bytes (SPI .. ICV).

        `next_header` names what the payload is: the transport protocol (transport mode) or
        4 for an inner IPv4 packet (tunnel mode). The IV comes from the caller's rng.
        """
        if self.seq >= MAX_SEQ:
            raise ConfigError("ESP sequence numbers exhausted: the SA must be rekeyed "
                              "(RFC 4303 §3.3.3)")
        block = self._cbc.block
        # Padding 1, 2, 3, ... up to whole cipher blocks (RFC 4303 §2.4).
        plaintext = pad_plaintext(payload, next_header, block)
        self.seq = seq = self.seq + 1
        iv = rng.getrandbits(8 * block).to_bytes(block, "big")
        body = ESP_HEAD.pack(self.spi, seq) + iv + self._cbc.encrypt(iv, plaintext)
        return body + self._mac.digest(body)

    def unprotect(self, data: bytes) -> tuple[int, bytes]:
        """Verify and decrypt one ESP packet; returns (next_header, payload).

        Raises DecodeError for bytes that cannot be ESP for this SA's algorithms (too short,
        ciphertext not whole blocks, bad padding), SpiMismatchError for another SA's packet,
        ReplayError for a replayed or too-old sequence number, and IntegrityError
        ("ICV mismatch") for anything altered in transit. A next header of 59 marks a dummy
        packet (RFC 4303 §2.6) which the caller should drop.
        """
        block, icv_len = self._cbc.block, self._mac.length
        # IV, ciphertext and ICV are read in place: sliced once each, never copied as a whole
        n = len(data)
        cipher_len = n - ESP_HEADER_LEN - block - icv_len
        if cipher_len <= 0 or cipher_len % block:
            read_esp_header(data)        # a truncated header or SPI 0 is named first
            raise DecodeError("ESP", ESP_HEADER_LEN,
                              f"{n} bytes cannot hold header, {block}-byte IV, whole "
                              f"{block}-byte ciphertext blocks and a {icv_len}-byte ICV")
        spi, seq = ESP_HEAD.unpack_from(data)
        if spi != self.spi:
            read_esp_header(data)        # SPI 0 is not ESP at all
            raise SpiMismatchError(f"SPI 0x{spi:08x} does not belong to this SA "
                                   f"(expected 0x{self.spi:08x})")
        window = self.window
        if seq <= window.highest:        # above the window's top, a number is always new
            window.check(seq)
        covered = n - icv_len
        icv, expected = data[covered:], self._mac.digest(data[:covered])
        if not compare_digest(icv, expected):      # constant time, as `primitives.equal`
            raise IntegrityError(f"ICV mismatch for sequence number {seq}: received {icv.hex()}, "
                                 f"computed {expected.hex()}", Reason.ICV)
        window.accept(seq)
        start = ESP_HEADER_LEN + block
        plaintext = self._cbc.decrypt(data[ESP_HEADER_LEN:start], data[start:covered])
        payload, next_header = strip_trailer(plaintext, start)
        return next_header, payload


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
