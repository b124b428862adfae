"""The shipped latent library (assets/library/lsip-library.npz) and its builder (lsip.reference.library_build).

Experimental reference values: lsip/data/atomic_reference.py (NIST ASD ionization energies and levels, CRC
electron affinities). Tolerances are those measured for PBE0/def2-TZVPPD(+s) in docs/library.md.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lsip.cli import main
from lsip.data.atomic_reference import atomic_reference
from lsip.model.library import DEFAULT_LIBRARY_PATH, STATE_LABELS, load_library, save_library
from lsip.reference.library_build import (
    DEFAULT_ELEMENTS,
    build_library,
    embedding_function,
    gaussian_density,
    gaussian_fit,
    gaussian_potential,
    log_grid,
    radial_potential,
)
from lsip.units import HARTREE_TO_EV

#: |computed - experiment| tolerances, eV (PBE0 errors for atoms are a few tenths of an eV).
TOL_I_EV = 0.5
TOL_A_EV = 0.5
TOL_EXCITATION_EV = 0.5


@pytest.fixture(scope="module")
def lib():
    return load_library(DEFAULT_LIBRARY_PATH)


def _states(lib):
    for sym, entry in lib.elements.items():
        for label, st in entry.states.items():
            yield sym, label, st


def test_shipped_library_complete_and_fast_to_load(lib):
    assert set(lib.elements) == set(DEFAULT_ELEMENTS)
    assert all(set(e.states) == set(STATE_LABELS) for e in lib.elements.values())
    assert DEFAULT_LIBRARY_PATH.stat().st_size < 2 * 1024**2
    assert lib.level["xc"] == "pbe0" and lib.level["basis"] == "def2-tzvppd"
    for key in ("pyscf_version", "numpy_version", "date", "command", "r_grid", "rhobar_grid", "lsip_version"):
        assert key in lib.level


def test_grids_uniform_in_log(lib):
    for grid in (lib.r_grid, lib.rhobar_grid):
        d = np.diff(np.log(grid))
        assert np.allclose(d, d[0], rtol=1e-9)
    assert lib.r_grid[0] <= 1e-4 and lib.r_grid[-1] >= 40.0


def test_densities_integrate_to_electron_count(lib):
    h = math.log(lib.r_grid[1] / lib.r_grid[0])
    for sym, label, st in _states(lib):
        n = 4.0 * math.pi * h * np.sum(lib.r_grid**3 * st.radial_density)
        assert n == pytest.approx(st.n_electrons, abs=1e-4), (sym, label)
        assert np.all(st.radial_density >= 0.0)
        assert st.gauss_coefficients.sum() == pytest.approx(st.n_electrons, abs=1e-9)
        z = lib.elements[sym].Z
        assert st.n_electrons == z + {"cation": -1, "neutral": 0, "anion": 1, "excited": 0}[label]


def test_hydrogen_cation_is_empty(lib):
    st = lib.elements["H"].states["cation"]
    assert st.n_electrons == 0 and st.energy == 0.0
    assert len(st.gauss_coefficients) == 0 and not st.radial_density.any() and not st.embedding.any()


def test_states_spherical_and_converged(lib):
    for sym, label, st in _states(lib):
        assert st.converged, (sym, label)
        assert st.sphericity < 1e-6, (sym, label)  # spherical SCF; plain UKS gives O(1) for open p shells
    assert not any("not_spherical" in e.flags or "scf_not_converged" in e.flags for e in lib.elements.values())


@pytest.mark.parametrize("sym", DEFAULT_ELEMENTS)
def test_ionization_energy_vs_experiment(lib, sym):
    computed = lib.elements[sym].ionization_energy * HARTREE_TO_EV
    assert abs(computed - atomic_reference(sym).ionization_energy_ev) < TOL_I_EV


@pytest.mark.parametrize("sym", [s for s in DEFAULT_ELEMENTS if s != "Ca"])
def test_electron_affinity_vs_experiment(lib, sym):
    ref = atomic_reference(sym)
    computed = lib.elements[sym].electron_affinity * HARTREE_TO_EV
    if ref.electron_affinity_ev is None:  # N-, Be-, Mg- are unbound: DFT (finite basis) must agree in sign
        assert computed < 0.0
    else:
        assert abs(computed - ref.electron_affinity_ev) < TOL_A_EV


def test_unbound_anions_flagged(lib):
    for sym in ("N", "Be", "Mg"):
        assert "anion_unbound_experimentally" in lib.elements[sym].flags
        assert "anion_unbound_dft" in lib.elements[sym].flags
    for sym in ("H", "C", "O", "F", "Cl", "Na"):
        assert not any(f.startswith("anion_unbound") for f in lib.elements[sym].flags)
    # Ca- (A = 0.0246 eV measured) comes out unbound by ~0.06 eV at this level: flagged, documented
    ca = lib.elements["Ca"]
    assert abs(ca.electron_affinity * HARTREE_TO_EV - 0.02455) < 0.15
    assert ("anion_unbound_dft" in ca.flags) == (ca.electron_affinity < 0.0)


@pytest.mark.parametrize("sym", [s for s in DEFAULT_ELEMENTS if atomic_reference(s).excitation_energy_ev])
def test_excitation_energy_vs_experiment(lib, sym):
    computed = lib.elements[sym].excitation_energy * HARTREE_TO_EV
    assert abs(computed - atomic_reference(sym).excitation_energy_ev) < TOL_EXCITATION_EV


def test_gaussian_fit_reproduces_potential(lib):
    """V(r) of the radial density (radial integration) vs sum_g c_g erf(sqrt(a_g) r)/r.

    Tolerance: 1e-2 hartree at 1 bohr, 3e-3 hartree from 2 bohr on (measured max 7.4e-3 / 2.3e-3, Ca),
    except states flagged fit_poor (H 2p: a positive sum of s-Gaussians is monotone, the 2p density is not).
    """
    r = lib.r_grid
    for sym, label, st in _states(lib):
        if st.n_electrons == 0:
            continue
        assert np.all(st.gauss_coefficients > 0.0) and len(st.gauss_coefficients) <= 16
        if sym == "H" and label == "excited":
            assert "fit_poor" in lib.elements["H"].flags
            continue
        v = radial_potential(r, st.radial_density)
        for x, tol in ((1.0, 1e-2), (2.0, 3e-3), (3.0, 3e-3), (5.0, 3e-3), (8.0, 3e-3)):
            i = int(np.argmin(np.abs(r - x)))  # the grid point nearest x
            vg = gaussian_potential(st.gauss_coefficients, st.gauss_exponents, r[i:i + 1])[0]
            assert abs(v[i] - vg) < tol, (sym, label, x)
            assert v[i] <= st.n_electrons / r[i] * (1 + 1e-6)  # the potential of N electrons is at most N / r


def test_radial_potential_of_gaussian_is_exact():
    r = log_grid(1e-5, 60.0, 400)
    c, a = np.array([2.0, 3.0]), np.array([0.5, 20.0])
    v = radial_potential(r, gaussian_density(c, a, r))
    assert np.allclose(v, gaussian_potential(c, a, r), rtol=3e-4, atol=1e-6)  # trapezoid in ln r, h = 0.039


def test_gaussian_fit_recovers_gaussian_density():
    r = log_grid(1e-5, 60.0, 400)
    expo = 0.004 * 1.5**10  # one of the candidate exponents
    rho = gaussian_density(np.array([1.0]), np.array([expo]), r)
    c, a, err = gaussian_fit(r, rho, 1.0)
    assert err < 1e-3 and c.sum() == pytest.approx(1.0)
    assert c[np.argmin(np.abs(a - expo))] > 0.999


def test_embedding_zero_at_zero_background_and_continuous(lib):
    r, rb = lib.r_grid, lib.rhobar_grid
    for sym, label, st in _states(lib):
        assert embedding_function(r, st.radial_density, np.array([0.0]))[0] == 0.0
        assert abs(st.embedding[0]) < 1e-4, (sym, label)  # F -> 0 as rho_bar -> 0
        ratio = st.embedding / rb  # the model interpolates F / rho_bar in ln rho_bar
        jumps = np.abs(np.diff(ratio))
        scale = np.abs(ratio).max() + 1e-12
        assert jumps.max() < 0.1 * scale, (sym, label)
    # a uniform background adds exactly nothing to an empty state
    assert not lib.elements["H"].states["cation"].embedding.any()


def test_embedding_matches_direct_quadrature(lib):
    """F(rho_bar) recomputed from the stored density equals the stored table (no hidden state)."""
    st = lib.elements["O"].states["neutral"]
    f = embedding_function(lib.r_grid, st.radial_density, lib.rhobar_grid)
    assert np.allclose(f, st.embedding, rtol=1e-12, atol=1e-14)


@pytest.fixture(scope="module")
def small_build():
    return build_library(["H", "Li"], basis="def2-svp", grid_level=2, n_r=200, n_rhobar=20, command="test")


def test_small_build_roundtrips_exactly(small_build, tmp_path):
    built = small_build
    path = save_library(built, tmp_path / "small.npz")
    back = load_library(path)
    assert back.level == built.level and back.symbols == ["H", "Li"]
    assert np.array_equal(back.r_grid, built.r_grid) and np.array_equal(back.rhobar_grid, built.rhobar_grid)
    for sym in ("H", "Li"):
        e0, e1 = built.elements[sym], back.elements[sym]
        assert e0.flags == e1.flags and e0.Z == e1.Z
        for label in STATE_LABELS:
            s0, s1 = e0.states[label], e1.states[label]
            for name in ("radial_density", "gauss_coefficients", "gauss_exponents", "embedding"):
                assert np.array_equal(getattr(s0, name), getattr(s1, name)), (sym, label, name)
            for name in ("n_electrons", "energy", "configuration", "fit_error", "converged", "sphericity", "spin"):
                assert getattr(s0, name) == getattr(s1, name), (sym, label, name)
        c0, c1 = e0.core, e1.core  # the frozen core (docs/model.md 10.10): H none, Li 1s2
        assert (c0.n_electrons, c0.shells, c0.fit_error) == (c1.n_electrons, c1.shells, c1.fit_error)
        for name in ("radial_density", "gauss_coefficients", "gauss_exponents"):
            assert np.array_equal(getattr(c0, name), getattr(c1, name)), (sym, "core", name)
    assert (built.elements["H"].core.n_electrons, built.elements["Li"].core.shells) == (0, "1s2")


def test_rebuild_h_li_at_shipped_settings_matches_shipped(lib):
    """H and Li rebuilt at the shipped level (same defaults) reproduce the shipped states (~5 s of SCF)."""
    new = build_library(["H", "Li"], command="test")
    # same grid definition; exp() may differ in the last bit between numpy builds / CPUs (seen: 7e-15 bohr)
    assert np.allclose(new.r_grid, lib.r_grid, rtol=1e-13, atol=0)
    assert np.allclose(new.rhobar_grid, lib.rhobar_grid, rtol=1e-13, atol=0)
    for sym in ("H", "Li"):
        for label in STATE_LABELS:
            st, st2 = lib.elements[sym].states[label], new.elements[sym].states[label]
            # SCF convergence (conv_tol 1e-9) bounds reproducibility; the diffuse H 2p state is the loosest
            assert st2.energy == pytest.approx(st.energy, abs=2e-5), (sym, label)
            assert np.allclose(st2.radial_density, st.radial_density, rtol=1e-3, atol=1e-8), (sym, label)
            assert np.allclose(st2.embedding, st.embedding, rtol=1e-3, atol=1e-9), (sym, label)
    core, core2 = lib.elements["Li"].core, new.elements["Li"].core
    assert np.allclose(core2.radial_density, core.radial_density, rtol=1e-3, atol=1e-8)


def test_unknown_element_rejected():
    from lsip.errors import UnsupportedElementError

    with pytest.raises(UnsupportedElementError, match="Xe"):
        build_library(["H", "Xe"])


def test_cli_show_json(capsys):
    assert main(["library", "show", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    o = data["elements"]["O"]
    assert data["level"]["xc"] == "pbe0"
    for key in ("I_eV", "A_eV", "excitation_eV", "chi_eV", "eta_eV", "zeta_bohr", "flags", "experiment", "states"):
        assert key in o
    assert o["chi_eV"] == pytest.approx(0.5 * (o["I_eV"] + o["A_eV"]), abs=1e-3)
    assert o["zeta_bohr"] == pytest.approx(math.sqrt(2 * o["I_eV"] / HARTREE_TO_EV), rel=1e-4)
    assert o["experiment"]["I_eV"] == pytest.approx(13.618, abs=1e-3)
    assert o["states"]["anion"]["n_electrons"] == 9 and "configuration" in o["states"]["cation"]


def test_cli_show_table_and_errors(capsys, tmp_path):
    assert main(["library", "show"]) == 0
    out = capsys.readouterr().out
    assert "Cl" in out and "eV" in out
    assert main(["library", "show", "--element", "C"]) == 0
    assert "excited" in capsys.readouterr().out
    assert main(["library", "show", "--element", "Xe"]) == 2
    assert main(["library", "show", "--path", str(tmp_path / "missing.npz")]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_build_small(tmp_path, capsys):
    out = tmp_path / "h.npz"
    assert main(["library", "build", "--elements", "H", "--basis", "def2-svp", "--grid-level", "2",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "H  neutral" in text and "wrote" in text
    built = load_library(out)
    assert built.symbols == ["H"]
    assert built.level["command"].startswith("lsip library build --elements H --xc pbe0 --basis def2-svp")
    assert built.elements["H"].states["neutral"].energy < -0.49


@pytest.mark.slow
def test_full_build_reproduces_shipped_library(lib, tmp_path):
    """Rebuild all 17 elements (~2 min on 1 core) and compare with the shipped file."""
    assert main(["library", "build", "--out", str(tmp_path / "full.npz")]) == 0
    new = load_library(tmp_path / "full.npz")
    for sym, label, st in _states(lib):
        st2 = new.elements[sym].states[label]
        assert st2.energy == pytest.approx(st.energy, abs=1e-6), (sym, label)
        assert np.allclose(st2.radial_density, st.radial_density, rtol=1e-4, atol=1e-8)
