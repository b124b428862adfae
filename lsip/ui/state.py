"""Shared app state: the current structure (gallery / upload / paste), total charge, parameter set, and the
one place where model results are cached.

Selections live in ``st.session_state`` (they survive page changes) and are mirrored into the URL query
parameters (``mol``, ``q``, ``params``, ``teach`` and the page controls of :data:`URL_SETTINGS`) so that a
link reproduces a gallery view. Uploaded bytes are
parsed with an explicit, user-chosen format (``lsip.io``); nothing uploaded is unpickled or executed.

Caching: the latent library and models are ``st.cache_resource`` (one per process and parameter set);
predictions are ``st.cache_data`` keyed by small canonical strings (a structure fingerprint + parameter JSON),
never by arrays.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import streamlit as st

from lsip.diagnostics import overrides_from_url, overrides_to_url
from lsip.errors import LSIPError
from lsip.gallery import gallery_structure, load_gallery
from lsip.io import FORMATS, parse_xyz_text, read_structures
from lsip.model.decoder import Prediction
from lsip.model.library import LatentLibrary, default_library
from lsip.model.model import LSIPModel
from lsip.model.params import (
    ModelParameters,
    available_parameter_sets,
    default_parameter_set,
    describe,
    get_parameters,
)
from lsip.smiles import MAX_SMILES_LENGTH, structure_from_smiles
from lsip.structure import Structure
from lsip.ui import common, progress

SOURCE_KEY = "lsip_source"
GALLERY_KEY = "lsip_gallery_key"
CHARGE_KEY = "lsip_charge"
PARAMS_KEY = "lsip_params"
OVERRIDES_KEY = "lsip_param_overrides"
#: The parameter set the overrides were made on (they apply to that set only).
OVERRIDES_BASE_KEY = "lsip_diag_base"
UPLOADED_KEY = "lsip_uploaded_structure"
SMILES_KEY = "lsip_smiles"
SOURCES = ("Gallery", "Upload", "Paste XYZ", "SMILES")
DEFAULT_MOLECULE = "water"
MAX_UPLOAD_BYTES = 5 * 2**20


@dataclass(frozen=True)
class UrlSetting:
    """A page control mirrored in the URL: its default, type and allowed values (anything else in a URL is
    ignored, so a hand-edited link can never break a widget)."""

    default: object
    options: tuple = ()
    bounds: tuple[float, float] | None = None

    def parse(self, text: str) -> object | None:
        """The value of ``text`` for this setting, or None when it is not a valid value."""
        try:
            if isinstance(self.default, bool):
                value = {"1": True, "0": False}[text]
            elif isinstance(self.default, int):
                value = int(text)
            elif isinstance(self.default, float):
                value = float(text)
            else:
                value = str(text)
        except (KeyError, ValueError):
            return None
        if self.options and value not in self.options:
            return None
        if self.bounds is not None and not self.bounds[0] <= value <= self.bounds[1]:
            return None
        return value

    @staticmethod
    def format(value: object) -> str:
        """URL text of a value (booleans as 1/0)."""
        return ("1" if value else "0") if isinstance(value, bool) else str(value)


#: Page controls that travel in the URL next to ``mol``, ``q``, ``params`` and ``teach`` (widget key -> setting).
URL_SETTINGS: dict[str, UrlSetting] = {
    "explore_threshold": UrlSetting(0.01, bounds=(0.0, 0.5)),
    "explore_direction": UrlSetting("net flow", options=("net flow", "both directions")),
    "explore_color": UrlSetting("charge q", options=("charge q", "charge fluctuation")),
    "explore_glyphs": UrlSetting(True),
    "explore_forces": UrlSetting(False),
    "explore_dipoles": UrlSetting(False),
    "ct_threshold": UrlSetting(0.01, bounds=(0.0, 0.5)),
    "ct_both": UrlSetting(False),
    "lsip_density_plane": UrlSetting("xy", options=("xy", "xz", "yz", "atoms")),
    "lsip_scan_points": UrlSetting(30, bounds=(5, 80)),
    "present_slide": UrlSetting(0, bounds=(0, 3)),
}


def _keep_page_settings() -> None:
    """Keep the page controls of :data:`URL_SETTINGS` through runs that do not draw them (issue 14.1).

    Streamlit drops a widget's state at the end of a run that does not draw the widget (e.g. Explore while the
    pasted text is still empty), and the widget then came back at its minimum (threshold 0.000, glyphs off).
    Re-assigning the value makes it plain session state, which survives; the widget picks it up again.
    """
    for key in URL_SETTINGS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def url_setting(key: str) -> None:
    """Give the widget ``key`` its default unless the URL or the user already set it; the page then creates
    the widget without a ``value=`` (Streamlit warns when both a default and session state set a widget)."""
    st.session_state.setdefault(key, URL_SETTINGS[key].default)


def fingerprint(structure: Structure) -> str:
    """Short canonical key of a structure (symbols, positions to 1e-6 angstrom, charge, cell)."""
    h = hashlib.sha256()
    h.update(" ".join(structure.symbols).encode())
    h.update(np.round(structure.positions, 6).tobytes())
    h.update(str(int(structure.charge)).encode())
    if structure.cell is not None:
        h.update(np.round(structure.cell, 6).tobytes())
    return h.hexdigest()[:24]


@st.cache_resource(show_spinner=False)
def get_library() -> LatentLibrary:
    """The shipped latent library, loaded once per process."""
    return default_library()


@st.cache_resource(show_spinner=False, max_entries=16)
def get_model(params_json: str) -> LSIPModel:
    """One model per parameter set (JSON of :class:`ModelParameters`), on CUDA when available.

    At most 16 are kept (the Diagnostics sliders make a new set per value; the tables are rebuilt in ~10 ms)."""
    data = json.loads(params_json)
    data["born_mayer"] = {k: tuple(v) for k, v in data.get("born_mayer", {}).items()}
    return LSIPModel(get_library(), ModelParameters(**data), device="auto")


def current_parameters() -> ModelParameters:
    """The selected parameter set with any live overrides from the Diagnostics sliders (or a link's ``ovr``); the
    overrides belong to the set they were made on and are not applied to another one."""
    params = get_parameters(st.session_state.get(PARAMS_KEY, default_parameter_set()))
    overrides = st.session_state.get(OVERRIDES_KEY) or {}
    if not overrides or st.session_state.get(OVERRIDES_BASE_KEY, params.name) != params.name:
        return params
    return params.with_(**overrides)


def params_json(params: ModelParameters) -> str:
    """Canonical JSON of a parameter set (a cache key)."""
    return json.dumps(asdict(params), sort_keys=True)


@st.cache_data(show_spinner=False, max_entries=128)
def _predict_cached(key: str, _structure: Structure, p_json: str) -> Prediction:
    return get_model(p_json).predict(_structure, raise_on_failure=False)


def predict(structure: Structure, params: ModelParameters | None = None) -> Prediction:
    """Cached model prediction for ``structure`` (key: fingerprint + parameters)."""
    p_json = params_json(params or current_parameters())
    return _predict_cached(fingerprint(structure), structure, p_json)


def _sync_from_url() -> None:
    """On the first run of a session, take gallery key, charge, params and teaching mode from the URL."""
    if st.session_state.get("lsip_url_loaded"):
        return
    qp = st.query_params
    gallery = load_gallery()
    if qp.get("mol") in gallery:
        st.session_state[SOURCE_KEY] = "Gallery"
        st.session_state[GALLERY_KEY] = qp["mol"]
        # the molecule comes with the link: its charge is the link's ``q`` (if any), not the gallery default
        st.session_state["lsip_prev_gallery"] = qp["mol"]
        st.session_state[CHARGE_KEY] = int(gallery[qp["mol"]].charge)
    elif qp.get("smiles") and len(qp["smiles"]) <= MAX_SMILES_LENGTH:  # a link to a SMILES-built molecule
        st.session_state[SOURCE_KEY] = "SMILES"
        st.session_state[SMILES_KEY] = qp["smiles"]
        if "q" in qp:  # the link's q is the charge; without one, the SMILES' formal charges are
            st.session_state["lsip_prev_source_token"] = "smiles|" + qp["smiles"].strip()
    if "q" in qp:
        with contextlib.suppress(ValueError):
            st.session_state[CHARGE_KEY] = int(qp["q"])
    if qp.get("params") in available_parameter_sets():
        st.session_state[PARAMS_KEY] = qp["params"]
    if qp.get("teach") == "1":
        st.session_state["lsip_teaching_mode"] = True
    if qp.get("ovr"):  # live parameter overrides of a shared link (only valid live parameters are taken)
        base = get_parameters(st.session_state.get(PARAMS_KEY, default_parameter_set()))
        overrides = overrides_from_url(qp["ovr"], base)
        if overrides:
            st.session_state[OVERRIDES_KEY] = overrides
            st.session_state[OVERRIDES_BASE_KEY] = base.name
    for key, setting in URL_SETTINGS.items():
        value = setting.parse(qp[key]) if key in qp else None
        if value is not None:
            st.session_state[key] = value
    st.session_state["lsip_url_loaded"] = True


def sync_to_url() -> None:
    """Mirror the selections (and live overrides) into the URL; pages that change them after the sidebar call it
    again."""
    qp = {}
    if st.session_state.get(SOURCE_KEY, "Gallery") == "Gallery":
        qp["mol"] = st.session_state.get(GALLERY_KEY, DEFAULT_MOLECULE)
    elif st.session_state.get(SOURCE_KEY) == "SMILES" and str(st.session_state.get(SMILES_KEY, "")).strip():
        qp["smiles"] = str(st.session_state[SMILES_KEY]).strip()
    qp["q"] = str(st.session_state.get(CHARGE_KEY, 0))
    qp["params"] = st.session_state.get(PARAMS_KEY, default_parameter_set())
    if st.session_state.get("lsip_teaching_mode"):
        qp["teach"] = "1"
    overrides = st.session_state.get(OVERRIDES_KEY) or {}
    if overrides and st.session_state.get(OVERRIDES_BASE_KEY, qp["params"]) == qp["params"]:
        qp["ovr"] = overrides_to_url(overrides)
    for key, setting in URL_SETTINGS.items():
        if key in st.session_state and st.session_state[key] != setting.default:
            qp[key] = setting.format(st.session_state[key])
    if dict(st.query_params) != qp:
        st.query_params.from_dict(qp)


def structure_sidebar() -> None:
    """Sidebar widgets choosing the structure, its total charge and the parameter set (shared by all pages)."""
    _keep_page_settings()
    _sync_from_url()
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
    sync_to_url()


def _take_new_structure(structure: Structure, token: str) -> None:
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
        _take_new_structure(frames[0], f"upload|{fmt}|{up.name}|{hashlib.sha256(data).hexdigest()}")
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
        _take_new_structure(parse_xyz_text(text), "paste|" + hashlib.sha256(text.encode()).hexdigest())
    except LSIPError as exc:
        st.error(f"Cannot read the pasted XYZ: {exc}")
        st.session_state[UPLOADED_KEY] = None
    except Exception as exc:  # a reader bug: a short message in the sidebar, the traceback in the server log
        st.session_state[UPLOADED_KEY] = None
        common.show_unexpected_error(exc, "reading pasted XYZ", message=(
            f"Cannot read the pasted XYZ: unexpected error ({type(exc).__name__}); the details are in the server "
            "log."))


@st.cache_data(show_spinner=False, max_entries=64)
def _smiles_structure(smiles: str) -> Structure:
    return structure_from_smiles(smiles)


def _smiles_widget() -> None:
    text = st.text_input("SMILES", key=SMILES_KEY, placeholder="CCO (ethanol), CC(=O)[O-] (acetate)",
                         help="Hydrogens are added; the total charge is the sum of the formal charges. The 3D "
                              "geometry comes from RDKit (ETKDG embedding + MMFF94 force field), not from DFT: "
                              "relax it with the model on the Optimize page.")
    if not text.strip():
        st.session_state[UPLOADED_KEY] = None
        return
    try:
        structure = _smiles_structure(text.strip())
    except LSIPError as exc:
        st.error(f"Cannot build {text.strip()!r}: {exc}")
        st.session_state[UPLOADED_KEY] = None
        return
    _take_new_structure(structure, "smiles|" + text.strip())
    st.caption(f"{structure.formula}, {structure.n_atoms} atoms, Q = {structure.charge:+d}; geometry: "
               f"{structure.info.get('geometry', 'RDKit')}.")


def current_structure() -> Structure | None:
    """The selected structure with the selected total charge, or None (with nothing chosen yet)."""
    source = st.session_state.get(SOURCE_KEY, "Gallery")
    if source == "Gallery":
        key = st.session_state.get(GALLERY_KEY, DEFAULT_MOLECULE)
        try:
            st_ = gallery_structure(key)
        except (KeyError, LSIPError):
            return None
    else:
        st_ = st.session_state.get(UPLOADED_KEY)
        if st_ is None:
            return None
    charge = int(st.session_state.get(CHARGE_KEY, st_.charge))
    return st_.with_charge(charge) if charge != st_.charge else st_


def require_structure() -> Structure | None:
    """The current structure, or an info box asking for one (pages return early on None)."""
    structure = current_structure()
    if structure is None:
        st.info("No structure yet: pick one from the gallery, upload a file or paste XYZ in the sidebar.")
        return None
    try:
        get_library().check_symbols(structure.symbols)
    except LSIPError as exc:
        st.error(str(exc))
        return None
    return structure


def current_prediction(structure: Structure) -> Prediction | None:
    """Model prediction of the current structure with a clear message on failure (never a traceback)."""
    try:
        with progress.spinner(f"Equalizing charges of {structure.formula} ({structure.n_atoms} atoms)"):
            pred = predict(structure)
    except LSIPError as exc:
        st.error(f"The model cannot run on this structure: {exc}")
        return None
    if not pred.converged:
        st.warning(f"Charge equalization did NOT converge (KKT residual {pred.residual:.1e} Ha after "
                   f"{pred.iterations} iterations): the numbers below are not a solution.")
    return pred


def require_prediction() -> tuple[Structure, Prediction]:
    """The current structure and its model prediction; otherwise the page shows why and stops here.

    Shared preamble of the result pages: :func:`require_structure`, then :func:`current_prediction`, with
    ``st.stop()`` (a clean end of the script run, no traceback) when either is missing.
    """
    structure = require_structure()
    if structure is None:
        st.stop()
    pred = current_prediction(structure)
    if pred is None:
        st.stop()
    return structure, pred
