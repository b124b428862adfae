"""Streamlit support for ``app.py`` and ``pages/`` (:mod:`lsip.ui.common`); nothing else in lsip imports streamlit."""
