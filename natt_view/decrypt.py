"""Opening the encrypted parts of a trace with the run's own secrets, as Wireshark would.

IKE (RFC 2409 Appendix B): each message is decrypted with the phase-1 key and the IV its sender
used, both from `trace.secrets` (secrets.json records every IV the engine encrypted with, by
message ID and first ciphertext block), so this view shows what the engine did, not a second
derivation of it. ESP (RFC 4303): the SA's keys from secrets.json, the ICV verified first. The
crypto is natt_core's (which uses `cryptography`).
"""
from __future__ import annotations

from dataclasses import dataclass

from natt_core.crypto.primitives import cbc_decrypt, cipher_spec
from natt_core.errors import NattError
from natt_core.ike.nat_t import vid_name
from natt_core.ipsec.esp_sa import EspSa
from natt_core.lab.trace import Trace
from natt_core.wire.dissect import Field, dissect_inner, dissect_payload_chain
from natt_core.wire.isakmp import decode_header
from natt_core.wire.udp_encap import carried

from .steps import Journey, journeys
from .vpn_layers import data_message_fields

#: how RFC 2409 Appendix B says the recorded IV came about, for the first message of an exchange
#: (phase 1: message ID 0; Quick Mode and Informational: any other) and for the ones after it
_IV_RULE = {(True, True): "the first phase-1 IV, HASH(g^xi | g^xr) cut to the block",
            (True, False): "HASH(last phase-1 block | message ID) cut to the block",
            (False, True): "the last ciphertext block of the previous phase-1 message",
            (False, False): "the last ciphertext block of the previous message of this exchange"}


@dataclass(frozen=True)
class Opened:
    """The plaintext of one step's encrypted part, dissected, with how it was opened."""
    plaintext: bytes
    fields: tuple[Field, ...]
    how: str


def _inner(packet: bytes) -> tuple[str, bytes] | None:
    """('ike', message) or ('esp', esp bytes) for what a packet carries, else None."""
    c = carried(packet)
    return (c.kind, c.data) if c is not None and c.kind in ("ike", "esp") else None


def _recorded_ivs(sa: dict) -> dict[tuple[int, bytes], bytes]:
    """(message ID, first ciphertext block) -> the IV the engine encrypted that message with."""
    out = {}
    for r in sa.get("ivs", ()):
        try:
            out[(int(r["message_id"], 16), bytes.fromhex(r["first_block"]))] = bytes.fromhex(r["iv"])
        except (KeyError, ValueError):
            continue
    return out


def _ike_plaintexts(trace: Trace, steps: tuple[Journey, ...]) -> dict[bytes, Opened]:
    """Every encrypted ISAKMP message of the trace whose IV the secrets record, keyed by its bytes."""
    sas = {sa["initiator_cookie"]: (sa, _recorded_ivs(sa)) for sa in trace.secrets.get("ike_sas", ())}
    started: set[tuple[str, int]] = set()        # (cookie, message ID) whose first message was seen
    out: dict[bytes, Opened] = {}
    for j in steps:
        try:
            inner = _inner(j.first.packet)
            if inner is None or inner[0] != "ike":
                continue
            message = inner[1]
            header, body = decode_header(message)
            cookie, mid = header.icookie.hex(), header.message_id
            if not header.encrypted or message in out or cookie not in sas:
                continue
            sa, ivs = sas[cookie]
            block = cipher_spec(sa["cipher"]).block
            iv = ivs.get((mid, body[:block]))
            if iv is None:
                continue
            rule = _IV_RULE[((cookie, mid) not in started, mid == 0)]
            started.add((cookie, mid))
            plain = cbc_decrypt(sa["cipher"], bytes.fromhex(sa["encryption_key"]), iv, body)
            fields = dissect_payload_chain(header.next_payload, plain, max_padding=block, vid_name=vid_name)
            out[message] = Opened(plain, fields, f"decrypted with the phase-1 key {sa['cipher']} and the IV "
                                                 f"{iv.hex()} its sender used (secrets.json): {rule} "
                                                 f"(RFC 2409 App. B)")
        except NattError:
            continue
    return out


def open_step(trace: Trace, j: Journey) -> Opened | None:
    """The decrypted inside of this step's packet (IKE or ESP), or None if nothing to open."""
    opened = trace.memo("natt_view.decrypt.ike", lambda t: _ike_plaintexts(t, journeys(t)))
    try:
        inner = _inner(j.first.packet)
    except NattError:
        return None
    if inner is None:
        return None
    kind, data = inner
    if kind == "ike":
        return opened.get(data)
    return _open_esp(trace, data)


def _open_esp(trace: Trace, data: bytes) -> Opened | None:
    spi = data[:4].hex()
    for c in trace.secrets.get("child_sas", ()):
        if c.get("spi") != spi or not c.get("cipher"):
            continue
        try:
            sa = EspSa(int(spi, 16), c["cipher"], bytes.fromhex(c["encryption_key"]), c["integrity"],
                       bytes.fromhex(c["integrity_key"]), replay_window=0)
            next_header, payload = sa.unprotect(data)
        except NattError as e:
            return Opened(b"", (), f"could not open with SA 0x{spi}: {e}")
        return Opened(payload, data_message_fields(payload) or dissect_inner(next_header, payload),
                      f"ICV verified and decrypted with ESP SA 0x{spi} ({c['cipher']}, {c['integrity']}) "
                      f"from secrets.json; next header {next_header}")
    return None


__all__ = ["Opened", "open_step"]
