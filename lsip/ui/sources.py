"""The sidebar's structure sources (gallery, upload, pasted XYZ, SMILES), total charge and parameter set.

Uploaded bytes are parsed with an explicit, user-chosen format (``lsip.io``); nothing uploaded is unpickled or
executed. A structure that becomes current brings its own total charge (:func:`take_structure`), which the sidebar
then shows and lets the user change. The selections are session state (:mod:`lsip.ui.state`) mirrored in the URL
(:mod:`lsip.ui.links`).
"""

from __future__ import annotations

import hashlib

import streamlit as st

from lsip.errors import LSIPError
from lsip.gallery import load_gallery
from lsip.io import FORMATS, parse_xyz_text, read_structures
from lsip.model.params import available_parameter_sets, default_parameter_set, describe, get_parameters
from lsip.structure import Structure
from lsip.ui import cache, common, links
from lsip.ui.state import (
    CHARGE_KEY,
    DEFAULT_MOLECULE,
    GALLERY_KEY,
    MAX_UPLOAD_BYTES,
    PARAMS_KEY,
    SMILES_KEY,
    SOURCE_KEY,
    SOURCES,
    UPLOADED_KEY,
)


def structure_sidebar() -> None:
    """Sidebar widgets choosing the structure, its total charge and the parameter set (shared by all pages)."""
    links.keep_page_settings()
    links.sync_from_url()
    gallery = load_gallery()
    with st.sidebar:
        st.subheader("Structure")
        source = st.radio("Source", SOURCES, key=SOURCE_KEY, horizontal=True)
        # a structure brings its own charge when it becomes current: forget the other source's last pick
        st.session_state.pop("lsip_prev_source_token" if source == "Gallery" else "lsip_prev_gallery", None)
        if source == "Gallery":
            keys = list(gallery)
            if st.session_state.get(GALLERY_KEY) not in keys:
                st.session_state[GALLERY_KEY] = DEFAULT_MOLECULE if DEFAULT_MOLECULE in keys else keys[0]
            prev = st.session_state.get("lsip_prev_gallery")
            st.selectbox("Gallery structure", keys, key=GALLERY_KEY,
                         format_func=lambda k: f"{gallery[k].title} ({gallery[k].category})")
            if prev != st.session_state[GALLERY_KEY]:  # a new molecule brings its own total charge
                st.session_state[CHARGE_KEY] = int(gallery[st.session_state[GALLERY_KEY]].charge)
                st.session_state["lsip_prev_gallery"] = st.session_state[GALLERY_KEY]
        elif source == "Upload":
            _upload_widget()
        elif source == "SMILES":
            _smiles_widget()
        else:
            _paste_widget()
        st.number_input("Total charge Q (e)", min_value=-20, max_value=20, step=1, key=CHARGE_KEY)
        if st.session_state.get(PARAMS_KEY) not in available_parameter_sets():
            st.session_state[PARAMS_KEY] = default_parameter_set()
        st.selectbox("Parameter set", available_parameter_sets(), key=PARAMS_KEY,
                     help="first-principles: nothing fitted (docs/model.md); others: calibrated sets "
                          "(docs/calibration.md).")
        st.caption(describe(get_parameters(st.session_state.get(PARAMS_KEY, default_parameter_set()))))
    links.sync_to_url()


def take_structure(structure: Structure, token: str) -> None:
    """Make ``structure`` current; a structure that differs from the last one read brings its own total charge
    (from the file: extended-XYZ ``charge=``, an XYZ comment, CIF/POSCAR metadata), which the sidebar then shows
    and lets the user change (as a gallery pick does)."""
    st.session_state[UPLOADED_KEY] = structure
    if st.session_state.get("lsip_prev_source_token") != token:
        st.session_state["lsip_prev_source_token"] = token
        st.session_state[CHARGE_KEY] = int(structure.charge)


def _upload_widget() -> None:
    names = list(FORMATS)
    fmt = st.selectbox("Format (chosen explicitly, never guessed)", names, key="lsip_upload_format",
                       format_func=lambda k: FORMATS[k].description)
    up = st.file_uploader("Structure file", key="lsip_upload_file",
                          type=[e.lstrip(".") for e in FORMATS[fmt].extensions] or None)
    if up is None:
        # the file that was read is gone (removed, or another format refused it): no stale structure stays
        if str(st.session_state.get("lsip_prev_source_token", "")).startswith("upload|"):
            st.session_state[UPLOADED_KEY] = None
            st.session_state.pop("lsip_prev_source_token", None)
        return
    data = up.getvalue()
    if len(data) > MAX_UPLOAD_BYTES:
        st.error(f"file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 2**20:.0f} MB")
        st.session_state[UPLOADED_KEY] = None
        return
    try:
        frames = read_structures(data, fmt, name=up.name)
        take_structure(frames[0], f"upload|{fmt}|{up.name}|{hashlib.sha256(data).hexdigest()}")
        if len(frames) > 1:
            st.info(f"{len(frames)} frames read; showing the first")
    except LSIPError as exc:
        st.error(f"Cannot read {up.name!r} as {fmt}: {exc}")
        st.session_state[UPLOADED_KEY] = None
    except Exception as exc:  # a reader bug: a short message in the sidebar, the traceback in the server log
        st.session_state[UPLOADED_KEY] = None
        common.show_unexpected_error(exc, f"reading an upload as {fmt}", message=(
            f"Cannot read {up.name!r} as {fmt}: unexpected error ({type(exc).__name__}); the details are in the "
            "server log."))


def _paste_widget() -> None:
    text = st.text_area("XYZ text", key="lsip_paste_text", height=160,
                        placeholder="3\nwater\nO 0 0 0.117\nH 0 0.757 -0.469\nH 0 -0.757 -0.469")
    if not text.strip():
        st.session_state[UPLOADED_KEY] = None
        return
    try:
        take_structure(parse_xyz_text(text), "paste|" + hashlib.sha256(text.encode()).hexdigest())
    except LSIPError as exc:
        st.error(f"Cannot read the pasted XYZ: {exc}")
        st.session_state[UPLOADED_KEY] = None
    except Exception as exc:  # a reader bug: a short message in the sidebar, the traceback in the server log
        st.session_state[UPLOADED_KEY] = None
        common.show_unexpected_error(exc, "reading pasted XYZ", message=(
            f"Cannot read the pasted XYZ: unexpected error ({type(exc).__name__}); the details are in the server "
            "log."))


def _smiles_widget() -> None:
    text = st.text_input("SMILES", key=SMILES_KEY, placeholder="CCO (ethanol), CC(=O)[O-] (acetate)",
                         help="Hydrogens are added; the total charge is the sum of the formal charges. The 3D "
                              "geometry comes from RDKit (ETKDG embedding + MMFF94 force field), not from DFT: "
                              "relax it with the model on the Optimize page.")
    if not text.strip():
        st.session_state[UPLOADED_KEY] = None
        return
    try:
        structure = cache.smiles_structure(text.strip())
    except LSIPError as exc:
        st.error(f"Cannot build {text.strip()!r}: {exc}")
        st.session_state[UPLOADED_KEY] = None
        return
    take_structure(structure, "smiles|" + text.strip())
    st.caption(f"{structure.formula}, {structure.n_atoms} atoms, Q = {structure.charge:+d}; geometry: "
               f"{structure.info.get('geometry', 'RDKit')}.")
