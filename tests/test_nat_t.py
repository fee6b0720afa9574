"""NAT-T Vendor IDs and version choice (RFC 3947 §3.1; draft VIDs as listed by implementations)."""
from __future__ import annotations

import pytest

from natt_core.ike.nat_t import NattVersion, best_common, version_of_vid, versions_for, vid_name
from natt_core.errors import ConfigError
from natt_core.wire.numbers import EncapsulationMode, PayloadType

# RFC 3947 §3.1 prints the RFC value; the draft values are the ones in Wireshark's packet-isakmp.c
# VID table and libreswan's vendor.c (also recomputed in the project's protocol-facts sheet).
PUBLISHED = {
    NattVersion.RFC3947: "4a131c81070358455c5728f20e95452f",
    NattVersion.DRAFT_02: "cd60464335df21f87cfdb2fc68b6a448",
    NattVersion.DRAFT_02N: "90cb80913ebb696e086381b5ec427b1f",
    NattVersion.DRAFT_03: "7d9419a65310ca6f2c179d9215529d56",
}


@pytest.mark.parametrize("version", list(PUBLISHED))
def test_vendor_ids_are_the_published_md5s(version):
    assert version.vid.hex() == PUBLISHED[version]
    assert version_of_vid(version.vid) is version


def test_scapy_names_the_rfc_and_windows_draft_vids():
    from scapy.layers.isakmp import ISAKMP_VENDOR_IDS  # an independent table
    names = {bytes(k) if isinstance(k, bytes) else k: v for k, v in ISAKMP_VENDOR_IDS.items()}
    assert any("3947" in str(v) for k, v in names.items() if k == NattVersion.RFC3947.vid)
    assert any("nat-t-ike-02" in str(v) for k, v in names.items() if k == NattVersion.DRAFT_02N.vid)


def test_best_common_version_and_what_it_decides():
    rfc, draft = versions_for("rfc3947"), versions_for("draft-02")
    assert best_common(rfc, rfc) is NattVersion.RFC3947
    assert best_common(rfc, draft) is NattVersion.DRAFT_02N      # Windows-style RFC peer meets a draft peer
    assert best_common(draft, draft) is NattVersion.DRAFT_02
    assert best_common(rfc, versions_for("none")) is None
    assert (NattVersion.RFC3947.natd_type, NattVersion.RFC3947.natoa_type) == (PayloadType.NAT_D, PayloadType.NAT_OA)
    assert (NattVersion.DRAFT_02.natd_type, NattVersion.DRAFT_02.natoa_type) == (130, 131)
    assert NattVersion.RFC3947.encapsulation(tunnel=False) == EncapsulationMode.UDP_TRANSPORT == 4
    assert NattVersion.DRAFT_02N.encapsulation(tunnel=True) == EncapsulationMode.UDP_TUNNEL_DRAFT == 61443


def test_names_and_errors():
    assert vid_name(NattVersion.RFC3947.vid) == "NAT-T rfc3947"
    assert vid_name(bytes.fromhex("afcad71368a1f1c96b8696fc77570100")) == "DPD (RFC 3706)"
    with pytest.raises(ConfigError, match="rfc3947"):
        versions_for("rfc9999")


@pytest.mark.parametrize("wire, name", [
    # as they appear on the wire in public captures (Wireshark's packet-isakmp.c VID table lists the same)
    ("09002689dfd6b712", "XAuth"),                                   # 8 bytes only
    ("12f5f28c457168a9702d9fe274cc0100", "Cisco Unity"),            # version 1.0 in the last two bytes
    ("1e2b516905991c7d7c96fcbfb587e46100000004", "MS NT5 ISAKMPOAKLEY v4"),   # XP SP2/2003: version 4
    ("882fe56d6fd20dbc2251613b2ebe5beb", "strongSwan"),
    ("4a131c81070358455c5728f20e95452f", "NAT-T rfc3947"),
])
def test_other_vendor_ids_are_named_by_their_md5_prefix(wire, name):
    assert vid_name(bytes.fromhex(wire)) == name
