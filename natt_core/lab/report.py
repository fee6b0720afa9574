"""report.json and secrets.json: a run's outcome per peer, and every key needed to check it.

The report's `reason` names the exact check that failed: the peer's own refusal or
authentication failure, else the first data-plane check that rejected its traffic, else the
device that dropped what it sent. When a peer gave up waiting for an answer, the reason also
says which device dropped that exchange's packets; those are found by the ISAKMP initiator
cookie the packets carry (RFC 2408 §3.1), so with many clients each gets its own story.

Beside every `reason` sentence the report gives `reason_code`, the same cause as a
`natt_core.reasons.Reason` value (e.g. "AUTH_FAILED"): scripts and views decide on the code, never
on the sentence. For a peer that gave up, the code is the one of the drop that explains it when
one is known (a NAT's NAT_PORT_TAKEN, a link's LINK_LOSS), else GAVE_UP.

Everything is indexed once per run (events per peer, drops per sender and per cookie), so the
report costs the same per peer with 2 clients or 1000.
"""
from __future__ import annotations

from itertools import compress
from operator import attrgetter

from ..errors import DecodeError
from ..ike.states import Role, State
from ..net.fragments import read_fragment
from ..reasons import Reason, reason_of
from ..wire.numbers import IPProto, Port
from ..wire.udp_encap import carried
from . import lifecycle

DATA_LABELS = ("ESP", "ESP-in-UDP", "AH")
DATA_LAYERS = ("ESP", "AH", "IPsec", "ESP trailer")
ISAKMP_HEADER_LEN = 28
_KIND = attrgetter("kind")
_READ = lifecycle.KINDS | {"PacketDropped"}     #: the kinds of event the report reads one by one


def _status(sas, established) -> str:
    if not sas:
        return "not-started"
    return "established" if any(established(sa) for sa in sas) else "failed"


def ike_initiator_cookie(packet: bytes) -> bytes | None:
    """The initiator cookie of an IKE packet on UDP 500 or (behind the non-ESP marker) 4500."""
    try:
        c = carried(packet)
    except DecodeError:
        return None
    if c is None or c.kind != "ike" or len(c.data) < ISAKMP_HEADER_LEN:
        return None
    return bytes(c.data[:8])


def _fragment_cookie(packet: bytes) -> bytes | None:
    """The initiator cookie in a first IPv4 fragment of IKE (the later ones carry no header)."""
    try:
        f = read_fragment(packet)
    except DecodeError:
        return None
    body = f.payload
    if not f.first or f.proto != IPProto.UDP or len(body) < 8:
        return None
    ports = {int.from_bytes(body[0:2], "big"), int.from_bytes(body[2:4], "big")}
    ike = body[8:]
    if Port.NAT_T in ports and ike[:4] == bytes(4):
        ike = ike[4:]
    elif Port.IKE not in ports:
        return None
    return bytes(ike[:8]) if len(ike) >= ISAKMP_HEADER_LEN else None


