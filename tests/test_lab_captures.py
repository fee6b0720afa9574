"""Acceptance of the lab's captures and links, read by independent tools.

(b) client-behind-nat's captures, read by tshark with only the exported key files: no malformed
    packet, correct IPv4/UDP checksums after the NAT's rewrites, ESP decrypted with a good ICV
    and L2TP inside, MM5/MM6 decrypted, and the NAT-D hashes recomputed from the dissected fields
    with `cryptography` (RFC 3947 §3.2), not with the engine.
(c) Handshakes through the lab's impaired links (30 % loss, duplication, reordering; seeded).
"""
from __future__ import annotations

import subprocess
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import hashes
from scapy.utils import rdpcap

from natt_core.lab.presets import PRESETS, preset
from natt_core.lab.scenario import run
from natt_core.pcap import write_pcap

from .lab_cli import CLIENT, NAT_PUBLIC, SERVER, cli_run, needs_tshark, root, up  # noqa: F401  (root: a fixture)


# ----------------------------------------------------------------- (b) tshark on client-behind-nat
def tshark(*args: str) -> list[list[str]]:
    out = subprocess.run(["tshark", *args], capture_output=True, text=True, timeout=60)
    errors = [line for line in out.stderr.splitlines() if line and not line.startswith("Running as user")]
    assert out.returncode == 0 and not errors, out.stderr
    return [line.split("\t") for line in out.stdout.splitlines()]


FIELDS = ("frame.number", "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "isakmp.ispi", "isakmp.rspi",
          "isakmp.exchangetype", "isakmp.flag_e", "isakmp.typepayload", "isakmp.id.data.ipv4_addr",
          "isakmp.ike.nat_hash", "esp.spi", "esp.icv_good", "l2tp.type", "_ws.malformed",
          "ip.checksum.status", "udp.checksum.status")


@pytest.fixture(scope="module")
def dissected(root):
    """Per capture: every packet's FIELDS, dissected with the exported keys and without them."""
    _, secrets, out, _ = cli_run(root, "client-behind-nat")
    keys = ["-o", f"uat:ikev1_decryption_table:{(out / 'ikev1_decryption_table.txt').read_text().strip()}",
            "-o", "esp.enable_encryption_decode:TRUE", "-o", "esp.enable_authentication_check:TRUE"]
    for line in (out / "esp_sa.txt").read_text().splitlines():
        keys += ["-o", f"uat:esp_sa:{line}"]
    checks = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE"]
    fields = ["-T", "fields", "-E", "occurrence=a", *sum((["-e", f] for f in FIELDS), [])]
    result = {}
    for pcap in ("client-lan", "internet"):
        path = str(out / f"{pcap}.pcap")
        with_keys = [dict(zip(FIELDS, row)) for row in tshark("-r", path, *keys, *checks, *fields)]
        without = [dict(zip(FIELDS, row)) for row in tshark("-r", path, *checks, *fields)]
        result[pcap] = (with_keys, without)
    return secrets, result


@needs_tshark
def test_tshark_reads_every_capture_without_malformed_packets_or_bad_checksums(dissected):
    _, result = dissected
    for pcap, (rows, plain) in result.items():
        assert len(rows) == len(plain) >= 13, pcap
        for row in rows + plain:
            assert row["_ws.malformed"] == "", (pcap, row)
            # 1 = good, recomputed by tshark; the ping's IP header inside PPP adds a second status
            assert set(row["ip.checksum.status"].split(",")) == {"1"}, (pcap, row)
            # The outer UDP header: 1 = good; 3 = not present (RFC 3948 §2.1: ESP-in-UDP and
            # keepalives may carry 0); a decrypted packet adds its inner UDP header's status.
            assert row["udp.checksum.status"].split(",")[0] in ("1", "3"), (pcap, row)
        assert sum(row["udp.checksum.status"] == "1" for row in rows) >= 9  # every IKE message


@needs_tshark
def test_decrypted_l2tp_checksum_is_right_only_before_the_nat(dissected):
    """RFC 3948 §3.1.2: the inner UDP checksum covers the sender's addresses, so tshark (which
    checks it against the outer header it sees) finds it good on the sender's segment and bad
    after the NAT rewrote the outer address -- the reason transport mode needs NAT-OA."""
    _, result = dissected
    for pcap, (rows, _) in result.items():
        for row in (r for r in rows if r["l2tp.type"]):
            outer, inner = row["udp.checksum.status"].split(",")
            senders_segment = (pcap == "client-lan") == (row["ip.dst"].split(",")[0] == SERVER)   # outer IP
            assert (outer, inner) == ("3", "1" if senders_segment else "0"), (pcap, row)


