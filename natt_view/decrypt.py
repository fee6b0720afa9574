"""Opening the encrypted parts of a trace with the run's own secrets, as Wireshark would.

IKE (RFC 2409 Appendix B): the first phase-1 IV is H(g^xi | g^xr) truncated to the cipher block,
then each message's IV is the last ciphertext block of the one before; a Quick Mode exchange starts
from H(last phase-1 block | message ID). ESP (RFC 4303): the SA's keys from secrets.json, the ICV
verified first. The g^x values come from the KE payloads the trace carried, the keys from
`trace.secrets`; the crypto is natt_core's (which uses `cryptography`).
"""
from __future__ import annotations

from dataclasses import dataclass

from natt_core.crypto.ike_keys import exchange_iv, phase1_iv
from natt_core.crypto.primitives import cbc_decrypt, cipher_spec
from natt_core.errors import NattError
from natt_core.ike.nat_t import vid_name
from natt_core.ipsec.esp_sa import EspSa
from natt_core.lab.trace import Trace
from natt_core.wire.dissect import Field, dissect_inner, dissect_payload_chain
from natt_core.wire.isakmp import KE, decode_header, decode_message
from natt_core.wire.udp_encap import carried

from .steps import Journey, journeys


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


def _ike_plaintexts(trace: Trace, steps: tuple[Journey, ...]) -> dict[bytes, Opened]:
    """Every encrypted ISAKMP message of the trace, keyed by its bytes, opened in wire order."""
    sas = {sa["initiator_cookie"]: sa for sa in trace.secrets.get("ike_sas", ())}
    ke: dict[str, list[bytes]] = {}
    last_block: dict[tuple[str, int], bytes] = {}       # (cookie, message id) -> next IV
    phase1_end: dict[str, bytes] = {}
    out: dict[bytes, Opened] = {}
    for j in steps:
        try:
            inner = _inner(j.first.packet)
            if inner is None or inner[0] != "ike":
                continue
            message = inner[1]
            header, body = decode_header(message)
            cookie = header.icookie.hex()
            if not header.encrypted:
                _, chain = decode_message(message)
                k = chain.first(KE)
                if k is not None and header.message_id == 0 and len(ke.setdefault(cookie, [])) < 2 \
                        and k.data not in ke[cookie]:
                    ke[cookie].append(k.data)
                continue
            if message in out or cookie not in sas or len(ke.get(cookie, ())) < 2:
                continue
            sa = sas[cookie]
            block = cipher_spec(sa["cipher"]).block
            key = bytes.fromhex(sa["encryption_key"])
            mid = header.message_id
            if (cookie, mid) in last_block:
                iv, how = last_block[(cookie, mid)], "IV = last ciphertext block of the previous message"
            elif mid == 0:
                iv, how = phase1_iv(sa["hash"], ke[cookie][0], ke[cookie][1], block), \
                    f"IV = {sa['hash'].upper()}(g^xi | g^xr) truncated to {block} bytes (RFC 2409 App. B)"
            elif cookie in phase1_end:
                iv, how = exchange_iv(sa["hash"], phase1_end[cookie], mid, block), \
                    f"IV = {sa['hash'].upper()}(last phase-1 block | message ID) (RFC 2409 App. B)"
            else:
                continue
            plain = cbc_decrypt(sa["cipher"], key, iv, body)
            fields = dissect_payload_chain(header.next_payload, plain, max_padding=block, vid_name=vid_name)
            last_block[(cookie, mid)] = body[-block:]
            if mid == 0:
                phase1_end[cookie] = body[-block:]
            out[message] = Opened(plain, fields, f"decrypted with the phase-1 key {sa['cipher']} "
                                                 f"(secrets.json); {how}")
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
        return Opened(payload, dissect_inner(next_header, payload),
                      f"ICV verified and decrypted with ESP SA 0x{spi} ({c['cipher']}, {c['integrity']}) "
                      f"from secrets.json; next header {next_header}")
    return None


__all__ = ["Opened", "open_step"]