class _Index:
    """The run's peer events and dropped hops, grouped once for every peer's report.

    A data-plane refusal is charged to the peer that owns the packet's SPI: a NAT that hands
    client1's ESP to client2 breaks client1, not client2, which only refuses what it cannot read.
    """

    def __init__(self, steps, hosts):
        spi_owner = {spi: name for name, host in hosts.items() for spi in host.peer.children}
        #: a client's inbound SPI -> why a server's SPD dropped what that client sent (ipsec/spd.py)
        self.spd_refused = {spi: why for host in hosts.values() for spi, why in getattr(host, "refused", {}).items()}
        self.data_drop: dict[str, tuple] = {}         # peer -> (reason, code) of the first data-plane refusal
        self.first_drop: dict[str, object] = {}       # sender -> first dropped hop
        self.first_data_drop: dict[str, object] = {}  # sender -> first dropped ESP/AH hop
        self.by_cookie: dict[bytes, list] = {}        # initiator cookie -> dropped IKE hops
        delivered: dict[str, object] = {}             # host -> the last hop delivered to it
        fragment_cookie: dict[int, bytes] = {}        # fragmented packet id -> its initiator cookie
        for s in steps:
            if s.kind == "event":
                if s.event == "PacketDropped" and s.fields.get("layer") in DATA_LAYERS:
                    self._charge(s, delivered.get(s.peer), spi_owner)
                continue
            if s.fragment_of is not None and s.fragment_of not in fragment_cookie:
                cookie = _fragment_cookie(s.packet)
                if cookie is not None:
                    fragment_cookie[s.fragment_of] = cookie
            if not s.dropped:
                if s.dst_host in hosts:
                    delivered[s.dst_host] = s
                continue
            self.first_drop.setdefault(s.src_host, s)
            if s.label in DATA_LABELS:
                self.first_data_drop.setdefault(s.src_host, s)
            cookie = ike_initiator_cookie(s.packet) or fragment_cookie.get(s.fragment_of)
            if cookie is not None:
                self.by_cookie.setdefault(cookie, []).append(s)

    def _charge(self, event, hop, spi_owner: dict[int, str]) -> None:
        reason = event.fields.get("reason") or event.text
        spi = int(event.fields["spi"], 16) if event.fields.get("spi") else None
        owner = spi_owner.get(spi)
        if owner is None or owner == event.peer:
            self.data_drop.setdefault(event.peer, (reason, reason_of(event.fields.get("code"))))
            return
        self.data_drop.setdefault(owner, (
            f"its {hop.label or 'IPsec'} packet for SPI 0x{spi:08x} from {hop.src_host} was delivered by "
            f"{hop.device} to {event.peer}, which dropped it: {reason}"
            + (f" ({hop.note})" if hop.note else ""), Reason.NAT_MISDELIVERED))


def _dropped_exchange(sa, index: _Index) -> tuple[str, Reason | None] | None:
    """'10 packets of this exchange (MM1; initiator cookie ...) were dropped on the way, the first by
    nat: ...' -- every dropped packet carrying this SA's initiator cookie, in either direction --
    and the first one's drop code."""
    hops = index.by_cookie.get(sa.icookie)
    if not hops:
        return None
    labels = sorted({h.label or "IKE" for h in hops})
    count = f"{len(hops)} packet{'s' if len(hops) > 1 else ''}"
    return (f"{count} of this exchange ({', '.join(labels)}; initiator cookie {sa.icookie.hex()}) "
            f"{'were' if len(hops) > 1 else 'was'} dropped on the way, the first {_where(hops[0])}",
            reason_of(hops[0].drop_code))


def _where(hop) -> str:
    """'by nat: <its reason>' for a device's refusal; 'on the way to nat: lost on ...' for the link."""
    device = hop.dst_host or hop.segment
    return f"{'on the way to' if hop.drop_code == Reason.LINK_LOSS else 'by'} {device}: {hop.dropped}"


def _is(sa, state: State) -> bool:
    """IKEv1 and IKEv2 SA states share their names (ESTABLISHED, FAILED, DELETED)."""
    return sa.state.value == state.value


