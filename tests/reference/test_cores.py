"""Frozen-core densities of the latent library (docs/model.md section 10.10, lsip.reference.cores)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from lsip.errors import ReferenceCalculationError
from lsip.model.library import default_library
from lsip.reference.atoms import radial_electrons
from lsip.reference.cache import library_fingerprint
from lsip.reference.cores import core_shells, format_shells
from lsip.reference.library_build import gaussian_density

#: core electrons by element: the shells below the valence shell
CORE_ELECTRONS = {"H": 0, "Li": 2, "Be": 2, "B": 2, "C": 2, "N": 2, "O": 2, "F": 2, "Na": 10, "Mg": 10, "Al": 10,
                  "Si": 10, "P": 10, "S": 10, "Cl": 10, "K": 18, "Ca": 18}


def test_core_shells_are_the_full_shells_below_the_valence_shell():
    assert core_shells("1s1") == {} and core_shells("") == {}
    assert format_shells(core_shells("1s2 2s2 2p5")) == "1s2"
    assert format_shells(core_shells("1s2 2s2 2p6 3s2 3p6 4s2")) == "1s2 2s2 2p6 3s2 3p6"
    with pytest.raises(ReferenceCalculationError, match="not full"):
        core_shells("1s1 2s1")


def test_shipped_library_has_every_core_normalised_and_inside_its_atom():
    """Each core integrates to its electron count (grid and fit), and lies inside the neutral atom: its density
    never exceeds the atom's (2 % for the different SCF of the two) and makes most of it near the nucleus (the
    valence s shell has density there too: Be's 2s is 4 % at the nucleus)."""
    lib = default_library()
    r = np.asarray(lib.r_grid)
    for sym, n_core in CORE_ELECTRONS.items():
        core = lib.elements[sym].core
        assert core is not None and core.n_electrons == n_core, sym
        if not n_core:
            assert not len(core.gauss_coefficients) and not core.radial_density.any()
            continue
        assert radial_electrons(r, core.radial_density) == pytest.approx(n_core, abs=2e-3), sym
        assert float(np.sum(core.gauss_coefficients)) == pytest.approx(n_core, rel=1e-12), sym
        assert core.fit_error < (0.5 if sym in ("K", "Ca") else 0.02), sym  # K, Ca: as their states' fits
        neutral = lib.elements[sym].states["neutral"].radial_density
        assert np.all(core.radial_density <= 1.02 * neutral + 1e-10), sym
        near = r < 0.05
        assert np.all(core.radial_density[near] >= 0.9 * neutral[near]), sym
        fit = gaussian_density(core.gauss_coefficients, core.gauss_exponents, r)
        h = math.log(r[1] / r[0])
        assert 4 * math.pi * h * float(np.sum(r**3 * np.abs(fit - core.radial_density))) == pytest.approx(
            core.fit_error, rel=1e-6)


def test_core_size_grows_down_a_group():
    """The reach of the core (where its density falls to 1e-3 bohr^-3, the wall's range): Li (1s) < Na (1s2s2p)
    < K (1s-3p), and a 1s core shrinks with the nuclear charge (F's is smaller than Li's)."""
    lib = default_library()
    r = np.asarray(lib.r_grid)

    def reach(sym: str) -> float:
        rho = lib.elements[sym].core.radial_density
        return float(r[np.nonzero(rho > 1e-3)[0].max()])

    assert reach("Li") < reach("Na") < reach("K")
    assert reach("F") < reach("Li")


def test_cores_do_not_change_the_reference_cache_key():
    """Adding core densities to a library keeps its fingerprint (they do not enter a reference result)."""
    lib = default_library()
    bare = replace(lib, level={k: v for k, v in lib.level.items() if k != "cores"},
                   elements={s: replace(e, core=None) for s, e in lib.elements.items()})
    symbols = ("O", "H", "H")
    assert library_fingerprint(bare, symbols) == library_fingerprint(lib, symbols)
