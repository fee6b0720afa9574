"""Colours and CSS shared by every view, chosen to stay readable on a classroom projector.

Two highlight meanings run through the whole app and must never be confused: amber = "the NAT
rewrote these bytes", violet with hatching = "a NAT cannot touch these bytes (encrypted or
integrity-protected)". The hatching keeps them apart for colour-blind viewers and in greyscale.
"""
from __future__ import annotations

TRANSLATED = "#ffb300"        #: amber: rewritten by a NAT
TRANSLATED_BG = "#ffe082"
PROTECTED = "#5e35b1"         #: violet: encrypted / integrity-protected
PROTECTED_BG = "#d1c4e9"
CURRENT = "#e65100"           #: the current step in diagrams
DROPPED = "#c62828"
MUTED = "#90a4ae"
POINTED = "#1565c0"           #: blue: the field the reader points at (hex byte <-> layout cell)
POINTED_BG = "rgba(21,101,192,.16)"
INK = "#1a1a1a"

#: light tints per protocol layer, so neighbouring layers are told apart without shouting
LAYER_TINTS = {
    "IPv4": "#e3f2fd", "UDP": "#e0f7fa", "UDP-encap": "#fff3e0", "ISAKMP": "#e8f5e9",
    "ESP": "#ede7f6", "AH": "#ede7f6", "inner UDP": "#f3e5f5", "L2TP": "#fce4ec",
}
PAYLOAD_TINTS = ("#f1f8e9", "#fffde7", "#e0f2f1", "#fbe9e7")


def tint_class(tint: str) -> str:
    """A class named after the colour: one CSS rule per colour instead of a style on every cell."""
    return "k" + tint.lstrip("#")


#: every tint's rule, once for the whole page (a packet's HTML carries only the class names)
TINT_RULES = "".join(f".natt-rfc .{tint_class(t)},.natt-hex .{tint_class(t)}{{background:{t}}}"
                     for t in sorted(set(LAYER_TINTS.values()) | set(PAYLOAD_TINTS)))

CSS = f"""
<style>
.natt-legend {{ display:flex; gap:1.2rem; flex-wrap:wrap; font-size:1rem; margin:.25rem 0 .5rem 0; }}
.natt-legend span.sw {{ display:inline-block; width:1.6em; height:1em; vertical-align:-0.15em;
  border:2px solid #444; margin-right:.35em; border-radius:3px; }}
.natt-t {{ background:{TRANSLATED_BG} !important; outline:2px solid {TRANSLATED}; outline-offset:-2px; }}
.natt-p {{ background-color:{PROTECTED_BG} !important;
  background-image:repeating-linear-gradient(135deg, rgba(94,53,177,.22) 0 4px, transparent 4px 9px) !important;
  color:#2a1454; }}
.natt-rfc {{ border-collapse:collapse; width:100%; table-layout:fixed; font-size:.92rem; }}
.natt-rfc th {{ font:600 .72rem ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; color:#555;
  text-align:center; padding:0; border:none; }}
.natt-rfc td {{ border:1.5px solid #37474f; padding:3px 4px; text-align:center; vertical-align:middle;
  overflow:hidden; line-height:1.2; color:{INK}; }}
.natt-rfc td .n {{ display:block; font-size:.78rem; color:#37474f; white-space:nowrap; overflow:hidden;
  text-overflow:ellipsis; }}
.natt-rfc td .v {{ display:block; font:600 .9rem ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }}
.natt-rfc td.natt-p .n, .natt-rfc td.natt-p .v {{ color:#2a1454; }}
.natt-rfc td.gap {{ border:none; background:transparent; }}
.natt-rfc td.long {{ border-style:solid dashed; }}
.natt-rfc tr.layer td.lname {{ border:none; text-align:left; font-weight:700; font-size:.8rem; color:#263238;
  padding-top:6px; }}
.natt-hex {{ font:1rem/1.55 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; color:{INK}; }}
.natt-hex .row {{ white-space:nowrap; }}
.natt-hex .off {{ color:#607d8b; margin-right:.8em; }}
.natt-hex .row {{ word-spacing:-.32em; }}
.natt-hex b {{ font-weight:500; padding:0 .14em; border-radius:2px; }}
.natt-hex b.sep {{ margin-left:.6em; }}
.natt-scroll {{ max-height:82vh; overflow:auto; padding-right:.3rem; position:relative; }}
.natt-lens {{ border-left:6px solid {TRANSLATED}; background:#fff8e1; padding:.6rem .9rem; font-size:1.08rem;
  color:{INK}; border-radius:4px; margin:.3rem 0 .6rem 0; }}
.natt-lens.drop {{ border-left-color:{DROPPED}; background:#ffebee; }}
.natt-lens code {{ font-size:1rem; }}
.natt-diff {{ border-collapse:collapse; font-size:1rem; }}
.natt-diff td, .natt-diff th {{ border:1px solid #b0bec5; padding:4px 10px; color:{INK}; }}
.natt-diff td.m {{ font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; }}
.natt-events {{ font-size:1.05rem; line-height:1.6; margin:0; padding-left:1.2rem; color:{INK}; }}
.natt-events .who {{ font-weight:700; }}
.natt-cap {{ font-size:.875rem; color:rgba(49,51,63,.6); margin:.6rem 0 .2rem 0; }}
.natt-hex b[tabindex] {{ cursor:pointer; }}
.natt-hex b:focus {{ outline:none; }}
[data-testid="stElementContainer"]:has(.natt-jump) {{ display:none; }}
.natt-seq a.natt-row, .natt-seq a.natt-row text {{ cursor:pointer; text-decoration:none !important; }}
.natt-seq a.natt-row:hover rect.hit {{ fill:#cfd8dc; fill-opacity:.55; }}
.natt-topo svg {{ display:block; height:auto; max-height:17rem; margin:0 auto .4rem auto; }}
.natt-seq text {{ font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }}
.natt-rfc td[data-at] {{ box-shadow:inset 0 0 0 3px {POINTED}; }}
.natt-state h4 {{ margin:1rem 0 .5rem 0; font-size:1.25rem; font-weight:600; }}
.natt-nats {{ display:flex; gap:1rem; flex-wrap:wrap; }}
.natt-nats>div {{ flex:1 1 0; min-width:14rem; }}
.natt-gridbox {{ max-height:24rem; overflow:auto; }}
.natt-wide {{ overflow-x:auto; }}
.natt-state .natt-wide .natt-grid {{ width:max-content; min-width:100%; }}
.natt-state .natt-empty {{ color:rgba(49,51,63,.6); font-size:.875rem; }}
{TINT_RULES}
</style>
"""


def legend_html() -> str:
    """The colour key shown beside every packet view."""
    return (
        '<div class="natt-legend">'
        '<span><span class="sw natt-t"></span><b>translated by the NAT</b> (rewritten on the way)</span>'
        '<span><span class="sw natt-p"></span><b>NAT cannot touch</b> (encrypted or integrity-protected: '
        'SPI, ciphertext, ICV, NAT-D hashes, ID)</span>'
        '</div>'
    )
