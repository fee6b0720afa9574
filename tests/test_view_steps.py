"""natt_view: steps from a trace, the diff lens, field layout, hex, diagrams and the workbench.

Everything is checked against the trace's own bytes (e.g. the diff lens must name exactly the
fields whose bytes differ), and the NAT-D workbench against an independent hashlib SHA-1.
"""
from __future__ import annotations

import hashlib
import ipaddress
import shutil
import xml.etree.ElementTree as ET

import pytest

from natt_core.errors import ConfigError
from natt_core.lab.presets import preset
from natt_core.lab.scenario import run
from natt_view.diagrams import sequence_svg, topology_dot
from natt_view.packet import diff_lens_text, field_diff, hex_html, packet_layout_html
from natt_view.steps import fields_of, journey_changes, journeys
from natt_view.tables import ipsec_rows, isakmp_rows, nat_rows
from natt_view.workbench import demux_rows, keepalive_senders, natd_cases, natd_check, translation_sentence, vid_rows

from .conftest import run_preset


trace = run_preset   # the shared memoised runner (tests/conftest.py)


def test_every_hop_belongs_to_exactly_one_journey():
    for name in ("client-behind-nat", "double-nat", "keepalive-vs-timeout", "multi-client-helper"):
        t = trace(name)
        steps = journeys(t)
        hops = [h.step for j in steps for h in j.hops]
        assert sorted(hops) == [h.step for h in t.hops]
        for j in steps:
            for a, b in zip(j.hops, j.hops[1:]):
                assert b.before == a.packet          # the chain is the NAT's own record
        assert [j.index for j in steps] == list(range(1, len(steps) + 1))


def test_events_follow_their_packet():
    steps = journeys(trace("client-behind-nat"))
    by_label = {j.label: j for j in steps}
    assert any(e.event == "NatDetected" and e.peer == "server" for e in by_label["MM3"].events)
    assert any(e.event == "Floated" and e.peer == "client" for e in by_label["MM4"].events)
    esp = [j for j in steps if j.label == "ESP-in-UDP"][0]
    # the SCCRQ: sent, decrypted, then the L2TP state each end reached (RFC 2661 §7.2)
    assert [e.event for e in esp.events] == ["DataSent", "DataReceived", "L2tpState"]


def test_double_nat_journey_crosses_three_segments_and_two_nats():
    j = journeys(trace("double-nat"))[0]
    assert [h.segment for h in j.hops] == ["client-lan", "carrier", "internet"]
    text = diff_lens_text(j.hops, fields_of(trace("double-nat"), j.first.packet))
    assert text.startswith("nat rewrote") and "cgnat rewrote" in text


def test_diff_lens_names_exactly_the_changed_bytes():
    t = trace("client-behind-nat")
    j = journeys(t)[0]                                   # MM1 through the NAPT
    changed = journey_changes(j)
    # RFC 791/768 offsets a NAPT may rewrite: IP checksum 10-11, source 12-15, source port 20-21, UDP
    # checksum 26-27; 192.168.11.20 -> 192.168.1.30 changes the last two address bytes for certain
    assert {14, 15} <= changed <= {10, 11, 12, 13, 14, 15, 20, 21, 26, 27}
    assert {20, 21} & changed and {10, 11} & changed and {26, 27} & changed
    fields = fields_of(t, j.first.packet)
    touched = {f.name for f in fields if any(i in changed for i in range(f.offset, f.end))}
    assert touched == {"source address", "source port", "header checksum", "checksum"}
    text = diff_lens_text(j.hops, fields)
    src_in, src_out = j.first.packet[12:16], j.last.packet[12:16]
    assert f"source address {ipaddress.IPv4Address(src_in)} → {ipaddress.IPv4Address(src_out)}" in text
    assert f"source port 500 → {int.from_bytes(j.last.packet[20:22], 'big')}" in text
    assert "IKE payload untouched" in text
    rows = field_diff(fields, fields_of(t, j.last.packet))
    assert {r["field"] for r in rows} == touched


def test_static_nat_keeps_the_port():
    t = trace("client-behind-nat", "nat.kind=static")
    text = diff_lens_text(journeys(t)[0].hops, fields_of(t, journeys(t)[0].first.packet))
    assert "source address" in text and "source port" not in text


def test_dropped_packet_is_said():
    steps = journeys(trace("keepalive-vs-timeout"))
    dropped = [j for j in steps if j.dropped]
    assert dropped and "DROPPED" in diff_lens_text(dropped[0].hops)


def test_layout_and_hex_mark_translated_and_protected():
    t = trace("client-behind-nat")
    esp = [j for j in journeys(t) if j.label == "ESP-in-UDP"][0]
    fields = fields_of(t, esp.first.packet)
    assert [f.name for f in fields if f.layer == "ESP"] == [
        "SPI", "sequence number", "IV", "ciphertext (payload + padding + pad length + next header)", "ICV"]
    changed = journey_changes(esp)
    layout = packet_layout_html(fields, changed)
    assert layout.count('class="natt-t"') >= 2 and "natt-p" in layout and "source address" in layout
    dump = hex_html(esp.first.packet, fields, changed)
    assert len(hex_bytes(dump, "natt-t")) == len(changed)
    protected = sum(f.length for f in fields if f.protected)
    assert len(hex_bytes(dump, "natt-p")) == protected
    assert "".join(hex_bytes(dump)) == esp.first.packet.hex()             # every byte once, in order


