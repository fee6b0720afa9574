"""Independent oracles on a whole client-behind-NAT handshake: scapy, tshark and stdlib hashlib/hmac.

The run (MM1-MM6, QM1-QM3, one L2TP SCCRQ each way, one NAT keepalive) is captured on both
sides of the NAT as real IPv4 bytes and written with scapy's `wrpcap`. Then:
- scapy dissects every plaintext ISAKMP message completely (RFC 2408 §3), the port-4500 framing
  (RFC 3948 §2: non-ESP marker, ESP-in-UDP with checksum 0, the 0xFF keepalive);
- tshark reads both captures without "Malformed" and names the NAT-T Vendor ID and NAT-D payloads;
- every NAT-D hash tshark extracts equals SHA-1(CKY-I | CKY-R | IP | port) (RFC 3947 §3.2)
  computed with hashlib over the addresses in that capture's headers: on the sender's side of
  the NAT both match, on the far side exactly the rewritten endpoint does not;
- the phase-1 key Ka and the ESP keys are re-derived with hmac from what is on the wire plus the
  client's DH secret (RFC 2409 §5, App. B, §5.5 KEYMAT), and with them tshark decrypts MM5/MM6
  (ID visible, HASH_I/HASH_R re-computed), the Quick Mode, and both ESP packets (ICV good, L2TP
  inside).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import shutil
import struct
import subprocess

import pytest
from scapy.all import IP, UDP, Padding, Raw, rdpcap, wrpcap
from scapy.layers.ipsec import ESP, NAT_KEEPALIVE, NON_ESP
from scapy.layers.isakmp import (ISAKMP, ISAKMP_payload, ISAKMP_payload_KE, ISAKMP_payload_Nonce,
                                 ISAKMP_payload_SA, ISAKMP_payload_Transform, ISAKMP_payload_VendorID)

from natt_core.ike.policy import PeerPolicy
from natt_core.wire.ip import encode_datagram
from natt_core.wire.isakmp import NatD, decode_header, decode_payloads

from .helpers import CLIENT_IP, NAT_IP, SERVER_IP, make_pair
from .test_crypto_primitives import pi_times_power_of_two
from .test_states import RecordingPair, recording
from .vectors_crypto import MODP_PI_FORMULAS

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")

# RFC 2661 §3.1 control header (T, L, S set, version 2; length 20; tunnel 0, session 0, Ns 0, Nr 0)
# and §4.4.1 Message Type AVP (M bit, length 8, vendor 0, type 0) with value 1 = SCCRQ.
L2TP_SCCRQ = bytes.fromhex("c8020014" "00000000" "00000000" "8008" "0000" "0000" "0001")
# RFC 3947 §3.1 and the draft-02 string Windows sends (with its newline); hashed here, not pasted.
VID_RFC3947 = hashlib.md5(b"RFC 3947").digest()
VID_DRAFT02N = hashlib.md5(b"draft-ietf-ipsec-nat-t-ike-02\n").digest()

LINKTYPE_IPV4 = 228   # tcpdump.org link-layer types: raw IPv4 (what scapy's wrpcap picks for IP packets)

VARIANTS = {
    "aes": PeerPolicy(),   # group 14, AES-128/SHA-1 chosen from four offered transforms
    "3des": PeerPolicy(dh_groups=(2,), ike_ciphers=("3des-cbc",), esp_ciphers=("3des-cbc",)),
}
ESP_LABELS = {"aes-cbc-128": "AES-CBC [RFC3602]", "3des-cbc": "TripleDES-CBC [RFC2451]"}
INTEGRITY_LABELS = {"hmac-sha1-96": "HMAC-SHA-1-96 [RFC2404]"}


# ------------------------------------------------------------------------------------------ the run

@functools.lru_cache(maxsize=None)
def run(variant: str) -> RecordingPair:
    policy = VARIANTS[variant]
    pair = recording(make_pair(policy, policy, client_nat=True, seed=21)).connect()
    pair.take(pair.client.send_udp(L2TP_SCCRQ, pair.now))
    pair.take(pair.server.send_udp(L2TP_SCCRQ, pair.now))
    pair.advance(21)   # RFC 3948 §4: 20 s without sending -> one keepalive from the NATed client
    labels = [x.delivered.label for x in pair.deliveries]
    assert labels == ["MM1", "MM2", "MM3", "MM4", "MM5", "MM6", "QM1", "QM2", "QM3",
                      "ESP-in-UDP", "ESP-in-UDP", "keepalive"], labels
    return pair


def side(pair: RecordingPair, where: str) -> list:
    """(time, datagram) as seen between the client and the NAT ("inside") or the NAT and the server."""
    out = []
    for x in pair.deliveries:
        from_client = x.sent.src.ip == CLIENT_IP
        out.append((x.time, x.sent if from_client == (where == "inside") else x.delivered))
    return out


def packets(pair: RecordingPair, where: str) -> list:
    result = []
    for t, d in side(pair, where):
        pkt = IP(encode_datagram(d))
        pkt.time = t
        result.append((d.label, pkt))
    return result


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> dict:
    """Both sides of the NAT for each variant, written as raw-IPv4 pcaps."""
    folder = tmp_path_factory.mktemp("oracles")
    paths = {}
    for variant in VARIANTS:
        for where in ("inside", "outside"):
            path = folder / f"{variant}-{where}.pcap"
            wrpcap(str(path), [pkt for _, pkt in packets(run(variant), where)])
            paths[variant, where] = path
    return paths


def test_pcaps_hold_exactly_the_bytes_the_harness_carried(captures):
    for (variant, where), path in captures.items():
        data = path.read_bytes()
        assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4 and struct.unpack("<I", data[20:24])[0] == LINKTYPE_IPV4
        assert [bytes(p) for p in rdpcap(str(path))] == [encode_datagram(d) for _, d in side(run(variant), where)]


# ------------------------------------------------------------------------------------------ scapy

def labelled(variant: str, where: str, label: str) -> list:
    return [pkt for lab, pkt in packets(run(variant), where) if lab == label]


def our_natd(pkt) -> list[bytes]:
    header, body = decode_header(bytes(pkt[ISAKMP]))
    return [p.hash for p in decode_payloads(header.next_payload, body).payloads if isinstance(p, NatD)]


@pytest.mark.parametrize("label", ["MM1", "MM2", "MM3", "MM4"])
def test_scapy_dissects_plaintext_main_mode_without_leftovers(label):
    (pkt,) = labelled("aes", "outside", label)
    assert pkt[UDP].dport == 500 or pkt[UDP].sport == 500
    isakmp = pkt[ISAKMP]
    assert isakmp.exch_type == 2 and isakmp.flags == 0 and isakmp.length == len(isakmp)
    assert not pkt.haslayer(Raw) and not pkt.haslayer(Padding)
    if label in ("MM1", "MM2"):
        transforms = [t.transforms for t in pkt[ISAKMP_payload_SA].prop.trans.iterpayloads()
                      if isinstance(t, ISAKMP_payload_Transform)]
        vids = [v.VendorID for v in pkt.iterpayloads() if isinstance(v, ISAKMP_payload_VendorID)]
        if label == "MM1":   # every (group, cipher) the default policy offers, in its order
            assert [(dict(t)["GroupDesc"], dict(t)["Encryption"]) for t in transforms] == [
                ("2048MODPgr", "AES-CBC"), ("2048MODPgr", "3DES-CBC"),
                ("1024MODPgr", "AES-CBC"), ("1024MODPgr", "3DES-CBC")]
            assert vids == [VID_RFC3947, VID_DRAFT02N]
        else:                # the responder's single choice and its one NAT-T version
            assert len(transforms) == 1 and dict(transforms[0])["KeyLength"] == 128
            assert vids == [VID_RFC3947]
        assert all(dict(t)["Authentication"] == "PSK" and dict(t)["Hash"] == "SHA" for t in transforms)
    else:
        assert len(pkt[ISAKMP_payload_KE].ke) == 256          # group 14: 2048 bits (RFC 3526 §3)
        assert len(pkt[ISAKMP_payload_Nonce].nonce) == 32
        # scapy has no NAT-D class: type 20 shows as a generic payload; its bytes are ours
        generic = [p for p in pkt.iterpayloads() if type(p) is ISAKMP_payload]
        assert len(generic) == 2 and pkt[ISAKMP_payload_Nonce].next_payload == 20 == generic[0].next_payload
        assert [p.load for p in generic] == our_natd(pkt) and all(len(p.load) == 20 for p in generic)


def test_scapy_sees_the_rfc_3948_framing_inside_the_nat():
    (mm5,) = labelled("aes", "inside", "MM5")
    assert (mm5[UDP].sport, mm5[UDP].dport) == (4500, 4500) and mm5.haslayer(NON_ESP)
    assert mm5[ISAKMP].flags & 1 and mm5[ISAKMP].exch_type == 2
    assert len(mm5[ISAKMP].payload.load) % 16 == 0 and len(mm5[ISAKMP]) == mm5[ISAKMP].length

    pair = run("aes")
    child = next(iter(pair.client.children.values()))
    client_esp, server_esp = labelled("aes", "inside", "ESP-in-UDP")
    assert (client_esp[UDP].sport, client_esp[UDP].dport, client_esp[UDP].chksum) == (4500, 4500, 0)
    assert client_esp[ESP].spi == child.spi_out and client_esp[ESP].seq == 1
    assert server_esp[ESP].spi == child.spi_in and server_esp[UDP].dport == 4500 and server_esp[UDP].chksum == 0
    (keepalive,) = labelled("aes", "inside", "keepalive")
    assert keepalive.haslayer(NAT_KEEPALIVE) and bytes(keepalive[UDP].payload) == b"\xff"
    assert (keepalive[UDP].sport, keepalive[UDP].dport, keepalive[UDP].chksum) == (4500, 4500, 0)
    # outside the NAT the source port is the NAT's, and it is still ESP by the 4500 destination
    (outside_esp, _) = labelled("aes", "outside", "ESP-in-UDP")
    assert outside_esp[IP].src == NAT_IP and outside_esp[UDP].sport != 4500 and outside_esp[ESP].spi == child.spi_out


# ------------------------------------------------------------------------------------------ tshark

def tshark(path, *args: str) -> str:
    out = subprocess.run(["tshark", "-r", str(path), *args], capture_output=True, text=True, timeout=60)
    noise = [line for line in out.stderr.splitlines() if line and not line.startswith("Running as user")]
    assert out.returncode == 0 and not noise, out.stderr
    return out.stdout


def fields(path, names: list[str], *args: str) -> list[dict]:
    text = tshark(path, "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,",
                  *sum((["-e", n] for n in names), []), *args)
    return [dict(zip(names, line.split("\t"))) for line in text.splitlines()]


@needs_tshark
@pytest.mark.parametrize("where", ["inside", "outside"])
def test_tshark_names_nat_t_and_finds_nothing_malformed(captures, where):
    text = tshark(captures["aes", where], "-V")
    assert "Malformed" not in text and "Expert Info (Error" not in text
    assert text.count("RFC 3947 Negotiation of NAT-Traversal in the IKE") >= 2   # MM1 and MM2
    assert text.count("Payload: NAT-D (RFC 3947) (20)") == 4                      # two in MM3, two in MM4
    assert "Non-ESP Marker" in text and "NAT-keepalive" in text


def natd(cookies: bytes, ip: str, port: int) -> str:
    """RFC 3947 §3.2 with SHA-1 (the negotiated hash), computed with hashlib only."""
    return hashlib.sha1(cookies + ipaddress.IPv4Address(ip).packed + port.to_bytes(2, "big")).hexdigest()


@needs_tshark
def test_nat_d_hashes_match_the_addresses_on_the_senders_side_of_the_nat(captures):
    names = ["ip.src", "ip.dst", "udp.srcport", "udp.dstport", "isakmp.ispi", "isakmp.rspi", "isakmp.ike.nat_hash"]
    seen = {}
    for where in ("inside", "outside"):
        rows = fields(captures["aes", where], names, "-Y", "isakmp.typepayload == 20")
        assert len(rows) == 2   # MM3 and MM4
        for row in rows:
            cookies = bytes.fromhex(row["isakmp.ispi"] + row["isakmp.rspi"])
            first, second = row["isakmp.ike.nat_hash"].replace(":", "").split(",")
            sender = "client" if row["ip.src"] in (CLIENT_IP, NAT_IP) else "server"
            seen[where, sender] = (first == natd(cookies, row["ip.dst"], int(row["udp.dstport"])),
                                   second == natd(cookies, row["ip.src"], int(row["udp.srcport"])))
    # (first NAT-D = the destination as addressed, second = the sender itself) matched on each side
    assert seen == {
        ("inside", "client"): (True, True),     # MM3 as the client sent it
        ("outside", "client"): (True, False),   # the NAT rewrote the client's source: peer behind NAT
        ("outside", "server"): (True, True),    # MM4 as the server sent it
        ("inside", "server"): (False, True),    # the NAT rewrote the destination: client behind NAT
    }


# ------------------------------------------------------------------------------------------ decryption

def prf(key: bytes, *data: bytes) -> bytes:
    return hmac.new(key, b"".join(data), hashlib.sha1).digest()


def modp_prime(group: int) -> int:
    bits, shift, add = MODP_PI_FORMULAS[group]
    return 2**bits - 2**(bits - 64) - 1 + 2**64 * (pi_times_power_of_two(shift) + add)


def expand(skeyid_e: bytes, length: int) -> bytes:
    """RFC 2409 App. B: Ka = K1 | K2 | ... with K1 = prf(SKEYID_e, 0), Kn = prf(SKEYID_e, Kn-1)."""
    if len(skeyid_e) >= length:
        return skeyid_e[:length]
    blocks = [prf(skeyid_e, b"\x00")]
    while sum(map(len, blocks)) < length:
        blocks.append(prf(skeyid_e, blocks[-1]))
    return b"".join(blocks)[:length]


def keymat(skeyid_d: bytes, spi: bytes, ni_b: bytes, nr_b: bytes, length: int) -> bytes:
    """RFC 2409 §5.5 without PFS, protocol 3 = ESP."""
    seed = b"\x03" + spi + ni_b + nr_b
    blocks = [prf(skeyid_d, seed)]
    while sum(map(len, blocks)) < length:
        blocks.append(prf(skeyid_d, blocks[-1], seed))
    return b"".join(blocks)[:length]


def wire_main_mode(variant: str) -> dict:
    """What Main Mode put on the wire, read by scapy from the outside capture."""
    (mm1,), (mm3,), (mm4,) = (labelled(variant, "outside", m) for m in ("MM1", "MM3", "MM4"))
    sa = mm1[ISAKMP_payload_SA]
    return dict(cookies=mm3[ISAKMP].init_cookie + mm3[ISAKMP].resp_cookie, sai_b=bytes(sa)[4:sa.length],
                gxi=mm3[ISAKMP_payload_KE].ke, gxr=mm4[ISAKMP_payload_KE].ke,
                ni_b=mm3[ISAKMP_payload_Nonce].nonce, nr_b=mm4[ISAKMP_payload_Nonce].nonce)


def id_body(row: dict) -> bytes:
    """IDii_b / IDir_b from tshark's fields: type, protocol, port, address (RFC 2407 §4.6.2)."""
    return (bytes([int(row["isakmp.id.type"]), int(row["isakmp.id.protoid"])])
            + int(row["isakmp.id.port"]).to_bytes(2, "big")
            + ipaddress.IPv4Address(row["isakmp.id.data.ipv4_addr"]).packed)


