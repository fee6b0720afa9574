"""Diagnosing captures made by others (tests/captures, see PROVENANCE.md), each checked against
tshark's own dissection of the same file, plus edge cases built with scapy (an independent
encoder: our reader and analysis share no code with it) and damaged variants of every file."""
from __future__ import annotations

import hashlib
import random
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from natt_core.analysis import diagnose
from natt_core.capture_read import read_capture
from natt_core.errors import DecodeError
from natt_core.reasons import Reason

CORPUS = Path(__file__).resolve().parent / "captures"
FILES = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".pcap", ".pcapng"))
needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed")


def tshark(name: str, *fields: str, filter_: str | None = None) -> list[list[str]]:
    """One row per frame: the requested fields, as tshark dissects them."""
    cmd = ["tshark", "-r", str(CORPUS / name), "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    if filter_:
        cmd += ["-Y", filter_]
    for f in ("frame.number",) + fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def dx(name: str, **kw):
    return diagnose((CORPUS / name).read_bytes(), **kw)


def messages(d) -> dict[int, str]:
    return {n: label for ex in d.exchanges for n, _, label, _, _, _ in ex.messages}


def titles(d) -> list[str]:
    return [f.title for f in d.findings]


# ------------------------------------------------------------------------------ the corpus vs tshark

@needs_tshark
def test_cisco_draft07_exchange_with_nat_d_type_15_speaks_nat_t():
    d = dx("ISAKMP_sa_setup.pcap")
    rows = tshark("ISAKMP_sa_setup.pcap", "isakmp.exchangetype", "isakmp.vid_string", "isakmp.typepayload",
                  "isakmp.ike.attr.authentication_method")
    assert "draft-ietf-ipsec-nat-t-ike-07" in rows[1][2]                 # the responder's only NAT-T VID
    assert "15" in rows[2][3].split(",") and "15" in rows[3][3].split(",")  # NAT-D as payload 15 in MM3/MM4
    assert d.headline.reason is Reason.ALL_WELL
    assert messages(d) == dict(zip(range(1, 10), ["MM1", "MM2", "MM3", "MM4", "MM5", "MM6", "QM1", "QM2", "QM3"]))
    assert {int(r[0]) for r in rows if r[1] == "32"} == {7, 8, 9}
    (nat_t,) = [f for f in d.findings if f.title.startswith("Both speak NAT-T")]
    assert nat_t.title == "Both speak NAT-T: draft-07" and nat_t.reason is Reason.NATT_DRAFT_VID
    assert "payload 15" in nat_t.detail
    assert d.exchanges[0].nat.initiator_behind_nat is False and d.exchanges[0].nat.responder_behind_nat is False
    assert rows[1][4] == "1"                                             # tshark: pre-shared key
    assert "CISCO-UNITY" in rows[2][2] and "XAUTH" in rows[2][2] and "RFC 3706 DPD" in rows[2][2]
    assert {"Cisco Unity", "XAuth", "DPD (RFC 3706)"} <= set(d.observations.exchanges[bytes.fromhex(
        d.exchanges[0].cookies[:16])].vids_initiator)
    assert any("pre-shared key" in f.detail for f in d.findings if f.reason is Reason.PHASE1_UP)


@needs_tshark
def test_rfc3947_float_with_arp_frames_keeps_wiresharks_numbers():
    d = dx("isakmp4500.pcap")
    rows = tshark("isakmp4500.pcap", "isakmp.exchangetype", "udp.srcport", "udp.length", "esp.spi")
    ike = {int(r[0]) for r in rows if r[1]}
    assert set(messages(d)) == ike                                       # frame numbers as Wireshark's
    assert messages(d)[3] == "MM1" and messages(d)[7] == "MM5" and rows[6][2] == "4500"
    floated = next(f for f in d.findings if f.reason is Reason.FLOATED)
    assert floated.packets == (7,)
    assert d.capture.skipped == sum(1 for r in rows if not r[2])         # ARP: no UDP port
    assert {n for n, *_ in d.observations.keepalives} == {int(r[0]) for r in rows if r[3] == "9"}   # 1-byte 0xFF
    spis = {int(r[4], 16) for r in rows if r[4]}
    assert {f.spi for f in d.observations.esp.values()} == spis
    assert d.headline.reason is Reason.ESP_ONE_WAY                       # the file holds one direction only
    assert any(f.title == "Both speak NAT-T: RFC 3947" for f in d.findings)
    assert d.exchanges[0].nat.initiator_behind_nat


@needs_tshark
def test_ikev2_is_named_from_its_header_and_the_cookie_is_seen():
    d = dx("ikev2four.pcap")
    rows = tshark("ikev2four.pcap", "isakmp.exchangetype", "isakmp.flag_r", "isakmp.notify.msgtype")
    names = {"34": "IKE_SA_INIT", "35": "IKE_AUTH", "36": "CREATE_CHILD_SA", "37": "INFORMATIONAL"}
    expected = {int(r[0]): f"{names[r[1]]} {'response' if r[2] in ('1', 'True') else 'request'}" for r in rows}
    assert messages(d) == expected
    assert d.headline.title != "No IKE or ESP in this capture"
    cookie = next(f for f in d.findings if f.reason is Reason.IKEV2_COOKIE)
    assert cookie.packets == tuple(int(r[0]) for r in rows if "16390" in r[3].split(","))[:1]
    assert "and did" in cookie.detail
    assert any(f.reason is Reason.IKEV2_AUTH_ANSWERED for f in d.findings)
    # no NAT-D hash of this (address-rewritten) file matches: no NAT verdict is claimed
    assert d.exchanges[0].nat.initiator_behind_nat is None and not any(f.reason is Reason.NO_FLOAT for f in d.findings)


@needs_tshark
def test_an_unanswered_ikev2_init_is_the_headline():
    d = dx("ikev2pI2.pcap")
    rows = tshark("ikev2pI2.pcap", "isakmp.exchangetype", "isakmp.flag_r")
    assert [r[1] for r in rows] == ["34", "35"] and all(r[2] in ("0", "False") for r in rows)
    assert d.headline.title == "The responder never answered IKE_SA_INIT (1 sent)"
    assert d.headline.reason is Reason.NO_ANSWER and d.headline.packets == (1,)


@needs_tshark
@pytest.mark.parametrize("name, form", [("02-sunrise-sunset-esp.pcap", "ESP (protocol 50)"), ("espudp1.pcap", "ESP-in-UDP")])
def test_one_way_esp_is_named_with_its_spi(name, form):
    d = dx(name)
    rows = tshark(name, "esp.spi", "ip.src")
    (spi,) = {int(r[1], 16) for r in rows}
    assert d.headline.title.startswith(f"One-way {form}: SPI 0x{spi:08x} {rows[0][2]}")
    assert sum(len(f.times) for f in d.observations.esp.values()) == len(rows)


@needs_tshark
def test_ah_both_ways_over_ipv6_is_fine_traffic_not_no_ike():
    d = dx("OSPFv3_with_AH.pcap")
    rows = tshark("OSPFv3_with_AH.pcap", "ah.spi", "ipv6.src", "ipv6.dst")
    assert len(d.observations.ah) == sum(1 for r in rows if r[1]) and d.observations.ipv6 == len(rows)
    assert d.headline.severity == "ok" and d.headline.title == "No problem found"
    (ah,) = [f for f in d.findings if f.reason is Reason.AH_BOTH_WAYS]
    assert "fe80::1 ↔ fe80::2" in ah.detail and "NAT-T cannot help AH" in ah.detail


@needs_tshark
def test_a_pcapng_with_a_broken_payload_chain_still_names_the_message():
    d = dx("isakmp-no-none-np.pcapng")
    rows = tshark("isakmp-no-none-np.pcapng", "isakmp.exchangetype")
    assert d.capture.format == "pcapng" and rows[0][1] == "5"
    assert messages(d) == {1: "INFO"}
    assert [f.reason for f in d.findings].count(Reason.MID_EXCHANGE) == 1
    assert any(f.reason is Reason.UNREADABLE_PACKETS for f in d.findings)


@pytest.mark.parametrize("name", ["esp_truncated.pcap", "isakmp-delete-segfault.pcap", "isakmp-rfc3948-oobr.pcap"])
def test_fuzzed_captures_from_tcpdump_get_a_diagnosis_not_a_crash(name):
    try:
        d = dx(name)
    except DecodeError:
        return
    assert d.headline.title and all(f.reason for f in d.findings)


RECORDED = CORPUS.parents[1] / "assets" / "captures"      # the live lab's strongSwan recordings


@pytest.mark.parametrize("name", FILES + sorted(f"recorded/{p.name}" for p in RECORDED.glob("*.pcap")))
def test_every_truncation_and_mutation_is_a_decode_error_or_a_diagnosis(name):
    data = (RECORDED / name.split("/", 1)[1] if name.startswith("recorded/") else CORPUS / name).read_bytes()
    rng = random.Random(name)
    variants = [data[:cut] for cut in range(0, len(data), max(1, len(data) // 60))]
    for _ in range(60):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        variants.append(bytes(b))
    for v in variants:
        try:
            d = diagnose(v)
        except DecodeError:
            continue
        assert d.headline.title and all(isinstance(f.reason, Reason) for f in d.findings)


@needs_tshark
def test_a_cut_last_record_is_diagnosed_up_to_the_cut_like_tshark():
    data = (CORPUS / "isakmp4500.pcap").read_bytes()
    cut = data[:-20]
    d = diagnose(cut)
    path = CORPUS.parent / "captures" / ".cut.pcap"
    try:
        path.write_bytes(cut)
        out = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number"],
                             capture_output=True, text=True).stdout.split()
    finally:
        path.unlink()
    assert d.capture.frames == len(out) == 34
    assert any(f.reason is Reason.CAPTURE_DAMAGED and "cut" in f.detail for f in d.findings)


# ------------------------------------------------------------------------------ synthetic, built with scapy

def pcap(packets, tmp_path, linktype=None) -> bytes:
    from scapy.utils import wrpcap
    path = tmp_path / "x.pcap"
    wrpcap(str(path), packets, linktype=linktype)
    return path.read_bytes()


def isakmp_v1(exch, icookie, rcookie=bytes(8), payloads=None, flags=0, msgid=0):
    from scapy.layers.isakmp import ISAKMP
    m = ISAKMP(init_cookie=icookie, resp_cookie=rcookie, exch_type=exch, flags=flags, id=msgid)
    return m / payloads if payloads is not None else m


def sa(auth="PSK"):
    from scapy.layers.isakmp import ISAKMP_payload_Proposal, ISAKMP_payload_SA, ISAKMP_payload_Transform
    t = ISAKMP_payload_Transform(transforms=[("Encryption", "AES-CBC"), ("KeyLength", 128), ("Hash", "SHA"),
                                             ("GroupDesc", "2048MODPgr"), ("Authentication", auth)])
    return ISAKMP_payload_SA(prop=ISAKMP_payload_Proposal(trans_nb=1, trans=t))


def vid(text: bytes, next_payload=None):
    from scapy.layers.isakmp import ISAKMP_payload_VendorID
    kw = {} if next_payload is None else {"next_payload": next_payload}
    return ISAKMP_payload_VendorID(VendorID=hashlib.md5(text).digest(), **kw)


def udp(src, dst, payload, sport=500, dport=500, v6=False):
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    return Ether() / (IPv6(src=src, dst=dst) if v6 else IP(src=src, dst=dst)) / UDP(sport=sport, dport=dport) / bytes(payload)


def test_a_vendor_id_before_the_sa_is_still_mm1_and_an_unanswered_mm1_is_found(tmp_path):
    from scapy.layers.l2 import ARP, Ether
    mm1 = isakmp_v1(2, b"I" * 8, payloads=vid(b"RFC 3947") / sa())
    frames = [Ether() / ARP(), udp("10.1.1.1", "10.2.2.2", mm1), Ether() / ARP(), udp("10.1.1.1", "10.2.2.2", mm1)]
    d = diagnose(pcap(frames, tmp_path))
    assert messages(d) == {2: "MM1", 4: "MM1"}
    assert d.headline.title == "The responder never answered MM1 (2 sent)" and d.headline.packets == (2, 4)


def test_ikev1_aggressive_mode_over_ipv6_with_rsa_signatures_speaks_of_signatures(tmp_path):
    from scapy.layers.isakmp import ISAKMP_payload_Hash, ISAKMP_payload_KE, ISAKMP_payload_Nonce
    i, r = b"\x11" * 8, b"\x22" * 8
    am1 = isakmp_v1(4, i, payloads=sa("RSA Sig") / ISAKMP_payload_KE(load=b"k" * 256) / ISAKMP_payload_Nonce(load=b"n" * 16)
                    / vid(b"RFC 3947"))
    am2 = isakmp_v1(4, i, r, payloads=sa("RSA Sig") / ISAKMP_payload_KE(load=b"k" * 256) / vid(b"RFC 3947"))
    am3 = isakmp_v1(4, i, r, payloads=ISAKMP_payload_Hash(hash=b"h" * 20))
    a, b = "2001:db8::1", "2001:db8::2"
    d = diagnose(pcap([udp(a, b, am1, v6=True), udp(b, a, am2, v6=True), udp(a, b, am3, v6=True)], tmp_path))
    assert messages(d) == {1: "AM1", 2: "AM2", 3: "AM3"}
    assert d.exchanges[0].initiator == "[2001:db8::1]:500"
    reasons = {f.reason for f in d.findings}
    assert {Reason.AGGRESSIVE_MODE, Reason.PHASE1_UP, Reason.NATT_AGREED} <= reasons
    up = next(f for f in d.findings if f.reason is Reason.PHASE1_UP)
    assert "RSA signatures" in up.detail and "pre-shared" not in up.detail
    assert d.observations.ipv6 == 3 and d.headline.severity == "ok"


def test_rsa_main_mode_that_fails_in_mm5_does_not_blame_a_pre_shared_key(tmp_path):
    from scapy.layers.isakmp import ISAKMP_payload_KE
    i, r = b"\x33" * 8, b"\x44" * 8
    msgs = [("a", isakmp_v1(2, i, payloads=sa("RSA Sig"))), ("b", isakmp_v1(2, i, r, payloads=sa("RSA Sig"))),
            ("a", isakmp_v1(2, i, r, payloads=ISAKMP_payload_KE(load=b"k" * 128))),
            ("b", isakmp_v1(2, i, r, payloads=ISAKMP_payload_KE(load=b"K" * 128))),
            ("a", bytes(isakmp_v1(2, i, r, flags=1)) [:24] + (28 + 32).to_bytes(4, "big") + b"\x00" * 32),
            ("b", bytes(isakmp_v1(5, i, r, flags=1, msgid=7))[:24] + (28 + 32).to_bytes(4, "big") + b"\x00" * 32)]
    ends = {"a": ("10.0.0.1", "10.0.0.2"), "b": ("10.0.0.2", "10.0.0.1")}
    d = diagnose(pcap([udp(*ends[w], m) for w, m in msgs], tmp_path))
    assert [messages(d)[n] for n in range(1, 7)] == ["MM1", "MM2", "MM3", "MM4", "MM5", "INFO"]
    assert d.headline.title == "Authentication with RSA signatures failed" and "pre-shared" not in d.headline.detail
    assert d.headline.reason is Reason.AUTH_FAILED


def test_draft_00_has_no_float_and_is_named(tmp_path):
    i, r = b"\x55" * 8, b"\x66" * 8
    d = diagnose(pcap([udp("10.0.0.1", "10.0.0.2", isakmp_v1(2, i, payloads=sa() / vid(b"draft-ietf-ipsec-nat-t-ike-00"))),
                       udp("10.0.0.2", "10.0.0.1", isakmp_v1(2, i, r, payloads=sa() / vid(b"draft-ietf-ipsec-nat-t-ike-00")))],
                      tmp_path))
    f = next(f for f in d.findings if f.title.startswith("Both speak NAT-T"))
    assert f.title == "Both speak NAT-T: draft-00" and "no float" in f.detail and f.reason is Reason.NATT_DRAFT_VID


def test_microsoft_authip_is_named(tmp_path):
    from scapy.layers.isakmp import ISAKMP_payload_VendorID
    m = isakmp_v1(243, b"\x77" * 8, payloads=ISAKMP_payload_VendorID(VendorID=hashlib.md5(b"MS-MamieExists").digest()))
    d = diagnose(pcap([udp("10.0.0.1", "10.0.0.2", m)], tmp_path))
    assert messages(d) == {1: "AuthIP Main Mode"}
    assert any(f.reason is Reason.AUTHIP and f.title == "Microsoft AuthIP" for f in d.findings)


def _ikev2(spi_i, spi_r, exch, response, payloads, msgid=0):
    from scapy.contrib.ikev2 import IKEv2
    return IKEv2(init_SPI=spi_i, resp_SPI=spi_r, exch_type=exch, flags="Response" if response else "Initiator",
                 id=msgid) / payloads


def _natd(spi_i, spi_r, ip, port):
    import ipaddress
    return hashlib.sha1(spi_i + spi_r + ipaddress.ip_address(ip).packed + port.to_bytes(2, "big")).digest()


def test_ikev2_nat_detection_and_the_move_to_4500(tmp_path):
    """The initiator 192.168.1.5 sits behind a NAT that shows it as 203.0.113.7:40000; the capture
    is taken outside, on the responder's side (RFC 7296 §2.23)."""
    from scapy.contrib.ikev2 import IKEv2_KE, IKEv2_Nonce, IKEv2_Notify, IKEv2_SA
    i, r = b"\x01" * 8, b"\x02" * 8
    out, srv = ("203.0.113.7", 40000), ("198.51.100.1", 500)
    req = _ikev2(i, bytes(8), 34, False, IKEv2_SA() / IKEv2_KE(group=14, ke=b"k" * 256) / IKEv2_Nonce(nonce=b"n" * 32)
                 / IKEv2_Notify(type=16388, notify=_natd(i, bytes(8), "192.168.1.5", 500))
                 / IKEv2_Notify(type=16389, notify=_natd(i, bytes(8), *srv)))
    resp = _ikev2(i, r, 34, True, IKEv2_SA() / IKEv2_KE(group=14, ke=b"k" * 256) / IKEv2_Nonce(nonce=b"n" * 32)
                  / IKEv2_Notify(type=16388, notify=_natd(i, r, *srv))
                  / IKEv2_Notify(type=16389, notify=_natd(i, r, *out)))
    auth = bytes(_ikev2(i, r, 35, False, b"", msgid=1))[:28] + bytes(40)
    auth = auth[:16] + b"\x2e" + auth[17:24] + len(auth).to_bytes(4, "big") + auth[28:]
    auth = auth[:28] + b"\x00\x00\x00\x28" + auth[32:]              # an SK payload of 40 bytes
    frames = [udp(out[0], srv[0], req, out[1], 500), udp(srv[0], out[0], resp, 500, out[1]),
              udp(out[0], srv[0], bytes(4) + auth, 40001, 4500)]
    d = diagnose(pcap(frames, tmp_path))
    assert messages(d) == {1: "IKE_SA_INIT request", 2: "IKE_SA_INIT response", 3: "IKE_AUTH request"}
    (ex,) = d.exchanges
    assert ex.version == 2 and ex.nat.initiator_behind_nat and not ex.nat.responder_behind_nat
    assert ex.nat.where == "outside the initiator's NAT"
    assert any(f.reason is Reason.FLOATED and f.packets == (3,) for f in d.findings)
    assert d.headline.title == "No answer to IKE_AUTH on UDP 4500 (1 sent)"


def test_ikev2_no_proposal_chosen_is_found(tmp_path):
    from scapy.contrib.ikev2 import IKEv2_KE, IKEv2_Notify, IKEv2_SA
    i = b"\x09" * 8
    req = _ikev2(i, bytes(8), 34, False, IKEv2_SA() / IKEv2_KE(group=14, ke=b"k" * 256))
    resp = _ikev2(i, bytes(8), 34, True, IKEv2_Notify(type=14))
    d = diagnose(pcap([udp("10.0.0.1", "10.0.0.2", req), udp("10.0.0.2", "10.0.0.1", resp)], tmp_path))
    assert d.headline.title == "The responder refused IKE_SA_INIT: NO_PROPOSAL_CHOSEN"
    assert d.headline.reason is Reason.NO_PROPOSAL and d.headline.packets == (2,)


def test_ah_both_ways_over_ipv4_is_fine_and_one_way_is_not(tmp_path):
    from scapy.layers.inet import ICMP, IP
    from scapy.layers.ipsec import AH
    there = IP(src="10.0.0.1", dst="10.0.0.2") / AH(spi=0x100, seq=1, icv=bytes(12)) / ICMP()
    back = IP(src="10.0.0.2", dst="10.0.0.1") / AH(spi=0x200, seq=1, icv=bytes(12)) / ICMP()
    d = diagnose(pcap([there, back], tmp_path))
    assert d.headline.severity == "ok" and any(f.reason is Reason.AH_BOTH_WAYS for f in d.findings)
    assert diagnose(pcap([there, there], tmp_path)).headline.reason is Reason.AH_ONE_WAY


@pytest.mark.parametrize("layer", ["vlan", "sll", "sll2", "loopback"])
def test_every_link_layer_reaches_the_ike_inside(layer, tmp_path):
    from scapy.layers.inet import IP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1Q, Ether, Loopback
    mm1 = bytes(isakmp_v1(2, b"\x12" * 8, payloads=sa()))
    v4, v6 = IP(src="10.0.0.1", dst="10.0.0.2"), IPv6(src="2001:db8::1", dst="2001:db8::2")
    wrap = {"vlan": lambda ip: Ether() / Dot1Q(vlan=7) / ip, "sll": lambda ip: CookedLinux() / ip,
            "sll2": lambda ip: CookedLinuxV2() / ip, "loopback": lambda ip: Loopback() / ip}[layer]
    d = diagnose(pcap([wrap(ip / UDP(sport=500, dport=500) / mm1) for ip in (v4, v6)], tmp_path))
    assert messages(d) == {1: "MM1"} or sorted(messages(d).values()) == ["MM1", "MM1"]
    assert d.observations.ipv6 == 1 and d.capture.skipped == 0


def _pcapng(blocks: list[bytes]) -> bytes:
    def block(kind, body):
        body += bytes(-len(body) % 4)
        return struct.pack("<II", kind, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    return shb + b"".join(block(k, b) for k, b in blocks)


def test_pcapng_with_an_empty_tsresol_and_an_unknown_block_is_read():
    from scapy.layers.inet import IP, UDP
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=500, dport=500) / bytes(isakmp_v1(2, b"\x13" * 8, payloads=sa())))
    idb = struct.pack("<HHI", 101, 0, 65535) + struct.pack("<HH", 9, 0) + struct.pack("<HH", 0, 0)
    epb = struct.pack("<IIIII", 0, 0, 1_000_000, len(packet), len(packet)) + packet
    d = diagnose(_pcapng([(1, idb), (0x0BAD, b"junk"), (6, epb)]))
    assert messages(d) == {1: "MM1"} and d.capture.packets[0].time == 0
    assert any("type 0xbad" in f.detail for f in d.findings if f.reason is Reason.CAPTURE_DAMAGED)


def test_a_huge_snaplen_and_a_record_claiming_a_gigabyte():
    from scapy.layers.inet import IP, UDP
    packet = bytes(IP(src="10.0.0.1", dst="10.0.0.2") / UDP(sport=500, dport=500) / bytes(isakmp_v1(2, b"\x14" * 8, payloads=sa())))
    head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0xFFFFFFFF, 101)
    rec = struct.pack("<IIII", 0, 0, len(packet), len(packet)) + packet
    d = diagnose(head + rec + struct.pack("<IIII", 0, 0, 1 << 30, 1 << 30) + bytes(64))
    assert messages(d) == {1: "MM1"}
    assert any("more than any capture holds" in f.detail for f in d.findings)


def test_the_labs_all_segments_pcapng_is_diagnosed_one_capture_point_at_a_time():
    from natt_core.lab.export import capture_files
    from natt_core.lab.presets import preset
    from natt_core.lab.scenario import run
    from natt_core.pcap import pcapng_bytes
    files = capture_files(run(preset("client-behind-nat")))
    data = pcapng_bytes([(seg, [(t, p, "x") for t, p in recs]) for seg, recs in files.items()])
    d = diagnose(data)
    assert d.interface == next(iter(read_capture(data).interfaces))
    assert any(f.reason is Reason.SEVERAL_CAPTURE_POINTS for f in d.findings)
    internet = diagnose(data, "internet")
    assert internet.headline.severity == "ok" and internet.exchanges[0].nat.where == "outside the initiator's NAT"


def test_the_cli_prints_the_headline_detail_and_the_skipped_frames(capsys):
    from natt_core.cli import main
    assert main(["diagnose", str(CORPUS / "isakmp4500.pcap")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL One-way ESP-in-UDP") and "capture filtered to one direction" in out[1]
    assert "8 skipped frame(s) that are not IP" in out[2]
    assert main(["diagnose", "/dev/zero"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a pcap or pcapng file" in err


def test_an_unreadable_second_capture_does_not_hide_the_first(tmp_path, capsys):
    from natt_core.cli import main
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(10))
    assert main(["diagnose", str(CORPUS / "ISAKMP_sa_setup.pcap"), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.out.startswith("ok   No problem found") and "error:" in captured.err


def test_a_capture_that_starts_mid_exchange_says_so_once():
    from natt_core.capture_read import read_capture as rc
    from natt_core.lab.export import capture_files
    from natt_core.lab.presets import preset
    from natt_core.lab.scenario import run
    from natt_core.pcap import pcap_bytes
    records = capture_files(run(preset("client-behind-nat")))["internet"]
    d = diagnose(pcap_bytes(records[2:]))                       # MM1 and MM2 not captured
    assert [f.reason for f in d.findings].count(Reason.MID_EXCHANGE) == 1
    assert messages(d)[1] == "MM3" and messages(d)[3] == "MM5"
    assert not any("0 offered" in f.detail or f.reason is Reason.PROPOSAL_ACCEPTED for f in d.findings)
    assert d.headline.severity == "ok"
    assert len(rc(pcap_bytes(records[2:])).packets) == len(records) - 2