def hex_bytes(dump: str, mark: str = "") -> list[str]:
    """The bytes shown in a hex dump, only those in groups of class `mark` when given."""
    import re
    groups = re.findall(r'<b(?: class="([^"]*)")?[^>]*>([0-9a-f ]+)</b>', dump)
    return [x for cls, text in groups if not mark or mark in cls.split() for x in text.split()]


def test_sequence_svg_is_wellformed_and_highlights_the_step():
    t = trace("client-behind-nat")
    steps = journeys(t)
    svg = sequence_svg(t, steps, 5)
    root = ET.fromstring(svg)
    texts = [e.text for e in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"client", "nat", "server", "MM5"} <= set(texts)
    assert "#e65100" in svg                              # current row colour


def test_topology_dot_highlights_the_path():
    t = trace("double-nat")
    dot = topology_dot(t, journeys(t)[0])
    assert '"client" -- "nat"' in dot and '"nat" -- "cgnat"' in dot and '"cgnat" -- "server"' in dot
    assert dot.count("penwidth=5") == 3
    if shutil.which("dot"):
        import graphviz
        import html
        svg = html.unescape(graphviz.Source(dot).pipe(format="svg").decode())   # dot writes "-" as &#45;
        assert "carrier" in svg and "(1) client-lan" in svg


def test_tables_at_a_step():
    t = trace("client-behind-nat")
    steps = {j.label: j for j in journeys(t)}
    assert nat_rows(t, "nat", steps["MM1"].last_step)[0]["inside"] == "192.168.11.20:500"
    client = isakmp_rows(t, "client", steps["MM6"].last_step)[0]
    server = isakmp_rows(t, "server", steps["MM6"].last_step)[0]
    assert client["remote"] == "192.168.1.10:4500" and server["remote"].startswith("192.168.1.30:")
    assert client["behind NAT"] == "this side" and server["behind NAT"] == "peer"
    ipsec = ipsec_rows(t, "client", steps["ESP-in-UDP"].last_step)[0]
    assert ipsec["encapsulation"] == 4 and ipsec["mode"] == "udp-transport"


def _sha1_natd(c, ip: str, port: int) -> bytes:
    """Independent NAT-D hash: hashlib, not natt_core (RFC 3947 §3.2)."""
    return hashlib.sha1(c.icookie + c.rcookie + ipaddress.IPv4Address(ip).packed + port.to_bytes(2, "big")).digest()


def test_natd_workbench_against_hashlib_and_edits_flip_the_verdict():
    t = trace("client-behind-nat")
    mm3 = natd_cases(t)[0]
    assert mm3.label == "MM3" and mm3.hash_name == "sha1"
    assert mm3.received[0] == _sha1_natd(mm3, *mm3.sent_dst)       # what the client hashed
    assert mm3.received[1] == _sha1_natd(mm3, *mm3.sent_src)
    v = natd_check(mm3, mm3.seen_src, mm3.seen_dst)
    assert v.peer_behind_nat and not v.self_behind_nat
    # the student puts back what the client really sent: the verdict flips to "no NAT"
    v = natd_check(mm3, mm3.sent_src, mm3.seen_dst)
    assert not v.peer_behind_nat
    # address restored but the NAT's port kept: still detected, because the port is hashed too
    v = natd_check(mm3, (mm3.sent_src[0], mm3.seen_src[1]), mm3.seen_dst)
    assert v.peer_behind_nat
    assert "address **and** port" in translation_sentence(mm3)
    with pytest.raises(ConfigError):
        natd_check(mm3, ("300.1.1.1", 500), mm3.seen_dst)


def test_demux_and_keepalives():
    t = trace("client-behind-nat")
    rows = demux_rows(t)
    verdicts = {r["packet"]: r["verdict"] for r in rows}
    assert verdicts["MM5"] == "IKE" and verdicts["ESP-in-UDP"] == "ESP" and verdicts["keepalive"] == "NAT-keepalive"
    assert keepalive_senders(t) == {"client": 2}
    assert demux_rows(trace("no-nat")) == []


def test_vid_rows_recompute_md5_and_read_the_announcements():
    rows = {r["version"]: r for r in vid_rows(trace("client-behind-nat"))}
    assert rows["rfc3947"]["MD5 = Vendor ID"] == "4a131c81070358455c5728f20e95452f"   # printed in RFC 3947 §3.1
    assert rows["rfc3947"]["announced by"] == "client, server"
    assert rows["draft-02n"]["announced by"] == "client"
    assert rows["draft-02"]["NAT-D / NAT-OA payload"] == "130 / 131"


