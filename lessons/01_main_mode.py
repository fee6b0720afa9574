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
   HASH_R**, which only a holder of the pre-shared key can compute. Flip **Authentication** to
   *rsa-sig* and the same place carries machine **certificates** (CERT) and a **signature** (SIG)
   instead: what real L2TP/IPsec deployments mostly used.

Step through with **Next ▶** (or the → key). Watch the cookies in the ISAKMP header, and the
responder cookie turning from zeros into a value in MM2.
""",
    preset="no-nat",
    switches=("nat", "dh", "server_dh", "auth"),
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
        "MM3|certificates": "MM3: with certificates SKEYID = prf(Ni | Nr, g^xy): no shared secret goes into the "
                            "keys, so the CR payload (certificate request) names the CA the client trusts: "
                            "'send me a certificate issued under NAT-T Lab Root CA'.",
        "MM4|certificates": "MM4: g^y, the nonce and the server's own CR. Anyone who did this Diffie-Hellman "
                            "exchange could now decrypt MM5 — encryption hides the identities, it does not "
                            "authenticate them. The signature will.",
        "MM5|certificates": "MM5: ID (the certificate's subject DN), CERT (the client's machine certificate), "
                            "CERT (the issuing CA, so the server can build the chain to the root it trusts) and "
                            "SIG_I. CERT proves only that the CA vouches for this name and public key; SIG_I — "
                            "the private key's signature over HASH_I (DH values, cookies, SA offer and this ID) "
                            "— proves the sender holds that key, in this exchange. Two certificates make MM5 "
                            "over 2000 bytes: more than one Ethernet packet.",
        "MM6|certificates": "MM6: the server's ID, certificate chain and SIG_R over HASH_R. The client checks the "
                            "chain up to the lab root, that the ID names the certificate's holder, and the "
                            "signature with the certificate's public key. A failing check has its own code: "
                            "CERT_UNTRUSTED, ID_MISMATCH or SIG_INVALID.",
    },
)

render_lesson(LESSON)
