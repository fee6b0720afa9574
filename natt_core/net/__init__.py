"""The virtual network: addresses, clock, NAT devices and the deliverer."""
