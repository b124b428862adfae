"""Frozen-core walls (docs/model.md section 10.10, ``core_repulsion``): every electron of one atom pays for
overlapping another atom's core, E = K_c sum_{A != B} sum_l w_B^l int rho^core_A rho_{B,l}."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from lsip.diagnostics import check_forces_fd
from lsip.errors import LSIPError
from lsip.model.library import STATE_LABELS, default_library
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.structure import Structure
from lsip.units import ANGSTROM_TO_BOHR

#: only the core walls on top of the first-principles model, so the term is isolated
WALLS = ModelParameters(name="core-walls-test", core_repulsion=1.0)


def _dimer(a: str, b: str, r: float) -> Structure:
    return Structure((a, b), np.array([[0.0, 0, 0], [0, 0, r]]), 0, None)


def _overlap(c1: np.ndarray, x1: np.ndarray, c2: np.ndarray, x2: np.ndarray, r: float) -> float:
    """int rho_1 rho_2 of two normalised s-Gaussian sums at distance r (bohr), by a radial quadrature of rho_2
    averaged over the sphere about atom 1's centre, independent of the code's closed form."""
    s = np.linspace(1e-4, 12.0, 24001)
    rho1 = ((c1 * (x1 / math.pi) ** 1.5)[None, :] * np.exp(-np.outer(s * s, x1))).sum(1)
    # spherical average of a Gaussian centred at distance r: exp(-a (s^2 + r^2)) sinh(2 a s r) / (2 a s r)
    z = 2.0 * np.outer(s, x2) * r
    avg = np.exp(-np.outer(s, np.ones_like(x2)) ** 2 * x2 - x2 * r * r + z) * (1 - np.exp(-2 * z)) / (2 * z)
    rho2 = (avg * (c2 * (x2 / math.pi) ** 1.5)[None, :]).sum(1)
    return float(np.trapezoid(4 * math.pi * s * s * rho1 * rho2, s))


def test_core_wall_energy_is_the_weighted_core_overlap():
    """K-F at 2.2 A: the term equals K_c (sum_l w_F^l int rho^core_K rho_{F,l} + sum_k w_K^k int rho_{K,k}
    rho^core_F), from the prediction's own weights and an independent quadrature."""
    lib = default_library()
    model = LSIPModel(params=WALLS, device="cpu")
    r = 2.2 * ANGSTROM_TO_BOHR
    pred = model.predict(_dimer("K", "F", r / ANGSTROM_TO_BOHR))
    w = pred.weights.double().numpy()
    k_el, f_el = lib.elements["K"], lib.elements["F"]
    expected = 0.0
    for k, label in enumerate(STATE_LABELS):
        fs, ks = f_el.states[label], k_el.states[label]
        expected += w[1, k] * _overlap(k_el.core.gauss_coefficients, k_el.core.gauss_exponents,
                                       fs.gauss_coefficients, fs.gauss_exponents, r)
        expected += w[0, k] * _overlap(ks.gauss_coefficients, ks.gauss_exponents,
                                       f_el.core.gauss_coefficients, f_el.core.gauss_exponents, r)
    assert expected > 1e-4
    assert pred.term_totals["overlap_repulsion"] == pytest.approx(WALLS.core_repulsion * expected, rel=2e-3)


def test_hydrogen_has_no_core_and_the_walls_are_off_by_default():
    """H2 is the same with and without the walls (no core), and the first-principles set has none."""
    h2 = _dimer("H", "H", 0.74)
    e_on = LSIPModel(params=WALLS, device="cpu").predict(h2).energy
    e_off = LSIPModel(params="first-principles", device="cpu").predict(h2).energy
    assert e_on == pytest.approx(e_off, abs=1e-12)
    assert ModelParameters().core_repulsion == 0.0


def test_core_walls_push_bonds_to_electropositive_atoms_outwards():
    """The minimum of the K-F, Li-H and Na-Cl curves moves out with K_c (the missing wall of docs/model.md 10.10);
    the walls are positive, decay with the distance and end at the short-range cut-off (12 bohr, 6.35 A)."""
    for a, b in (("K", "F"), ("Li", "H"), ("Na", "Cl")):
        rs = np.linspace(1.2, 3.2, 41)
        minima = []
        for kc in (0.0, 2.0):
            model = LSIPModel(params=WALLS.with_(core_repulsion=kc), device="cpu")
            e = [p.energy for p in model.predict([_dimer(a, b, r) for r in rs], forces=False)]
            minima.append(rs[int(np.argmin(e))])
        assert minima[1] > minima[0], (a, b, minima)
    model = LSIPModel(params=WALLS, device="cpu")
    walls = [model.predict(_dimer("Na", "Cl", r), forces=False).term_totals["overlap_repulsion"]
             for r in (1.5, 2.5, 4.0, 7.0)]
    assert all(x > 0 for x in walls[:3]) and walls == sorted(walls, reverse=True) and walls[-1] == 0.0


def test_core_wall_forces_match_finite_differences_and_dissociation_holds():
    model = LSIPModel(params=WALLS, device="cpu")
    for st in (_dimer("Na", "Cl", 2.3), Structure(("Si", "H", "H"), np.array([[0.0, 0, 0], [1.4, 0.3, 0],
                                                                                [-0.5, 1.3, 0.2]]))):
        result = check_forces_fd(model, st, model.predict(st))
        assert result.passed, result.message
    far = model.predict(_dimer("K", "F", 40.0))
    assert float(far.charges.abs().max()) < 1e-6 and abs(far.energy) < 1e-9


def test_a_library_without_cores_is_a_clear_error():
    lib = default_library()
    bare = replace(lib, elements={s: replace(e, core=None) for s, e in lib.elements.items()})
    with pytest.raises(LSIPError, match="no core densities"):
        LSIPModel(library=bare, params=WALLS, device="cpu").predict(_dimer("Na", "Cl", 2.4))
    LSIPModel(library=bare, params="first-principles", device="cpu").predict(_dimer("Na", "Cl", 2.4))
