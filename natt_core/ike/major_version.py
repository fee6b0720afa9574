"""What a peer does with an IKE message of a major version it does not speak.

As strongSwan's charon does (src/libcharon/network/receiver.c, `receive_packets`, "check IKE
major version", and its `send_notify`): a daemon that speaks only IKEv2 answers an IKEv1 Main
Mode or Aggressive Mode message with an IKEv2 INFORMATIONAL response carrying the
INVALID_MAJOR_VERSION notify (message ID 0, the request's SPIs) and ignores any other IKEv1
message; one that speaks only IKEv1 answers an IKEv2 IKE_SA_INIT request with an IKEv1
Informational carrying INVALID-MAJOR-VERSION and ignores any other IKEv2 message; any other major
version is answered in the daemon's own version. RFC 7296 §2.5 / §3.10.1 (INVALID_MAJOR_VERSION,
5) and RFC 2408 §3.14.1 (INVALID-MAJOR-VERSION, 5) name the notify.
"""
from __future__ import annotations

from ..wire import ikev2, isakmp
from ..wire.ikev2_numbers import Exchange, HdrFlag, NotifyType as Notify2
from ..wire.numbers import ExchangeType, NotifyType

#: the exchanges that open an SA in each version: the only ones a daemon answers in its own version
OPENERS = {1: (ExchangeType.MAIN_MODE, ExchangeType.AGGRESSIVE), 2: (Exchange.IKE_SA_INIT,)}
NAMES = {1: "IKEv1", 2: "IKEv2"}


def major(message: bytes) -> int | None:
    """The major version of an IKE message (high nibble of byte 17), None if too short to say."""
    return message[17] >> 4 if len(message) >= 28 else None


def answer(message: bytes, speaks: int) -> tuple[bytes | None, str]:
    """(the answer to send or None to ignore, a sentence saying why) for a message whose major
    version is not `speaks` (1 or 2). The message is at least a 28-byte header (see `major`)."""
    version, exchange, flags = message[17] >> 4, message[18], message[19]
    spi_i, spi_r = message[0:8], message[8:16]
    got = NAMES.get(version, f"IKE major version {version}")
    known = version in NAMES
    opens = exchange in OPENERS.get(version, ()) and not (version == 2 and flags & HdrFlag.RESPONSE)
    if known and not opens:
        return None, f"{got} exchange {exchange}: this peer speaks {NAMES[speaks]} only and ignores it"
    if speaks == 2:
        header = ikev2.Header(spi_i, spi_r, 0, Exchange.INFORMATIONAL, HdrFlag.RESPONSE, 0)
        wire = ikev2.encode_message(header, [ikev2.Notify(Notify2.INVALID_MAJOR_VERSION)])
    else:
        header = isakmp.Header(spi_i, spi_r, 0, ExchangeType.INFORMATIONAL)
        wire = isakmp.encode_message(header, [isakmp.Notification(NotifyType.INVALID_MAJOR_VERSION)])
    return wire, (f"{got} from a peer that speaks {NAMES[speaks]} only: answered with "
                  f"INVALID_MAJOR_VERSION in {NAMES[speaks]} (as strongSwan does)")