@needs_tshark
def test_exported_esp_keys_decrypt_every_esp_packet_with_a_good_icv_and_l2tp_inside(dissected):
    secrets, result = dissected
    spis = {f"0x{c['spi']}" for c in secrets["child_sas"]}
    for pcap, (rows, plain) in result.items():
        esp = [row for row in rows if row["esp.spi"]]
        assert {row["esp.spi"] for row in esp} == spis, pcap          # both directions seen on both sides
        assert all(row["esp.icv_good"] == "1" and row["l2tp.type"] for row in esp), pcap
        assert not any(row["l2tp.type"] for row in plain), pcap       # control: nothing without the keys


@needs_tshark
def test_exported_ikev1_key_decrypts_mm5_and_mm6(dissected):
    _, result = dissected
    for pcap, (rows, plain) in result.items():
        main_mode_encrypted = [row for row in rows if row["isakmp.exchangetype"] == "2" and row["isakmp.flag_e"] == "1"]
        assert len(main_mode_encrypted) == 2, pcap
        mm5, mm6 = main_mode_encrypted
        assert mm5["isakmp.typepayload"] == "5,8,11"     # ID, HASH (RFC 2409 §5), N(INITIAL-CONTACT)
        assert mm6["isakmp.typepayload"] == "5,8"
        assert (mm5["isakmp.id.data.ipv4_addr"], mm6["isakmp.id.data.ipv4_addr"]) == (CLIENT, SERVER)
        hidden = [row for row in plain if row["isakmp.exchangetype"] == "2" and row["isakmp.flag_e"] == "1"]
        assert len(hidden) == 2 and not any(row["isakmp.id.data.ipv4_addr"] for row in hidden)


def natd_hash(algorithm: str, icookie: str, rcookie: str, ip: str, port: str) -> str:
    """RFC 3947 §3.2: HASH = H(CKY-I | CKY-R | IP | Port) with the phase-1 hash, from the dissected fields."""
    h = hashes.Hash({"md5": hashes.MD5(), "sha1": hashes.SHA1(), "sha256": hashes.SHA256()}[algorithm])
    h.update(bytes.fromhex(icookie) + bytes.fromhex(rcookie) + bytes(map(int, ip.split("."))) +
             int(port).to_bytes(2, "big"))
    return h.finalize().hex()


@needs_tshark
def test_natd_hashes_are_right_for_the_addresses_on_each_segment(dissected):
    """Each NAT-D list is [H(destination as the sender addressed it), H(sender's own source)].

    The sender computes both from the addresses on *its own* segment, so in the capture next to
    the sender both hashes match that packet's header. Across the NAT exactly one of them stops
    matching -- the one for the address the NAT rewrote -- and that mismatch is the detection:
    MM3 (client -> server): client-lan: H(dst)=H(server:500) and H(src)=H(192.168.11.20:500) both
      match; internet: H(dst) still matches, H(src) does not (the source is now the NAT's
      public address and port) but equals the hash of the client's private source on client-lan.
    MM4 (server -> client): internet: both match (the server addresses the NAT's public
      address:port it saw); client-lan: H(src)=H(server:500) matches, H(dst) does not (the NAT
      rewrote the destination to the client's private address) but equals the hash of the public
      destination seen on the internet.
    """
    secrets, result = dissected
    algorithm = secrets["ike_sas"][0]["hash"]
    by_segment = {}
    for pcap, (rows, _) in result.items():
        natd = [row for row in rows if row["isakmp.ike.nat_hash"]]
        assert len(natd) == 2, pcap                     # MM3 and MM4, each with two NAT-D payloads
        by_segment[pcap] = natd
    for pcap, natd in by_segment.items():
        for row in natd:
            first, second = row["isakmp.ike.nat_hash"].split(",")
            ck = (algorithm, row["isakmp.ispi"], row["isakmp.rspi"])
            dst = natd_hash(*ck, row["ip.dst"], row["udp.dstport"])
            src = natd_hash(*ck, row["ip.src"], row["udp.srcport"])
            from_client = row["ip.dst"] == SERVER
            senders_segment = (pcap == "client-lan") == from_client
            if senders_segment:
                assert (first, second) == (dst, src), (pcap, row)
            elif from_client:   # MM3 behind the NAT's back: the source was rewritten
                assert first == dst and second != src, (pcap, row)
            else:               # MM4 after the NAT: the destination was rewritten
                assert second == src and first != dst, (pcap, row)
    # The hash that stopped matching is the hash of the other segment's address for that packet.
    for mm3_or_mm4 in range(2):
        inside, outside = by_segment["client-lan"][mm3_or_mm4], by_segment["internet"][mm3_or_mm4]
        assert inside["isakmp.ike.nat_hash"] == outside["isakmp.ike.nat_hash"]   # the NAT leaves payloads alone
        ck = (algorithm, inside["isakmp.ispi"], inside["isakmp.rspi"])
        first, second = inside["isakmp.ike.nat_hash"].split(",")
        if inside["ip.dst"] == SERVER:
            assert second == natd_hash(*ck, inside["ip.src"], inside["udp.srcport"]) != \
                natd_hash(*ck, outside["ip.src"], outside["udp.srcport"])
            assert outside["ip.src"] == NAT_PUBLIC
        else:
            assert first == natd_hash(*ck, outside["ip.dst"], outside["udp.dstport"]) != \
                natd_hash(*ck, inside["ip.dst"], inside["udp.dstport"])
            assert outside["ip.dst"] == NAT_PUBLIC


