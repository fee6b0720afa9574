"""Views of a NAT-T Lab trace: pure functions from a Trace to DOT, SVG, HTML and rows.

Nothing here imports Streamlit, so every view is testable on its own and fast to render; the app
(natt_ui) only places what these functions return.
"""
