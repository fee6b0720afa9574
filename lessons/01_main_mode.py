"""1 · Main Mode in six messages

The baseline without NAT: cookies, SA, KE and nonces, then the encrypted ID and HASH (RFC 2409 §5).
"""
# url: main-mode
from natt_ui.lesson import Lesson, render_lesson

LESSON = Lesson(
    key="l1",
    title="Main Mode in six messages",
    goal="read an IKEv1 Main Mode exchange byte by byte and say what each pair of messages achieves.",
    pace="10 minutes",
    narrative="""
IKEv1 phase 1 in **Main Mode** (RFC 2409 §5) is three round trips between the **initiator** (our
L2TP client) and the **responder** (the VPN server). Here there is *no NAT*: the box in the middle
is a plain router, so every byte arrives exactly as sent.

1. **MM1/MM2 — agree on a policy.** The initiator picks an 8-byte *cookie* (its SPI) and offers
   proposals in an **SA payload**: cipher, hash, authentication method, Diffie-Hellman group. The
   responder adds its own cookie and returns the one transform it accepts.
2. **MM3/MM4 — make a shared secret.** Each side sends its public Diffie-Hellman value (**KE**) and
   a **nonce**. From them both derive SKEYID and the keys; nothing secret crosses the wire.
3. **MM5/MM6 — prove who you are.** Now *encrypted* (flag E): the **ID** payload and **HASH_I /
   HASH_R**, which only a holder of the pre-shared key can compute.

Step through with **Next ▶** (or the → key). Watch the cookies in the ISAKMP header, and the
responder cookie turning from zeros into a value in MM2.
""",
    preset="no-nat",
    switches=("nat", "dh", "server_dh"),
    notes={
        "MM1": "MM1: the responder cookie is still all zeros; the SA payload lists every proposal "
               "(transforms with encryption, hash, auth method, DH group, lifetime).",
        "MM2": "MM2: the responder fills in its cookie and answers with exactly one transform.",
        "MM3": "MM3: KE carries g^x (256 bytes for group 14), the Nonce 32 random bytes. The two "
               "NAT-D payloads are lesson 3; here they simply match.",
        "MM4": "MM4: the responder's g^y and nonce. After this both sides hold the same keys.",
        "MM5": "MM5: flag E is set: ID and HASH_I are encrypted with the phase-1 key, so the router "
               "(or a NAT) sees only opaque bytes. Open the Decrypted inside tab: the app opens them with the "
               "run's keys, as Wireshark would — the ID is the client's own address.",
        "MM6": "MM6: HASH_R proves the responder knows the same key. Phase 1 is established. The IV of "
               "MM6 is the last ciphertext block of MM5 (see Decrypted inside).",
    },
)

render_lesson(LESSON)
