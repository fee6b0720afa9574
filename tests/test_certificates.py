"""Certificate authentication in IKEv1 Main Mode (RFC 2409 §5.1, RFC 4754, RFC 4945).

Checked against independent tools where they exist: `openssl verify` for the lab PKI's chains,
tshark (decrypting with the exported IKEv1 table) for the CERT/CR/SIG payloads, and the SIG
payloads verified with `cryptography` against HASH_I/HASH_R recomputed here from the wire values
(SKEYID = prf(Ni_b | Nr_b, g^xy)), not with the engine's functions.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import subprocess
from dataclasses import replace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import NoDigestInfo, Prehashed, encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from natt_core.crypto import pki
from natt_core.errors import ConfigError
from natt_core.ike.policy import PeerPolicy
from natt_core.lab.export import export
from natt_core.lab.presets import preset
from natt_core.lab.scenario import FieldError, run
from natt_core.lab.settings import CHOICES, apply_settings
from natt_core.reasons import Reason
from natt_core.wire.isakmp import Cert, Sig, decode_message
from natt_core.wire.numbers import IdType

from .helpers import CLIENT_IP, SERVER_IP, make_pair

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
CERTS = {"rsa-sig": "rsa", "ecdsa-sig": "ecdsa"}


def cert_policy(auth: str = "rsa-sig", **kw) -> PeerPolicy:
    return PeerPolicy(auth=auth, **kw)


def handshake(client: PeerPolicy, server: PeerPolicy, client_nat: bool = True):
    pair = make_pair(client, server, client_nat=client_nat).connect()
    pair.advance(60)
    return pair


def established(peer) -> bool:
    return any(sa.state.value == "ESTABLISHED" for sa in peer.sas.values())


def failure_codes(pair) -> set:
    return {e.code for e in pair.events if e.kind == "AuthenticationFailed"}


# ---- the lab PKI ---------------------------------------------------------------------------------

@needs_openssl
@pytest.mark.parametrize("key_type", ["rsa", "ecdsa"])
def test_openssl_verifies_machine_chains(tmp_path, key_type):
    m = pki.machine("client", CLIENT_IP, key_type)
    (tmp_path / "ca.pem").write_bytes(pki.pem(m.root))
    (tmp_path / "int.pem").write_bytes(pki.pem(m.intermediate))
    (tmp_path / "leaf.pem").write_bytes(pki.pem(m.cert))
    out = subprocess.run(["openssl", "verify", "-purpose", "any", "-CAfile", str(tmp_path / "ca.pem"),
                          "-untrusted", str(tmp_path / "int.pem"), str(tmp_path / "leaf.pem")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip().endswith(": OK"), out.stdout + out.stderr
    # without the intermediate there is no path: openssl agrees with our own check
    alone = subprocess.run(["openssl", "verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "leaf.pem")],
                           capture_output=True, text=True, timeout=30)
    assert alone.returncode != 0
    with pytest.raises(pki.CertError) as exc:
        pki.verify_chain(m.cert, (), (m.root,))
    assert exc.value.code == "CERT_UNTRUSTED"


def test_machine_certificates_look_like_real_ones():
    m = pki.machine("server", SERVER_IP)
    assert isinstance(m.key, rsa.RSAPrivateKey) and m.key.key_size == 2048
    assert isinstance(pki.machine("server", SERVER_IP, "ecdsa").key.curve, ec.SECP256R1)
    assert m.cert.subject.rfc4514_string() == "CN=server.natt-lab.example,OU=Machines,O=NAT-T Lab,C=US"
    san = m.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["server.natt-lab.example"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == [SERVER_IP]
    assert m.cert.issuer == m.intermediate.subject and m.intermediate.issuer == m.root.subject
    eku = m.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert pki.IPSEC_IKE in list(eku)


def test_rsa_keys_are_a_function_of_the_seed():
    """The same label gives the same key in any process (drawn again here without the cache)."""
    again = pki._rsa_key.__wrapped__("1/lab/root")
    assert again.private_numbers() == pki.hierarchy(1, "lab").root.key.private_numbers()
    assert pki._rsa_key.__wrapped__("2/lab/root").public_key().public_numbers().n != \
        again.public_key().public_numbers().n


# ---- the handshake -------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", list(CERTS))
def test_certificates_establish_both_phases_through_a_nat(auth):
    pair = handshake(cert_policy(auth), cert_policy(auth))
    assert established(pair.client) and established(pair.server)
    assert pair.of("Phase2Established")
    sa = next(iter(pair.server.sas.values()))
    assert x509.load_der_x509_certificate(sa.peer_certs[0]).subject.rfc4514_string().startswith(
        "CN=client.natt-lab.example")


def mm_messages(pair) -> dict[str, bytes]:
    return {d.label: d.payload for _, d in pair.wire if d.label and d.label.startswith("MM")}


def test_full_chain_makes_mm5_big_and_machine_only_smaller():
    full = mm_messages(handshake(cert_policy(), cert_policy()))
    short_pair = handshake(cert_policy(cert_chain="machine"), cert_policy(cert_chain="machine"))
    short = mm_messages(short_pair)
    assert established(short_pair.client)
    # MM5/MM6 on 4500 after the float: UDP payload incl. the 4-byte non-ESP marker
    assert len(full["MM5"]) > 2000 and len(full["MM6"]) > 2000
    # the difference is the issuing CA's certificate in its CERT payload (4 + 1 bytes), give or take CBC padding
    cert_payload = len(pki.hierarchy(1).intermediate.cert.public_bytes(Encoding.DER)) + 5
    assert abs(len(full["MM5"]) - len(short["MM5"]) - cert_payload) < 16
    plain = mm_messages(handshake(PeerPolicy(), PeerPolicy()))
    assert len(plain["MM5"]) < 256          # a PSK's MM5: ID, HASH_I and N(INITIAL-CONTACT)


def test_mm3_and_mm4_request_certificates_from_the_lab_root():
    pair = handshake(cert_policy(), cert_policy(), client_nat=False)
    root = pki.hierarchy(1, "lab").root.cert.subject.public_bytes()
    for label in ("MM3", "MM4"):
        _, chain = decode_message(mm_messages(pair)[label])
        crs = [p for p in chain.payloads if type(p).__name__ == "CertRequest"]
        assert [(c.encoding, c.authority) for c in crs] == [(4, root)]


def test_auth_methods_must_agree():
    pair = handshake(cert_policy(), PeerPolicy())
    assert not established(pair.client) and {e.code for e in pair.events if e.kind == "Refused"} == {Reason.NO_PROPOSAL}
    assert "authentication psk" in next(e.reason for e in pair.events if e.kind == "Refused")


# ---- failures carry their reason code --------------------------------------------------------------

def test_a_rogue_ca_is_untrusted():
    pair = handshake(cert_policy(cert_issuer="rogue"), cert_policy())
    assert not established(pair.server) and failure_codes(pair) >= {Reason.CERT_UNTRUSTED}
    sa = next(iter(pair.server.ended), None) or next(iter(pair.server.sas.values()))
    assert sa.code is Reason.CERT_UNTRUSTED and "Rogue Networks Root CA" in sa.reason


def test_the_client_checks_the_server_too():
    pair = handshake(cert_policy(), cert_policy(cert_issuer="rogue"))
    assert established(pair.server) and not established(pair.client)
    assert Reason.CERT_UNTRUSTED in {e.code for e in pair.events if e.peer == "client" and e.kind == "AuthenticationFailed"}


def test_an_id_the_certificate_does_not_name_is_refused():
    pair = handshake(cert_policy(id_type="fqdn", identity="intruder.example"), cert_policy())
    assert not established(pair.server) and Reason.ID_MISMATCH in failure_codes(pair)


@pytest.mark.parametrize("id_type,kind", [("fqdn", IdType.FQDN), ("ipv4", IdType.IPV4_ADDR),
                                          ("der-asn1-dn", IdType.DER_ASN1_DN)])
def test_every_id_type_the_certificate_names_is_accepted(id_type, kind):
    pair = handshake(cert_policy(id_type=id_type), cert_policy(id_type=id_type), client_nat=False)
    assert established(pair.client) and established(pair.server)
    sa = next(iter(pair.client.sas.values()))
    assert sa.id_sent[0] == kind and sa.id_received[0] == kind


def _tamper(peer, change):
    original = peer._signed_payloads

    def signed(sa, id_payload):
        return [change(p) for p in original(sa, id_payload)]
    peer._signed_payloads = signed


def test_a_forged_signature_is_sig_invalid():
    pair = make_pair(cert_policy(), cert_policy())
    _tamper(pair.client, lambda p: Sig(bytes([p.data[0] ^ 1]) + p.data[1:]) if isinstance(p, Sig) else p)
    pair.connect()
    pair.advance(60)
    assert not established(pair.server) and Reason.SIG_INVALID in failure_codes(pair)


def test_a_cert_payload_that_is_not_a_certificate_is_cert_invalid():
    pair = make_pair(cert_policy(), cert_policy())
    _tamper(pair.client, lambda p: Cert(b"\x30\x03junk") if isinstance(p, Cert) else p)
    pair.connect()
    pair.advance(60)
    assert Reason.CERT_INVALID in failure_codes(pair)


def test_a_signature_by_another_key_is_sig_invalid():
    """The right certificate, signed with someone else's key: the signature is what proves possession."""
    pair = make_pair(cert_policy(), cert_policy())
    stranger = pki.machine("stranger", "10.9.9.9")
    original = pair.client._credentials
    pair.client._credentials = lambda: replace(original(), key=stranger.key)
    pair.connect()
    pair.advance(60)
    assert Reason.SIG_INVALID in failure_codes(pair)


