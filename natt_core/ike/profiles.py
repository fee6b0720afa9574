"""Peers as they really were: what each real L2TP/IPsec stack sends and accepts, as policy data.

A profile is a set of PeerPolicy overrides (`--set client.profile=windows-xp-sp2`); settings given
after it still change any part. Each value names its source; the facts and their sources are
collected in the project's reference notes on L2TP/PPP and Windows peers (sections 3-5). Where a
source is marked unverified there, the comment says so and the value is the best reading.

Sources, short names used below:
  KB818043  Microsoft KB 818043, L2TP/IPsec NAT-T update for Windows 2000/XP ("NAT-T drafts version 2")
  KB885407  Microsoft KB 885407, XP SP2's default refusal of NAT-T SAs to a server behind NAT
  KB926179  Microsoft KB 926179, AssumeUDPEncapsulationContextOnSendRule (0 default, 1, 2) on Vista/2008
  KB949856  Microsoft KB 949856, elliptic-curve groups from Vista SP1
  MS-IKEE   [MS-IKEE] Microsoft IKE extensions: draft-only hosts send only draft-ietf-ipsec-nat-t-ike-02\\n
  ike-scan  ike-scan's vendor-id and back-off fingerprint files (MS NT5 v2 = Windows-2000,
            v4 = Windows-2003-or-XP-SP2, v5 = Windows-Vista; Windows back-off 1, 2, 4, 8, 16, 32 s)
  linogate  support.linogate.com "Example of a successful IPSec negotiation" (two XP SP2 MM1 logs)
  libreswan libreswan ikev1_quick.c / ikev1_nat.c (NAT-OA only from quick_outI1, only if NATed),
            ikev1_vendorid.c out_v1VID_set (FRAGMENTATION, DPD, then the NAT-T VID), ipsec.conf
            (retransmit-interval 500 ms doubling, retransmit-timeout 60 s); issue #26 (Vista/7 MM1)
  hwdsl2    hwdsl2/setup-ipsec-vpn vpnsetup (ikelifetime=24h, salifetime=24h, pfs=no, transport;
            dpddelay=30, dpdtimeout=300, dpdaction=clear in create_vpn_config)
  charon    strongSwan isakmp_vendor.c (XAuth, DPD, RFC 3947, draft-02\\n), quick_mode.c
            add_nat_oa_payloads (NAT-OA in QM1 and QM2 whenever UDP-encapsulated transport),
            charon.opt (retransmit 4 s x 1.8, 5 retransmissions), ipsec.conf (ikelifetime 3h, lifetime 1h;
            dpdaction=none by default: DPD answered, never asked; dpdtimeout 150 s, starter/confread.c)
  Linux     net/ipv4/esp4.c: UDP-encapsulated transport sets CHECKSUM_UNNECESSARY (RFC 3948 §3.1.2)

Dead peer detection (RFC 3706): no recorded Windows MM1 above carries the DPD Vendor ID (linogate,
libreswan #26, ike-scan), so a Windows peer is never asked R-U-THERE and never asks (dpd_delay 0);
xl2tpd/libreswan as hwdsl2 sets it up asks after 30 s and clears after 300 s; strongSwan announces
DPD but asks only when dpdaction is set. INITIAL-CONTACT in MM5 is the engine's default (strongSwan
sends it); whether Windows sends it beside its Vid-Initial-Contact Vendor ID is unverified.

What the engine cannot speak is left out and said so: ECP groups 19/20 (Vista SP1+ offers them
first; its IKEv1 here has MODP 2 and 14 only), GSS-API Vendor IDs of Windows 2000 (unverified in a
PSK MM1). Every profile that announces FRAGMENTATION has `ike_fragmentation` on, so it also
splits and reassembles IKE fragments (ike/fragmentation.py; fragment size 1280, charon.opt; the
Windows fragment size is unverified). The engine's retransmission
doubles from `retransmit_interval` up to `retransmit_max_interval`.
"""
from __future__ import annotations

from dataclasses import replace

from .nat_t import NattVersion

