"""Streamlit support shared by ``app.py`` and ``app_pages/``: the only ``lsip`` module that imports streamlit.

It holds the page registry (which page files the router loads when they exist), the shared sidebar,
small page helpers and :func:`py3dmol_iframe`, which shows a :class:`lsip.viz.molview.MoleculeView` (or a bare
py3Dmol view) with ``st.iframe``; 3Dmol.js is served by the app itself from ``/app/static/``, never a CDN.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas  # noqa: F401  (imported in full before any page runs: see below)
import PIL.Image  # noqa: F401
import py3Dmol
import streamlit as st
from streamlit.navigation.page import StreamlitPage

import lsip
from lsip.errors import LSIPError
from lsip.structure import Structure
from lsip.viz import molview
from lsip.viz.molview import MoleculeView

T = TypeVar("T")

# pandas and PIL.Image are imported above, when app.py imports this module, in every session: plotly looks them up in
# sys.modules without importing them, and so can see a module that another session's thread is still importing.
# On a cold server a page failed with "partially initialized module 'pandas' has no attribute 'Series'". An
# import statement waits for a concurrent import of the same module to finish; a sys.modules lookup does not.

#: Logger of the app; tracebacks of unexpected page errors go here (the server's stderr), never to the browser.
LOG = logging.getLogger("lsip.ui")
if not LOG.hasHandlers():  # the Streamlit server configures only its own loggers; tests (caplog) bring theirs
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    LOG.addHandler(_handler)

#: Session-state key of the teaching-mode toggle (larger labels, curated stories).
TEACHING_KEY = "lsip_teaching_mode"
#: Default height of a 3D view in CSS pixels.
VIEW_HEIGHT = 420


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its file under ``app_pages/``, navigation title, icon and a one-line summary.

    Files are named ``<position>_<Name>.py``; ``st.navigation`` derives the URL path from the name without the
    number (``6_Latent_library.py`` -> ``/Latent_library``).
    """

    file: str
    title: str
    icon: str
    summary: str

    @property
    def url_path(self) -> str:
        """URL path of the page (``""`` is the home page, drawn at the app's root)."""
        return Path(self.file).stem.split("_", 1)[1]


#: Folder of the page files, beside ``app.py``. Never ``pages/``: Streamlit decides once per process, at its first
#: session, that a ``pages/`` folder beside the entry script means its legacy multipage mode (page files run
#: on their own, without ``app.py``, its sidebar or its URL handling), and only a finished ``st.navigation``
#: call switches that off; concurrent first sessions of a cold server were all drawn in the legacy mode.
PAGES_DIR = "app_pages"

#: Every page the app knows, in navigation order; the router includes a page only if its file exists.
PAGES: tuple[PageSpec, ...] = (
    PageSpec("0_Home.py", "Home", ":material/home:", "What LSIP is, with a 3D demo molecule."),
    PageSpec("1_Explore.py", "Explore", ":material/view_in_ar:",
             "Pick or upload a structure: atoms coloured by charge, charge-transfer channels as arrows, "
             "state weights, energy, dipole and chemical potential."),
    PageSpec("2_Charge_transfer.py", "Charge transfer", ":material/swap_horiz:",
             "The channel network: strongest channels, donor x acceptor matrix, net flow per atom, "
             "compared with DFT-derived flows."),
    PageSpec("3_Energy.py", "Energy", ":material/waterfall_chart:",
             "The energy split into named terms (a waterfall that ends at the total), per atom and per pair."),
    PageSpec("4_Density.py", "Density", ":material/blur_on:",
             "Model density next to the PySCF density and the promolecule: isosurfaces, difference density, "
             "slices, density-encoder weights."),
    PageSpec("5_Scan.py", "Scan", ":material/timeline:",
             "Stretch a bond or pull fragments apart: energy, charges and channels against distance, "
             "model vs DFT, with a QEq baseline."),
    PageSpec("6_Latent_library.py", "Latent library", ":material/science:",
             "Per element: state energies against experiment, radial basis densities, fits, embedding functions."),
    PageSpec("7_Diagnostics.py", "Diagnostics", ":material/fact_check:",
             "Physics invariants as pass/fail badges, solver trace, live model parameters, baseline charge models."),
    PageSpec("8_Evaluate.py", "Evaluate", ":material/analytics:",
             "Upload a data set with reference energies, forces, charges and dipoles: model and baselines "
             "against it, parity plots, errors per frame, a structure map that opens a frame in Explore."),
    PageSpec("9_Optimize.py", "Optimize", ":material/compress:",
             "Relax the structure with the model (BFGS or FIRE): energy and forces per step, the relaxed geometry "
             "in 3D, RMSD and bond lengths against the start and the DFT-relaxed geometry."),
    PageSpec("10_Present.py", "Present", ":material/co_present:",
             "Presentation mode for a projector, one idea per screen: the molecule large with its charges, where "
             "the electrons went, the energy, the dipole against experiment and DFT."),
)