# ---- --set -----------------------------------------------------------------------------------------

def test_set_accepts_the_vocabulary_and_names_the_key_when_wrong():
    s = apply_settings(preset("client-behind-nat"), ["client.auth=rsa-sig", "server.auth=rsa-sig",
                                                     "client.id_type=der-asn1-dn", "server.cert_chain=machine"])
    assert (s.client.auth, s.server.auth, s.client.id_type, s.server.cert_chain) == (
        "rsa-sig", "rsa-sig", "der-asn1-dn", "machine")
    assert CHOICES["client.auth"] == ("psk", "rsa-sig", "ecdsa-sig")
    with pytest.raises(FieldError) as exc:
        apply_settings(preset("client-behind-nat"), ["client.auth=dsa-sig"])
    assert exc.value.field == "client.auth" and "rsa-sig" in str(exc.value)
    with pytest.raises(ConfigError):
        PeerPolicy(auth="rsa-sig", ike_version=2)


# ---- tshark and exported files -----------------------------------------------------------------------

def tshark(path, *args: str) -> str:
    out = subprocess.run(["tshark", "-r", str(path), *args], capture_output=True, text=True, timeout=60)
    noise = [line for line in out.stderr.splitlines() if line and not line.startswith("Running as user")]
    assert out.returncode == 0 and not noise, out.stderr
    return out.stdout