@needs_tshark
def test_every_packet_of_every_preset_is_well_formed_for_tshark(root, tmp_path):
    """One tshark pass over the packets of all presets (and variants) run above, on both sides of every NAT."""
    records = []
    for name in PRESETS:
        _, _, out, _ = cli_run(root, name)
        for pcap in sorted(out.glob("*.pcap")):
            records += [(0.0, bytes(p)) for p in rdpcap(str(pcap))]
    path = tmp_path / "all.pcap"
    write_pcap(path, records)
    rows = tshark("-r", str(path), "-o", "ip.check_checksum:TRUE", "-T", "fields", "-e", "_ws.malformed",
                  "-e", "ip.checksum.status")
    assert len(rows) == len(records) > 300
    assert all(row == ["", "1"] for row in rows)


# ----------------------------------------------------------------- (c) loss, duplication, reordering
LOSSY = dict(loss=0.3, duplicate=0.2, reorder=0.2)
SEEDS = range(1, 25)


def lossy_runs(name: str):
    for seed in SEEDS:
        yield seed, run(replace(preset(name), seed=seed, duration=120.0, **LOSSY))


@pytest.mark.parametrize("name", ["client-behind-nat", "no-nat", "double-nat"])
def test_handshakes_complete_through_loss_duplication_and_reordering(name):
    """30 % loss on every link plus 20 % duplicates and 20 % reordering, over 24 seeds.

    Each link drops 30 %, so a round trip across the client-behind-nat path (two links each way)
    succeeds about 0.7**4 = 24 % of the time (double NAT: three links, 12 %) and the engine's ten
    tries still miss now and then (about 1 run in 13; double NAT 1 in 4). A run may therefore
    fail only by honest exhaustion -- a peer gave up after its last try and every packet that
    went missing was lost on a link -- and most runs must complete; the bounds leave room for
    chance (seeded runs are exact, but engine changes shift the random stream).
    """
    done, exercised = 0, set()
    for seed, t in lossy_runs(name):
        peers = t.report["peers"]
        exercised |= {h.note.split(" ")[0] for h in t.hops if h.note and h.label.startswith(("MM", "QM"))}
        if all(up(p) for p in peers.values()):
            done += 1
            assert peers["client"]["floated"] == (name != "no-nat")
            continue
        gave_up = [p["reason"] for p in peers.values() if p["reason"] and p["reason"].startswith("no answer to ")]
        assert gave_up, (seed, peers)
        assert all(r.endswith("tries") or ("the first on the way to" in r and ": lost on segment" in r)
                   for r in gave_up), (seed, gave_up)
        assert not [h for h in t.hops if h.dropped and not h.dropped.startswith("lost on segment")], seed
    assert done >= (13 if name == "double-nat" else 18), done  # measured: 18 and 21 of 24
    assert {"duplicate", "held"} <= exercised  # duplicates and reordered copies of IKE messages were delivered


def test_link_loss_setting_reaches_the_links(root):
    """`--set link.loss=0.3` from the CLI: the ladder shows packets lost on the lab's links."""
    _, _, _, text = cli_run(root, "client-behind-nat", "link.loss=0.3")
    assert "lost on segment 'client-lan' (delay 1 ms, loss 30%)" in text
    assert "lost on segment 'internet' (delay 1 ms, loss 30%)" in text
