"""11 · IKEv1 vs IKEv2: the same NAT, two protocols

The client-behind-nat run and its IKEv2 twin side by side, step by step where they do the same job:
nine IKE messages against four, NAT-D payloads against notifies, MM5 against IKE_AUTH.
"""
# url: ikev1-vs-ikev2
import streamlit as st

from natt_core.errors import DecodeError
from natt_ui.lesson import load_run
from natt_ui import present
from natt_ui.present import set_query
from natt_ui.step_view import inject_css, step_controls
from natt_view.packet import diff_lens_text, packet_views_html
from natt_view.steps import fields_of, journey_changes, journeys
from natt_view.versions import count_lines, side_by_side, synced_step

KEY = "l11"
V1, V2 = "client-behind-nat", "ikev2-client-behind-nat"

inject_css()
st.title("IKEv1 vs IKEv2: the same NAT, two protocols", anchor=False)
st.markdown("**Goal:** say where IKEv2 does what IKEv1's NAT-T does, and why it needs four messages "
            "instead of nine. · *pace: 15 minutes*")
with st.expander("The story in plain words", expanded=not present.on()):   # folded on a projector
    st.markdown("""
Both runs go through **the same NAPT** with the client behind it. IKEv1 (RFC 2409) needed NAT
traversal bolted on (RFC 3947): Vendor IDs to agree on it, NAT-D payloads to find the NAT, a float
to UDP 4500 at MM5, and NAT-OA in Quick Mode. IKEv2 (RFC 7296 §2.23) has it built in: NAT
detection rides in **IKE_SA_INIT** as two notifies, the float happens at **IKE_AUTH**, and the first
CHILD_SA comes up in that same exchange, so the traffic selectors replace NAT-OA.

Step through the IKEv1 run on the left: the right follows with the IKEv2 step that does the same
job. The packet views, the diff lens and the hex are the same as in every other lesson.
""")
v1, v2 = load_run(V1, ()), load_run(V2, ())
if v1 is not None and v2 is not None:
    rows = side_by_side(v1, v2)
    counts = count_lines(v1, v2)
    a, b = st.columns(2)
    a.metric("IKE messages, IKEv1", counts[0]["IKEv1 (RFC 2409 + 3947)"])
    b.metric("IKE messages, IKEv2", counts[0]["IKEv2 (RFC 7296)"])
    st.dataframe(counts[1:], hide_index=True, width="stretch")
    steps1, steps2 = journeys(v1), journeys(v2)
    index = step_controls(steps1, KEY, start=1)
    set_query({"step": str(index)})             # a deep link to this pair of steps, a history entry per step
    row = next((r for r in rows if index in r.v1_steps), None)
    if row is not None:
        st.info(f"**{row.topic.name}.** {row.topic.story}")
    paired = synced_step(rows, index)
    left, right = st.columns(2)                  # below the controls: Next stays above the packets
    for col, trace, steps, n, name in ((left, v1, steps1, index, "IKEv1"), (right, v2, steps2, paired, "IKEv2")):
        with col:
            if n is None:
                st.subheader(f"{name}: no counterpart", anchor=False)
                st.caption("This step has no matching step in the other run.")
                continue
            j = steps[n - 1]
            st.subheader(f"{name} · step {n} of {len(steps)} — {j.title()}", anchor=False)
            try:
                first = fields_of(trace, j.first.packet)
            except DecodeError as e:
                st.error(f"These bytes do not parse: {e}")
                continue
            st.html(f'<div class="natt-lens"><b>Diff lens:</b> {diff_lens_text(j.hops, first)}</div>')
            changed = journey_changes(j)
            tabs = st.tabs([f"{h.segment}" + (" · as sent" if k == 0 else f" · after {h.device}")
                            for k, h in enumerate(j.hops)])
            for tab, hop in zip(tabs, j.hops):
                with tab:
                    try:
                        st.html(packet_views_html(hop.packet, fields_of(trace, hop.packet), changed))
                    except DecodeError as e:
                        st.error(f"These bytes do not parse: {e}")
