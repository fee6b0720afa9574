"""2 · Vendor IDs: who speaks NAT-T

MD5 of the draft titles, which version wins, and what that changes (RFC 3947 §3.1).
"""
# url: vendor-ids
from natt_ui.lesson import Lesson, render_lesson
from natt_ui.widgets import vid_panel

LESSON = Lesson(
    key="l2",
    title="Vendor IDs: who speaks NAT-T",
    goal="recognise the NAT-T Vendor IDs in MM1/MM2, say which version two peers will use, and what that changes on the wire.",
    pace="8 minutes",
    narrative="""
Before NAT-T can work, both peers must know that the other one speaks it. IKEv1 has no capability
negotiation for this, so NAT-T uses **Vendor ID payloads** (type 13) in **MM1 and MM2**: each is the
**MD5 of a string** — `RFC 3947` for the standard, or the title of an Internet-Draft such as
`draft-ietf-ipsec-nat-t-ike-02` (Windows famously sends it *with a trailing newline*).

Each side announces every version it knows; the best version **both** announced wins. The version
decides real numbers on the wire:

| version | NAT-D / NAT-OA payload type | UDP-Encapsulated tunnel / transport |
|---|---|---|
| RFC 3947 | 20 / 21 | 3 / 4 |
| drafts | 130 / 131 | 61443 / 61444 |

Open MM1 and MM2 below: the Vendor ID payloads are the 16-byte MD5 values. Then switch what each
peer announces and watch the choice change — or disappear.
""",
    preset="client-behind-nat",
    switches=("client_nat_t", "server_nat_t"),
    notes={
        "MM1": "MM1: the client announces RFC 3947 and draft-02 (with newline): two Vendor ID payloads "
               "after the SA payload.",
        "MM2": "MM2: the server answers with the one version it chose. From here on both use its numbers.",
        "MM3": "MM3: NAT-D payloads — type 20 with RFC 3947, 130 with a draft (look at 'next payload').",
    },
    extra=lambda trace, journey: vid_panel(trace),
)

render_lesson(LESSON)