@needs_tshark
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_tshark_decrypts_everything_with_keys_derived_independently(captures, variant):
    pair, path = run(variant), captures[variant, "outside"]
    policy, w = VARIANTS[variant], wire_main_mode(variant)
    ike = next(iter(pair.client.sas.values()))
    group = ike.choice.group
    p, x = modp_prime(group), ike.dh_private          # the one secret taken from the engine
    assert pow(2, x, p).to_bytes(len(w["gxi"]), "big") == w["gxi"]
    gxy = pow(int.from_bytes(w["gxr"], "big"), x, p).to_bytes(len(w["gxi"]), "big")
    skeyid = prf(policy.psk.encode(), w["ni_b"], w["nr_b"])
    skeyid_d = prf(skeyid, gxy, w["cookies"], b"\x00")
    skeyid_a = prf(skeyid, skeyid_d, gxy, w["cookies"], b"\x01")
    skeyid_e = prf(skeyid, skeyid_a, gxy, w["cookies"], b"\x02")
    ka = expand(skeyid_e, 16 if ike.choice.cipher == "aes-cbc-128" else 24)
    assert ka == ike.keys.enc_key
    ike_uat = ["-o", f"uat:ikev1_decryption_table:{w['cookies'][:8].hex()},{ka.hex()}"]

    names = ["frame.number", "isakmp.id.type", "isakmp.id.protoid", "isakmp.id.port",
             "isakmp.id.data.ipv4_addr", "isakmp.hash", "isakmp.nonce", "isakmp.spi"]
    rows = fields(path, names, *ike_uat)
    mm5, mm6, qm1, qm2 = rows[4], rows[5], rows[6], rows[7]
    assert mm5["isakmp.id.data.ipv4_addr"] == CLIENT_IP and mm6["isakmp.id.data.ipv4_addr"] == SERVER_IP
    cky_i, cky_r = w["cookies"][:8], w["cookies"][8:]
    assert mm5["isakmp.hash"] == prf(skeyid, w["gxi"], w["gxr"], cky_i, cky_r, w["sai_b"], id_body(mm5)).hex()
    assert mm6["isakmp.hash"] == prf(skeyid, w["gxr"], w["gxi"], cky_r, cky_i, w["sai_b"], id_body(mm6)).hex()
    assert qm1["isakmp.id.data.ipv4_addr"].split(",") == [CLIENT_IP, SERVER_IP]    # IDci, IDcr

    # each direction is keyed with the SPI its receiver chose (RFC 2409 §5.5)
    ni_b, nr_b = bytes.fromhex(qm1["isakmp.nonce"]), bytes.fromhex(qm2["isakmp.nonce"])
    client_spi, server_spi = bytes.fromhex(qm1["isakmp.spi"]), bytes.fromhex(qm2["isakmp.spi"])
    child = next(iter(pair.client.children.values()))
    enc_len = 16 if child.outbound.cipher == "aes-cbc-128" else 24
    esp_uat = ["-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"]
    for spi, sa in ((server_spi, child.outbound), (client_spi, child.inbound)):
        km = keymat(skeyid_d, spi, ni_b, nr_b, enc_len + 20)
        assert (km[:enc_len], km[enc_len:]) == (sa.enc_key, sa.auth_key) and int.from_bytes(spi, "big") == sa.spi
        esp_uat += ["-o", f'uat:esp_sa:"IPv4","*","*","0x{spi.hex()}","{ESP_LABELS[sa.cipher]}",'
                          f'"0x{km[:enc_len].hex()}","{INTEGRITY_LABELS[sa.integrity]}","0x{km[enc_len:].hex()}"']

    rows = fields(path, ["frame.protocols", "esp.spi", "esp.icv_good", "l2tp.type", "l2tp.avp.message_type"],
                  *ike_uat, *esp_uat, "-Y", "esp")
    assert len(rows) == 2
    for row in rows:
        assert row["esp.icv_good"] in ("1", "True"), row
        assert row["frame.protocols"].endswith("esp:udp:l2tp") and row["l2tp.avp.message_type"] == "1", row
    text = tshark(path, "-V", *ike_uat, *esp_uat, "-Y", "esp")
    assert text.count("[correct]") == 2 and text.count("Start_Control_Request (1)") == 2
