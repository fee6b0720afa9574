"""Diagnosing captures: the reader against independent writers (scapy), broken files, and the
stories the lab's own captures must tell — read back from pcap bytes, without keys.

Captures from the lab are the test bench because their truth is known from the engine's report;
the reader is checked against scapy's Ethernet pcap and pcapng writers, which it shares no code with.
"""
from __future__ import annotations

import functools
import random

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from natt_core.analysis import diagnose
from natt_core.capture_read import read_capture
from natt_core.errors import DecodeError
from natt_core.lab.export import capture_files
from natt_core.pcap import pcap_bytes, pcapng_bytes
from natt_core.reasons import Reason

from .conftest import run_preset


@functools.lru_cache(maxsize=None)
def captures(name: str, *settings: str) -> dict[str, bytes]:
    trace = run_preset(name, *settings)
    return {segment: pcap_bytes(records) for segment, records in capture_files(trace).items()}


def headline(name: str, segment: str, *settings: str):
    return diagnose(captures(name, *settings)[segment]).headline


# ------------------------------------------------------------------------------------ the reader

def test_scapy_written_ethernet_pcap_and_pcapng_read_back_packet_for_packet(tmp_path):
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    from scapy.utils import PcapNgWriter, wrpcap
    packets = [p for _, p in capture_files(run_preset("client-behind-nat"))["internet"]]
    frames = [Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02") / IP(p) for p in packets]
    wrpcap(str(tmp_path / "eth.pcap"), frames)
    with PcapNgWriter(str(tmp_path / "eth.pcapng")) as w:
        for f in frames:
            w.write(f)
    for name in ("eth.pcap", "eth.pcapng"):
        cap = read_capture((tmp_path / name).read_bytes())
        # the 1-byte keepalive is padded to Ethernet's 60-byte minimum; the reader cuts at IP total length
        assert [c.packet for c in cap.packets] == packets, name
        assert cap.skipped == 0


def test_our_pcapng_keeps_interface_names_and_order():
    files = capture_files(run_preset("client-behind-nat"))
    data = pcapng_bytes([(seg, [(t, p, None) for t, p in recs]) for seg, recs in files.items()])
    cap = read_capture(data)
    assert cap.format == "pcapng"
    assert {c.interface for c in cap.packets} == set(files)
    assert sum(len(r) for r in files.values()) == len(cap.packets)


@pytest.mark.parametrize("data, words", [
    (b"", "too short"), (b"GIF89a" + bytes(40), "not a pcap or pcapng file"),
    (bytes.fromhex("d4c3b2a1 0200 0400") + bytes(8) + (65535).to_bytes(4, "little") + (147).to_bytes(4, "little")
     + bytes(8) + (20).to_bytes(4, "little") * 2 + bytes(20), "link type 147 is not supported"),
    (bytes.fromhex("d4c3b2a1 0200 0400") + bytes(8) + (65535).to_bytes(4, "little") + (101).to_bytes(4, "little")
     + bytes(8) + (400).to_bytes(4, "little") * 2 + bytes(20), "runs past the end of the file"),
])
def test_what_is_not_a_capture_is_refused_with_a_reason(data, words):
    with pytest.raises(DecodeError) as e:
        read_capture(data)
    assert words in str(e.value) and e.value.layer == "capture"


def test_every_truncation_of_a_capture_is_a_decode_error_or_a_shorter_capture():
    data = captures("client-behind-nat")["internet"]
    whole = len(read_capture(data).packets)
    for cut in range(0, len(data), 7):
        try:
            cap = read_capture(data[:cut])
        except DecodeError:
            continue
        assert len(cap.packets) < whole


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_captures_raise_decode_error_or_diagnose(data):
    original = bytearray(captures("client-behind-nat")["internet"])
    for _ in range(data.draw(st.integers(1, 8))):
        original[data.draw(st.integers(0, len(original) - 1))] = data.draw(st.integers(0, 255))
    try:
        d = diagnose(bytes(original))
    except DecodeError:
        return
    assert d.headline.title


# ------------------------------------------------------------------------------------ the stories

@pytest.mark.parametrize("segment", ["client-lan", "internet"])
def test_a_healthy_client_behind_nat_is_healthy_on_both_sides(segment):
    d = diagnose(captures("client-behind-nat")[segment])
    assert d.headline.severity == "ok", d.headline
    titles = [f.title for f in d.findings]
    assert "Both speak NAT-T: RFC 3947" in titles and "Floated to UDP 4500 at MM5" in titles
    assert "The initiator is behind a NAT" in titles
    (ex,) = d.exchanges
    assert ex.nat.initiator_behind_nat and not ex.nat.responder_behind_nat
    assert ex.nat.where == {"client-lan": "inside the initiator's NAT", "internet": "outside the initiator's NAT"}[segment]
    assert [m[2] for m in ex.messages] == ["MM1", "MM2", "MM3", "MM4", "MM5", "MM6", "QM1", "QM2", "QM3"]


def test_no_nat_is_seen_as_no_nat():
    (ex,) = diagnose(captures("no-nat")["internet"]).exchanges
    assert ex.nat.initiator_behind_nat is False and ex.nat.responder_behind_nat is False


@pytest.mark.parametrize("segment, where", [("internet", "outside"), ("server-lan", "inside")])
def test_the_windows_client_stopping_after_mm4_is_named_with_error_809(segment, where):
    d = diagnose(captures("server-behind-nat")[segment])
    assert d.headline.title == "The initiator stopped after MM4"
    assert "AssumeUDPEncapsulationContextOnSendRule" in d.headline.detail and "809" in d.headline.detail
    assert d.exchanges[0].nat.where == f"{where} the responder's NAT"


def test_with_rule_2_the_same_topology_is_healthy():
    assert headline("server-behind-nat", "internet", "client.assume_udp_rule=2").severity == "ok"


def test_a_wrong_psk_is_named():
    h = headline("client-behind-nat", "internet", "client.psk=not-the-same")
    assert h.title == "The pre-shared keys differ" and "AUTHENTICATION-FAILED" in h.detail


def test_a_dh_group_mismatch_lists_what_was_offered():
    h = headline("dh-group-mismatch", "internet", "client.dh_groups=14")
    assert "NO-PROPOSAL-CHOSEN" in h.title and "group 14" in h.detail and "group 2" not in h.detail


def test_legacy_peers_behind_nat_show_esp_that_never_gets_an_answer():
    d = diagnose(captures("legacy-behind-nat")["internet"])
    assert d.headline.title.startswith("One-way ESP (protocol 50)")
    assert any(f.title == "No NAT-T Vendor IDs at all" for f in d.findings)


def test_ah_behind_nat_is_named():
    h = headline("ah-behind-nat", "internet")
    assert h.title == "AH one way: 192.168.1.30 → 192.168.1.10, nothing back" and "NAT-T cannot help AH" in h.detail
    assert h.reason is Reason.AH_ONE_WAY


def test_an_expiring_mapping_shows_as_keepalives_from_new_ports_outside_the_nat():
    outside = headline("keepalive-vs-timeout", "internet")
    assert outside.title.startswith("The keepalives left from") and "different source ports" in outside.title
    assert headline("keepalive-vs-timeout", "internet", "client.keepalive_interval=20").severity == "ok"


def test_a_capture_without_ipsec_says_so():
    rng = random.Random(3)
    from natt_core.addressing import Datagram, Endpoint
    from natt_core.wire.ip import encode_datagram
    packets = [encode_datagram(Datagram(Endpoint("192.168.11.20", 5353), Endpoint("192.168.11.255", 53), 17,
                                        rng.randbytes(30))) for _ in range(3)]
    d = diagnose(pcap_bytes([(i, p) for i, p in enumerate(packets)]))
    assert d.headline.title == "No IKE or ESP in this capture"


# ------------------------------------------------------------------------------------ the command line

def test_the_cli_diagnoses_a_file_and_refuses_a_broken_one(tmp_path, capsys):
    from natt_core.cli import main
    good, bad = tmp_path / "vpn.pcap", tmp_path / "bad.pcap"
    good.write_bytes(captures("server-behind-nat")["internet"])
    bad.write_bytes(b"\x0a\x0d\x0d\x0a" + bytes(40))
    assert main(["diagnose", str(good)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("FAIL The initiator stopped after MM4") and "error 809" in out
    assert main(["diagnose", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


# ------------------------------------------------------------------------------------ real strongSwan recordings

RECORDED = __import__("pathlib").Path(__file__).resolve().parents[1] / "assets" / "captures"


@pytest.mark.parametrize("side", ["client-side", "server-side"])
def test_recorded_strongswan_exchanges_are_healthy_and_show_the_fake_nat_d(side):
    """Recorded by the live lab (tcpdump around a Linux MASQUERADE NAT, charon with kernel-libipsec)."""
    for stem in ("strongswan-responder", "strongswan-initiator"):
        d = diagnose((RECORDED / f"{stem}.{side}.pcap").read_bytes())
        assert d.headline.severity == "ok", (stem, d.headline)
        (ex,) = d.exchanges
        assert ex.nat.initiator_behind_nat                       # the real NAT in front of the client
        assert ex.nat.responder_behind_nat == (stem == "strongswan-responder")   # charon's faked NAT-D
        assert ex.nat.where.startswith("inside" if side == "client-side" else "outside")


def test_a_recorded_psk_mismatch_with_strongswan_is_named():
    h = diagnose((RECORDED / "strongswan-wrong-psk.server-side.pcap").read_bytes()).headline
    assert h.title == "The pre-shared keys differ" and "encrypted notification" in h.detail


def test_without_nat_esp_as_protocol_50_is_pointed_out_for_the_firewall():
    d = diagnose(captures("no-nat")["internet"])
    assert d.headline.severity == "ok"
    assert any(f.title == "ESP travels as IP protocol 50" and "protocol 50" in f.detail for f in d.findings)


# ------------------------------------------------------------------------------------ both sides of a NAT

def both_sides(name: str, a: str = "client-lan", b: str = "internet", *settings: str):
    from natt_core.analysis.compare import compare
    caps = captures(name, *settings)
    return compare(read_capture(caps[a]), read_capture(caps[b]))


def test_the_nat_mappings_are_read_from_two_captures_and_match_the_lab_nat_table():
    trace = run_preset("multi-client")
    c = both_sides("multi-client")
    assert not c.only_a and not c.only_b
    seen = {(str(t.a), str(t.b)) for t in c.translations}
    table = {(r["inside"], r["outside"]) for r in trace.report["nats"]["nat"]["mappings"]}
    assert seen == table                     # the NAT's own table, recovered from the wire alone
    assert len({t.b.port for t in c.translations}) == 4   # distinct public ports for 2 clients x (500, 4500)


def test_a_static_port_500_helper_shows_as_kept_port_and_a_dropped_second_client():
    c = both_sides("multi-client-helper")
    (kept,) = [t for t in c.translations if t.kept_port_500]
    assert str(kept.a) == "192.168.11.20:500" and str(kept.b) == "192.168.1.30:500"
    assert c.only_a and {str(s.src) for s in c.only_a} == {"192.168.11.21:500"}
    assert not c.only_b


def test_pairs_name_exactly_the_header_fields_that_changed():
    c = both_sides("client-behind-nat")
    first = c.pairs[0]
    assert first.changes == ("source 192.168.11.20:500 → 192.168.1.30:54564",)
    assert all(p.payload_len > 0 for p in c.pairs)


def test_the_cli_compares_both_sides_of_a_nat(tmp_path, capsys):
    from natt_core.cli import main
    caps = captures("multi-client-helper")
    (tmp_path / "in.pcap").write_bytes(caps["client-lan"])
    (tmp_path / "out.pcap").write_bytes(caps["internet"])
    assert main(["diagnose", str(tmp_path / "in.pcap"), str(tmp_path / "out.pcap")]) == 0
    out = capsys.readouterr().out
    assert "192.168.11.20:500 <-> 192.168.1.30:500" in out and "(port 500 kept)" in out
    assert out.count("only on A: ") == 10 and "MM1 192.168.11.21:500" in out


def test_ip_fragments_are_flagged_and_reassembled():
    """scapy (an independent tool) fragments a 3000-byte ESP packet; the diagnosis names the
    fragments and reads the reassembled datagram in the frame of its last piece, as Wireshark does."""
    from scapy.layers.inet import IP, fragment
    big = IP(src="192.168.11.20", dst="192.168.1.10", proto=50) / (bytes.fromhex("c0ffee01 00000001") + b"\x00" * 3000)
    packets = [bytes(p) for p in fragment(big, fragsize=1400)]
    assert len(packets) == 3
    d = diagnose(pcap_bytes([(i * 0.001, p) for i, p in enumerate(packets)]))
    (frag,) = [f for f in d.findings if "IP fragment" in f.title]
    assert frag.title.startswith("3 IP fragment") and frag.packets == (1, 2, 3) and frag.reason is Reason.IP_FRAGMENTS
    assert not d.observations.undecodable and d.observations.reassembled == 1
    (flow,) = d.observations.esp.values()
    assert flow.spi == 0xC0FFEE01 and flow.indexes == [3]