def page_path(spec: PageSpec) -> str:
    """Path of a page file relative to ``app.py`` (``app_pages/5_Scan.py``), as ``st.page_link`` takes it."""
    return f"{PAGES_DIR}/{spec.file}"


def navigation(app_dir: Path) -> StreamlitPage:
    """Build ``st.navigation`` from :data:`PAGES` (the first one, Home, is the default); returns the selected page,
    to be ``.run()`` by the router."""
    pages = [st.Page(Path(app_dir) / PAGES_DIR / spec.file, title=spec.title, icon=spec.icon) for spec in PAGES]
    home = pages[0]

    def _to_home() -> None:  # "/" opens Home at its own address, so "/Home" is a page too (issue 14.11)
        st.switch_page(home)

    root = st.Page(_to_home, title=PAGES[0].title, url_path="start", default=True, visibility="hidden")
    return st.navigation([root, *pages], position="sidebar")


def _in_apptest() -> bool:
    """Whether the script runs under ``streamlit.testing.v1.AppTest`` (it patches ``streamlit.config.get_option``;
    ``st.get_option`` does not see that)."""
    from streamlit import config

    return bool(config.get_option("global.appTest"))


def run_page(page: StreamlitPage, reraise: bool | None = None) -> None:
    """Run the page selected by :func:`navigation`; an unexpected exception becomes a short message.

    The user sees one line with the exception type (no message, path or traceback: those can hold server
    internals); the traceback goes to :data:`LOG`. Expected problems are :class:`LSIPError` and are shown by
    the pages themselves. ``st.stop()`` / ``st.rerun()`` are not exceptions here (they derive from
    ``BaseException``). ``reraise`` (default: only under ``AppTest``) re-raises after logging, so page tests
    still see the exception; ``client.showErrorDetails = "type"`` (``.streamlit/config.toml``) redacts it
    there and for anything raised outside a page.
    """
    try:
        page.run()
    except Exception as exc:
        show_unexpected_error(exc, f"page {getattr(page, 'title', '?')!r}", reraise=reraise,
                              message=f"This page stopped on an unexpected error ({type(exc).__name__}). The "
                              "details are in the server log; the other pages still work.")


def show_unexpected_error(exc: Exception, where: str, message: str = "", reraise: bool | None = None) -> None:
    """Log ``exc`` with its traceback (:data:`LOG`) and show ``message`` (default: one line with the exception
    type, never its text) as ``st.error``; call it from an ``except Exception`` block. Under ``AppTest`` (or with
    ``reraise=True``) the exception is raised again after logging, so tests see it."""
    LOG.error("%s: unexpected %s", where, type(exc).__name__, exc_info=exc)
    if reraise if reraise is not None else _in_apptest():
        raise exc
    st.error(message or f"Unexpected error ({type(exc).__name__}); the details are in the server log.",
             icon=":material/error:")


#: Longest stem of a download file name (:func:`safe_file_name`), and of the structure's part in it
#: (:func:`structure_stem`; the rest is the page's suffix such as ``_channels``).
MAX_FILE_STEM = 100
MAX_STRUCTURE_STEM = 48


def safe_file_name(text: str, ext: str = "", default: str = "structure", max_len: int = MAX_FILE_STEM) -> str:
    """A download file name from user text (a structure's name from an upload's comment line, ...).

    Only ``[A-Za-z0-9._-]`` stay (every other run of characters becomes ``_``); no leading or trailing ``.``,
    ``_`` or ``-``, no ``..``; the stem is capped at ``max_len`` characters and never empty (``default``).
    ``ext`` (e.g. ``".csv"``) is appended after the cap, so it is never cut off. Idempotent.

    >>> safe_file_name("../../etc/passwd", ".csv")
    'etc_passwd.csv'
    >>> safe_file_name("LiF 2.0 Å (trial #3)", ".cube")
    'LiF_2.0_trial_3.cube'
    """
    def clean(value: str) -> str:
        value = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9._-]+", "_", value))
        return value.strip("._-")

    stem = clean(clean(str(text))[:max_len]) or clean(default) or "download"
    ext = clean(ext)
    return f"{stem}.{ext}" if ext else stem


