"""One packet drawn three ways: an RFC-style 32-bit field layout, a hex dump, and the diff lens.

The layout follows the RFC header diagrams (RFC 791 §3.1, RFC 2408 §3.1, RFC 3948 §2): 32 bit
columns, one cell per field; fields of more than two words collapse into one dashed row. Bytes a
NAT rewrote (`changed`, byte offsets) are amber in both views; bytes it cannot touch (encrypted or
integrity-protected, see natt_core.wire.dissect) are violet and hatched. Every cell and hex byte
group carries its field's number `data-f="<n>"` (its position in the dissection), and `packet_views_html` puts
both views in one box with CSS `:has()` rules, so pointing at a byte lights up its whole field in
the hex and its cell in the layout (and back) without any script.
"""
from __future__ import annotations

from html import escape
from typing import Iterable

from natt_core.lab.trace import Hop
from natt_core.wire.dissect import Field

from .theme import LAYER_TINTS, PAYLOAD_TINTS, POINTED, POINTED_BG, tint_class

COLLAPSE_AT = 4      #: fields longer than this many bytes, starting on a word, take one row


def _tint(layer: str, cache: dict[str, str]) -> str:
    if layer in LAYER_TINTS:
        return LAYER_TINTS[layer]
    if layer not in cache:
        cache[layer] = PAYLOAD_TINTS[len(cache) % len(PAYLOAD_TINTS)]
    return cache[layer]


def _cls(f: Field, changed: frozenset[int]) -> str:
    if any(i in changed for i in range(f.offset, f.end)):
        return "natt-t"
    return "natt-p" if f.protected else ""


def _title(f: Field) -> str:
    why = f" — NAT cannot touch: {f.protected}" if f.protected else ""
    return escape(f"{f.layer}: {f.name} = {f.value} (bytes {f.offset}..{f.end - 1}){why}", quote=True)


def packet_layout_html(fields: Iterable[Field], changed: frozenset[int] = frozenset()) -> str:
    """An RFC-style table: a header row of bit numbers, then one row per 32-bit word."""
    fields = list(fields)
    tints: dict[str, str] = {}
    head = "".join(f"<th>{b % 10 if b % 10 else b // 10}</th>" for b in range(32))
    rows = [f'<table class="natt-rfc"><colgroup>{"<col>" * 32}</colgroup><tr>{head}</tr>']
    cells: list[str] = []
    used = 0                                   # bytes used in the current word
    layer = None

    def flush(pad: bool) -> None:
        nonlocal cells, used
        if cells:
            if pad and used < 4:
                cells.append(f'<td class="gap" colspan="{(4 - used) * 8}"></td>')
            rows.append("<tr>" + "".join(cells) + "</tr>")
        cells, used = [], 0

    for n, f in enumerate(fields):
        if f.layer != layer:
            flush(pad=True)
            rows.append(f'<tr class="layer"><td class="lname" colspan="32">{escape(f.layer)}</td></tr>')
            layer = f.layer
            # a field that starts mid-word after a layer break keeps its column
            used = f.offset % 4
            if used:
                cells.append(f'<td class="gap" colspan="{used * 8}"></td>')
        cls = _cls(f, changed) or tint_class(_tint(f.layer, tints))   # a mark (translated, protected) paints its own
        mark = f'data-f="{n}" title="{_title(f)}"'
        label = f'<span class="n">{escape(f.name)}</span><span class="v">{escape(f.value)}</span>'
        if f.length > COLLAPSE_AT and used == 0:
            flush(pad=False)
            rows.append(f'<tr><td colspan="32" class="long {cls}" {mark}>'
                        f'<span class="n">{escape(f.name)} · {f.length} bytes</span>'
                        f'<span class="v">{escape(f.value)}</span></td></tr>')
            used = f.end % 4
            if used:
                cells.append(f'<td class="gap" colspan="{used * 8}"></td>')
            continue
        remaining = f.length
        first = True
        while remaining:
            take = min(remaining, 4 - used)
            content = label if first else '<span class="n">…</span>'
            cells.append(f'<td colspan="{take * 8}" class="{cls}" {mark}>{content}</td>')
            first = False
            used += take
            remaining -= take
            if used == 4:
                flush(pad=False)
    flush(pad=True)
    rows.append("</table>")
    return "".join(rows)


def hex_html(packet: bytes, fields: Iterable[Field], changed: frozenset[int] = frozenset(),
             width: int = 16) -> str:
    """A hex dump: offset, then `width` bytes per row, coloured by field.

    Kept light (it is redrawn on every step): the bytes of one field that share a row half and a
    mark are one element carrying the field's number and a tint class (theme.TINT_RULES); the
    field's title (the tooltip) sits on its first bytes and on its layout cell."""
    owner: dict[int, tuple[int, Field]] = {}
    for n, f in enumerate(fields):
        for i in range(f.offset, f.end):
            owner[i] = (n, f)
    tints: dict[str, str] = {}

    def key(i: int) -> tuple:
        n, f = owner.get(i, (None, None))
        cls = "natt-t" if i in changed else ("natt-p" if f is not None and f.protected else "")
        if not cls and f is not None:
            cls = tint_class(_tint(f.layer, tints))
        return n, cls, (i % width) >= width // 2

    out = []
    for start in range(0, len(packet), width):
        parts = [f'<span class="off">{start:04x}</span>']
        i, end = start, min(start + width, len(packet))
        while i < end:
            k, j = key(i), i + 1
            while j < end and key(j) == k:
                j += 1
            n, cls, _ = k
            cls += " sep" if i % width == width // 2 else ""
            attrs = f' class="{cls.strip()}"' if cls.strip() else ""
            if n is not None:            # focusable by a click (not by Tab): a click pins the highlight
                f = owner[i][1]
                if f.offset == i:        # the field starts in this group
                    attrs += f' title="{_title(f)}"'
                attrs += f' data-f="{n}" tabindex="-1"'
            parts.append(f'<b{attrs}>{" ".join(f"{x:02x}" for x in packet[i:j])}</b>')
            i = j
        out.append('<div class="row">' + "".join(parts) + "</div>")
    return '<div class="natt-hex">' + "".join(out) + "</div>"


