"""The troubleshooter's catalogue: what an admin sees, a run that reproduces it, the run that fixes it.

Every symptom names a preset and --set lines that make the engine fail the way the field does, and
the complete --set lines of the run that fixes it; the page runs both, so no fix is only asserted.
The causes are those of RFC 3947 §3-§4 (NAT-D, the float to 4500, keepalives), RFC 3948 §2-§4
(UDP encapsulation), RFC 3715 §2 (AH, checksums, IPsec helpers), Microsoft KB 926179/947234
(AssumeUDPEncapsulationContextOnSendRule), and for IKEv2 RFC 7296 §2.23 (NAT detection in
IKE_SA_INIT, the move to 4500 at IKE_AUTH), §2.15 (AUTH) and §2.7 (proposals).

Pasted text is matched by plain keyword rules an admin can check by eye: text and keywords are
lower-cased and `_`/`-` read as spaces; a keyword matches at the start of a word, and keywords of
three characters or fewer (AH, ESP, PSK) must be the whole word.

Whether a run reproduces a symptom is decided by reason codes, never by the engine's sentences:
each symptom lists the codes (natt_core.reasons) its reproduction's first failure may carry.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from natt_core.reasons import Reason

from .windows import reg_add


@dataclass(frozen=True)
class Symptom:
    """One thing an admin sees, how to reproduce it, and the fix in their own terms."""
    key: str                       #: stable id, used in the page's link (?symptom=key)
    title: str                     #: short, as the admin would say it
    seen: str                      #: what you see (markdown)
    preset: str                    #: natt_core.lab.presets name of the reproduction
    settings: tuple[str, ...]      #: --set lines of the reproduction
    fix_settings: tuple[str, ...]  #: all --set lines of the fixed run (same preset)
    fix: str                       #: what to do, in the admin's terms (markdown)
    why: str                       #: one or two sentences
    keywords: tuple[str, ...]      #: words that pick this symptom from pasted text
    lesson: str | None = None      #: url slug of the lesson whose run is this reproduction
    lesson_params: tuple[tuple[str, str], ...] = ()  #: that lesson's switches for this run
    lesson_title: str = ""
    command: str = ""              #: a command to copy, shown under the fix
    failure: tuple[Reason, ...] = ()  #: the codes the reproduction's first failure may carry

    def reproduces(self, code: Reason | None) -> bool:
        """Does a first failure with this code show what the admin sees?"""
        return code in self.failure

    @property
    def changes(self) -> tuple[str, ...]:
        """The --set lines the fix adds or changes."""
        return tuple(s for s in self.fix_settings if s not in self.settings)


REG_ADD = reg_add(2)

SYMPTOMS: tuple[Symptom, ...] = (
    Symptom(
        "win809-server", "Windows error 809: the VPN server is behind a NAT",
        "The Windows L2TP/IPsec client says **error 809** (\"the network connection between your computer "
        "and the VPN server could not be established\"). The server sits behind a router that forwards "
        "UDP 500 and 4500. The server log shows the client simply stop answering.",
        "server-behind-nat", (), ("client.assume_udp_rule=2",),
        "On **each Windows client**, run this as administrator, then **reboot**. "
        "(`/d 1` is enough when only the server is behind NAT; `2` also covers a client behind NAT.) "
        "Nothing on the server can replace this.",
        "Windows reads the NAT-D hashes in MM4, sees the *server* behind a NAT, and with the default value 0 "
        "refuses to set up NAT-T security associations to it. The registry value is its permission to do so.",
        ("809", "assumeudpencapsulation", "could not be established", "policyagent", "server behind nat",
         "server is behind"),
        "server-behind-nat", (), "8 · Server behind NAT: error 809", REG_ADD,
        failure=(Reason.NATD_MISMATCH_REFUSED_BY_RULE,)),
    Symptom(
        "win809-both", "Connects only when one side is not behind NAT (both behind NAT fails)",
        "It works from the office, or when the server has a public address, but with **both** the client and "
        "the server behind NAT routers Windows fails with **error 809**, even though the registry value is "
        "already set to 1.",
        "server-behind-nat", ("topology=both-nat", "client.assume_udp_rule=1"),
        ("topology=both-nat", "client.assume_udp_rule=2"),
        "On each Windows client, set the registry value to **2**, not 1 (as administrator), then **reboot**.",
        "Value 1 allows a server behind NAT only while the client itself is not; when NAT-D shows both sides "
        "behind NATs, only 2 lets Windows use UDP encapsulation.",
        ("809", "assumeudpencapsulation", "both behind", "both sides", "both ends", "both peers",
         "not behind nat"),
        "server-behind-nat", (("topology", "both-nat"), ("winrule", "1")), "8 · Server behind NAT: error 809",
        REG_ADD,
        failure=(Reason.NATD_MISMATCH_REFUSED_BY_RULE,)),
    Symptom(
        "udp4500-not-forwarded", "IKE starts, then dies: the server's router forwards only UDP 500",
        "The server is behind a router with a **port forward for UDP 500 only**. The log shows the first "
        "IKE messages come and go, then the client retransmits its identity (MM5) until it gives up; the "
        "server never sees it. Windows reports error 809.",
        "server-behind-nat", ("client.assume_udp_rule=2", "nat2.forwards=500"),
        ("client.assume_udp_rule=2", "nat2.forwards=500,4500"),
        "On the **router in front of the server**, forward **UDP 4500** to the server as well as UDP 500 "
        "(and allow both in its firewall). Raw ESP (IP protocol 50) is not needed once NAT-T is in use.",
        "Once NAT-D sees a NAT, the client moves IKE to UDP 4500 at MM5 and ESP follows it there, "
        "encapsulated in UDP; a router that forwards only 500 drops everything from MM5 on.",
        ("4500", "forward", "firewall", "retransmit", "port 500", "809"),
        "l2tp-end-to-end", (), "7 · L2TP/IPsec end to end",
        failure=(Reason.NAT_NO_MAPPING,)),
    Symptom(
        "second-client", "A second client behind the same router cannot connect",
        "One client behind the office router connects fine; while it is connected, a **second** client behind "
        "the same router gets no answer at all (\"only one client at a time\"), and after a minute or two it "
        "works again.",
        "multi-client-helper", (), ("nat.helper=none",),
        "On the **client-side router**, turn off **\"IPsec passthrough\"** (or the static-port / IPsec ALG "
        "option; on pfSense, the outbound NAT rule that keeps port 500 static). Leave NAT-T on: the clients "
        "then share the public address on different translated ports.",
        "The passthrough helper never changes source port 500, so the router can hold only one IKE session "
        "per server on public:500; the second client's first message is dropped by the router until that state "
        "idles out. NAT-T cannot help, because the move to 4500 comes only after MM1-MM4 crossed port 500.",
        ("second client", "2nd client", "only one client", "one client at a time", "several clients",
         "multiple clients", "same router", "passthrough", "helper", "static port", "alg"),
        "several-clients", (), "9 · Several clients behind one NAT",
        failure=(Reason.NAT_PORT_TAKEN,)),
    Symptom(
        "idle-keepalive", "The tunnel dies after some minutes of idle, or traffic flows one way only",
        "The tunnel comes up and works, but after a quiet spell the server's packets no longer reach the "
        "client, while the client can still send (one-way traffic), until the tunnel is restarted.",
        "keepalive-vs-timeout", (), ("client.keepalive_interval=20",),
        "Set the **NAT keepalive interval on the client** (the side behind the NAT) **below the router's UDP "
        "timeout**, e.g. 20 s for a 30 s timeout (strongSwan `keep_alive`, libreswan `keep-alive`), or raise "
        "the router's UDP timeout.",
        "Only the side behind the NAT sends keepalives, and only they keep its mapping open while the tunnel "
        "is idle; once the router forgets the mapping, the server's packets to the old public port die there.",
        ("keepalive", "keep alive", "idle", "one way", "timeout", "timed out", "after some minutes",
         "stops working after"),
        "nat-timeouts", (), "10 · NAT timeouts vs keepalives",
        failure=(Reason.NAT_MAPPING_EXPIRED,)),
    Symptom(
        "l2tp-no-natt", "L2TP/IPsec works on the LAN but not from behind a NAT",
        "From inside the LAN everything works. From home, behind a NAT router, the IPsec phases 1 and 2 "
        "come up, but **no L2TP/PPP traffic ever arrives**: the connection times out after \"verifying "
        "user name and password\".",
        "legacy-behind-nat", (), ("client.nat_t=rfc3947", "server.nat_t=rfc3947"),
        "**Enable NAT-Traversal on both ends** (`nat_traversal=yes` / `encapsulation=auto` on the server, "
        "install the NAT-T update on old Windows clients), and allow UDP 4500 to the server.",
        "Without NAT-T, ESP goes out as IP protocol 50 and the router rewrites the outer address; the L2TP "
        "checksum inside ESP still covers the old address, so the server drops every packet. NAT-T moves ESP "
        "into UDP 4500 and sends the original addresses (NAT-OA) so the checksum can be fixed.",
        ("l2tp", "1701", "checksum", "nat traversal", "nat t", "esp", "protocol 50", "works on the lan",
         "lan"),
        "ipsec-meets-nat", (), "6 · IPsec meets NAT",
        failure=(Reason.CHECKSUM_AFTER_NAT,)),
    Symptom(
        "ah-through-nat", "AH does not work through a NAT",
        "The tunnel is configured for **AH** (authentication header). Negotiation succeeds, but every packet "
        "is dropped by the receiver with an integrity check (ICV) failure.",
        "legacy-behind-nat", ("protocol=ah",), ("protocol=esp", "client.nat_t=rfc3947", "server.nat_t=rfc3947"),
        "Use **ESP** (with authentication) instead of AH, and **enable NAT-T** on both ends so ESP travels in "
        "UDP 4500.",
        "AH's integrity check covers the IP addresses, and the NAT rewrites one of them, so the check can never "
        "pass. ESP protects only the payload, and NAT-T gives the NAT ports to translate.",
        ("ah", "authentication header", "protocol 51", "icv", "integrity check"),
        "ipsec-meets-nat", (("protocol", "ah"),), "6 · IPsec meets NAT",
        failure=(Reason.AH_AFTER_NAT,)),
    Symptom(
        "no-proposal", "NO-PROPOSAL-CHOSEN: the peers share no Diffie-Hellman group",
        "The server answers the very first message with **NO-PROPOSAL-CHOSEN** (\"no proposal chosen\"). "
        "The client offers only DH group 14; the server accepts only group 2.",
        "dh-group-mismatch", ("client.dh_groups=14",), ("client.dh_groups=14", "server.dh_groups=14"),
        "Give both ends **a common DH group** in the phase-1 (IKE) proposal: here add group 14 (modp2048) "
        "on the server, and prefer it over the weak group 2 (modp1024).",
        "The responder picks one of the initiator's proposals; if none has a DH group (or cipher) it allows, "
        "it refuses at MM1 before any key is made.",
        ("no proposal", "proposal", "dh group", "modp", "diffie hellman", "transform", "789", "security layer"),
        None, (), "", failure=(Reason.NO_PROPOSAL,)),
    Symptom(
        "psk-mismatch", "Authentication failed: the pre-shared keys differ",
        "Phase 1 gets as far as the identity messages (MM5), then fails: **AUTHENTICATION-FAILED**, "
        "**INVALID-HASH-INFORMATION** or \"MM5 does not decrypt\" in the server log. Windows says **error 789** "
        "(\"the L2TP connection attempt failed because the security layer encountered a processing error during "
        "initial negotiations\"): the IPsec negotiation itself failed, unlike **error 809**, where the server's "
        "answers never get through at all.",
        "client-behind-nat", ("client.psk=not-the-servers-secret",), (),
        "Type the **same pre-shared key on both sides** (watch for trailing spaces, keyboard layout and "
        "which key the server picks for this client's ID or address).",
        "Both peers derive their encryption keys from the PSK; with different keys the server cannot decrypt "
        "the client's MM5, so the identity and hash in it never check.",
        ("authentication failed", "invalid hash", "pre shared", "psk", "shared secret", "does not decrypt",
         "payload malformed", "789", "security layer", "processing error", "initial negotiations"),
        None, (), "", failure=(Reason.AUTH_FAILED, Reason.DECRYPT_FAILED)),
    Symptom(
        "certs-fragments", "Works with a pre-shared key, hangs at MM5 with certificates (from home)",
        "With **machine certificates** the connection hangs during Main Mode from home or a hotel, but works "
        "from the office and works with a pre-shared key. The client log shows **MM5 sent again and again**; "
        "the server log shows MM4 re-sent and never an MM5. Windows gives up with **error 809**. A capture "
        "on the client shows MM5 leaving as **two IP fragments**.",
        "certificates-behind-nat", (), ("client.ike_fragmentation=yes", "server.ike_fragmentation=yes"),
        "Turn on **IKE fragmentation** on both ends (strongSwan `fragmentation = yes`, Windows Server 2012+ "
        "and Windows 10 send the FRAGMENTATION Vendor ID by default; some older RRAS servers need the "
        "registry/KB update), or send the machine certificate without the chain, or fix the router that "
        "drops fragments.",
        "The certificate chain makes MM5/MM6 about 2.3 kB, more than the 1500-byte path, so the kernel sends "
        "IP fragments; the home router drops fragments (only the first carries the UDP ports a NAT needs). "
        "IKE fragmentation splits the message into UDP datagrams that each fit.",
        ("mm5", "fragment", "fragmentation", "hangs at mm5", "certificate chain", "mtu"),
        "fragments", (), "13 · Too big for the link", failure=(Reason.FRAGMENT_DROPPED,)),
    Symptom(
        "linux-two-clients", "Two users behind the same NAT: when the second connects, the first one's VPN dies",
        "Two L2TP/IPsec users in the same office (one public address) dial a **Linux** server (libreswan or "
        "strongSwan with xl2tpd). Each works alone. When the second one connects, the first one's tunnel "
        "goes silent although IKE shows both SAs up; xl2tpd logs timeouts for the first user.",
        "multi-client-linux-server", (), ("server.profile=windows-server-2003-rras",),
        "The Linux kernel's IPsec policies are keyed by (public address, UDP 1701): two clients behind one "
        "NAT share the key and the newest SA takes it over. Serve them from a server that keeps one transport "
        "SA per client (Windows RRAS does; the lab's fix switches the server profile), or move the clients to "
        "IKEv2/tunnel mode with their own inner addresses.",
        "RFC 3948 §5.2: after NAT both clients look like the same host; a selector-based SPD cannot tell "
        "them apart, so the server checks the first client's L2TP against the second client's SA and drops it.",
        ("same nat", "two clients", "second client", "several clients", "xl2tpd", "libreswan", "linux server",
         "first client"),
        "several-clients", (("case", "linux-server"),), "9 · Several clients behind one NAT",
        failure=(Reason.SPD_POLICY_MISMATCH,)),
)

#: IKEv2 behind NAT (Windows' built-in IKEv2 client, strongSwan, cloud gateways)
SYMPTOMS += (
    Symptom(
        "ikev2-13801", "IKEv2: error 13801, \"IKE authentication credentials are unacceptable\"",
        "The Windows IKEv2 client stops with **error 13801** (or **13806**, \"IKE failed to find a valid "
        "machine certificate\"); the server log shows **AUTHENTICATION_FAILED** answering **IKE_AUTH**. "
        "IKE_SA_INIT went fine, so the NAT is not the problem: the float to 4500 already worked.",
        "ikev2-client-behind-nat", ("client.psk=not-the-servers-secret",), (),
        "Make the **credentials match**. With a pre-shared key: the same key on both sides. With certificates "
        "(what 13801/13806 usually mean): the server certificate's name must be the address the client dials, "
        "it needs the Server Authentication EKU, and its root CA must be in the client's computer store.",
        "IKE_AUTH carries each side's AUTH payload (RFC 7296 §2.15), a MAC over its first message keyed by "
        "the PSK (or a signature by its certificate). This lab reproduces it with PSKs: the server's check "
        "of the client's AUTH fails and it answers AUTHENTICATION_FAILED.",
        ("13801", "13806", "credentials are unacceptable", "machine certificate", "ikev2 authentication"),
        None, (), "", failure=(Reason.AUTH_FAILED,)),
    Symptom(
        "ikev2-no-proposal", "IKEv2: NO_PROPOSAL_CHOSEN in IKE_SA_INIT (error 13868, policy match)",
        "The server answers the very first message, **IKE_SA_INIT**, with **NO_PROPOSAL_CHOSEN**; Windows "
        "says **error 13868** (\"policy match error\"). The client offers only AES-GCM-256, the server "
        "accepts only AES-CBC-128 with SHA-1.",
        "ikev2-client-behind-nat",
        ("client.ikev2_suites=aes-gcm-16-256/sha256", "server.ikev2_suites=aes-cbc-128/hmac-sha1-96/sha1"),
        ("client.ikev2_suites=aes-gcm-16-256/sha256",
         "server.ikev2_suites=aes-gcm-16-256/sha256,aes-cbc-128/hmac-sha1-96/sha1"),
        "Give both ends **a common IKE suite** (cipher, integrity, PRF and DH group): here let the server "
        "accept AES-GCM-256 with PRF SHA-256 too. On Windows, `Set-VpnConnectionIPsecConfiguration` sets the "
        "client's suite.",
        "The responder picks one proposal of IKE_SA_INIT (RFC 7296 §2.7); with nothing in common it refuses "
        "before any key exists, and before NAT detection can matter.",
        ("13868", "policy match", "ikev2 proposal", "ikev2 no proposal"),
        None, (), "", failure=(Reason.NO_PROPOSAL,)),
    Symptom(
        "ikev2-auth-lost", "IKEv2: IKE_SA_INIT answered, then IKE_AUTH is never answered",
        "The first exchange works, then the client retransmits **IKE_AUTH** until it gives up (Windows: "
        "**error 809** or **13801** after a timeout). The server log shows IKE_SA_INIT and nothing after. "
        "Two causes look the same: the router in front of the server forwards **only UDP 500**, or the "
        "IKE_AUTH message is **lost to IP fragmentation** (certificates make it larger than the path MTU "
        "and a NAT or firewall drops the fragments).",
        "ikev2-server-behind-nat", ("nat2.forwards=500",), ("nat2.forwards=500,4500",),
        "Forward **UDP 4500** to the server as well as 500. If 4500 is open and IKE_AUTH still vanishes, "
        "look at its size: enable **IKEv2 fragmentation** (RFC 7383) on both ends, or let the fragments "
        "through. (This run reproduces the 4500 case; the fragment case is the IKEv1 symptom \"hangs at MM5 "
        "with certificates\".)",
        "With a NAT found in IKE_SA_INIT, IKE_AUTH is the first message on UDP 4500 (RFC 7296 §2.23): "
        "anything that stops 4500 (or stops large UDP datagrams) stops the handshake exactly there.",
        ("ike auth", "ikev2 fragmentation", "fragment", "13801 timeout", "ike sa init"),
        None, (), "", failure=(Reason.NAT_NO_MAPPING,)),
)

BY_KEY: dict[str, Symptom] = {s.key: s for s in SYMPTOMS}


def _norm(text: str) -> str:
    """Lower case, `_` and `-` as spaces, runs of spaces as one."""
    return re.sub(r"\s+", " ", re.sub(r"[_\-]", " ", text.lower())).strip()


def _pattern(keyword: str) -> re.Pattern[str]:
    word = re.escape(_norm(keyword))
    tail = r"\b" if len(_norm(keyword)) <= 3 else ""
    return re.compile(r"(?<![a-z0-9])" + word + tail)


_PATTERNS = {(s.key, k): _pattern(k) for s in SYMPTOMS for k in s.keywords}


def matched_words(symptom: Symptom, text: str) -> tuple[str, ...]:
    """The symptom's keywords found in `text`."""
    norm = _norm(text)
    return tuple(k for k in symptom.keywords if _PATTERNS[(symptom.key, k)].search(norm))


