"""The lessons: named Scenarios, each a situation users meet with IKE and NAT (IKEv1: RFC 3947/3948;
IKEv2: RFC 7296 §2.23).

Each preset has a title and a one-paragraph story; `python -m natt_core scenarios` lists them and
`--set` (see settings.py) varies them. The topology and addresses are those of scenario.py.
"""
from __future__ import annotations

from ..errors import ConfigError
from ..ike.policy import PeerPolicy
from ..ike.profiles import apply_profile
from .apps import Send
from .scenario import NatSettings, Scenario

LEGACY = PeerPolicy(nat_t="none")
V2 = PeerPolicy(ike_version=2)
LINUX_SERVER = apply_profile(PeerPolicy(), "linux-xl2tpd", "server")

PRESETS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("no-nat", "No NAT on the path",
             "A plain router between client and server: both peers announce RFC 3947, the NAT-D hashes "
             "match, so IKE stays on UDP 500 and ESP travels as IP protocol 50; L2TP is delivered.",
             nat=NatSettings(kind="none")),
    Scenario("legacy-behind-nat", "Pre-NAT-T peers, client behind NAPT",
             "Neither peer knows NAT-T. IKE on UDP 500 survives the NAPT, so phase 1 and 2 complete, "
             "but plain ESP carries no ports for the NAT to translate and the inner UDP checksum covers "
             "the rewritten address: the L2TP traffic never arrives.",
             client=LEGACY, server=LEGACY),
    Scenario("ah-behind-nat", "AH through a NAT",
             "AH's ICV covers the IP addresses; the NAT rewrites the source address, so the receiver "
             "recomputes a different ICV and drops every packet, however good the keys are.",
             client=PeerPolicy(nat_t="none", protocol="ah"), server=PeerPolicy(nat_t="none", protocol="ah")),
    Scenario("client-behind-nat", "Client behind NAPT, RFC 3947",
             "The NAT-D hashes differ, so the client floats to UDP 4500, both sides agree on "
             "UDP-Encapsulated-Transport and exchange NAT-OA; keepalives hold the mapping open and L2TP "
             "flows both ways inside ESP-in-UDP.",
             duration=60.0),
    Scenario("client-behind-nat-draft02", "Client behind NAPT, draft-02 peers",
             "Both peers speak only draft-ietf-ipsec-nat-t-ike-02: the older vendor ID, payload numbers "
             "and encapsulation-mode values, but the same float to 4500 and the same result.",
             client=PeerPolicy(nat_t="draft-02"), server=PeerPolicy(nat_t="draft-02")),
    Scenario("server-behind-nat", "Server behind NAT, Windows default rule",
             "The server sits behind a NAT with UDP 500/4500 forwarded. A Windows XP SP2 client "
             "(AssumeUDPEncapsulationContextOnSendRule=0) refuses a server behind NAT; set "
             "client.assume_udp_rule=1 or 2 and it connects.",
             topology="server-nat", client=PeerPolicy(assume_udp_rule=0)),
    Scenario("both-behind-nat", "Both peers behind NAT",
             "Client and server are each behind a NAT. With the default rule 0 (and also rule 1) the "
             "Windows client refuses; only AssumeUDPEncapsulationContextOnSendRule=2 connects.",
             topology="both-nat", client=PeerPolicy(assume_udp_rule=0)),
    Scenario("multi-client", "Several clients behind one NAPT",
             "Several clients share the NAT's public address; each IKE and ESP-in-UDP flow gets its own "
             "translated port, so every client connects and the server holds one SA per client.",
             clients=2),
    Scenario("multi-client-linux-server", "Several clients behind one NAPT, Linux L2TP/IPsec server",
             "The NAT translates cleanly, as in multi-client, but the server is Linux (libreswan and "
             "xl2tpd). Its kernel keys IPsec policies by selector, and both clients are seen from the "
             "NAT's public address with L2TP source port 1701: one selector for two SAs. client2's SA "
             "replaces client1's policy, so the server drops what client1's SA decrypts and encrypts "
             "client1's L2TP for client2: IKE is up for both, only one VPN connects.",
             clients=2, server=LINUX_SERVER),
    Scenario("multi-client-helper", "Several clients behind a NAT with an IPsec helper",
             "The NAT keeps source port 500 for IKE (a common 'IPsec passthrough' helper), so its state "
             "is just public:500 <-> server:500. client1 holds it; client2's MM1 from port 500 to the same "
             "server is refused at the NAT until that state idles out (120 s), and client2 gives up. NAT-T "
             "cannot help: the float to 4500 comes only at MM5, after MM1-MM4 crossed port 500.",
             clients=2, nat=NatSettings(helper="static-port-500")),
    Scenario("keepalive-vs-timeout", "Keepalives slower than the NAT timeout",
             "The NAT forgets idle UDP mappings after 30 s but the client sends keepalives only every "
             "60 s. Ten minutes later the server's L2TP HELLO finds no mapping and dies at the NAT; "
             "set client.keepalive_interval=20 and the tunnel survives.",
             client=PeerPolicy(keepalive_interval=60.0), nat=NatSettings(timeout=30.0),
             sends=(Send(600.0, "server", "HELLO"),), duration=660.0),
    Scenario("dh-group-mismatch", "Diffie-Hellman group choice",
             "The client offers groups 14 and 2, the server accepts only 2: phase 1 uses group 2. "
             "Set client.dh_groups=14 and no proposal is chosen.",
             client=PeerPolicy(dh_groups=(14, 2)), server=PeerPolicy(dh_groups=(2,))),
    Scenario("ikev2-client-behind-nat", "IKEv2: client behind NAPT",
             "The same NAT with IKEv2 (RFC 7296): NAT detection rides in IKE_SA_INIT as two notifies, "
             "the client moves to UDP 4500 for IKE_AUTH, the first CHILD_SA comes up in that same "
             "exchange, and L2TP flows in ESP-in-UDP — four IKE messages where IKEv1 needs nine.",
             client=V2, server=V2, duration=60.0),
    Scenario("ikev2-no-nat", "IKEv2: no NAT on the path",
             "IKEv2 through a plain router: both NAT_DETECTION notifies of IKE_SA_INIT match what each "
             "side sees, so IKE_AUTH stays on UDP 500, ESP travels as IP protocol 50 and no keepalive "
             "is sent.",
             client=V2, server=V2, nat=NatSettings(kind="none")),
    Scenario("ikev2-double-nat", "IKEv2: home NAT behind a carrier NAT",
             "Two translations between client and server: the NAT_DETECTION_SOURCE_IP hash still only "
             "needs to differ, so the client moves to UDP 4500 for IKE_AUTH, keeps both NATs' mappings "
             "open with keepalives, and ESP-in-UDP crosses both.",
             topology="double-nat", client=V2, server=V2, duration=60.0),
    Scenario("ikev2-server-behind-nat", "IKEv2: server behind NAT with 500/4500 forwarded",
             "The server's NAT forwards UDP 500 and 4500 to it. The NAT_DETECTION_DESTINATION_IP hash "
             "tells the server it is the one behind the NAT, so it sends the keepalives; the client moves "
             "to 4500 for IKE_AUTH and both use ESP-in-UDP. IKEv2 knows no Windows-style refusal of a "
             "server behind NAT.",
             topology="server-nat", client=V2, server=V2, duration=60.0),
    Scenario("double-nat", "Home NAT behind a carrier NAT",
             "The client's NAT sits behind a carrier-grade NAT: two translations, but NAT-D only needs "
             "to see a difference, so the client floats to 4500 and connects.",
             topology="double-nat"),
)}


def preset(name: str) -> Scenario:
    """The preset called `name`, or a ConfigError naming the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown scenario {name!r}; choose one of {', '.join(PRESETS)}") from None
