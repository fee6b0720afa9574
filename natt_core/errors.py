"""The project's error hierarchy.

Malformed bytes raise `DecodeError` (never IndexError or struct.error); a misuse of the API raises
`ConfigError`; integrity failures raise `IntegrityError`. A protocol refusal on the wire is not an
exception: peers report it as an event with a reason.
"""
from __future__ import annotations


class NattError(Exception):
    """Base of every error NAT-T Lab raises on purpose."""


class DecodeError(NattError):
    """Bytes that do not parse: where (layer, offset) and why."""

    def __init__(self, layer: str, offset: int, reason: str):
        self.layer = layer
        self.offset = offset
        self.reason = reason
        super().__init__(f"{layer} at offset {offset}: {reason}")


class IntegrityError(NattError):
    """A hash, ICV or checksum that does not verify; `code` (a `Reason`) says which kind, if known."""

    code = None

    def __init__(self, message: str = "", code=None):
        super().__init__(message)
        if code is not None:
            self.code = code


class ProtocolError(NattError):
    """A message that is not legal in the current state (see ike.states)."""

    def __init__(self, state: object, message: object, reason: str = "not allowed in this state"):
        self.state = state
        self.message = message
        self.reason = reason
        super().__init__(f"{message} in state {state}: {reason}")


class ConfigError(NattError, ValueError):
    """A scenario, policy or argument that cannot be used; the message names the valid choices."""
