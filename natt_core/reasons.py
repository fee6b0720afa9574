"""Reason codes: the machine-readable half of every drop, refusal, failure and finding.

Sentences are for people and may be reworded at any time; decisions downstream (quiz answers,
lesson verdicts, the troubleshooter, report.json, diagnose) read these codes instead. A code
names *what happened*, not where it was noticed, so the same code can come from the engine, the
NAT or the capture analysis. The value is the name, so a code reads the same in JSON.

Add a member when a new situation needs its own decision; never reuse one for another meaning.
"""
from __future__ import annotations

from enum import Enum


class Reason(str, Enum):
    """Why a packet was dropped, an SA refused or failed, or a finding was made."""

    def __str__(self) -> str:
        return self.value

    # --- decoding and delivery -------------------------------------------------------------
    MALFORMED = "MALFORMED"                        #: bytes that do not decode (DecodeError)
    UNSUPPORTED_PROTOCOL = "UNSUPPORTED_PROTOCOL"  #: an IP protocol / exchange nobody handles here
    NO_LISTENER = "NO_LISTENER"                    #: nothing listens on that UDP port
    UNKNOWN_SA = "UNKNOWN_SA"                      #: no ISAKMP SA for these cookies/SPIs
    NO_IPSEC_SA = "NO_IPSEC_SA"                    #: no IPsec SA for this SPI, or none to send with
    WRONG_PORT_AFTER_FLOAT = "WRONG_PORT_AFTER_FLOAT"  #: IKE on 500 for an SA that floated to 4500
    UNEXPECTED_MESSAGE = "UNEXPECTED_MESSAGE"      #: the state table has no such transition
    REPEATED_REJECT = "REPEATED_REJECT"            #: the same bytes as a message rejected before
    UNAUTHENTICATED = "UNAUTHENTICATED"            #: an unencrypted notification that cannot be believed
    DECRYPT_FAILED = "DECRYPT_FAILED"              #: an encrypted IKE message we cannot decrypt

    # --- negotiation and authentication ----------------------------------------------------
    NO_PROPOSAL = "NO_PROPOSAL"                    #: no acceptable proposal (NO-PROPOSAL-CHOSEN)
    NATD_MISMATCH_REFUSED_BY_RULE = "NATD_MISMATCH_REFUSED_BY_RULE"  #: Windows AssumeUDPEncapsulationContextOnSendRule
    AUTH_FAILED = "AUTH_FAILED"                    #: HASH/AUTH did not verify (wrong pre-shared key)
    PEER_REFUSED = "PEER_REFUSED"                  #: the peer told us it refused
    GAVE_UP = "GAVE_UP"                            #: the retransmission schedule ran out

    # --- data plane ------------------------------------------------------------------------
    ICV = "ICV"                                    #: ESP/AH integrity check failed
    REPLAY = "REPLAY"                              #: sequence number outside or already in the window
    AH_AFTER_NAT = "AH_AFTER_NAT"                  #: AH's ICV covers the addresses a NAT rewrote
    CHECKSUM_AFTER_NAT = "CHECKSUM_AFTER_NAT"      #: inner TCP/UDP checksum wrong after NAT, no NAT-OA fix-up
    INNER_MALFORMED = "INNER_MALFORMED"            #: the decrypted inner packet does not parse
    INNER_PROTOCOL = "INNER_PROTOCOL"              #: an inner protocol this host does not carry

    # --- network and NAT -------------------------------------------------------------------
    NAT_NO_MAPPING = "NAT_NO_MAPPING"              #: inbound packet with no mapping at the NAT
    NAT_MAPPING_EXPIRED = "NAT_MAPPING_EXPIRED"    #: the mapping it needed idled out
    NAT_PORT_TAKEN = "NAT_PORT_TAKEN"              #: the port is held by another inside host
    NAT_UNSUPPORTED_PROTOCOL = "NAT_UNSUPPORTED_PROTOCOL"  #: a protocol the NAT cannot translate (ESP, AH)
    NAT_HELPER = "NAT_HELPER"                      #: an IPsec helper/ALG interfered
    FRAGMENT_DROPPED = "FRAGMENT_DROPPED"          #: an IP fragment a device would not pass
    NO_ROUTE = "NO_ROUTE"                          #: nowhere to send it
    LINK_LOSS = "LINK_LOSS"                        #: the link's impairment lost it
    TTL_EXPIRED = "TTL_EXPIRED"                    #: time to live ran out
    FILTERED = "FILTERED"                          #: a firewall/filtering rule refused it

    # --- the app around the engine ---------------------------------------------------------
    BAD_INPUT = "BAD_INPUT"                        #: a value from a link, form or file the app cannot use
    APP_ERROR = "APP_ERROR"                        #: a page failed unexpectedly (a bug, logged on the server)


def reason_of(value: object) -> Reason | None:
    """A Reason from its value (as read back from JSON), or None for anything else."""
    if isinstance(value, Reason):
        return value
    try:
        return Reason(str(value))
    except ValueError:
        return None