#: Windows 2000/XP/2003 IKE back-off 0, 1, 2, 4, 8, 16, 32 s (ike-scan back-off fingerprints)
_WINDOWS_BACKOFF = {"retransmit_interval": 1.0, "retransmit_max_interval": 32.0, "retransmit_tries": 7}
#: Windows phase-1 lifetime 28800 s (SoftEtherVPN #1253 log of a Windows 10 proposal); phase 2
#: 3600 s is the usual value (unverified)
_WINDOWS_LIFETIMES = {"ike_lifetime": 28800, "ipsec_lifetime": 3600}
#: 2000/XP/2003 have no AES (TechNet cc811539: AES from Vista/2008); 3DES/SHA1 (KB 325158 for the
#: L2TP client add-on; XP logs at linogate established 3DES/SHA/MODP2048)
_PRE_VISTA_CRYPTO = {"ike_ciphers": ("3des-cbc",), "ike_hashes": ("sha1",), "esp_ciphers": ("3des-cbc",),
                     "esp_integrity": ("hmac-sha1-96",)}

#: profile -> {"both": overrides, "client": overrides as client only, "server": as server only}
PROFILES: dict[str, dict[str, dict]] = {
    # Windows 2000 before KB818043: MS NT5 v2 only (ike-scan), no NAT-T at all (KB818043); 3DES/SHA1,
    # DH 2 (unverified order); ESP 3DES transport; not behind NAT it works, behind NAT ESP is lost
    "windows-2000": {"both": {
        "nat_t": "none", "vendor_ids": ("ms-nt5-v2",), "dh_groups": (2,), **_PRE_VISTA_CRYPTO,
        **_WINDOWS_LIFETIMES, **_WINDOWS_BACKOFF}},
    # Windows 2000 + KB818043: NAT-T draft-02 (KB818043 "drafts version 2"), announced as Windows does,
    # only draft-02\n (MS-IKEE); MS NT5 v2 and FRAGMENTATION as an nmap answer labelled "Windows 2000"
    # listed (unverified); not restricted by XP SP2's rule (KB885407: "no change ... in Windows 2000"),
    # so it behaves as rule 2
    "windows-2000-818043": {"both": {
        "nat_t": "draft-02", "nat_t_announce": (NattVersion.DRAFT_02N,),
        "vendor_ids": ("ms-nt5-v2", "fragmentation", "nat-t"), "ike_fragmentation": True, "dh_groups": (2,),
        **_PRE_VISTA_CRYPTO,
        **_WINDOWS_LIFETIMES, **_WINDOWS_BACKOFF},
        "client": {"assume_udp_rule": 2}},
    # Windows XP SP2: MM1 = MS NT5 v4, FRAGMENTATION, draft-02\n, Vid-Initial-Contact (linogate, two
    # runs); draft-02 only (MS-IKEE); 3DES/SHA1 with DH 14 first, then 2 (inferred from linogate);
    # AssumeUDPEncapsulationContextOnSendRule 0: refuses a server behind NAT (KB885407, KB926179)
    "windows-xp-sp2": {"both": {
        "nat_t": "draft-02", "nat_t_announce": (NattVersion.DRAFT_02N,),
        "vendor_ids": ("ms-nt5-v4", "fragmentation", "nat-t", "vid-initial-contact"), "ike_fragmentation": True,
        "dh_groups": (14, 2),
        **_PRE_VISTA_CRYPTO, **_WINDOWS_LIFETIMES, **_WINDOWS_BACKOFF},
        "client": {"assume_udp_rule": 0}},
    # Windows Vista: MS NT5 v5 (ike-scan), RFC 3947, draft-02\n, FRAGMENTATION, MS-Negotiation
    # Discovery Capable, Vid-Initial-Contact, IKE CGA version 1 (libreswan #26; "only Vista uses RFC
    # 3947", carbonwind); AES-256, AES-128, then 3DES, SHA1, MODP 2048 (libreswan #26, nm-l2tp #169;
    # its ECP offers left out, KB949856); rule 0 kept from XP SP2 (KB926179)
    "windows-vista": {"both": {
        "nat_t": "rfc3947", "vendor_ids": ("ms-nt5-v5", "nat-t", "fragmentation", "ms-negotiation-discovery",
                                           "vid-initial-contact", "ike-cga-v1"), "ike_fragmentation": True,
        "dh_groups": (14, 2), "ike_ciphers": ("aes-cbc-256", "aes-cbc-128", "3des-cbc"), "ike_hashes": ("sha1",),
        "esp_ciphers": ("aes-cbc-256", "aes-cbc-128", "3des-cbc"), "esp_integrity": ("hmac-sha1-96",),
        **_WINDOWS_LIFETIMES},
        "client": {"assume_udp_rule": 0}},
    # Windows Server 2003 RRAS: the XP SP2 IPsec stack (ike-scan "Windows-2003-or-XP-SP2"): MS NT5 v4
    # and draft-02\n (carbonwind: XP SP2 and 2003 use draft-02; exact MM2 list unverified); NAT-OA in
    # QM2 (unverified); the send rule concerns only its outgoing connections, so none as a server
    "windows-server-2003-rras": {"both": {
        "nat_t": "draft-02", "nat_t_announce": (NattVersion.DRAFT_02N,),
        "vendor_ids": ("ms-nt5-v4", "nat-t"), "dh_groups": (14, 2), **_PRE_VISTA_CRYPTO,
        **_WINDOWS_LIFETIMES, **_WINDOWS_BACKOFF},
        "client": {"assume_udp_rule": 0}},
    # xl2tpd with libreswan: MM2 = FRAGMENTATION, DPD, then the best NAT-T VID received (libreswan
    # out_v1VID_set); as initiator RFC 3947, draft-03, draft-02\n, draft-02 (nat-ikev1-method=both);
    # NAT-OA never in QM2, in QM1 only when itself behind NAT (libreswan ikev1_quick.c); the Linux
    # kernel skips the inner checksum (Linux esp4.c); 24 h lifetimes, no PFS (hwdsl2); 0.5 s doubling,
    # giving up after 60 s (libreswan ipsec.conf)
    "linux-xl2tpd": {"both": {
        "nat_t": "rfc3947", "nat_t_announce": (NattVersion.RFC3947, NattVersion.DRAFT_03, NattVersion.DRAFT_02N,
                                                 NattVersion.DRAFT_02),
        "vendor_ids": ("fragmentation", "dpd", "nat-t"), "ike_fragmentation": True, "ike_lifetime": 86400, "ipsec_lifetime": 86400,
        "pfs_group": None, "retransmit_interval": 0.5, "retransmit_max_interval": 32.0, "retransmit_tries": 7,
        "dpd_delay": 30.0, "dpd_timeout": 300.0},
        "client": {"send_nat_oa": "when-behind-nat"},
        "server": {"send_nat_oa": "no"}},
    # strongSwan charon (IKEv1): XAuth, DPD, FRAGMENTATION with capability 0x80000000 (fragmentation=yes,
    # the swanctl.opt default; a responder only if the initiator sent it), RFC 3947, draft-02\n (charon
    # isakmp_vendor.c; the recorded assets/captures/strongswan-initiator MM1); NAT-OA in
    # QM1 and QM2 whenever UDP-encapsulated transport (charon quick_mode.c); ikelifetime 3h, lifetime
    # 1h (ipsec.conf); 4 s then x1.8, 5 retransmissions (charon.opt; doubled here: 4, 8, 16, 32, 42)
    "strongswan": {"both": {
        "nat_t": "rfc3947", "vendor_ids": ("xauth", "dpd", "fragmentation-ike", "nat-t"), "ike_fragmentation": True,
        "send_nat_oa": "yes",
        "ike_lifetime": 10800, "ipsec_lifetime": 3600,
        "retransmit_interval": 4.0, "retransmit_max_interval": 42.0, "retransmit_tries": 6}},
}
PROFILE_NAMES = tuple(PROFILES)


def overrides(name: str, side: str) -> dict:
    """The PeerPolicy fields profile `name` sets when it plays `side` ("client" or "server")."""
    profile = PROFILES[name]
    return {**profile["both"], **profile.get(side, {})}


def apply_profile(policy, name: str, side: str):
    """`policy` with profile `name` applied for `side`; "none" only clears the name."""
    if name == "none":
        return replace(policy, profile="none")
    return replace(policy, profile=name, **overrides(name, side))
