"""Shared app state: the session keys of the current structure, total charge and parameter set, the current
structure and its prediction, and the one place where model results are cached.

Selections live in ``st.session_state`` (they survive page changes). The sidebar that sets them is
:mod:`lsip.ui.sources`; their mirror in the URL is :mod:`lsip.ui.links`.

Caching: the latent library and models are ``st.cache_resource`` (one per process and parameter set);
predictions are ``st.cache_data`` keyed by small canonical strings (a structure fingerprint + parameter JSON),
never by arrays.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np
import streamlit as st

from lsip.errors import LSIPError
from lsip.gallery import gallery_structure
from lsip.model.decoder import Prediction
from lsip.model.library import LatentLibrary, default_library
from lsip.model.model import LSIPModel
from lsip.model.params import (
    ModelParameters,
    default_parameter_set,
    get_parameters,
)
from lsip.structure import Structure
from lsip.ui import progress

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
