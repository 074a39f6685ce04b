"""Shared pieces of the Streamlit dashboard (``app.py`` and ``pages/``): data access and UI helpers."""