def structure_stem(structure: Structure) -> str:
    """Stem of the download file names of ``structure``: its name (or formula) through :func:`safe_file_name`,
    at most :data:`MAX_STRUCTURE_STEM` characters."""
    return safe_file_name(structure.name or structure.formula, max_len=MAX_STRUCTURE_STEM)


def download_file_name(name: str) -> str:
    """``name`` (``<stem>.<ext>``) through :func:`safe_file_name`, keeping its extension; every download button
    of the shared widgets passes its file name through here."""
    stem, dot, ext = str(name).rpartition(".")
    return safe_file_name(stem, ext) if dot and stem else safe_file_name(name)


def sidebar() -> None:
    """The sidebar shared by every page (drawn by ``app.py`` before the page runs)."""
    with st.sidebar:
        st.toggle("Teaching mode", key=TEACHING_KEY,
                  help="Larger labels and fonts for classroom use.")
        st.caption(f"lsip {lsip.__version__} · atomic units inside; eV, Å, e and D on screen. "
                   "Documentation: `docs/` in the repository.")


def teaching_mode() -> bool:
    """Whether the teaching-mode toggle of the shared sidebar is on."""
    return bool(st.session_state.get(TEACHING_KEY, False))


def label_font_size() -> int:
    """Font size (pixels) for labels in 3D views: larger in teaching mode."""
    return 18 if teaching_mode() else 12


def page_header(title: str, intro: str = "") -> None:
    """Title and a short introduction (markdown) at the top of a page; every page starts with it."""
    st.title(title)
    if intro:
        st.markdown(intro)


def py3dmol_iframe(view: MoleculeView | py3Dmol.view, height: int | None = None) -> None:
    """Show a 3Dmol view in an iframe that loads the app's own copy of 3Dmol.js (``/app/static/``).

    Parameters
    ----------
    view : a :class:`~lsip.viz.molview.MoleculeView` (viewer + colour bar) or a bare ``py3Dmol.view`` made
        with ``js=molview.JS_URL`` (e.g. :func:`lsip.viz.molview.new_view`). Only views built by the package
        may be passed: iframe content runs as same-origin script, so no user-supplied HTML goes in.
    height : iframe height in CSS pixels; default ``view.total_height`` (MoleculeView) or :data:`VIEW_HEIGHT`.

    Raises
    ------
    ValueError
        If the view would load 3Dmol.js from anywhere but the app (a CDN does not work offline).
    """
    if isinstance(view, MoleculeView):
        html, default_height = view.html(), view.total_height
    else:
        html, default_height = view.write_html(), VIEW_HEIGHT
    if f"loadScriptAsync('{molview.JS_URL}')" not in html:
        raise ValueError(f"3D views must load 3Dmol.js from {molview.JS_URL} (use lsip.viz.molview.new_view)")
    st.iframe(html, height=int(height or default_height), width="stretch")


def show_molecule(view_html: str, height: int = VIEW_HEIGHT) -> None:
    """Embed a 3Dmol HTML fragment (``MoleculeView.html()``) in an iframe ``height`` CSS pixels tall.

    Same checks as :func:`py3dmol_iframe` (3Dmol.js must come from the app itself); only HTML built by
    :mod:`lsip.viz.molview` may be passed, as iframe content runs as same-origin script.
    """
    if f"loadScriptAsync('{molview.JS_URL}')" not in view_html:
        raise ValueError(f"3D views must load 3Dmol.js from {molview.JS_URL} (use lsip.viz.molview)")
    st.iframe(view_html, height=int(height), width="stretch")


def run_guarded(func: Callable[[], T], what: str) -> T | None:
    """Run ``func``; show an :class:`LSIPError` as a clear message (no traceback) and return None instead."""
    try:
        return func()
    except LSIPError as exc:
        st.error(f"{what}: {exc}")
        return None
