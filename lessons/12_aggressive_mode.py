"""12 · Aggressive Mode: three messages, and what they give away

Phase 1 in three messages (RFC 2409 §5.4) through the client's NAT: NAT-D in AM2 and AM3, the float
at AM3, the identities in the clear, and the pre-shared key recovered offline from AM1 and AM2.
"""
# url: aggressive-mode
import streamlit as st

from natt_core.errors import DecodeError
from natt_ui.lesson import Lesson, load_run, render_lesson
from natt_view.psk_attack import attack_view

#: a key that is in no word list: the same attack finds nothing
STRONG_KEY = "Vq7tR2pL9zx4KmW8"
KEYS = {"the lab's key (natt-lab)": (), "a random 16-character key": (f"client.psk={STRONG_KEY}",
                                                                        f"server.psk={STRONG_KEY}")}

LESSON = Lesson(
    key="l12",
    title="Aggressive Mode: three messages, and what they give away",
    goal="say what Aggressive Mode saves, where NAT-D and the float go in it, and why a capture of "
         "AM1 and AM2 is enough to test guesses of the pre-shared key.",
    pace="12 minutes",
    narrative="""
**Aggressive Mode** (RFC 2409 §5.4) squeezes phase 1 into **three messages**. AM1 carries at once
what Main Mode spreads over MM1, MM3 and MM5: the SA offer, the **KE** value, the nonce and the
client's **identity** — in the clear. AM2 answers with the chosen transform, the server's KE, nonce
and identity, and **HASH_R**, the proof that it knows the pre-shared key. AM3 carries HASH_I.

NAT-T fits in as RFC 3947 §4 says: the Vendor IDs ride in AM1 and AM2, the **NAT-D** payloads in
**AM2 and AM3**. AM2's NAT-D tells the client it is behind a NAT, so it **floats** to UDP 4500 for
AM3 (encrypted, behind the non-ESP marker) and for everything after it.

The price: HASH_R = prf(SKEYID, g^xr | g^xi | CKY-R | CKY-I | SAi_b | IDir_b), with
SKEYID = prf(PSK, Ni | Nr). **Every input except the key is in AM1 and AM2.** Anyone who captured
them can try candidate keys offline, as ike-scan's *psk-crack* does — see the attack below the
steps. Main Mode hides the identities and HASH_R inside encrypted MM5/MM6, which is why strongSwan
refuses Aggressive Mode with a PSK unless told `i_dont_care_about_security_and_use_aggressive_mode_psk`.
""",
    preset="aggressive-mode-psk",
    notes={
        "AM1": "AM1: SA, KE, Nonce and ID all at once, and the NAT-T Vendor IDs. The ID payload is not "
               "encrypted: anyone on the path reads who is connecting. The client offers one DH group "
               "only, since its KE is computed before the server chooses.",
        "AM2": "AM2: the server's choice, KE, nonce and identity, two NAT-D hashes (where it sends this "
               "packet, then its own address) and HASH_R — the value an eavesdropper will attack.",
        "AM3": "AM3: from UDP 4500 to 4500 behind the non-ESP marker, because AM2's NAT-D showed the "
               "client a NAT. Flag E is set: NAT-D, NAT-D and HASH_I are encrypted (Decrypted inside).",
        "QM1": "Quick Mode as after Main Mode; its IV starts from AM3's last cipher block.",
    },
)

shown = render_lesson(LESSON)
if shown is not None:
    st.subheader("What an eavesdropper does with AM1 and AM2", anchor=False)
    st.markdown("The attack reads only the capture on the internet segment (between the NAT and the "
                "server), finds AM1 and AM2, and recomputes HASH_R with the engine's PRF for each word of "
                "a small list. The right word reproduces HASH_R exactly.")
    key = st.radio("The pre-shared key of the run", tuple(KEYS), key="l12:psk", horizontal=True)
    trace = shown[0] if not KEYS[key] else load_run(LESSON.preset, KEYS[key])
    if trace is not None:
        try:
            v = attack_view(trace)
        except DecodeError as e:
            st.error(f"No Aggressive Mode pair to attack in this capture: {e}")
        else:
            a, b = st.columns(2)
            a.markdown(f"**Initiator's identity (AM1, in the clear):** {v.initiator_id}")
            b.markdown(f"**Responder's identity (AM2, in the clear):** {v.responder_id}")
            st.markdown(f"**HASH_R ({v.hash_name}) in AM2:** `{v.hash_r}`")
            c, d = st.columns(2)
            c.metric("Guesses tried", v.result.guesses, help=f"out of a list of {v.words} words")
            d.metric("Recovered pre-shared key", v.result.psk or "not found")
            if v.result.psk:
                st.warning(f"The key **{v.result.psk}** reproduces HASH_R after {v.result.guesses} guesses, with no "
                         "packet sent to anyone. A real word list holds millions of words, and each guess is "
                         "two HMACs.", icon=":material/lock_open:")
            else:
                st.success(f"None of the {v.words} words reproduces HASH_R: a long random key resists the "
                           "dictionary (the identities and HASH_R are still in the clear).",
                           icon=":material/lock:")
            with st.expander("Run the real psk-crack on this capture"):
                st.markdown("ike-scan's `psk-crack` reads the same nine values (g^xr, g^xi, CKY-R, CKY-I, "
                            "SAi_b, IDir_b, Ni, Nr, HASH_R), colon-separated hex. Save the line below as "
                            "`am.txt`, then: `psk-crack -d wordlist.txt am.txt`.")
                st.code(v.psk_crack_line, language="text", wrap_lines=True)
