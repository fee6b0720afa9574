"""L2TP version 2 above the wire codec: the reliable control connection and its call (RFC 2661)."""