def _peer_report(name: str, host, index: _Index) -> dict:
    peer = host.peer
    sas = [*getattr(peer, "ended", ()), *peer.sas.values()]     # failed SAs the peer has forgotten still say why
    p1 = _status(sas, lambda sa: _is(sa, State.ESTABLISHED) or (_is(sa, State.DELETED) and sa.keys))
    # an IPsec SA since deleted (a Delete, DPD, INITIAL-CONTACT) was established: the reason says what ended it
    p2 = "not-started" if p1 != "established" else _status(
        sas, lambda sa: bool(sa.children) or any(qe.child for qe in getattr(sa, "quick", {}).values()))
    failed_sa = next((sa for sa in sas if sa.reason), None)
    reason, code = (failed_sa.reason, failed_sa.code) if failed_sa else (None, None)
    if failed_sa is not None and _is(failed_sa, State.FAILED) and failed_sa.failure == "gave-up":
        lost = _dropped_exchange(failed_sa, index)
        if lost:
            reason, code = f"{reason}: {lost[0]}", lost[1] or code
    if reason is None:
        reason, code = index.data_drop.get(name, (None, None))
    failed = p1 != "established" or p2 != "established"
    if reason is None:
        dropped = index.first_drop.get(name) if failed else index.first_data_drop.get(name)
        if dropped is not None:
            reason = f"{dropped.label or 'a packet'} from {name} was dropped {_where(dropped)}"
            code = reason_of(dropped.drop_code)
    vpn = host.vpn() if host.role == "client" else None
    if vpn is not None and not vpn["ping"]:     # the server's SPD refused this client's SA: that is why
        why = next((index.spd_refused[spi] for spi in peer.children if spi in index.spd_refused), None)
        if why is not None:
            vpn = {**vpn, "reason": f"the server's policy check dropped its L2TP: {why[0]}", "reason_code": why[1].value}
    if vpn is not None and not vpn["ping"] and vpn.get("reason_code") is None and failed and code is not None:
        layer = "IKE phase 1" if p1 != "established" else "IPsec (Quick Mode)"      # the VPN never got past IKE
        vpn = {**vpn, "reason": f"{layer} failed: {reason}", "reason_code": code.value}
    main = next((sa for sa in sas if _is(sa, State.ESTABLISHED)), sas[-1] if sas else None)
    natd = main.natd if main else None
    return {
        "role": "initiator" if host.role == "client" else "responder",
        "ike_version": 2 if main is not None and hasattr(main, "spi_i") else 1 if main is not None else None,
        #: the IKE SA's SPI pair (IKEv1: the cookies), initiator's first, as "spi_i:spi_r" in hex
        "ike_spis": f"{main.icookie.hex()}:{main.rcookie.hex()}" if main is not None else None,
        "phase1": p1, "phase2": p2, "reason": reason, "reason_code": code.value if code else None,
        #: IKEv1's phase-1 exchange ("Main Mode", "Aggressive Mode"); null for IKEv2
        "phase1_exchange": getattr(main, "exchange", None),
        "nat_t": main.nat_t.value if main and main.nat_t else None,
        "dh_group": main.choice.group if main and main.choice else None,
        "behind_nat": {"self": bool(natd and natd.self_behind_nat), "peer": bool(natd and natd.peer_behind_nat)},
        "floated": any(sa.floated for sa in sas),
        "keepalives_sent": sum(sa.keepalives_sent for sa in sas),
        "isakmp_sas": sum(1 for sa in sas if _is(sa, State.ESTABLISHED)),
        "ipsec_sas": sum(len(sa.children) for sa in sas),
        **({"vpn": vpn} if vpn is not None else {}),
        **({"spd": {"keying": host.spd.keying, "entries": [_spd_row(r) for r in host.spd_rows()]}}
           if getattr(host, "spd", None) is not None else {}),
    }


def _spd_row(row) -> dict:
    return {"selector": row.selector, "peer": row.peer, "cookies": row.cookies, "spi_in": row.spi_in,
            "spi_out": row.spi_out, "state": row.state, "note": row.note}


def build_report(scenario, hosts, events, steps, net) -> dict:
    end = net.clock.now
    nats = {}
    for att in net.topology():
        if att.kind == "nat-inside":
            rows = net.nat(att.device).table(end)
            nats[att.device] = {"mappings": [{"proto": r.proto, "inside": r.inside, "outside": r.outside}
                                             for r in rows]}
    # every event's kind in one pass in C; only the few events the report reads one by one (drops,
    # SA lifecycle) are picked out, also in C, so no Python loop runs over every DataSent/DataReceived
    kinds = list(map(_KIND, events))
    read = list(compress(events, map(_READ.__contains__, kinds)))
    sent, delivered = kinds.count("DataSent"), kinds.count("DataReceived")
    for e in read:
        if e.kind == "PacketDropped" and e.code == Reason.SPD_POLICY_MISMATCH:
            delivered -= 1  # refused by the server's policy check after decrypting: it never reached L2TP
    index = _Index(steps, hosts)
    generations = lifecycle.report_blocks(lifecycle.from_events(read))
    return {"scenario": scenario.name,
            "peers": {name: {**_peer_report(name, host, index),
                             "sa_generations": generations.get(name) or {"phase1": [], "phase2": []}}
                      for name, host in hosts.items()},
            "traffic": {"sent": sent, "delivered": delivered},
            "nats": nats}


