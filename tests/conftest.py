"""Shared fixtures: an analytic latent library for fast model tests, and the shipped library when present."""

from __future__ import annotations

import os
import sys
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
                             overlap_repulsion=1.5)
    return LSIPModel(params=params, device="cpu")


@pytest.fixture
def isolated_cache(monkeypatch, tmp_path):
    """A private reference cache (``$LSIP_CACHE_DIR``) and empty Streamlit data caches for one AppTest."""
    import streamlit as st

    monkeypatch.setenv("LSIP_CACHE_DIR", str(tmp_path / "cache"))
    st.cache_data.clear()
    yield
    st.cache_data.clear()
