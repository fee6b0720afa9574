"""The lab: scenarios (topology + policies + NAT + traffic) run on the virtual network into a Trace."""
