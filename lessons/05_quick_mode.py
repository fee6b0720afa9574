"""5 · Quick Mode and UDP encapsulation

Tunnel vs transport, the encapsulation values, NAT-OA, and the checksum fix-up (RFC 3947 §5, RFC 3948 §3).
"""
# url: quick-mode
from natt_ui.lesson import Lesson, render_lesson
from natt_ui.widgets import overhead_panel, quick_mode_panel

LESSON = Lesson(
    key="l5",
    title="Quick Mode and UDP-encapsulated modes",
    goal="tell tunnel from transport under NAT, read the encapsulation value, and explain NAT-OA and the checksum fix-up.",
    pace="15 minutes",
    narrative="""
Phase 2 (**Quick Mode**, three messages QM1–QM3, all encrypted) agrees on the IPsec SA that will
carry the L2TP traffic. Behind a NAT the peers propose one of two **UDP-encapsulated** modes:

- **UDP-Encapsulated-Tunnel (3)**: ESP carries a whole inner IP packet. The inner header is the
  original, untouched one — the NAT never saw it.
- **UDP-Encapsulated-Transport (4)**: ESP carries only the UDP segment (L2TP on 1701). Its checksum
  was computed over the *original* addresses, but after decapsulation it sits behind the *translated*
  ones. So in transport mode both sides send **NAT-OA** (original address) payloads, and the
  receiver **fixes up the inner checksum** (RFC 3948 §3.1.2) — or the L2TP packet is dropped.

(Draft peers use 61443 / 61444 for the same two modes.) Step to QM2 and the ESP-in-UDP packets, then
switch **IPsec mode** to tunnel, or **NAT-T off** to see what happens without encapsulation.
""",
    preset="client-behind-nat",
    switches=("mode", "nat_t", "nat"),
    start="QM1",
    notes={
        "QM1": "QM1 is encrypted (violet): the NAT sees only the outer headers. Open Decrypted inside: the "
               "transform's 'encapsulation mode' attribute and the NAT-OA payloads (the client's original "
               "address) are inside.",
        "QM2": "QM2: the responder accepts one proposal (Decrypted inside shows its encapsulation value) and "
               "sends its own NAT-OA: the client's address *as the server saw it*.",
        "ESP-in-UDP": "The L2TP packet inside ESP-in-UDP. Decrypted inside shows the inner UDP checksum as the "
                      "sender computed it, over the original addresses; the receiver fixes it up from NAT-OA "
                      "in transport mode (peer events and the table below).",
    },
    extra=lambda trace, journey: (quick_mode_panel(trace), overhead_panel(trace, journey)),
)

render_lesson(LESSON)