def build_secrets(hosts) -> dict:
    """natt-lab-secrets/1: enough to recompute every key from the capture. Each IKE SA once, as its
    initiator knew it (as its responder did if the initiator never got keys); IKEv1 SAs with the IV
    of every message either side encrypted, IKEv2 SAs under `ikev2_sas`."""
    ike, ike2, child = [], [], []
    seen_children, seen_sas = set(), set()
    sas = [sa for host in hosts.values() for sa in (*host.peer.sas.values(), *getattr(host.peer, "retired", ()))]
    ivs: dict[bytes, list] = {}
    for sa in sas:
        if not hasattr(sa, "spi_i"):
            ivs.setdefault(sa.icookie, []).extend(sa.sealed_ivs)
    for sa in sorted(sas, key=lambda sa: sa.role != Role.INITIATOR):     # stable: initiators first
        v2 = hasattr(sa, "spi_i")
        key = (2, sa.spi_i) if v2 else (1, sa.icookie)
        if not sa.keys or key in seen_sas:
            continue
        seen_sas.add(key)
        if v2:
            ike2.append(_ikev2_secrets(sa))
        else:
            ike.append(_ikev1_secrets(sa, ivs.get(sa.icookie, ())))
        for c in [*sa.children, *getattr(sa, "past_children", ())]:     # rekeyed and expired ones too
            for sa_dir in (c.inbound, c.outbound):
                if sa_dir.spi in seen_children:
                    continue
                seen_children.add(sa_dir.spi)
                esp = c.protocol == "esp"
                child.append({"spi": f"{sa_dir.spi:08x}", "cipher": sa_dir.cipher if esp else None,
                              "encryption_key": sa_dir.enc_key.hex() if esp else "",
                              "integrity": sa_dir.integrity, "integrity_key": sa_dir.auth_key.hex(),
                              "mode": c.mode})
    out = {"format": "natt-lab-secrets/1", "ike_sas": ike, "child_sas": child}
    if ike2:
        out["ikev2_sas"] = ike2
    from .cert_files import certificate_secrets
    if certs := certificate_secrets(host.peer for host in hosts.values()):
        out["certificates"] = certs
    return out


def _ikev1_secrets(sa, ivs) -> dict:
    """An ISAKMP SA's keys (RFC 2409 §5), what they were made from, and the IVs it used."""
    k = sa.keys
    return {"initiator_cookie": sa.icookie.hex(), "responder_cookie": sa.rcookie.hex(),
            "psk": sa.policy.psk, "auth": sa.choice.auth, "dh_group": sa.choice.group, "dh_shared_secret": sa.gxy.hex(),
            "hash": sa.choice.hash, "cipher": sa.choice.cipher, "skeyid": k.skeyid.hex(),
            "skeyid_d": k.skeyid_d.hex(), "skeyid_a": k.skeyid_a.hex(), "skeyid_e": k.skeyid_e.hex(),
            "encryption_key": k.enc_key.hex(),
            "quick_modes": [{"message_id": f"{qe.message_id:08x}",
                             "pfs_dh_shared_secret": qe.pfs_shared.hex() if qe.pfs_shared else None}
                            for qe in sa.quick.values()],
            "ivs": [{"message_id": f"{mid:08x}", "first_block": first.hex(), "iv": iv.hex()}
                    for mid, first, iv in ivs]}


def _ikev2_secrets(sa) -> dict:
    """An IKEv2 SA's keys (RFC 7296 §2.14) and what they were made from."""
    k, c = sa.keys, sa.choice
    return {"ike_version": 2, "spi_i": sa.spi_i.hex(), "spi_r": sa.spi_r.hex(), "psk": sa.policy.psk,
            "dh_group": c.group, "prf": c.prf, "encryption": c.encr.name, "integrity": c.integ.name if c.integ else None,
            "nonce_i": sa.ni.hex(), "nonce_r": sa.nr.hex(), "skeyseed": k.skeyseed.hex(), "sk_d": k.sk_d.hex(),
            "sk_ai": k.sk_ai.hex(), "sk_ar": k.sk_ar.hex(), "sk_ei": k.sk_ei.hex(), "sk_er": k.sk_er.hex(),
            "sk_pi": k.sk_pi.hex(), "sk_pr": k.sk_pr.hex()}
