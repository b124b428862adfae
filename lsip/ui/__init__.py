"""Streamlit support for ``app.py`` and ``app_pages/`` (:mod:`lsip.ui.common`); nothing else in lsip imports
streamlit."""
