"""What an eavesdropper gets from an Aggressive Mode run: the identities, HASH_R, and the key.

Pure Python for the Aggressive Mode lesson: the run's capture on the internet segment (where an
eavesdropper sits) goes through `natt_core.analysis.psk_crack` exactly as a pcap someone
recorded would; nothing is taken from the engine's memory.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from natt_core.analysis.psk_crack import LESSON_WORDS, CrackResult, crack, material_from_capture, psk_crack_line
from natt_core.lab.export import capture_files
from natt_core.lab.trace import Trace
from natt_core.pcap import pcap_bytes

#: where the eavesdropper listens: between the NAT and the server
SEGMENT = "internet"


@dataclass(frozen=True)
class AttackView:
    initiator_id: str      #: IDii from AM1, in words
    responder_id: str      #: IDir from AM2, in words
    hash_name: str
    hash_r: str            #: hex
    psk_crack_line: str    #: the nine values, as ike-scan's psk-crack reads them
    words: int             #: size of the word list
    result: CrackResult


def identity_text(body: bytes) -> str:
    """An ID payload body (RFC 2407 §4.6.2: type, protocol, port, data) in words."""
    if len(body) < 4:
        return "(empty)"
    kind, data = body[0], body[4:]
    if kind == 1 and len(data) == 4:
        return f"IPv4 address {ipaddress.IPv4Address(data)}"
    if kind in (2, 3):
        return f"{'FQDN' if kind == 2 else 'user FQDN'} {data.decode('ascii', 'replace')}"
    return f"ID type {kind}, {data.hex()}"


def attack_view(trace: Trace, words: tuple[str, ...] = LESSON_WORDS) -> AttackView:
    """Crack the run's pre-shared key from the captured AM1/AM2 with a word list (DecodeError if the
    run has no Aggressive Mode pair on the internet segment)."""
    material = material_from_capture(pcap_bytes(capture_files(trace)[SEGMENT]))
    return AttackView(identity_text(material.idii_b), identity_text(material.idir_b), material.hash_name,
                      material.hash_r.hex(), psk_crack_line(material), len(words), crack(material, words))
