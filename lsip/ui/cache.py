"""The app's caches, in one place (issue 12.7): every result the app keeps between reruns and sessions, and the key
each is kept under.

* Resources, one per process: the latent library and one model per parameter set (``st.cache_resource``).
* Results, shared by all sessions and never modified after they are made (``st.cache_data`` or the process-wide
  :func:`store` where a page draws live progress itself): predictions, the physics checks, a data-set evaluation,
  density grids, slices and ESP maps, Molden files, SMILES builds and reference-size checks.

Keys are small canonical strings built here from the inputs (a structure's :func:`fingerprint`, a parameter set's
:func:`params_json`, a reference's cache key, a file's SHA-256), never arrays; the arguments that only carry the
data are underscored so Streamlit does not hash them. Pages call these functions and never decorate their own.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import asdict
from typing import Any

import numpy as np
import streamlit as st

from lsip import diagnostics
from lsip.errors import LSIPError
from lsip.io.smiles import structure_from_smiles
from lsip.model.decoder import Prediction
from lsip.model.library import LatentLibrary, default_library
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.reference import density, molden
from lsip.reference.driver import ReferenceDFT, ReferenceResult, ReferenceSettings
from lsip.structure import Structure
from lsip.workflows import evaluate


def fingerprint(structure: Structure) -> str:
    """Short canonical key of a structure (symbols, positions to 1e-6 angstrom, charge, cell)."""
    h = hashlib.sha256()
    h.update(" ".join(structure.symbols).encode())
    h.update(np.round(structure.positions, 6).tobytes())
    h.update(str(int(structure.charge)).encode())
    if structure.cell is not None:
        h.update(np.round(structure.cell, 6).tobytes())
    return h.hexdigest()[:24]


def params_json(params: ModelParameters) -> str:
    """Canonical JSON of a parameter set (the key of its model and of everything computed with it)."""
    return json.dumps(asdict(params), sort_keys=True)


def array_digest(*arrays: np.ndarray) -> str:
    """Short key of arrays rounded to 1e-12 (latent weights, atomic dipoles)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.round(np.asarray(a, dtype=np.float64), 12).tobytes())
    return h.hexdigest()[:12]


# --- resources: one per process -------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def library() -> LatentLibrary:
    """The shipped latent library, loaded once per process."""
    return default_library()


@st.cache_resource(show_spinner=False, max_entries=16)
def model(p_json: str) -> LSIPModel:
    """One model per parameter set (:func:`params_json`), on CUDA when available.

    At most 16 are kept (the Diagnostics sliders make a new set per value; the tables are rebuilt in ~10 ms)."""
    data = json.loads(p_json)
    data["born_mayer"] = {k: tuple(v) for k, v in data.get("born_mayer", {}).items()}
    return LSIPModel(library(), ModelParameters(**data), device="auto")


# --- results shared by all sessions ----------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=128)
def _prediction(key: str, _structure: Structure, p_json: str) -> Prediction:
    return model(p_json).predict(_structure, raise_on_failure=False)


def prediction(structure: Structure, params: ModelParameters) -> Prediction:
    """The model's prediction for ``structure`` (key: fingerprint + parameters)."""
    return _prediction(fingerprint(structure), structure, params_json(params))


@st.cache_data(show_spinner=False, max_entries=64)
def _checks(key: str, p_json: str, include_slow: bool, _structure: Structure, _pred: Prediction) -> list:
    return diagnostics.run_diagnostics(model(p_json), _structure, _pred, include_slow=include_slow)


def physics_checks(structure: Structure, pred: Prediction, p_json: str, include_slow: bool) -> list:
    """:func:`lsip.diagnostics.run_diagnostics` of a prediction (key: fingerprint + parameters + slow flag)."""
    return _checks(fingerprint(structure), p_json, include_slow, structure, pred)


