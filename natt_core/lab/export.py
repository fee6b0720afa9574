"""Writes a run to a directory: one pcap per capture point plus the keys to read them.

Files: `<segment>.pcap` (classic libpcap, raw IPv4, every hop seen on that segment in order),
`esp_sa.txt` (Wireshark's ESP SA table, UAT `esp_sa`, one line per SA direction, RFC 4303 SPIs),
`ikev1_decryption_table.txt` (Wireshark's IKEv1 table: initiator cookie, encryption key;
RFC 2409 §5), for IKEv2 runs `ikev2_decryption_table.txt` (UAT `ikev2_decryption_table`: SPIs,
SK_ei, SK_er, cipher, SK_ai, SK_ar, integrity; RFC 7296 §2.14), `secrets.json` and `report.json`;
with certificate authentication also `certs/` (the lab CA, each peer's certificate and key:
lab/cert_files.py).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from ..pcap import write_pcap
from .cert_files import certificate_binaries, certificate_files
from .trace import Trace

#: our names -> the names Wireshark's ESP preferences use
ESP_CIPHERS = {"aes-cbc-128": "AES-CBC [RFC3602]", "aes-cbc-192": "AES-CBC [RFC3602]",
               "aes-cbc-256": "AES-CBC [RFC3602]", "3des-cbc": "TripleDES-CBC [RFC2451]", None: "NULL",
               "aes-gcm-16-128": "AES-GCM with 16 octet ICV [RFC4106]",
               "aes-gcm-16-256": "AES-GCM with 16 octet ICV [RFC4106]"}
ESP_INTEGRITY = {"hmac-sha1-96": "HMAC-SHA-1-96 [RFC2404]", "hmac-sha256-128": "HMAC-SHA-256-128 [RFC4868]",
                 "hmac-md5-96": "HMAC-MD5-96 [RFC2403]", None: "NULL"}


def capture_files(trace: Trace) -> dict[str, list[tuple[float, bytes]]]:
    """Hops grouped per segment in first-seen order, as (time, packet)."""
    points: dict[str, list[tuple[float, bytes]]] = {}
    for hop in trace.hops:
        points.setdefault(hop.segment, []).append((hop.time, hop.packet))
    return points


def esp_sa_lines(secrets: dict) -> list[str]:
    """One Wireshark `esp_sa` UAT line per child SA direction (ESP only: AH has nothing to decrypt)."""
    lines = []
    for c in secrets.get("child_sas", ()):
        if c.get("cipher") is None:
            continue
        fields = ("IPv4", "*", "*", f"0x{c['spi']}", ESP_CIPHERS[c["cipher"]], f"0x{c['encryption_key']}",
                  ESP_INTEGRITY[c["integrity"]], f"0x{c['integrity_key']}")
        lines.append(",".join(f'"{f}"' for f in fields))
    return lines


def ikev1_lines(secrets: dict) -> list[str]:
    return [f"{sa['initiator_cookie']},{sa['encryption_key']}" for sa in secrets.get("ike_sas", ())]


def ikev2_lines(secrets: dict) -> list[str]:
    """Wireshark's IKEv2 table: hex fields unquoted, algorithm labels quoted; AEAD has no SK_a."""
    from ..ike.v2.suites import ENCR, INTEG
    lines = []
    for sa in secrets.get("ikev2_sas", ()):
        integ = INTEG[sa["integrity"]].wireshark_ike if sa["integrity"] else "NONE [RFC4306]"
        lines.append(f'{sa["spi_i"]},{sa["spi_r"]},{sa["sk_ei"]},{sa["sk_er"]},"{ENCR[sa["encryption"]].wireshark_ike}",'
                     f'{sa["sk_ai"]},{sa["sk_ar"]},"{integ}"')
    return lines


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def export(trace: Trace, out: str | Path) -> list[Path]:
    """Write every file of a run into `out` (created if needed); returns the paths written."""
    root = Path(out)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create output directory {str(root)!r}: {e.strerror}") from None
    written = []
    for segment, records in capture_files(trace).items():
        path = root / f"{segment}.pcap"
        write_pcap(path, records)
        written.append(path)
    for name, text in (("esp_sa.txt", _text(esp_sa_lines(trace.secrets))),
                       ("ikev1_decryption_table.txt", _text(ikev1_lines(trace.secrets))),
                       *((("ikev2_decryption_table.txt", _text(ikev2_lines(trace.secrets))),)
                         if trace.secrets.get("ikev2_sas") else ()),
                       ("secrets.json", json.dumps(trace.secrets, indent=2) + "\n"),
                       ("report.json", json.dumps(trace.report, indent=2) + "\n")):
        (root / name).write_text(text)
        written.append(root / name)
    block = trace.secrets.get("certificates")
    for name, text in certificate_files(block).items():
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_text(text)
        written.append(root / name)
    for name, data in certificate_binaries(block).items():
        (root / name).write_bytes(data)
        written.append(root / name)
    return written
