"""LSIP Explorer: the Streamlit entry point (a router).

Sets the page configuration, draws the shared sidebar and runs the selected page. Pages are thin files in
``app_pages/``; a page listed in ``lsip.ui.common.PAGES`` is included as soon as its file exists. The folder is
deliberately not called ``pages/``: Streamlit would treat that as its legacy auto-discovered multipage app until
the first ``st.navigation`` call, and concurrent first sessions of a fresh server were drawn without this
router (no sidebar, links ignored). Run with ``bash scripts/run_app.sh`` (or ``streamlit run app.py``).
"""

from pathlib import Path

import streamlit as st

from lsip.ui import common, sources

# An emoji favicon is drawn locally (a data: URL); a ":material/...:" favicon would be fetched from Google.
st.set_page_config(page_title="LSIP Explorer", page_icon="⚛️", layout="wide")
page = common.navigation(Path(__file__).parent)
sources.structure_sidebar()  # before common.sidebar(): it may set the teaching toggle from the URL
common.sidebar()
common.run_page(page)  # an unexpected error: a one-line message here, the traceback in the server log
