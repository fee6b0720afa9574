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
from .schedule import Action

LEGACY = PeerPolicy(nat_t="none")
V2 = PeerPolicy(ike_version=2)
AGGRESSIVE = PeerPolicy(phase1_mode="aggressive")
#: RSA machine certificates with the issuing CA's beside them (Windows sends the chain)
CERTIFICATES = PeerPolicy(auth="rsa-sig", cert_chain="full")
#: announces the DPD Vendor ID and answers R-U-THERE, never asks (strongSwan's default, dpdaction=none)
ANSWERS_DPD = PeerPolicy(vendor_ids=("dpd",))
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
    Scenario("certificates-behind-nat", "Machine certificates through a NAT that drops IP fragments",
             "Both peers authenticate with RSA machine certificates from the lab CA and send the full chain, as "
             "Windows does, so MM5 and MM6 are about 2.3 kB: more than the 1500-byte Ethernet MTU. The "
             "client's kernel sends MM5 as two IP fragments and this home router drops fragments, so MM5 "
             "never arrives; the client retransmits until it gives up (FRAGMENT_DROPPED). With IKE "
             "fragmentation on both sides (client.ike_fragmentation=yes, server.ike_fragmentation=yes) the "
             "peers split MM5/MM6 themselves into UDP datagrams that fit, and it connects; so it does with a "
             "NAT that passes fragments (nat.fragments=pass).",
             client=CERTIFICATES, server=CERTIFICATES, nat=NatSettings(fragments="drop"), duration=60.0),
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
    Scenario("aggressive-mode-psk", "Aggressive Mode with a pre-shared key, client behind NAPT",
             "Three messages instead of six: AM1 carries the client's identity in the clear, AM2 the "
             "server's identity, the NAT-D hashes and HASH_R. AM2's NAT-D shows the NAT, so the client "
             "sends AM3 (NAT-D and HASH_I, encrypted) on UDP 4500 and Quick Mode follows there. Anyone "
             "who captured AM1 and AM2 can test guesses of the pre-shared key offline against HASH_R; "
             "set server.mode=main and the server refuses Aggressive Mode (AGGRESSIVE_MODE_REFUSED).",
             client=AGGRESSIVE, server=AGGRESSIVE, duration=60.0),
    Scenario("dpd-peer-gone", "The client vanishes: dead peer detection (RFC 3706)",
             "The tunnel is up when the client is switched off at t=60 s, without a word. The server asks "
             "an idle peer R-U-THERE after 30 s of silence (dpd_delay) and keeps asking every 30 s; 120 s "
             "after the first unanswered one (dpd_timeout) it declares the peer dead and clears its ISAKMP "
             "and IPsec SAs: report.json says DPD_PEER_DEAD. NAT keepalives prove nothing (RFC 3948 §4). "
             "With client.profile=windows-xp-sp2, a client that sends no DPD Vendor ID, the server never "
             "asks and keeps the dead client's SAs.",
             client=ANSWERS_DPD, server=PeerPolicy(dpd_delay=30.0, dpd_timeout=120.0),
             actions=(Action(60.0, "switch-off", "client"),), duration=240.0),
    Scenario("nat-rebinding", "The NAT forgets the mapping mid-session",
             "At t=90 s the client's NAT flushes its mappings, as a reboot does. The client's next keepalive "
             "opens a new mapping with a new public port; the server does not move for it (a keepalive "
             "proves nothing). At t=120 s the client's L2TP HELLO comes in ESP-in-UDP from the new port, "
             "authenticated, so the server follows it (RFC 3947 §7) and its own HELLO at t=150 s reaches "
             "the client. What if only the server spoke (traffic.client=none)? Its HELLO dies at the NAT "
             "and L2TP gives up; add client.dpd_delay=30 and the client's R-U-THERE re-teaches the server "
             "its port.",
             server=ANSWERS_DPD, actions=(Action(90.0, "flush", "nat"),),
             sends=(Send(120.0, "client", "HELLO"), Send(150.0, "server", "HELLO")), duration=180.0),
    Scenario("rekey", "Rekeying: the tunnel over time",
             "Short lifetimes and an L2TP HELLO every second. The client offers 120 s IPsec SAs, the server "
             "takes 60 s and says so with RESPONDER-LIFETIME. 15 % before each SA would expire the client "
             "runs a new Quick Mode, traffic moves to the new SA and the old one is deleted 5 s later; at "
             "255 s a new Main Mode replaces the 300 s ISAKMP SA, the IPsec SAs move onto it and the old "
             "ISAKMP SA is deleted. Not one packet is lost. Set client.rekey=no and the SAs expire instead.",
             client=PeerPolicy(ike_lifetime=300, ipsec_lifetime=120),
             server=PeerPolicy(ike_lifetime=300, ipsec_lifetime=60),
             sends=tuple(Send(float(t), "client", "HELLO") for t in range(20, 330)), duration=330.0),
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
