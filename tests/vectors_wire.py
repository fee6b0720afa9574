"""Known-answer constants for the wire tests, each with the source it comes from."""

# RFC 3947 §3.1: the NAT-T Vendor ID is MD5("RFC 3947"), printed in the RFC as this hex string.
RFC3947_VID = bytes.fromhex("4a131c81070358455c5728f20e95452f")
# Wireshark's name for those bytes (tshark 4.0.17, packet-isakmp.c VID table).
RFC3947_VID_WIRESHARK_NAME = "RFC 3947 Negotiation of NAT-Traversal in the IKE"

# RFC 1624 §4 (Examples): a 16-bit field m = 0x5555 changes to m' = 0x3285 while the one's
# complement sum of all other header octets is 0xCD7A. Then HC = 0xDD2F and, both by
# recomputation and by [Eqn. 3], HC' = 0x0000 (the RFC 1141 equation gives 0xFFFF instead).
RFC1624_OTHER_SUM = 0xCD7A
RFC1624_M = 0x5555
RFC1624_M_NEW = 0x3285
RFC1624_HC = 0xDD2F
RFC1624_HC_NEW = 0x0000

# RFC 3948 §3.1.2 fix-up cross-check (natt-protocol-facts.md §1.7, run with tshark 4.0.17 on a
# transport-mode ESP-in-UDP capture): a UDP 1701 segment sent by 10.0.0.2 to 203.0.113.10
# carries checksum 0x643F; the NAT rewrote the source to 198.51.100.7, and Wireshark reports
# the decrypted checksum as wrong, "should be 0x4406".
FIXUP_ORIG_SRC = "10.0.0.2"
FIXUP_DST = "203.0.113.10"
FIXUP_NAT_SRC = "198.51.100.7"
FIXUP_CHECKSUM = 0x643F
FIXUP_WIRESHARK_SHOULD_BE = 0x4406
