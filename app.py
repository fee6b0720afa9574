"""NAT-T Lab — the Streamlit entry point (lessons arrive with the app issues)."""
import streamlit as st

st.set_page_config(page_title="NAT-T Lab", layout="wide")
st.title("NAT-T Lab")
st.write("How IPsec gets through NAT, byte by byte.")