def link_css(count: int, start: int = 0) -> str:
    """`:has()` rules for fields start..count-1: while any cell or byte of a field is hovered or
    focused inside a `.natt-pk` box, every cell and byte of that field is outlined."""
    if count <= start:
        return ""
    sel = ",".join(f'.natt-pk:has([data-f="{n}"]:hover) [data-f="{n}"],'
                   f'.natt-pk:has([data-f="{n}"]:focus) [data-f="{n}"]' for n in range(max(start, 0), count))
    return (f"<style>{sel}{{outline:3px solid {POINTED} !important;outline-offset:-3px;"
            f"box-shadow:inset 0 0 0 999px {POINTED_BG};}}</style>")


def packet_views_html(packet: bytes, fields: Iterable[Field], changed: frozenset[int] = frozenset(),
                      caption: str = "Hex (point at a byte: its whole field lights up here and in the layout)",
                      linked: int = 0) -> str:
    """The field layout and the hex dump in one box, linked field by field (see `link_css`); the
    page already holds the rules for the first `linked` fields (sent once, not with every packet)."""
    fields = list(fields)
    return (link_css(len(fields), linked) + '<div class="natt-pk"><div class="natt-scroll">'
            + packet_layout_html(fields, changed) + f'</div><p class="natt-cap">{escape(caption)}</p>'
            + hex_html(packet, fields, changed) + "</div>")


def field_diff(before: Iterable[Field], after: Iterable[Field]) -> list[dict]:
    """Rows (layer, field, inside, outside) for every field whose value differs."""
    by_key = {(f.layer, f.name, f.offset): f for f in before}
    rows = []
    for f in after:
        old = by_key.get((f.layer, f.name, f.offset))
        if old is not None and old.value != f.value:
            rows.append({"layer": f.layer, "field": f.name, "before": old.value, "after": f.value})
    return rows


def diff_table_html(rows: list[dict], before_name: str, after_name: str) -> str:
    if not rows:
        return "<p>No field changed between these two points.</p>"
    head = (f"<tr><th>layer</th><th>field</th><th>{escape(before_name)}</th>"
            f"<th>{escape(after_name)}</th></tr>")
    body = "".join(f'<tr><td>{escape(r["layer"])}</td><td>{escape(r["field"])}</td>'
                   f'<td class="m">{escape(r["before"])}</td><td class="m natt-t">{escape(r["after"])}</td></tr>'
                   for r in rows)
    return f'<table class="natt-diff">{head}{body}</table>'


# --- the diff lens sentence -------------------------------------------------------------------------

_SHORT = {"IPv4 source address": "source address", "IPv4 destination address": "destination address",
          "UDP source port": "source port", "UDP destination port": "destination port"}


def _payload_name(fields: Iterable[Field]) -> str | None:
    layers = [f.layer for f in fields]
    if "UDP-encap" in layers and any(f.name == "NAT-keepalive" for f in fields):
        return "keepalive byte"
    if any(l.startswith("ISAKMP") for l in layers):
        return "IKE payload"
    if "ESP" in layers:
        return "ESP payload (SPI, sequence number, ciphertext, ICV)"
    if "AH" in layers:
        return "AH and everything it protects"
    return None


def hop_lens(hop: Hop, before_fields: Iterable[Field] | None = None) -> str:
    """One NAT's work in plain words, e.g. 'nat rewrote source port 500 → 62636, …'."""
    if hop.before is None:
        return ""
    moves = [f"{_SHORT.get(c.name, c.name)} {c.old} → {c.new}" for c in hop.changes
             if "checksum" not in c.name]
    sums = [c.name.replace(" header checksum", "").replace(" checksum", "") for c in hop.changes
            if "checksum" in c.name]
    if not moves and not sums:
        text = f"{hop.device} forwarded it unchanged"
    else:
        text = f"{hop.device} rewrote " + ", ".join(moves) if moves else f"{hop.device} changed nothing visible"
        if sums:
            text += f"; {' and '.join(sums)} checksum{'s' if len(sums) > 1 else ''} recomputed"
    # "untouched" is checked on the bytes, not assumed: nothing after the transport header moved
    start = 28 if hop.packet[9] == 17 else 20
    if len(hop.before) == len(hop.packet) and hop.before[start:] == hop.packet[start:] and before_fields is not None:
        name = _payload_name(before_fields)
        if name:
            n = len(hop.packet) - start
            text += f"; {name} untouched ({n} byte{'s' if n != 1 else ''} identical)"
    return text


def diff_lens_text(hops: Iterable[Hop], before_fields: Iterable[Field] | None = None) -> str:
    """The diff lens for a whole journey: every NAT on the way, then a drop if there was one."""
    hops = list(hops)
    parts = [hop_lens(h, before_fields) for h in hops[1:]]
    parts = [p for p in parts if p]
    if hops and hops[-1].dropped:
        parts.append(f"DROPPED by {hops[-1].dst_host or hops[-1].segment}: {hops[-1].dropped}")
    if not parts:
        return "Sent directly on one segment: no NAT or router in between."
    return ". ".join(parts) + "."
