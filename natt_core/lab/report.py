"""report.json and secrets.json: a run's outcome per peer, and every key needed to check it.

The report's `reason` names the exact check that failed: the peer's own refusal or
authentication failure, else the first data-plane check that rejected its traffic, else the
device that dropped what it sent.
"""
from __future__ import annotations

from ..ike.states import State

DATA_LABELS = ("ESP", "ESP-in-UDP", "AH")
DATA_LAYERS = ("ESP", "AH", "IPsec", "ESP trailer")


def _status(sas, established) -> str:
    if not sas:
        return "not-started"
    return "established" if any(established(sa) for sa in sas) else "failed"


def _peer_report(name: str, host, events, steps) -> dict:
    peer = host.peer
    sas = list(peer.sas.values())
    p1 = _status(sas, lambda sa: sa.state is State.ESTABLISHED or (sa.state is State.DELETED and sa.keys))
    p2 = "not-started" if p1 != "established" else _status(sas, lambda sa: bool(sa.children))
    reason = next((sa.reason for sa in sas if sa.reason), None)
    if reason is None:
        reason = next((e.reason for e in events if e.peer == name and e.kind == "PacketDropped"
                       and e.layer in DATA_LAYERS), None)
    failed = p1 != "established" or p2 != "established"
    if reason is None:
        dropped = next((s for s in steps if getattr(s, "dropped", None) and s.src_host == name
                        and (failed or s.label in DATA_LABELS)), None)
        if dropped is not None:
            reason = f"{dropped.label or 'a packet'} from {name} was dropped by {dropped.dst_host or dropped.segment}: {dropped.dropped}"
    main = next((sa for sa in sas if sa.state is State.ESTABLISHED), sas[-1] if sas else None)
    natd = main.natd if main else None
    return {
        "role": "initiator" if host.role == "client" else "responder",
        "phase1": p1, "phase2": p2, "reason": reason,
        "nat_t": main.nat_t.value if main and main.nat_t else None,
        "dh_group": main.choice.group if main and main.choice else None,
        "behind_nat": {"self": bool(natd and natd.self_behind_nat), "peer": bool(natd and natd.peer_behind_nat)},
        "floated": any(sa.floated for sa in sas),
        "keepalives_sent": sum(sa.keepalives_sent for sa in sas),
        "isakmp_sas": sum(1 for sa in sas if sa.state is State.ESTABLISHED),
        "ipsec_sas": sum(len(sa.children) for sa in sas),
    }


def build_report(scenario, hosts, events, steps, net) -> dict:
    end = net.clock.now
    nats = {}
    for att in net.topology():
        if att.kind == "nat-inside":
            rows = net.nat(att.device).table(end)
            nats[att.device] = {"mappings": [{"proto": r.proto, "inside": r.inside, "outside": r.outside}
                                             for r in rows]}
    sent = sum(1 for e in events if e.kind == "DataSent")
    delivered = sum(1 for e in events if e.kind == "DataReceived")
    return {"scenario": scenario.name,
            "peers": {name: _peer_report(name, host, events, steps) for name, host in hosts.items()},
            "traffic": {"sent": sent, "delivered": delivered},
            "nats": nats}


def build_secrets(hosts) -> dict:
    """natt-lab-secrets/1: enough to recompute every key from the capture."""
    ike, child = [], []
    seen_children = set()
    for host in hosts.values():
        for sa in host.peer.sas.values():
            if sa.role != "initiator" or not sa.keys:
                continue
            k = sa.keys
            ike.append({"initiator_cookie": sa.icookie.hex(), "responder_cookie": sa.rcookie.hex(),
                        "psk": sa.policy.psk, "dh_group": sa.choice.group, "dh_shared_secret": sa.gxy.hex(),
                        "hash": sa.choice.hash, "cipher": sa.choice.cipher, "skeyid": k.skeyid.hex(),
                        "skeyid_d": k.skeyid_d.hex(), "skeyid_a": k.skeyid_a.hex(), "skeyid_e": k.skeyid_e.hex(),
                        "encryption_key": k.enc_key.hex(),
                        "quick_modes": [{"message_id": f"{qe.message_id:08x}",
                                         "pfs_dh_shared_secret": qe.pfs_shared.hex() if qe.pfs_shared else None}
                                        for qe in sa.quick.values()]})
            for c in sa.children:
                for sa_dir in (c.inbound, c.outbound):
                    if sa_dir.spi in seen_children:
                        continue
                    seen_children.add(sa_dir.spi)
                    esp = c.protocol == "esp"
                    child.append({"spi": f"{sa_dir.spi:08x}", "cipher": sa_dir.cipher if esp else None,
                                  "encryption_key": sa_dir.enc_key.hex() if esp else "",
                                  "integrity": sa_dir.integrity, "integrity_key": sa_dir.auth_key.hex(),
                                  "mode": c.mode})
    return {"format": "natt-lab-secrets/1", "ike_sas": ike, "child_sas": child}
