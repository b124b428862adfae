"""Shared app state: the session keys of the current structure, total charge and parameter set, the current
structure and its prediction.

Selections live in ``st.session_state`` (they survive page changes). The sidebar that sets them is
:mod:`lsip.ui.sources`; their mirror in the URL is :mod:`lsip.ui.links`.

Caching is :mod:`lsip.ui.cache` (the library, the models, the predictions and every other kept result).
"""

from __future__ import annotations

import streamlit as st

from lsip.errors import LSIPError
from lsip.gallery import gallery_structure
from lsip.model.decoder import Prediction
from lsip.model.params import (
    ModelParameters,
    default_parameter_set,
    get_parameters,
)
from lsip.structure import Structure
from lsip.ui import cache, progress

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


def current_parameters() -> ModelParameters:
    """The selected parameter set with any live overrides from the Diagnostics sliders (or a link's ``ovr``); the
    overrides belong to the set they were made on and are not applied to another one."""
    params = get_parameters(st.session_state.get(PARAMS_KEY, default_parameter_set()))
    overrides = st.session_state.get(OVERRIDES_KEY) or {}
    if not overrides or st.session_state.get(OVERRIDES_BASE_KEY, params.name) != params.name:
        return params
    return params.with_(**overrides)


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
        cache.library().check_symbols(structure.symbols)
    except LSIPError as exc:
        st.error(str(exc))
        return None
    return structure


def current_prediction(structure: Structure) -> Prediction | None:
    """Model prediction of the current structure with a clear message on failure (never a traceback)."""
    try:
        with progress.spinner(f"Equalizing charges of {structure.formula} ({structure.n_atoms} atoms)"):
            pred = cache.prediction(structure, current_parameters())
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