def prf(hash_name: str, key: bytes, *parts: bytes) -> bytes:
    return hmac.new(key, b"".join(parts), hash_name).digest()


@needs_tshark
@pytest.mark.parametrize("auth", list(CERTS))
def test_tshark_reads_the_exchange_and_every_sig_verifies_independently(tmp_path, auth):
    scenario = apply_settings(preset("client-behind-nat"), [f"client.auth={auth}", f"server.auth={auth}"])
    trace = run(scenario)
    export(trace, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["peers"]["client"]["phase2"] == "established"
    table = (tmp_path / "ikev1_decryption_table.txt").read_text().split()
    uat = ["-o", f"uat:ikev1_decryption_table:{table[0]}"]
    pcap = tmp_path / "internet.pcap"
    assert tshark(pcap, *uat, "-Y", "_ws.malformed || _ws.expert.severity >= warning").strip() == ""
    names = ["isakmp.ispi", "isakmp.rspi", "isakmp.key_exchange.data",
             "isakmp.nonce", "isakmp.sig", "isakmp.id.type", "isakmp.certreq.type", "isakmp.cert.encoding"]
    text = tshark(pcap, *uat, "-Y", "isakmp", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                  *sum((["-e", n] for n in names), []))
    rows = [dict(zip(names, line.split("\t"))) for line in text.splitlines()]
    mm3, mm4, mm5, mm6 = rows[2], rows[3], rows[4], rows[5]
    assert mm3["isakmp.certreq.type"] == mm4["isakmp.certreq.type"] == "4"
    assert mm5["isakmp.id.type"] == mm6["isakmp.id.type"] == "9"
    assert mm5["isakmp.cert.encoding"] == "4;4"         # machine + issuing CA, as Windows sends
    verbose = tshark(pcap, *uat, "-Y", "isakmp", "-V")
    assert "id-at-commonName=client.natt-lab.example" in verbose and "NAT-T Lab Issuing CA 1" in verbose

    # HASH_I / HASH_R from the wire values and the exported DH secret, SIG checked with the exported certs
    secrets = json.loads((tmp_path / "secrets.json").read_text())
    ike = secrets["ike_sas"][0]
    assert ike["auth"] == auth
    gxy = bytes.fromhex(ike["dh_shared_secret"])
    cky_i, cky_r = bytes.fromhex(mm5["isakmp.ispi"]), bytes.fromhex(mm5["isakmp.rspi"])
    gxi, gxr = (bytes.fromhex(r["isakmp.key_exchange.data"]) for r in (mm3, mm4))
    ni_b, nr_b = bytes.fromhex(mm3["isakmp.nonce"]), bytes.fromhex(mm4["isakmp.nonce"])
    skeyid = prf(ike["hash"], ni_b + nr_b, gxy)                     # RFC 2409 §5: signatures
    assert skeyid.hex() == ike["skeyid"]
    sai_b = _sa_body(trace)
    certs = {name: x509.load_pem_x509_certificate((tmp_path / "certs" / f"{name}.pem").read_bytes())
             for name in ("client", "server")}
    mac = "sha256" if auth == "ecdsa-sig" else ike["hash"]          # RFC 4754: HMAC-SHA-256 with P-256
    for row, cert, (ga, gb, ca, cb) in ((mm5, certs["client"], (gxi, gxr, cky_i, cky_r)),
                                        (mm6, certs["server"], (gxr, gxi, cky_r, cky_i))):
        id_b = bytes([9, 0, 0, 0]) + cert.subject.public_bytes()    # NAT-T: protocol and port 0
        digest = prf(mac, skeyid, ga, gb, ca, cb, sai_b, id_b)
        _verify(cert.public_key(), bytes.fromhex(row["isakmp.sig"]), digest)

    # and the exported key is the one that signed: a fresh signature verifies under the certificate
    key_pem = (tmp_path / "certs" / "client.key").read_bytes()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    key = load_pem_private_key(key_pem, None)
    assert key.public_key().public_numbers() == certs["client"].public_key().public_numbers()


def _sa_body(trace) -> bytes:
    """SAi_b: MM1's SA payload body, from the first packet on the wire."""
    from natt_core.wire.ip import decode_datagram
    mm1 = next(h for h in trace.hops if h.label == "MM1")
    header, chain = decode_message(decode_datagram(mm1.packet).payload)
    return chain.raw[0][4:]


def _verify(public_key, signature: bytes, digest: bytes) -> None:
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(signature, digest, padding.PKCS1v15(), NoDigestInfo())
        assert len(signature) == 256
    else:
        assert len(signature) == 64 and len(digest) == 32          # r | s, RFC 4754 §7
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        public_key.verify(der, digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def test_secrets_and_export_hold_the_pki(tmp_path):
    trace = run(apply_settings(preset("client-behind-nat"), ["client.auth=rsa-sig", "server.auth=rsa-sig"]))
    written = {p.relative_to(tmp_path).as_posix() for p in export(trace, tmp_path)}
    assert {"certs/ca.pem", "certs/intermediate.pem", "certs/client.pem", "certs/client.key",
            "certs/server.pem", "certs/server.key"} <= written
    block = trace.secrets["certificates"]
    assert set(block["peers"]) == {"client", "server"}
    assert hashlib.sha256(block["ca"].encode()).digest() == hashlib.sha256(pki.pem(pki.hierarchy(1).root.cert)).digest()
    from cryptography.hazmat.primitives.serialization import pkcs12
    bundle = pkcs12.load_pkcs12((tmp_path / "certs" / "client.p12").read_bytes(), b"natt-lab")
    assert bundle.cert.certificate.subject.rfc4514_string().startswith("CN=client.natt-lab.example")
    assert bundle.key.public_key().public_numbers() == bundle.cert.certificate.public_key().public_numbers()
    psk = run(preset("client-behind-nat"))
    assert "certificates" not in psk.secrets


def test_real_peer_configs_follow_certificate_authentication():
    from natt_core.lab.config_files import config_files
    s = apply_settings(preset("client-behind-nat"), ["client.auth=rsa-sig", "server.auth=rsa-sig"])
    swan = config_files(s, "strongswan", "server")
    assert set(swan) == {"swanctl.conf", "x509/server.pem", "x509ca/ca.pem", "x509ca/intermediate.pem",
                         "private/server.key"}
    conf = swan["swanctl.conf"]
    assert "auth = pubkey" in conf and "certs = server.pem" in conf and "secrets {" not in conf
    assert 'id = "C=US, O=NAT-T Lab, OU=Machines, CN=server.natt-lab.example"' in conf
    win = config_files(s, "windows", "client")["add-vpn.ps1"]
    assert "-L2tpPsk" not in win and "Import-PfxCertificate" in win
    assert "-L2tpPsk" in config_files(preset("client-behind-nat"), "windows", "client")["add-vpn.ps1"]
    lsw = config_files(s, "libreswan", "server")
    assert "authby=rsasig" in lsw["ipsec.conf"] and "leftcert=server" in lsw["ipsec.conf"]
    assert {"certs/server.pem", "certs/server.key", "nss-import.sh"} <= set(lsw)
    ecdsa = apply_settings(s, ["server.auth=ecdsa-sig", "client.auth=ecdsa-sig"])
    assert "libreswan implements no ECDSA for IKEv1" in config_files(ecdsa, "libreswan", "server")["ipsec.conf"]


# ---- views and the lesson ---------------------------------------------------------------------------

def test_dn_ids_compare_as_names_whatever_the_string_type():
    from cryptography.x509.name import _ASN1Type

    from natt_core.wire.isakmp_cert import dn_text, same_dn
    cert = pki.machine("server", SERVER_IP).cert
    printable = x509.Name([x509.NameAttribute(a.oid, a.value, _ASN1Type.PrintableString) for a in cert.subject])
    assert printable.public_bytes() != cert.subject.public_bytes()      # other bytes, as charon sends them
    assert same_dn(printable.public_bytes(), cert.subject.public_bytes())
    assert not same_dn(pki.machine("client", CLIENT_IP).cert.subject.public_bytes(), cert.subject.public_bytes())
    assert not same_dn(b"\x30\x03junk", cert.subject.public_bytes())
    reordered = x509.Name(list(reversed(list(cert.subject)))).public_bytes()
    assert not same_dn(reordered, cert.subject.public_bytes())
    assert dn_text(cert.subject.public_bytes()) == cert.subject.rfc4514_string()


def test_lesson_notes_switch_to_the_certificate_variant():
    from natt_view.lesson_notes import note_for
    notes = {"MM5": "hash", "MM5|certificates": "cert"}
    assert note_for(notes, "MM5", {"client": {"auth": "psk"}}) == "hash"
    assert note_for(notes, "MM5", {"client": {"auth": "ecdsa-sig"}}) == "cert"
    assert note_for(notes, "MM1", {"client": {"auth": "rsa-sig"}}) is None


def test_lesson_1_with_certificates_tells_what_cert_and_sig_prove():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "lessons/01_main_mode.py"), default_timeout=90)
    at.query_params["auth"] = "rsa-sig"
    at.query_params["step"] = "5"
    at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    infos = " ".join(i.value for i in at.info)
    assert "SIG_I" in infos and "proves the sender holds that key" in infos, infos
    assert at.query_params["auth"] in ("rsa-sig", ["rsa-sig"])


def test_report_json_names_the_failed_check():
    trace = run(apply_settings(preset("client-behind-nat"), ["client.auth=rsa-sig", "server.auth=rsa-sig",
                                                             "client.cert_issuer=rogue"]))
    server, client = trace.report["peers"]["server"], trace.report["peers"]["client"]
    assert server["phase1"] == "failed" and server["reason_code"] == "CERT_UNTRUSTED"
    assert "Rogue Networks Root CA" in server["reason"]
    # the client only hears an unauthenticated AUTHENTICATION-FAILED: evidence, reported when it gives up
    assert client["phase1"] == "failed" and client["reason_code"] == "AUTH_FAILED"
