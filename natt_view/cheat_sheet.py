"""NAT-T on one page: the numbers, bytes and rules of RFC 3947/3948 as a printable A4 cheat sheet.

Every value is read from the engine's own constants (payload types, encapsulation modes, ports,
the non-ESP marker and keepalive bytes) and the Vendor IDs are hashed when the sheet is drawn,
so the sheet cannot disagree with what the lab puts on the wire.
"""
from __future__ import annotations

from html import escape

from natt_core.ike.nat_t import NattVersion, vendor_id
from natt_core.ike.policy import PeerPolicy
from natt_core.wire.ikev2_numbers import NotifyType as Notify2
from natt_core.wire.numbers import EncapsulationMode, IpsecAttr, PayloadType, Port
from natt_core.wire.udp_encap import KEEPALIVE, NON_ESP_MARKER

from .theme import TRANSLATED
from .windows import reg_add

#: the Windows fix for a server behind NAT (KB 926179, KB 947234): 2 allows NAT on both sides
REG_ADD = reg_add(2)


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def _row(*cells, raw: bool = False, wrap: bool = False) -> str:
    """A table row; its cells do not wrap unless asked (short values read better on one line)."""
    cls = "" if wrap else ' class="nw"'
    return "<tr>" + "".join(f"<td{cls}>{c if raw else escape(str(c))}</td>" for c in cells) + "</tr>"