def test_decrypted_views_agree_with_the_engine():
    from natt_view.decrypt import open_step
    t = trace("client-behind-nat")
    by_label = {}
    for j in journeys(t):
        by_label.setdefault(j.label, []).append(j)
    mm5 = open_step(t, by_label["MM5"][0])
    ident = [f.value for f in mm5.fields if f.name == "identification data"]
    assert ident == ["192.168.11.20"]            # the private address: a NAT cannot rewrite the ID
    qm2 = open_step(t, by_label["QM2"][0])
    assert "4 (UDP_TRANSPORT)" in [f.value for f in qm2.fields if f.name == "encapsulation mode"]
    assert [f.value for f in qm2.fields if f.name == "original address"] == ["192.168.1.30", "192.168.1.10"]
    esp = by_label["ESP-in-UDP"][0]
    opened = open_step(t, esp)
    sent = [f.value for f in opened.fields if f.name.startswith("inner checksum")][0]
    received = [e for e in esp.events if e.event == "DataReceived"][0].fields["checksum_fixup"]
    assert f"inner UDP checksum {sent} fixed up" in received     # the same bytes the engine decrypted
    assert open_step(t, by_label["MM1"][0]) is None            # nothing to open in cleartext
    draft = trace("client-behind-nat-draft02")
    qm1 = open_step(draft, [j for j in journeys(draft) if j.label == "QM1"][0])
    assert "61444 (UDP_TRANSPORT_DRAFT)" in [f.value for f in qm1.fields if f.name == "encapsulation mode"]
    assert any(f.layer == "NAT-OA (draft) payload" for f in qm1.fields)


def test_sequence_rows_link_to_their_steps():
    t = trace("client-behind-nat")
    steps = journeys(t)
    plain = sequence_svg(t, steps, 3)
    assert "<a " not in plain and "data-step" not in plain
    svg = sequence_svg(t, steps, 3, window=8, link=lambda n: f"?step={n}&nat=static")
    root = ET.fromstring(svg)                                             # still well-formed XML
    rows = list(root.iter("{http://www.w3.org/2000/svg}a"))
    shown = [int(a.get("data-step")) for a in rows]
    assert shown == list(range(1, 9))                                     # one link per drawn row, in order
    for a in rows:
        n = a.get("data-step")
        assert a.get("href") == f"?step={n}&nat=static" and a.get("target") == "_self"
        labels = [e.text for e in a.iter("{http://www.w3.org/2000/svg}text")]
        assert steps[int(n) - 1].label in labels                          # the row's own label is inside its link
        assert any(r.get("class") == "hit" for r in a.iter("{http://www.w3.org/2000/svg}rect"))


def test_hex_bytes_and_layout_cells_share_their_field_number():
    import re
    from natt_view.packet import link_css, packet_views_html
    t = trace("client-behind-nat")
    j = [j for j in journeys(t) if j.label == "MM3"][0]
    packet = j.first.packet
    fields = fields_of(t, packet)
    dump = hex_html(packet, fields)
    byte_fields = [int(n) for n, text in re.findall(r'data-f="(\d+)"[^>]*>([0-9a-f ]+)</b>', dump)
                   for _ in text.split()]
    assert len(byte_fields) == sum(f.length for f in fields) <= len(packet)
    owner = {i: n for n, f in enumerate(fields) for i in range(f.offset, f.end)}
    assert byte_fields == [owner[i] for i in sorted(owner)]               # byte i carries the field that covers it
    layout = packet_layout_html(fields)
    cells = {int(m) for m in re.findall(r'data-f="(\d+)"', layout)}
    assert cells == set(range(len(fields)))                              # every field has a cell to light up
    css = link_css(len(fields))
    assert css.count(":hover)") == css.count(":focus)") == len(fields) and link_css(0) == ""
    both = packet_views_html(packet, fields)
    assert both.index("natt-rfc") < both.index("natt-hex") and 'class="natt-pk"' in both


@pytest.mark.parametrize("name, behind", [("client-behind-nat", "client"), ("no-nat", None),
                                          ("server-behind-nat", "server")])
def test_the_verify_it_yourself_snippet_recomputes_the_nat_d_hashes_in_a_separate_python(name, behind):
    """The lesson's terminal snippet, run as shown (bash + python3 + hashlib): the hashes 'as sent'
    always match the payloads the engine put on the wire; 'as received' differs exactly where a NAT
    rewrote that address."""
    import subprocess
    from natt_core.lab.presets import preset
    from natt_core.lab.scenario import run
    from natt_view.workbench import natd_cases, verify_snippet
    cases = natd_cases(run(preset(name)))
    assert {c.label for c in cases} == {"MM3", "MM4"}
    for case in cases:
        out = subprocess.run(["bash", "-c", verify_snippet(case)], capture_output=True, text=True, check=True).stdout
        lines = dict((l[:24].strip(), l.split()[-1]) for l in out.splitlines())
        assert lines["destination as sent"] == lines["source as sent"] == "matches", out
        rewritten = {"MM3": {"client": "source", "server": "destination"},
                     "MM4": {"client": "destination", "server": "source"}}[case.label].get(behind)
        for side in ("source", "destination"):
            assert lines[f"{side} as received"] == ("DIFFERS" if side == rewritten else "matches"), (case.label, out)
