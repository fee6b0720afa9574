"""4 · The float to 4500

Why IKE leaves port 500 after NAT-D, the non-ESP marker, and the port-4500 demultiplexer (RFC 3948 §2).
"""
# url: float-4500
from natt_ui.lesson import Lesson, render_lesson
from natt_ui.widgets import demux_panel

LESSON = Lesson(
    key="l4",
    title="The float to 4500",
    goal="explain why IKE moves to UDP 4500, read the first four bytes of any datagram on 4500, and say who sends keepalives.",
    pace="12 minutes",
    narrative="""
Once NAT-D has found a NAT, the initiator **floats**: from MM5 on, IKE uses **UDP 4500** on both
sides (RFC 3947 §4). Two reasons: many NATs treat port 500 specially (IPsec "passthrough" helpers),
and ESP will now travel *inside UDP* on the same port, so **one NAT mapping carries everything**.

Because IKE and ESP share the port, every IKE message on 4500 starts with the **non-ESP marker**:
four zero bytes where an ESP packet has its SPI (an SPI is never 0). A receiver decides by the first
bytes: a single `ff` is a **NAT-keepalive**, `00 00 00 00` is **IKE**, anything else is **ESP**.

Keepalives are sent only by the side that found **itself** behind a NAT, to keep its own mapping
alive; the side in the open has no mapping to keep.

Step from MM4 to MM5 and watch the destination port change from 500 to 4500 and the marker appear.
Then flip **NAT-T off** or **NAT kind → none**: no float, no keepalives.
""",
    preset="client-behind-nat",
    switches=("nat", "nat_t", "keepalive"),
    start="MM5",
    notes={
        "MM4": "After MM4 the client knows it is behind a NAT: its next message goes to port 4500.",
        "MM5": "MM5 leaves from port 4500 to port 4500, and four zero bytes (the non-ESP marker) come "
               "before the ISAKMP header. The NAT gives 4500 a new external port — a second mapping.",
        "MM6": "The server answers to wherever MM5 really came from: the NAT's new port for 4500.",
        "ESP-in-UDP": "ESP inside UDP 4500: the first 4 bytes after the UDP header are the SPI. The NAT "
                      "rewrote the outer header; SPI, ciphertext and ICV (violet) are untouched.",
        "keepalive": "A one-byte 0xFF keepalive, sent only by the client (the side behind the NAT).",
    },
    extra=lambda trace, journey: demux_panel(trace, journey),
)

render_lesson(LESSON)
