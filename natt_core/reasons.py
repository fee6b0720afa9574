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
    UNSUPPORTED_CRITICAL_PAYLOAD = "UNSUPPORTED_CRITICAL_PAYLOAD"  #: IKEv2: an unknown payload marked critical
    INVALID_MAJOR_VERSION = "INVALID_MAJOR_VERSION"  #: an IKE version this peer does not speak
    MESSAGE_ID_REPLAY = "MESSAGE_ID_REPLAY"        #: IKEv2: an old or unexpected message ID (replayed or stale)
    HALF_OPEN_LIMIT = "HALF_OPEN_LIMIT"            #: too many half-open (unauthenticated) phase-1 SAs in total
    HALF_OPEN_SOURCE_LIMIT = "HALF_OPEN_SOURCE_LIMIT"  #: too many half-open phase-1 SAs from this source address
    DUPLICATE_ELSEWHERE = "DUPLICATE_ELSEWHERE"    #: a repeat of a message that came from another address
    DPD_SEQUENCE = "DPD_SEQUENCE"                  #: an R-U-THERE-ACK answering no R-U-THERE we sent (RFC 3706 §6.1)

    # --- negotiation and authentication ----------------------------------------------------
    NO_PROPOSAL = "NO_PROPOSAL"                    #: no acceptable proposal (NO-PROPOSAL-CHOSEN)
    NATD_MISMATCH_REFUSED_BY_RULE = "NATD_MISMATCH_REFUSED_BY_RULE"  #: Windows AssumeUDPEncapsulationContextOnSendRule
    AUTH_FAILED = "AUTH_FAILED"                    #: HASH/AUTH did not verify (wrong pre-shared key)
    PEER_REFUSED = "PEER_REFUSED"                  #: the peer told us it refused
    GAVE_UP = "GAVE_UP"                            #: the retransmission schedule ran out
    INVALID_KE = "INVALID_KE"                      #: IKEv2: the KE group is not the one chosen (INVALID_KE_PAYLOAD)
    COOKIE_REQUIRED = "COOKIE_REQUIRED"            #: IKEv2: the responder asks for a COOKIE first (DoS protection)
    TS_UNACCEPTABLE = "TS_UNACCEPTABLE"            #: IKEv2: no overlap between the traffic selectors
    MODE_MISMATCH = "MODE_MISMATCH"                #: IKEv2: transport mode asked for, tunnel mode answered
    LCP_NEGOTIATION_FAILED = "LCP_NEGOTIATION_FAILED"  #: PPP LCP did not open (Max-Configure, no common options, peer terminated)
    PPP_AUTH_PROTOCOL_REFUSED = "PPP_AUTH_PROTOCOL_REFUSED"  #: no PPP authentication protocol both sides allow
    PPP_AUTH_FAILED = "PPP_AUTH_FAILED"            #: PAP/CHAP/MS-CHAPv2 credentials refused (MS-CHAPv2 E=691)
    PPP_AUTHENTICATOR_INVALID = "PPP_AUTHENTICATOR_INVALID"  #: the server's MS-CHAPv2 S= did not verify
    IPCP_FAILED = "IPCP_FAILED"                    #: IPCP did not open: no address from the pool, or no agreement
    L2TP_NO_ACK = "L2TP_NO_ACK"                    #: an L2TP control message was never acknowledged (RFC 2661 §5.8)
    L2TP_STOPPED = "L2TP_STOPPED"                  #: the peer closed the L2TP tunnel (StopCCN) or a call (CDN)
    PSK_MISMATCH_LIKELY = "PSK_MISMATCH_LIKELY"    #: no MM6, but the responder kept re-sending MM4: it cannot read our MM5
    AGGRESSIVE_MODE_REFUSED = "AGGRESSIVE_MODE_REFUSED"  #: the responder is not configured for IKEv1 Aggressive Mode
    DPD_PEER_DEAD = "DPD_PEER_DEAD"                #: no answer to R-U-THERE for dpd_timeout: the peer's SAs were cleared (RFC 3706)
    INITIAL_CONTACT = "INITIAL_CONTACT"            #: the peer's INITIAL-CONTACT replaced the SAs of its earlier connection
    IKE_SA_EXPIRED = "IKE_SA_EXPIRED"              #: the ISAKMP SA reached its hard lifetime without a rekey
    IPSEC_SA_EXPIRED = "IPSEC_SA_EXPIRED"          #: an IPsec SA reached its hard lifetime (seconds or kilobytes) without a rekey
    CERT_UNTRUSTED = "CERT_UNTRUSTED"              #: the peer's certificate does not chain to a CA we trust (or none was sent)
    CERT_INVALID = "CERT_INVALID"                  #: a CERT payload that is not a usable X.509 signing certificate
    SIG_INVALID = "SIG_INVALID"                    #: SIG_I/SIG_R does not verify with the certificate's public key
    ID_MISMATCH = "ID_MISMATCH"                    #: the ID payload names someone the certificate does not

    # --- data plane ------------------------------------------------------------------------
    ICV = "ICV"                                    #: ESP/AH integrity check failed
    REPLAY = "REPLAY"                              #: sequence number outside or already in the window
    AH_AFTER_NAT = "AH_AFTER_NAT"                  #: AH's ICV covers the addresses a NAT rewrote
    CHECKSUM_AFTER_NAT = "CHECKSUM_AFTER_NAT"      #: inner TCP/UDP checksum wrong after NAT, no NAT-OA fix-up
    INNER_MALFORMED = "INNER_MALFORMED"            #: the decrypted inner packet does not parse
    INNER_PROTOCOL = "INNER_PROTOCOL"              #: an inner protocol this host does not carry
    SPD_SELECTOR_TAKEN = "SPD_SELECTOR_TAKEN"      #: a newer SA installed the same selector: its policy now names that SA
    SPD_POLICY_MISMATCH = "SPD_POLICY_MISMATCH"    #: decrypted by an SA that its selector's policy no longer names (Linux XfrmInTmplMismatch)

    # --- network and NAT -------------------------------------------------------------------
    NAT_NO_MAPPING = "NAT_NO_MAPPING"              #: inbound packet with no mapping at the NAT
    NAT_MAPPING_EXPIRED = "NAT_MAPPING_EXPIRED"    #: the mapping it needed idled out
    NAT_PORT_TAKEN = "NAT_PORT_TAKEN"              #: the port is held by another inside host
    NAT_NO_FREE_PORT = "NAT_NO_FREE_PORT"          #: every public port of the NAT's range is in use
    NAT_UNSUPPORTED_PROTOCOL = "NAT_UNSUPPORTED_PROTOCOL"  #: a protocol the NAT cannot translate (ESP, AH)
    NAT_HELPER = "NAT_HELPER"                      #: an IPsec helper/ALG interfered
    NAT_MISDELIVERED = "NAT_MISDELIVERED"          #: a NAT handed IPsec to an inside host that does not own its SPI
    FRAGMENT_DROPPED = "FRAGMENT_DROPPED"          #: an IP fragment a device would not pass
    FRAGMENTATION_NEEDED = "FRAGMENTATION_NEEDED"  #: DF set and too big for the next link (ICMP 3/4 sent back)
    REASSEMBLY_LIMIT = "REASSEMBLY_LIMIT"          #: a receiver's bounded reassembly state (IP or IKE fragments) is full
    NO_ROUTE = "NO_ROUTE"                          #: nowhere to send it
    LINK_LOSS = "LINK_LOSS"                        #: the link's impairment lost it
    TTL_EXPIRED = "TTL_EXPIRED"                    #: time to live ran out
    FILTERED = "FILTERED"                          #: a firewall/filtering rule refused it
    NAT_MAPPING_FLUSHED = "NAT_MAPPING_FLUSHED"    #: the NAT dropped its mappings at once (a reboot or flush), not for idleness
    HOST_DOWN = "HOST_DOWN"                        #: the receiving host is switched off (a lab action)

    # --- capture analysis (diagnose) -------------------------------------------------------
    ALL_WELL = "ALL_WELL"                          #: every step the capture shows worked
    NO_IPSEC_TRAFFIC = "NO_IPSEC_TRAFFIC"          #: no IKE, ESP or AH in the capture at all
    CAPTURE_DAMAGED = "CAPTURE_DAMAGED"            #: part of the file could not be read (cut record, bad block)
    UNREADABLE_PACKETS = "UNREADABLE_PACKETS"      #: single packets that do not decode
    SEVERAL_CAPTURE_POINTS = "SEVERAL_CAPTURE_POINTS"  #: a pcapng holding more than one interface
    MID_EXCHANGE = "MID_EXCHANGE"                  #: the capture starts after the exchange began
    NO_ANSWER = "NO_ANSWER"                        #: a request that nothing answered
    PROPOSAL_ACCEPTED = "PROPOSAL_ACCEPTED"        #: the responder chose a proposal
    AGGRESSIVE_MODE = "AGGRESSIVE_MODE"            #: IKEv1 Aggressive Mode (identities and hash in the clear)
    AUTHIP = "AUTHIP"                              #: Microsoft AuthIP, not IKE proper
    NATT_AGREED = "NATT_AGREED"                    #: both peers announced a common NAT-T version
    NATT_DRAFT_VID = "NATT_DRAFT_VID"              #: NAT-T agreed on a pre-RFC 3947 draft
    NATT_NOT_ANSWERED = "NATT_NOT_ANSWERED"        #: the initiator offered NAT-T, the responder did not
    NO_NATT = "NO_NATT"                            #: no NAT-T Vendor ID on either side
    NAT_DETECTED = "NAT_DETECTED"                  #: NAT-D / NAT_DETECTION hashes show a NAT
    NO_NAT = "NO_NAT"                              #: every NAT-D hash matches: no NAT
    NO_NATD = "NO_NATD"                            #: no NAT discovery payloads to judge by
    FLOATED = "FLOATED"                            #: IKE moved to UDP 4500
    NO_FLOAT = "NO_FLOAT"                          #: a NAT was found but IKE stayed on UDP 500
    PHASE1_UP = "PHASE1_UP"                        #: the ISAKMP SA is established
    INITIATOR_GAVE_UP = "INITIATOR_GAVE_UP"        #: the initiator stopped without a word (own policy)
    QUICK_MODE_DONE = "QUICK_MODE_DONE"            #: QM1-QM3 exchanged
    QUICK_MODE_INCOMPLETE = "QUICK_MODE_INCOMPLETE"  #: Quick Mode without its full answer
    IKEV2_SEEN = "IKEV2_SEEN"                      #: IKEv2 traffic, named from its header
    IKEV2_COOKIE = "IKEV2_COOKIE"                  #: the IKEv2 responder asked for a COOKIE
    IKEV2_AUTH_ANSWERED = "IKEV2_AUTH_ANSWERED"    #: IKE_AUTH answered, its outcome encrypted
    IKEV2_INVALID_KE = "IKEV2_INVALID_KE"          #: the IKEv2 responder asked for another DH group
    IKEV2_REDIRECT = "IKEV2_REDIRECT"              #: the IKEv2 responder redirected the client (RFC 5685)
    IKEV2_AUTH_REFUSED = "IKEV2_AUTH_REFUSED"      #: IKE_AUTH refused (seen in the clear, or inferred)
    IKEV2_AUTH_OUTCOME_UNKNOWN = "IKEV2_AUTH_OUTCOME_UNKNOWN"  #: IKE_AUTH answered, no CHILD_SA traffic follows
    IKEV2_FRAGMENTS = "IKEV2_FRAGMENTS"            #: RFC 7383 IKE fragments (SKF)
    IKEV1_FRAGMENTS = "IKEV1_FRAGMENTS"            #: IKEv1 fragments (payload 132, strongSwan/Windows/Cisco)
    IKEV2_FRAGMENTATION = "IKEV2_FRAGMENTATION"    #: IKEV2_FRAGMENTATION_SUPPORTED announced
    IKEV2_EXCHANGES = "IKEV2_EXCHANGES"            #: IKE_INTERMEDIATE, CREATE_CHILD_SA, INFORMATIONAL counted
    IKEV2_UNDECODABLE = "IKEV2_UNDECODABLE"        #: an IKEv2 message the strict decoder refused
    CHILD_SA_ONE_WAY = "CHILD_SA_ONE_WAY"          #: new ESP SPIs after IKE_AUTH in one direction only
    CHILD_SA_UP = "CHILD_SA_UP"                    #: ESP follows the negotiation: the SA is up
    ESP_FLOWS = "ESP_FLOWS"                        #: ESP both ways
    ESP_ONE_WAY = "ESP_ONE_WAY"                    #: ESP one way, nothing back
    ESP_PROTOCOL_50 = "ESP_PROTOCOL_50"            #: ESP as IP protocol 50 (a firewall must pass it)
    AH_BOTH_WAYS = "AH_BOTH_WAYS"                  #: AH both ways: fine traffic that cannot cross a NAT
    AH_ONE_WAY = "AH_ONE_WAY"                      #: AH one way, nothing back
    IP_FRAGMENTS = "IP_FRAGMENTS"                  #: IP fragments on the path
    KEEPALIVES = "KEEPALIVES"                      #: NAT keepalives seen
    KEEPALIVE_INTERVAL = "KEEPALIVE_INTERVAL"      #: keepalives further apart than NATs wait
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
