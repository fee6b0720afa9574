"""IKEv2 (RFC 7296) with NAT traversal (§2.23): the sans-IO peer and its parts."""