def match(text: str) -> list[tuple[Symptom, tuple[str, ...]]]:
    """Symptoms whose keywords occur in `text`, most matched keywords first (ties: catalogue order)."""
    found = [(s, matched_words(s, text)) for s in SYMPTOMS]
    hits = [(i, s, w) for i, (s, w) in enumerate(found) if w]
    return [(s, w) for _, s, w in sorted(hits, key=lambda h: (-len(h[2]), h[0]))]


def playground_url(preset: str, settings: tuple[str, ...], step: int | None = None) -> str:
    """The playground link that reruns exactly this run (and opens `step`)."""
    query = [("scenario", preset)] + [("set", s) for s in settings]
    if step is not None:
        query.append(("step", str(step)))
    return "/playground?" + urlencode(query)


def lesson_url(symptom: Symptom, step: int | None = None) -> str | None:
    """The lesson page with its switches set to this reproduction (and opened at `step`)."""
    if symptom.lesson is None:
        return None
    query = list(symptom.lesson_params) + ([("step", str(step))] if step is not None else [])
    return f"/{symptom.lesson}" + (f"?{urlencode(query)}" if query else "")


def cli(preset: str, settings: tuple[str, ...]) -> str:
    """The same run on the command line."""
    return "python -m natt_core run " + preset + "".join(f" --set '{s}'" for s in settings)
