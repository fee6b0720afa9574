"""The Streamlit layer of NAT-T Lab: caching, controls and the shared step view.

Pages import from here; nothing here builds packets or runs protocol logic itself: it asks
natt_core for a Trace and natt_view for what to draw.
"""
