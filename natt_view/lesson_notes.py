"""Which of a lesson's per-step notes fits the run: a note may have a variant for certificates.

A lesson's `notes` are keyed by packet label ("MM5"); a key "MM5|certificates" is the variant for
a run whose client authenticates with certificates (rsa-sig / ecdsa-sig), so the step text says
what CERT and SIG prove instead of HASH when the class flips the authentication switch.
"""
from __future__ import annotations

CERTIFICATES = "certificates"


def variant(scenario: dict) -> str | None:
    """'certificates' when the run's client signs (its policy's `auth` is not psk), else None."""
    auth = (scenario.get("client") or {}).get("auth", "psk")
    return CERTIFICATES if auth not in (None, "psk") else None


def note_for(notes: dict[str, str], label: str, scenario: dict) -> str | None:
    """The note for `label` in this run: its variant when there is one, else the plain note."""
    kind = variant(scenario)
    return (notes.get(f"{label}|{kind}") if kind else None) or notes.get(label)
