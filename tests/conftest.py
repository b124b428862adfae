"""Shared fixtures: an analytic latent library for fast model tests, the shipped library when present, and the
one private reference cache (:func:`isolated_cache`, :func:`module_cache`) of every test that touches the cache."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).parent))
torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def synth_library():
    from synthetic import synthetic_library

    return synthetic_library()


@pytest.fixture(scope="session")
def synth_model(synth_library):
    from lsip.model.model import LSIPModel

    return LSIPModel(synth_library, device="cpu")


@pytest.fixture(scope="session")
def shipped_model():
    from lsip.model.model import LSIPModel

    return LSIPModel(device="cpu")


@pytest.fixture(scope="session")
def default_model():
    """The model with the parameter set the app, the CLI and the ASE calculator use by default."""
    from lsip.model.model import LSIPModel
    from lsip.model.params import default_parameter_set

    return LSIPModel(params=default_parameter_set(), device="cpu")


@pytest.fixture(scope="session")
def all_terms_model():
    """The shipped library with every optional energy term switched on (docs/model.md section 10), at strengths
    of the order a calibration gives: a test set, not a fitted one."""
    from lsip.model.model import LSIPModel
    from lsip.model.params import ModelParameters

    params = ModelParameters(name="all-terms-test", pairing_strength=0.6, pairing_decay=1.4, pauli_strength=0.8,
                             pauli_decay=1.1, electronegativity_slope={"C": 3.0, "N": 2.0, "H": -1.0, "O": 1.0},
                             overlap_repulsion=1.5, hybrid_repulsion=0.3, core_repulsion=1.0,
                             pauli_bond_relief=0.5, lone_pair_dipole=0.7, polarization_exclusion=0.8,
                             electronegativity_pair_saturation=4.0)
    return LSIPModel(params=params, device="cpu")


def _clear_streamlit_data_caches() -> None:
    """Empty ``st.cache_data`` (nothing to do while no test has imported streamlit)."""
    if "streamlit" in sys.modules:
        import streamlit as st

        st.cache_data.clear()


@contextmanager
def _private_cache(monkeypatch: pytest.MonkeyPatch, path: Path) -> Iterator[Path]:
    """Point ``$LSIP_CACHE_DIR`` at ``path`` (the reference cache is ``path/reference.sqlite``, created on first
    use) with empty Streamlit data caches; ``monkeypatch`` restores the variable."""
    monkeypatch.setenv("LSIP_CACHE_DIR", str(path))
    _clear_streamlit_data_caches()
    try:
        yield path
    finally:
        _clear_streamlit_data_caches()


@pytest.fixture
def isolated_cache(monkeypatch, tmp_path) -> Iterator[Path]:
    """A private, empty reference cache (``$LSIP_CACHE_DIR``, never the user's) and empty Streamlit data caches
    for one test; yields the cache directory. Fill it through ``ReferenceCache()`` (the default path now lies in
    it) or a ``ReferenceDFT`` run. Every test that reads or writes the default reference cache uses this fixture
    (or :func:`module_cache`)."""
    with _private_cache(monkeypatch, tmp_path / "cache") as path:
        yield path


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory) -> Iterator[Path]:
    """:func:`isolated_cache` for a module-scoped fixture that fills one cache for several tests (e.g. one
    ``lsip validate`` run whose report several tests read)."""
    with pytest.MonkeyPatch.context() as mp, _private_cache(mp, tmp_path_factory.mktemp("cache")) as path:
        yield path