@st.cache_data(show_spinner=False, max_entries=8)
def _evaluation(digest: str, p_json: str, baselines: bool, fmt: str, name: str,
                _data: bytes) -> evaluate.Evaluation | str:
    bar = st.progress(0.0, text="Reading the data set ...")

    def progress(k: int, n: int) -> None:
        if k == n or k % max(1, n // 40) == 0:
            bar.progress(k / n, text=f"Frame {k} of {n}")

    try:
        result: evaluate.Evaluation | str = evaluate.evaluate_file(
            _data, model(p_json), fmt, name=name, progress=progress,
            baselines=evaluate.BASELINES if baselines else ())
    except LSIPError as exc:
        result = str(exc)
    bar.empty()
    return result


def evaluation(data: bytes, p_json: str, baselines: bool, fmt: str, name: str) -> evaluate.Evaluation | str:
    """The evaluation of a data set (key: file SHA-256 + parameters + options), or the message of its refusal; a
    progress bar while the frames run."""
    return _evaluation(hashlib.sha256(data).hexdigest(), p_json, baselines, fmt, name, data)


@st.cache_data(show_spinner=False, max_entries=16)
def _density_grid(key: str, _fields: density.DensityFields, n_points: int) -> tuple[dict, dict, dict]:
    grid = density.display_grid(_fields.structure, n_points)
    vals = density.grid_densities(_fields, grid)
    cubes = {k: density.density_cube_text(grid, v, _fields.structure, k) for k, v in vals.items()}
    return cubes, {k: density.integrate(v, grid) for k, v in vals.items()}, vals


def density_key(fields: density.DensityFields, n_points: int) -> str:
    """The key of a structure's densities on the display grid: structure, latent weights and atomic dipoles,
    reference and grid size (also the page's token for requests made on it)."""
    ref = fields.reference
    dipoles = fields.dipoles if fields.dipoles is not None else np.zeros(0)
    return (f"{fingerprint(fields.structure)}|{array_digest(fields.model_weights, dipoles)}|"
            f"{ref.key if ref is not None else '-'}|{n_points}")


def density_grid(fields: density.DensityFields, n_points: int) -> tuple[dict, dict, dict]:
    """Cube texts, electron counts on the grid and grid values of every available density (model, promolecule,
    DFT) on the display grid (key: structure + latent weights and dipoles + reference + grid size)."""
    return _density_grid(density_key(fields, n_points), fields, n_points)


@st.cache_data(show_spinner=False, max_entries=16)
def _esp_map(key: str, kind: str, _fields: density.DensityFields, _vals: dict, n_points: int,
             isovalue: float) -> tuple[str, np.ndarray]:
    grid = density.display_grid(_fields.structure, n_points)
    esp = density.grid_esp(_fields, grid, _vals, isovalue, (kind,))[kind]
    return (density.esp_cube_text(grid, esp, _fields.structure, kind),
            density.surface_esp_values(_vals[kind], esp, isovalue))


def esp_map(kind: str, fields: density.DensityFields, values: dict, n_points: int,
            isovalue: float) -> tuple[str, np.ndarray]:
    """ESP cube text (hartree/e, on the surface band) of one density kind and the ESP where its isosurface
    crosses the grid (key: as :func:`density_grid` + kind + isovalue)."""
    return _esp_map(density_key(fields, n_points), kind, fields, values, n_points, isovalue)


@st.cache_data(show_spinner=False, max_entries=16)
def _density_slice(key: str, _fields: density.DensityFields, n_points: int, plane: str,
                   atoms: tuple[int, int, int] | None) -> density.PlaneSlice:
    grid = density.display_grid(_fields.structure, n_points)
    return density.slice_densities(_fields, grid, plane, atoms,
                                   density.slice_resolution(_fields.structure.n_atoms))


def density_slice(fields: density.DensityFields, n_points: int, plane: str,
                  atoms: tuple[int, int, int] | None) -> density.PlaneSlice:
    """Every density in a plane of the display grid's box (:func:`lsip.reference.density.slice_densities`, at
    :func:`~lsip.reference.density.slice_resolution`; key: as :func:`density_grid` + plane + atoms)."""
    return _density_slice(density_key(fields, n_points), fields, n_points, plane, atoms)


@st.cache_data(show_spinner=False, max_entries=8)
def _molden(key: str, _ref: ReferenceResult) -> str:
    return molden.molden_text(_ref)


def molden_file(ref: ReferenceResult) -> str:
    """The Molden text of a reference result (key: the reference's cache key)."""
    return _molden(ref.key, ref)


@st.cache_data(show_spinner=False, max_entries=64)
def smiles_structure(smiles: str) -> Structure:
    """The 3D structure built from a SMILES string (RDKit; :func:`lsip.io.smiles.structure_from_smiles`)."""
    return structure_from_smiles(smiles)


@st.cache_data(show_spinner=False, max_entries=64)
def _size_check(key: str, _structure: Structure, _settings: ReferenceSettings) -> tuple[int, float] | str:
    try:
        return ReferenceDFT(_structure, _settings, cache=False).check_size()
    except LSIPError as exc:
        return str(exc)


def reference_size(structure: Structure, settings: ReferenceSettings) -> tuple[int, float] | str:
    """(n_basis, estimated s) of a reference calculation, or the driver's refusal message (key: structure + basis
    + size limits)."""
    key = f"{fingerprint(structure)}|{settings.basis}|{settings.max_atoms}|{settings.max_basis}"
    return _size_check(key, structure, settings)


# --- the process-wide store for pages that draw their own progress ---------------------------------------------

class _Store:
    """A small thread-safe LRU of finished results."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _store(name: str, max_entries: int) -> _Store:
    return _Store(max_entries)


def stored(name: str, key: str, max_entries: int = 32) -> Any | None:
    """The result kept under ``key`` in the process-wide store ``name`` (None when there is none): for pages that
    draw their own live progress (``st.cache_data`` cannot: a progress bar made outside a cached function cannot
    be updated from inside it) and keep the result with :func:`store`."""
    return _store(name, max_entries).get(key)


def store(name: str, key: str, value: Any, max_entries: int = 32) -> None:
    """Keep ``value`` (never modified afterwards) under ``key`` in the store ``name`` for every session."""
    _store(name, max_entries).put(key, value)


