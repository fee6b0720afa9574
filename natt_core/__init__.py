"""NAT-T Lab engine: IKEv1 Main/Quick Mode with NAT-Traversal (RFC 3947/3948), sans-IO."""
