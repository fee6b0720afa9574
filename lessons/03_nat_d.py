"""3 · NAT-D: who is behind NAT

Recompute both NAT-D hashes from each side's view of the addresses (RFC 3947 §3.2).
"""
# url: nat-d
from natt_ui.lesson import Lesson, render_lesson
from natt_ui.widgets import natd_workbench

LESSON = Lesson(
    key="l3",
    title="NAT-D: who is behind NAT",
    goal="recompute the NAT-D hashes and say which side is behind a NAT, and whether the port changed too.",
    pace="15 minutes",
    narrative="""
Vendor IDs told both peers that the other speaks NAT-T. Now they must find out **whether there is a
NAT between them, and on which side**. They cannot ask the NAT, so each one tells the other what it
*believes* the addresses are — as hashes:

- **NAT-D #1** = HASH(CKY-I | CKY-R | **destination** IP | port) — the peer as I addressed it;
- **NAT-D #2** = HASH(CKY-I | CKY-R | **source** IP | port) — myself, as I know me.

The receiver recomputes both from the IP and UDP headers *as the packet arrived*:

| mismatch | means |
|---|---|
| destination hash differs | **I** am behind a NAT (I was addressed as someone else) |
| source hash differs | **the sender** is behind a NAT (its packet came from an address it did not hash) |

The hash includes the **port**, so a NAT that only changes ports is caught too. The hashes travel in
MM3 and MM4, which are not yet encrypted — and they are *not* authenticated (RFC 3947 §8).

Below the step view is a **workbench**: edit the address or port as it arrived and watch the verdict
flip. Then try the **NAT kind** switch: a *static* 1:1 NAT keeps the port.
""",
    preset="client-behind-nat",
    switches=("nat", "nat_t"),
    start="MM3",
    notes={
        "MM3": "MM3 carries the client's two NAT-D hashes (violet: a NAT cannot fix them without the "
               "cookies — and any rewrite of the headers makes them disagree). Compare the amber source "
               "address and port inside and outside the NAT.",
        "MM4": "MM4 carries the server's two hashes. The client finds that the server addressed it as "
               "192.168.1.30:port, not 192.168.11.20:500 — so the *client* is behind the NAT.",
    },
    extra=lambda trace, journey: natd_workbench(trace, "l3", journey),
)

render_lesson(LESSON)
