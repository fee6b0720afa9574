"""Live runs: our sans-IO engine on real UDP sockets, against strongSwan, through a real Linux NAT.

driver.py  — the socket driver (real delivery and clock for an unchanged `Peer`)
netns.py   — network namespaces, the netfilter NAT, tcpdump captures, teardown by PID
charon.py  — charon with kernel-libipsec in a namespace, driven with swanctl
interop.py — one complete run in either direction, recorded as a `LiveResult`

Root and the tools in .ci/run are needed; `interop.why_not_live()` says what is missing.
"""
