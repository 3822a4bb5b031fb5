"""Streamlit glue shared by the pages: session state, caches, the error boundary, widgets."""