def cheat_sheet_fragment() -> str:
    """The cheat sheet's content with its own (scoped) style, for st.html or the printable page."""
    pt = PayloadType
    vids = "".join(_row(v.value, f"<code>{escape(repr(v.vid_text.decode()))}</code>",
                        f"<code>{vendor_id(v.vid_text).hex()}</code>", f"{int(v.natd_type)} / {int(v.natoa_type)}",
                        f"{int(v.encapsulation(True))} / {int(v.encapsulation(False))}", raw=True)
                   for v in NattVersion)
    modes = "".join(_row(f"{int(m)}" + (f" (0x{int(m):04X})" if m > 255 else ""), m.rfc_name,
                         "RFC 2407" if m < 3 else ("RFC 3947" if m < 256 else "drafts"))
                    for m in EncapsulationMode)
    types = "".join(_row(int(t), t.name.replace("_", "-").replace("-DRAFT", " (draft)"), where) for t, where in (
        (pt.VENDOR_ID, "MM1/MM2, RFC 2408 §3.16"), (pt.NAT_D, "MM3/MM4, RFC 3947 §3.2"),
        (pt.NAT_OA, "QM1/QM2, RFC 3947 §5.2"), (pt.NAT_D_DRAFT, "drafts 01–03 (draft-02/03 VID)"),
        (pt.NAT_OA_DRAFT, "drafts 01–03 (draft-02/03 VID)")))
    keepalive_every = PeerPolicy().keepalive_interval
    return f"""
<style>
.natt-cs {{ color:#1a1a1a; line-height:1.3; }}
.natt-cs h1 {{ font-size:1.45em; margin:0 0 .1em 0; }}
.natt-cs .sub {{ color:#455a64; margin:0 0 .4em 0; font-size:.95em; }}
.natt-cs .cols {{ display:grid; grid-template-columns:minmax(0,1fr) minmax(0,1fr); gap:.5em 1.1em; }}
.natt-cs .box {{ border:1.2px solid #37474f; border-radius:4px; padding:.25em .5em .35em .5em; break-inside:avoid; }}
.natt-cs .wide {{ grid-column:1 / -1; }}
.natt-cs h2 {{ font-size:1.02em; margin:.1em 0 .25em 0; border-bottom:1px solid #90a4ae; }}
.natt-cs table {{ border-collapse:collapse; width:100%; }}
.natt-cs td, .natt-cs th {{ border:1px solid #b0bec5; padding:1px 4px; text-align:left; vertical-align:top; }}
.natt-cs th {{ background:#eceff1; }}
.natt-cs td.nw {{ white-space:nowrap; }}
.natt-cs code {{ font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:.92em; }}
.natt-cs ul, .natt-cs ol {{ margin:.1em 0; padding-left:1.3em; }}
.natt-cs p {{ margin:.15em 0; }}
.natt-cs .formula {{ font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-weight:700;
  background:#fff8e1; border-left:4px solid {TRANSLATED}; padding:.15em .4em; margin:.2em 0; }}
.natt-cs .pk {{ font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; white-space:pre; font-size:.9em;
  background:#f5f5f5; padding:.2em .4em; margin:.2em 0; }}
.natt-cs .reg {{ font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:.86em;
  background:#263238; color:#fff; padding:.25em .45em; word-break:break-all; border-radius:3px; }}
</style>
<div class="natt-cs">
<h1>NAT-T on one page</h1>
<p class="sub">IKEv1 NAT-Traversal (RFC 3947) and UDP encapsulation of ESP (RFC 3948). Every number is read from
the engine's constants; the Vendor IDs are MD5s computed as this page was drawn.</p>
<div class="cols">
<div class="box"><h2>The exchange, in five moves</h2><ol>
<li><b>MM1/MM2</b>: both announce NAT-T Vendor IDs (RFC 3947 §3.1). No common version: no NAT-T.</li>
<li><b>MM3/MM4</b>: two NAT-D payloads each, type {int(pt.NAT_D)} (drafts {int(pt.NAT_D_DRAFT)}) (§3.2).</li>
<li><b>MM5</b>: NAT found → the initiator floats to UDP {int(Port.NAT_T)}/{int(Port.NAT_T)};
IKE now starts with the non-ESP marker (§4).</li>
<li><b>QM1/QM2</b>: encapsulation mode UDP-Encapsulated-Tunnel/-Transport; NAT-OA (type {int(pt.NAT_OA)},
drafts {int(pt.NAT_OA_DRAFT)}) in transport mode (§5).</li>
<li><b>Data</b>: ESP inside UDP {int(Port.NAT_T)}, UDP checksum 0 (RFC 3948 §2.1); keepalives hold the
NAT mapping open (§4).</li></ol></div>
<div class="box"><h2>Ports and what arrives on {int(Port.NAT_T)}</h2>
<p>UDP <b>{int(Port.IKE)}</b> IKE (NAT detection happens here) · UDP <b>{int(Port.NAT_T)}</b> IKE after the
float, ESP-in-UDP, keepalives.</p>
<table><tr><th>UDP payload</th><th>means</th><th>RFC 3948</th></tr>
<tr><td class="nw">exactly 1 byte <code>{_hex(KEEPALIVE)}</code></td><td>NAT-keepalive, ignored</td><td>§2.3</td></tr>
<tr><td class="nw">starts <code>{_hex(NON_ESP_MARKER)}</code></td><td>non-ESP marker: IKE follows</td><td>§2.2</td></tr>
<tr><td>anything else</td><td>ESP; first 4 bytes = SPI (never 0)</td><td>§2.1</td></tr></table>
<div class="pk">[IP proto 17][UDP 8][SPI|seq|IV|ciphertext|ICV]
[IP][UDP {int(Port.NAT_T)}][{_hex(NON_ESP_MARKER)}][ISAKMP …]
[IP][UDP {int(Port.NAT_T)}][{_hex(KEEPALIVE)}]</div></div>
<div class="box"><h2>NAT-D (RFC 3947 §3.2)</h2>
<div class="formula">HASH = H(CKY-I | CKY-R | IP | port)</div>
<p>H = the phase-1 hash, plain (not the prf). Cookies in this order both ways; IP 4 bytes, port 2, network
order.</p><ul>
<li><b>1st NAT-D</b>: the destination as the sender addressed it. Mismatch at the receiver → <b>I am behind a
NAT</b> (so I send keepalives).</li>
<li><b>2nd+ NAT-D</b>: the sender's own address(es). None matches the received source → <b>the peer is
behind a NAT</b>.</li>
<li>The port is hashed too: a NAT that only changes ports is caught. Not authenticated (§8).</li></ul></div>
<div class="box"><h2>Keepalives (RFC 3948 §4)</h2><ul>
<li>Only the peer that found <b>itself</b> behind a NAT sends them (RFC 3947 §3.2).</li>
<li>One byte <code>{_hex(KEEPALIVE)}</code> to UDP {int(Port.NAT_T)} after {keepalive_every:g} s without sending
(the default); never to {int(Port.IKE)}.</li>
<li>Not a liveness check: that is DPD (RFC 3706).</li></ul>
<h2>NAT-OA (RFC 3947 §5.2)</h2><p>Quick Mode 1 and 2, transport mode only: the original addresses, so the
receiver can fix the inner TCP/UDP checksum (RFC 3948 §3.1.2).</p>
<h2>IKEv2 (RFC 7296 §2.23)</h2><p>No Vendor IDs: NAT-T is built in. IKE_SA_INIT carries notifies
NAT_DETECTION_SOURCE_IP ({int(Notify2.NAT_DETECTION_SOURCE_IP)}) and _DESTINATION_IP
({int(Notify2.NAT_DETECTION_DESTINATION_IP)}) = SHA-1(SPIi | SPIr | IP | port); IKE_AUTH moves to UDP
{int(Port.NAT_T)}; no NAT-OA (traffic selectors). 4 messages, not 9.</p></div>
<div class="box wide"><h2>NAT-T Vendor IDs = MD5 of the string (RFC 3947 §3.1)</h2>
<table><tr><th>version</th><th>string hashed</th><th>Vendor ID (MD5)</th><th>NAT-D / NAT-OA</th>
<th>UDP tunnel / transport</th></tr>{vids}</table></div>
<div class="box"><h2>ISAKMP payload types</h2>
<table><tr><th>type</th><th>payload</th><th>where</th></tr>{types}</table></div>
<div class="box"><h2>Encapsulation Mode (IPsec attribute {int(IpsecAttr.ENCAPSULATION_MODE)})</h2>
<table><tr><th>value</th><th>name</th><th>from</th></tr>{modes}</table>
<p>RFC 2407 §4.5, RFC 3947 §5.1; the draft values are the ones Windows uses with the draft VID (MS-IKEE).</p></div>
<div class="box wide"><h2>Windows: AssumeUDPEncapsulationContextOnSendRule (KB 926179, KB 947234)</h2>
<table><tr><th>value</th><th>Windows sets up SAs…</th></tr>
<tr><td class="nw">0 (default)</td><td>not with a server behind NAT: error 809 (789 for L2TP)</td></tr>
<tr><td>1</td><td>also when the <b>server</b> is behind a NAT</td></tr>
<tr><td>2</td><td>also when <b>server and client</b> are behind NATs</td></tr></table>
<p>On the client, in an administrator prompt, then <b>reboot</b> (the Policy Agent reads it at start):</p>
<div class="reg">{escape(REG_ADD)}</div></div></div>
"""


def cheat_sheet_html() -> str:
    """"NAT-T on one page" as a printable A4 document."""
    page = ("<style>@page { size: A4; margin: 10mm 10mm 10mm 10mm; } html { font-size: 8.6pt; "
            "-webkit-print-color-adjust: exact; print-color-adjust: exact; } body { font-family: system-ui,"
            "-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif; max-width: 190mm; margin: 0 auto; }</style>")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>NAT-T on one page</title>{page}'
            f"</head><body>{cheat_sheet_fragment()}</body></html>")
