"""Numbers and RFCs

Payload numbers, encapsulation values, ports, Vendor IDs: every value computed from natt_core's constants.
"""
# section: Reference
# url: reference
import streamlit as st

from natt_core.ike.nat_t import DPD_VID, OTHER_VIDS, NattVersion, vendor_id
from natt_core.ike.state_diagram import dot as state_diagram
from natt_core.ike.states import TABLES
from natt_core.wire.numbers import EncapsulationMode, ExchangeType, PayloadType, Port
from natt_core.wire.udp_encap import KEEPALIVE, NON_ESP_MARKER
from natt_ui.step_view import inject_css
from natt_view.cheat_sheet import cheat_sheet_fragment, cheat_sheet_html

inject_css()
st.title("Numbers and RFCs", anchor=False)
st.caption("Every value below is read from the engine's own constants or computed now (MD5 of the strings), "
           "so this page cannot disagree with what the lessons show on the wire.")

with st.expander("NAT-T on one page: the printable cheat sheet", expanded=True):
    st.download_button("NAT-T on one page (HTML, prints on one A4 page)", cheat_sheet_html,
                       file_name="natt-on-one-page.html", mime="text/html", key="ref:dl:cheatsheet",
                       on_click="ignore", icon=":material/print:",
                       help="Open it in a browser and print it: one A4 page, built from the same constants.")
    st.html(cheat_sheet_fragment())

left, right = st.columns(2, gap="large")
with left:
    st.subheader("Ports", anchor=False)
    st.dataframe([{"port": int(p), "name": p.name, "use": use} for p, use in (
        (Port.IKE, "IKE (RFC 2408/2409); NAT-D happens here"),
        (Port.NAT_T, "IKE after the float + ESP-in-UDP + keepalives (RFC 3947 §4, RFC 3948 §2)"),
        (Port.L2TP, "L2TP, carried inside IPsec (RFC 2661, RFC 3193)"))], hide_index=True, width="stretch")
    st.subheader("What arrives on port 4500", anchor=False)
    st.dataframe([
        {"first bytes": KEEPALIVE.hex(), "meaning": "NAT-keepalive (exactly 1 byte), ignored", "RFC": "3948 §2.3"},
        {"first bytes": " ".join(f"{b:02x}" for b in NON_ESP_MARKER), "meaning": "non-ESP marker: IKE follows",
         "RFC": "3948 §2.2"},
        {"first bytes": "anything else", "meaning": "ESP: these 4 bytes are the SPI (never 0)", "RFC": "3948 §2.1"},
    ], hide_index=True, width="stretch")
    st.subheader("Encapsulation Mode values", anchor=False)
    st.dataframe([{"value": int(m), "name": m.rfc_name,
                   "source": "RFC 2407 §4.5" if m < 3 else ("RFC 3947 §5.1" if m < 61443 else "drafts (MS-IKEE)")}
                  for m in EncapsulationMode], hide_index=True, width="stretch")
    st.subheader("Exchange types", anchor=False)
    st.dataframe([{"value": int(e), "name": e.name.replace("_", " ").title()} for e in ExchangeType],
                 hide_index=True, width="stretch")
with right:
    st.subheader("ISAKMP payload types", anchor=False)
    st.dataframe([{"value": int(p), "name": p.name.replace("_", " "),
                   "source": "RFC 3947" if p in (20, 21) else "NAT-T drafts" if p >= 130 else "RFC 2408 §3.1"}
                  for p in PayloadType if p], hide_index=True, width="stretch", height=560)
st.subheader("Vendor IDs", anchor=False)
rows = [{"name": f"NAT-T {v.value}", "string": repr(v.vid_text.decode()), "MD5": vendor_id(v.vid_text).hex(),
         "NAT-D / NAT-OA": f"{int(v.natd_type)} / {int(v.natoa_type)}"} for v in NattVersion]
rows += [{"name": name, "string": repr(text.decode()), "MD5": vendor_id(text).hex(), "NAT-D / NAT-OA": ""}
         for name, text in OTHER_VIDS.items()]
rows.append({"name": "DPD (RFC 3706)", "string": "(a constant, not an MD5)", "MD5": DPD_VID.hex(), "NAT-D / NAT-OA": ""})
st.dataframe(rows, hide_index=True, width="stretch")
st.subheader("The IKEv1 and IKEv2 state tables", anchor=False)
st.caption("Drawn from the engine's own transition table (natt_core.ike.states), so it is exactly what the "
           "peers enforce: a message not on an arrow is dropped. Blue states are the initiator's, orange the "
           "responder's, green both; the dashed arrow is the initiator starting Quick Mode once MM6 has "
           "authenticated the responder. IKEv2 needs two tables: four messages set up the IKE SA and its "
           "first CHILD_SA, then either side may begin CREATE_CHILD_SA or INFORMATIONAL.")
for protocol in TABLES:
    st.graphviz_chart(state_diagram(name=protocol), width="stretch")
st.subheader("Formulas and RFC sections", anchor=False)
st.markdown("""
| what | formula / rule | where |
|---|---|---|
| NAT-D hash | HASH(CKY-I \\| CKY-R \\| IP \\| port), the negotiated phase-1 hash, unkeyed | RFC 3947 §3.2 |
| first NAT-D | the destination as the sender addressed it; later NAT-Ds: the sender's own address(es) | RFC 3947 §3.2 |
| float | after NAT detection the initiator moves IKE to 4500 with the non-ESP marker | RFC 3947 §4 |
| keepalive | only the side behind NAT; after 20 s without sending (default) | RFC 3948 §4 |
| NAT-OA | original addresses in Quick Mode, transport mode only | RFC 3947 §5.2 |
| checksum fix-up | inner TCP/UDP checksum incrementally updated from NAT-OA after decapsulation | RFC 3948 §3.1.2 |
| Windows rule | AssumeUDPEncapsulationContextOnSendRule 0/1/2 decides whether a server behind NAT is allowed | KB 947234 |
""")
