"""A peer's policy: the knobs that reproduce the situations our users meet.

Every field is validated here, so a bad value is a `ConfigError` naming the valid choices before
any packet is built. Defaults describe a modern RFC 3947 peer. The tuples below are the one
vocabulary of each setting: `--set` (lab/settings.py), the lesson switches and the Playground form
offer exactly these values.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..addressing import check_ipv4
from ..errors import ConfigError
from .nat_t import NAT_T_SLOT, SUPPORT, VENDOR_IDS, NattVersion, versions_for
from .profiles import PROFILE_NAMES
from .states import Role
from .v2.options import V2Options
from ..net.records import fast_init_all

PHASE1_CIPHERS = ("aes-cbc-128", "aes-cbc-192", "aes-cbc-256", "3des-cbc")
HASHES = ("sha1", "sha256", "md5")
DH_GROUPS = (2, 14)
ESP_CIPHERS = ("aes-cbc-128", "aes-cbc-256", "3des-cbc")
INTEGRITIES = ("hmac-sha1-96", "hmac-sha256-128", "hmac-md5-96")
MODES = ("transport", "tunnel")
#: the phase-1 exchange: Main Mode (RFC 2409 §5.4, identities encrypted) or Aggressive Mode (§5.4,
#: three messages, identities and HASH_R in the clear). An initiator uses it; a responder with
#: "aggressive" also answers Aggressive Mode (Main Mode always), as strongSwan's `aggressive = yes`
PHASE1_MODES = ("main", "aggressive")
PROTOCOLS = ("esp", "ah")
NAT_T = tuple(reversed(SUPPORT))  #: rfc3947, draft-03, draft-02, none (best first): the nat_t.SUPPORT settings
#: NAT-T role -> the IKE roles in which the peer speaks NAT-T ("client-only": an older server that
#: announces and honours NAT-T only when it initiates, never as responder)
NAT_T_SPOKEN_AS = {"full": frozenset(Role), "client-only": frozenset({Role.INITIATOR})}
NAT_T_ROLES = tuple(NAT_T_SPOKEN_AS)
#: Windows AssumeUDPEncapsulationContextOnSendRule (KB 926179): 0 refuse a server behind NAT, 1 refuse
#: only when both sides are behind NAT, 2 never refuse
ASSUME_UDP_RULES = (0, 1, 2)
#: the text of "no such registry value": not a Windows peer (assume_udp_rule=None)
RULE_UNSET = "none"
IKE_VERSIONS = (1, 2, (1, 2))
#: NAT-OA in Quick Mode for UDP-Encapsulated-Transport: always (RFC 3947 §5.2, strongSwan, Windows),
#: never (libreswan/Openswan as responder: ikev1_quick.c), or only when this host is behind a NAT
#: (libreswan/Openswan as initiator: st_nated_host)
NAT_OA_SENDING = ("yes", "no", "when-behind-nat")
#: the shortest lifetimes a policy takes (seconds; kilobytes 0 = no kilobyte limit): a rekey every few
#: seconds teaches nothing and would only fill a run
LIFETIME_MINIMA = {"ike_lifetime": 60, "ipsec_lifetime": 10, "ipsec_lifetime_kb": 0}
#: phase-1 authentication (RFC 2409 §5): pre-shared key (method 1), RSA signatures with X.509
#: certificates (method 3), ECDSA P-256 signatures (RFC 4754: method 9)
AUTH_METHODS = ("psk", "rsa-sig", "ecdsa-sig")
#: the phase-1 ID payload's type. "auto": ID_IPV4_ADDR (FQDN when `identity` is set) with a PSK,
#: the certificate's subject (ID_DER_ASN1_DN) with certificates, as Windows sends it. With a PSK,
#: der-asn1-dn sends the subject the lab PKI gives this machine (a DN is only a name)
ID_TYPES = ("auto", "ipv4", "fqdn", "der-asn1-dn")
#: the certificates MM5/MM6 carry: the machine's and its issuing CA's (Windows), or the machine's alone
CERT_CHAINS = ("full", "machine")
#: who issued this peer's machine certificate: the lab CA both peers trust, or a rogue CA nobody trusts
CERT_ISSUERS = ("lab", "rogue")
#: names a policy's `vendor_ids` may use: nat_t.VENDOR_IDS, and the NAT-T slot
VENDOR_ID_NAMES = (*VENDOR_IDS, NAT_T_SLOT)
#: the names of the FRAGMENTATION Vendor ID: sent exactly when `ike_fragmentation` is on
FRAGMENTATION_VIDS = ("fragmentation", "fragmentation-ike")


#: the exact classes a number setting usually has (a bool is an int too, and stays one here)
_NUMBERS = (int, float)
_INF = float("inf")


def _choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"invalid {name} {value!r}; choose one of {', '.join(map(str, choices))}")


def _subset(name: str, values: tuple, choices) -> None:
    if not values:
        raise ConfigError(f"{name} must not be empty; choose from {', '.join(map(str, choices))}")
    for v in values:
        _choice(name, v, choices)


#: the settings with one vocabulary, checked in this order by PeerPolicy: (what the error calls it,
#: the field, its allowed values, whether the field is a non-empty tuple of them)
_VOCABULARY = (("NAT-T role", "nat_t_role", NAT_T_ROLES, False),
               ("NAT-OA sending", "send_nat_oa", NAT_OA_SENDING, False),
               ("profile", "profile", ("none", *PROFILE_NAMES), False),
               ("authentication", "auth", AUTH_METHODS, False),
               ("ID type", "id_type", ID_TYPES, False),
               ("certificate chain", "cert_chain", CERT_CHAINS, False),
               ("certificate issuer", "cert_issuer", CERT_ISSUERS, False))
_ALGORITHMS = (("DH groups", "dh_groups", DH_GROUPS, True),
               ("phase-1 ciphers", "ike_ciphers", PHASE1_CIPHERS, True),
               ("phase-1 hashes", "ike_hashes", HASHES, True),
               ("mode", "mode", MODES, False),
               ("phase-1 mode", "phase1_mode", PHASE1_MODES, False))
_CHILD = (("protocol", "protocol", PROTOCOLS, False),
          ("ESP ciphers", "esp_ciphers", ESP_CIPHERS, True),
          ("ESP integrity", "esp_integrity", INTEGRITIES, True))


def _check_vocabulary(policy, table) -> None:
    """Each setting of `table` within its vocabulary (a ConfigError names the choices); a value
    that is one of them costs one membership test."""
    fields = policy.__dict__     # every field, read without a getattr call each
    for name, attr, choices, several in table:
        value = fields[attr]
        if several:
            if not value:
                _subset(name, value, choices)
            for v in value:
                if v not in choices:
                    _subset(name, value, choices)
        elif value not in choices:
            _choice(name, value, choices)


@dataclass(frozen=True)
class PeerPolicy:
    psk: str = "natt-lab"
    #: one of NAT_T — what the peer announces in MM1/MM2
    nat_t: str = "rfc3947"
    #: "client-only": an older server that speaks NAT-T only as initiator, never as responder
    nat_t_role: str = "full"
    #: Windows AssumeUDPEncapsulationContextOnSendRule, one of ASSUME_UDP_RULES. None: not a Windows peer.
    assume_udp_rule: int | None = None
    dh_groups: tuple[int, ...] = (14, 2)
    ike_ciphers: tuple[str, ...] = ("aes-cbc-128", "3des-cbc")
    ike_hashes: tuple[str, ...] = ("sha1",)
    mode: str = "transport"
    #: one of PHASE1_MODES
    phase1_mode: str = "main"
    protocol: str = "esp"
    esp_ciphers: tuple[str, ...] = ("aes-cbc-128", "3des-cbc")
    esp_integrity: tuple[str, ...] = ("hmac-sha1-96",)
    pfs_group: int | None = None
    keepalive_interval: float = 20.0
    #: Phase-1 identity: None means ID_IPV4_ADDR of our own address; else an FQDN
    identity: str | None = None
    #: tunnel mode: the inner addresses; default: the peers' own addresses
    inner_address: str | None = None
    retransmit_interval: float = 1.0
    retransmit_max_interval: float = 4.0
    retransmit_tries: int = 10
    ike_lifetime: int = 28800
    #: Half-open (unauthenticated) responder ISAKMP SAs held at once, in total. Modelled on
    #: strongSwan's charon.init_limit_half_open and libreswan's max-halfopen-ike (50,000 on a real
    #: server); a lab peer needs far fewer: 1000 clients behind one NAT keep about 5 half-open.
    half_open_limit: int = 500
    #: ... and from one source IP address: strongSwan's charon.block_threshold (5 per peer IP).
    #: Every client behind a NAT shares its public address, so the lab's default is larger.
    half_open_per_source: int = 50
    #: Seconds a responder SA that never authenticated is kept after its last accepted message
    #: (or the end of its retransmissions) before it is forgotten: strongSwan's
    #: charon.half_open_timeout (30 s). Its timers go with it.
    half_open_timeout: float = 30.0
    ipsec_lifetime: int = 3600
    #: phase-2 kilobyte limit per IPsec SA (RFC 2407 §4.5 life type 2); 0: seconds only
    ipsec_lifetime_kb: int = 0
    #: rekey an SA this peer initiated before its lifetime ends (ike/rekey.py); False: let it expire
    rekey: bool = True
    #: NAT-OA in QM1/QM2 of a UDP-Encapsulated-Transport SA (RFC 3947 §5.2), one of NAT_OA_SENDING.
    #: "no": a libreswan responder that leaves it out; the receiver may then skip the inner checksum
    #: check (RFC 3948 §3.1.2)
    send_nat_oa: str = "yes"
    #: other Vendor IDs sent in MM1/MM2, by nat_t.VENDOR_IDS name, in order; NAT_T_SLOT marks where the
    #: NAT-T ones go (first when absent)
    vendor_ids: tuple[str, ...] = ()
    #: exactly the NAT-T versions announced, when a real stack sent fewer than `nat_t` implies
    #: (Windows XP SP2: only draft-02 with the newline); None: SUPPORT[nat_t]
    nat_t_announce: tuple[NattVersion, ...] | None = None
    #: RFC 3706 DPD: seconds without hearing from the peer before an R-U-THERE (0: never send one;
    #: the default of strongSwan, dpdaction=none, and of libreswan without dpddelay). Any value
    #: announces the DPD Vendor ID; an authenticated R-U-THERE is always answered.
    dpd_delay: float = 0.0
    #: seconds from the first unanswered R-U-THERE until the peer is declared dead and its SAs are
    #: cleared (strongSwan ipsec.conf dpdtimeout default 150 s, starter/confread.c)
    dpd_timeout: float = 150.0
    #: send INITIAL-CONTACT in MM5 when we hold no SA with that peer (strongSwan main_mode.c
    #: add_initial_contact, on by default), so the responder replaces a lost earlier connection's SAs
    initial_contact: bool = True
    #: the ike/profiles.py stack this policy was set from ("none": no profile)
    profile: str = "none"
    #: 1: IKEv1 (RFC 2409) with RFC 3947 NAT-T; 2: IKEv2 (RFC 7296) with its §2.23 NAT traversal;
    #: (1, 2): answer both (a responder as strongSwan's version = 0; it initiates with IKEv2)
    ike_version: int | tuple[int, ...] = 1
    #: what only IKEv2 has words for: AES-GCM and PRF suites, group 19, the COOKIE threshold (the
    #: default is one shared instance: it is frozen, and a policy is made for every peer)
    v2: V2Options = V2Options()
    #: IKEv1 fragmentation (ike/fragmentation.py): announce the FRAGMENTATION Vendor ID and, once the
    #: peer announced it too, send a message bigger than `ike_fragment_size` as fragments (payload 132)
    ike_fragmentation: bool = False
    #: the largest IP datagram an IKE fragment makes: strongSwan's charon.fragment_size, 1280 (charon.opt)
    ike_fragment_size: int = 1280
    #: one of AUTH_METHODS; with certificates the lab PKI (crypto/pki.py) issues this peer's
    auth: str = "psk"
    #: one of ID_TYPES
    id_type: str = "auto"
    #: one of CERT_CHAINS: "full" sends machine + intermediate (what makes MM5/MM6 big)
    cert_chain: str = "full"
    #: one of CERT_ISSUERS
    cert_issuer: str = "lab"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    # Each type test below asks the exact class first (`x.__class__ is int`): the usual value passes
    # without an isinstance call, anything else gets the same isinstance question as before.
    def __post_init__(self) -> None:
        if self.psk.__class__ is not str and not isinstance(self.psk, str) or not self.psk:
            raise ConfigError("the pre-shared key must not be empty")
        if self.nat_t not in NAT_T:     # a valid setting costs one membership test (`_choice` says why not)
            _choice("NAT-T support", self.nat_t, NAT_T)
        v = self.ike_version
        if v.__class__ is not int and isinstance(v, tuple) and len(v) == 1:
            object.__setattr__(self, "ike_version", self.ike_version[0])
        if self.ike_version not in IKE_VERSIONS:
            _choice("IKE version", self.ike_version, IKE_VERSIONS)
        _check_vocabulary(self, _VOCABULARY)
        if self.auth != "psk" and self.ike_version != 1:
            raise ConfigError(f"{self.auth} authentication is implemented for IKEv1 Main Mode only; "
                              "use ike_version 1 or psk")
        for name in self.vendor_ids:
            _choice("Vendor ID", name, VENDOR_ID_NAMES)
        if self.nat_t_announce is not None:
            for v in self.nat_t_announce:
                _choice("announced NAT-T version", v, tuple(NattVersion))
        if self.assume_udp_rule is not None:
            _choice("AssumeUDPEncapsulationContextOnSendRule", self.assume_udp_rule, ASSUME_UDP_RULES)
        _check_vocabulary(self, _ALGORITHMS)
        if self.auth != "psk" and self.phase1_mode == "aggressive":
            raise ConfigError(f"{self.auth} authentication is implemented for Main Mode only; "
                              "Aggressive Mode here uses a pre-shared key")
        _check_vocabulary(self, _CHILD)
        if self.pfs_group is not None:
            _choice("PFS group", self.pfs_group, DH_GROUPS)
        v = self.keepalive_interval
        if not ((v.__class__ in _NUMBERS or isinstance(v, (int, float))) and v > 0):
            raise ConfigError(f"keepalive interval must be a positive number of seconds, not {v!r}")
        if self.inner_address is not None:
            check_ipv4(self.inner_address)
        if self.retransmit_tries < 1 or self.retransmit_interval <= 0:
            raise ConfigError("retransmission needs at least one try and a positive interval")
        fields = self.__dict__     # the numbers below read without a getattr call each
        for name in ("half_open_limit", "half_open_per_source"):
            value = fields[name]
            if not (value.__class__ is int or value.__class__ is not bool and isinstance(value, int)) or value < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be a whole number of SAs, 1 or more, not {value!r}")
        if self.ike_fragmentation.__class__ is not bool:
            raise ConfigError(f"IKE fragmentation must be True or False, not {self.ike_fragmentation!r}")
        v = self.ike_fragment_size
        if not (v.__class__ is int or v.__class__ is not bool and isinstance(v, int)) or not 128 <= v <= 65535:
            raise ConfigError(f"IKE fragment size must be 128..65535 bytes, not {self.ike_fragment_size!r}")
        for name, low in LIFETIME_MINIMA.items():
            value = fields[name]
            if not (value.__class__ is int or value.__class__ is not bool and isinstance(value, int)) \
                    or not (value == 0 == low or low <= value <= 1 << 31):
                raise ConfigError(f"{name.replace('_', ' ')} must be a whole number from {max(low, 1)} to {1 << 31}"
                                  f"{' (0: none)' if not low else ''}, not {value!r}")
        if self.rekey.__class__ is not bool:
            raise ConfigError(f"rekey must be yes or no, not {self.rekey!r}")
        v = self.half_open_timeout
        if not ((v.__class__ in _NUMBERS or isinstance(v, (int, float))) and 0 < v < _INF):
            raise ConfigError(f"half-open timeout must be a positive number of seconds, not {self.half_open_timeout!r}")
        v = self.dpd_delay
        if v.__class__ is bool or not ((v.__class__ in _NUMBERS or isinstance(v, (int, float))) and 0 <= v < _INF):
            raise ConfigError(f"DPD delay must be 0 (off) or a positive number of seconds, not {self.dpd_delay!r}")
        v = self.dpd_timeout
        if v.__class__ is bool or not ((v.__class__ in _NUMBERS or isinstance(v, (int, float))) and 0 < v < _INF):
            raise ConfigError(f"DPD timeout must be a positive number of seconds, not {self.dpd_timeout!r}")
        if self.initial_contact.__class__ is not bool:
            raise ConfigError(f"initial_contact must be True or False, not {self.initial_contact!r}")

    @property
    def nat_t_versions(self) -> tuple[NattVersion, ...]:
        return versions_for(self.nat_t) if self.nat_t_announce is None else self.nat_t_announce

    def vendor_id_data(self, nat_t_vids: list[bytes], peer_fragments: bool = True) -> list[bytes]:
        """Every Vendor ID for MM1/MM2, in this policy's order, the NAT-T ones in their slot;
        FRAGMENTATION when `ike_fragmentation` is on and (answering, `peer_fragments`) the initiator
        announced it too, as strongSwan's isakmp_vendor.c does."""
        names = self.vendor_ids if NAT_T_SLOT in self.vendor_ids else (NAT_T_SLOT, *self.vendor_ids)
        if self.dpd_delay and "dpd" not in names:
            names = (*names, "dpd")      # a peer that sends R-U-THERE announces it, last as libreswan does
        if not (self.ike_fragmentation and peer_fragments):
            names = tuple([n for n in names if n not in FRAGMENTATION_VIDS])
        elif not any(n in FRAGMENTATION_VIDS for n in names):
            names = (*names, "fragmentation-ike")
        out: list[bytes] = []
        for name in names:
            out += nat_t_vids if name == NAT_T_SLOT else [VENDOR_IDS[name]]
        return out

    def sends_nat_oa(self, behind_nat: bool) -> bool:
        return self.send_nat_oa == "yes" or (self.send_nat_oa == "when-behind-nat" and behind_nat)

    def speaks_nat_t_as(self, role: Role) -> bool:
        """Whether this peer announces and honours NAT-T when it plays this IKE role."""
        return role in NAT_T_SPOKEN_AS[self.nat_t_role]

    @property
    def aggressive(self) -> bool:
        """Whether this peer initiates, and answers, IKEv1 Aggressive Mode."""
        return self.phase1_mode == "aggressive"

    @property
    def uses_certificates(self) -> bool:
        return self.auth != "psk"

    @property
    def tunnel(self) -> bool:
        return self.mode == "tunnel"


#: every dataclass above gets the one-assignment __init__ (natt_core.net.records.fast_init)
fast_init_all(globals())
