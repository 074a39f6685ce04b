"""Shared pieces of the Streamlit dashboard (``app.py`` and ``views/``): data access and UI helpers."""
