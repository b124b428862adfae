"""Streamlit support shared by ``app.py`` and ``pages/``: the only ``lsip`` module that imports streamlit.

It holds the page registry (which page files the router loads when they exist), the shared sidebar,
small page helpers and :func:`py3dmol_iframe`, which shows a :class:`lsip.viz.molview.MoleculeView` (or a bare
py3Dmol view) with ``st.iframe``; 3Dmol.js is served by the app itself from ``/app/static/``, never a CDN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import py3Dmol
import streamlit as st
from streamlit.navigation.page import StreamlitPage

import lsip
from lsip.errors import LSIPError
from lsip.viz import molview
from lsip.viz.molview import MoleculeView

T = TypeVar("T")

#: Session-state key of the teaching-mode toggle (larger labels, curated stories).
TEACHING_KEY = "lsip_teaching_mode"
#: Default height of a 3D view in CSS pixels.
VIEW_HEIGHT = 420


@dataclass(frozen=True)
class PageSpec:
    """One page of the app: its file under ``pages/``, navigation title, icon and a one-line summary.

    Files are named ``<position>_<Name>.py``; Streamlit derives the URL path from the name without the number
    (``6_Latent_library.py`` -> ``/Latent_library``), the same in ``st.navigation`` and in its legacy
    ``pages/`` mode, so deep links work on a server's very first request too.
    """

    file: str
    title: str
    icon: str
    summary: str

    @property
    def url_path(self) -> str:
        """URL path of the page (``""`` is the home page, drawn at the app's root)."""
        return Path(self.file).stem.split("_", 1)[1]


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
)


def available_pages(app_dir: Path) -> list[PageSpec]:
    """The pages of :data:`PAGES` whose file exists in ``app_dir / "pages"``, in navigation order."""
    return [spec for spec in PAGES if (Path(app_dir) / "pages" / spec.file).is_file()]


def navigation(app_dir: Path) -> StreamlitPage:
    """Build ``st.navigation`` from the available pages (the first one, Home, is the default); returns the
    selected page, to be ``.run()`` by the router."""
    pages = [
        st.Page(Path(app_dir) / "pages" / spec.file, title=spec.title, icon=spec.icon, default=k == 0)
        for k, spec in enumerate(available_pages(app_dir))
    ]
    return st.navigation(pages, position="sidebar")


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


def ensure_router() -> None:
    """Rerun through ``app.py`` when Streamlit ran a page file directly (its legacy ``pages/`` discovery).

    Streamlit decides per process whether a ``pages/`` folder beside the entry script means the old
    auto-discovered multipage mode; only a call of ``st.navigation`` switches that off. Until ``app.py`` has run
    once (a deep link such as ``/scan`` as the very first request, or every ``AppTest`` rerun), a page file can
    be executed on its own, without page config or shared sidebar. Then switch the legacy mode off and rerun.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - internal module moved; nothing to repair
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def page_header(title: str, intro: str = "") -> None:
    """Title and a short introduction (markdown) at the top of a page; every page starts with it.

    Calls :func:`ensure_router` first, so a page is always drawn inside the app shell.
    """
    ensure_router()
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
