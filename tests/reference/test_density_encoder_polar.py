"""The density encoder on real polar DFT densities (issue 11.6; docs/reference.md, "The density encoder").

The former encoder (least squares weighted by 1 / rho) returned the promolecule for water, HCl, NH3 and the
other covalent molecules: zero charges and the promolecule's reconstruction error. The default encoder (L1 fit
plus a Hirshfeld-I prior inside an error budget) must leave the promolecule wherever a latent density is closer
to the DFT density, stay below the promolecule's error, and give charges with Hirshfeld-I's signs and, where
the density allows it, near Hirshfeld-I. Reference: PBE0/def2-SVP on the validation geometries
(``assets/validation/``), grid level 3, as ``lsip validate``; about 2-3 s of DFT per molecule on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from lsip.model.library import default_library
from lsip.reference.charges import basis_on_grid, hirshfeld_i_charges
from lsip.reference.density_encoder import (
    FIT_TOLERANCE,
    PRIOR_BUDGET,
    DensityProjection,
    l1_error,
    project_density,
    promolecule_slope,
)
from lsip.reference.grids import build_mole, density_on_points, make_scf, molecular_grid
from lsip.validation.molecules import load

NEUTRAL = 1


@dataclass(frozen=True)
class Case:
    """A DFT density on its molecular grid with the library basis densities and Hirshfeld-I charges."""

    basis_grid: np.ndarray
    n_electrons: np.ndarray
    numbers: np.ndarray
    rho: np.ndarray
    weights: np.ndarray
    n_total: float
    hirshfeld_i: np.ndarray
    _memo: dict = field(default_factory=dict, compare=False, repr=False)

    def project(self, **kw: object) -> DensityProjection:
        """Run the density encoder on this case (memoised per keyword set; prior charges go by identity)."""
        key = tuple(sorted((k, id(v) if isinstance(v, np.ndarray) else v) for k, v in kw.items()))
        if key not in self._memo:
            self._memo[key] = project_density(self.basis_grid, self.n_electrons, self.numbers, self.rho,
                                              self.weights, self.n_total, **kw)
        return self._memo[key]


def dft_case(name: str) -> Case:
    """PBE0/def2-SVP density of a validation molecule (RKS, grid level 3)."""
    mol = build_mole(load(name), "def2-SVP", 0)
    mf = make_scf(mol, "PBE0", 3, 1e-9, 100, False, False)
    mf.kernel()
    assert mf.converged
    coords, weights = molecular_grid(mol, 3)
    rho = density_on_points(mol, mf.make_rdm1(), coords)
    bd, bgrid = basis_on_grid(default_library(), mol, coords)
    numbers = bd.numbers.numpy()
    hi = hirshfeld_i_charges(bgrid, rho, weights, numbers).charges
    return Case(bgrid, bd.n_electrons.numpy(), numbers, rho, weights, float(mol.nelectron), hi)


@pytest.fixture(scope="module")
def water() -> Case:
    return dft_case("h2o")


@pytest.fixture(scope="module")
def hcl() -> Case:
    return dft_case("hcl")


def test_water_leaves_the_promolecule(water):
    """O negative, H positive and equal, reconstruction error below the promolecule's (was exactly equal)."""
    p = water.project()
    assert p.weighting == "l1" and p.converged
    assert p.weights[0, NEUTRAL] < 0.9  # the neutral vertex is left (old encoder: 1.000 on every atom)
    assert p.error < p.promolecule_error - 2e-3  # measured 1.2586 vs 1.2627 e
    q_o, q_h1, q_h2 = p.charges
    assert q_o < -0.15 and q_h1 > 0.08 and q_h2 > 0.08  # measured -0.217, +0.108, +0.109
    assert abs(q_h1 - q_h2) < 0.01  # equivalent atoms (the grid itself is not symmetric)
    assert p.charges.sum() == pytest.approx(0.0, abs=1e-9)
    # towards Hirshfeld-I (-0.864, +0.432): MAE 0.576 at the promolecule, measured 0.431; no further while
    # staying below the promolecule's error (a spherical O- puts its extra electron where water has none)
    assert np.all(np.sign(p.charges) == np.sign(water.hirshfeld_i))
    assert np.mean(np.abs(p.charges - water.hirshfeld_i)) < 0.46


def test_the_former_encoder_returned_the_promolecule(water):
    """The root cause, kept reproducible: chi2 weighted by 1 / rho ascends in every charge-transfer direction."""
    p = water.project(weighting="inverse_density")
    np.testing.assert_allclose(p.charges, 0.0, atol=1e-6)
    assert p.error == pytest.approx(p.promolecule_error, abs=1e-9)
    assert promolecule_slope(water.basis_grid, water.n_electrons, water.rho, water.weights) < -0.02  # -0.043


def test_hcl_charges_near_hirshfeld_i(hcl):
    p = hcl.project()
    assert p.error < p.promolecule_error - 2e-3  # measured 0.8713 vs 0.8776 e (old: 0.8776, q = 0)
    np.testing.assert_allclose(p.charges, hcl.hirshfeld_i, atol=0.1)  # measured -0.188 vs -0.258


def test_prior_stays_inside_the_error_budget(water, hcl):
    """eps / tau budget in the fitting norm; the prior only moves the charges towards Hirshfeld-I."""
    for case in (water, hcl):
        fit = case.project(use_prior=False)
        p = case.project(prior_charges=case.hirshfeld_i)
        v_fit = np.maximum(case.weights, 0.0)
        rho_p = np.einsum("gak,ak->g", case.basis_grid, p.weights)
        e_pro = l1_error(case.basis_grid[:, :, NEUTRAL].sum(1), case.rho, v_fit)
        budget = p.fit_error + min(FIT_TOLERANCE * p.fit_error, PRIOR_BUDGET * (e_pro - p.fit_error))
        assert p.error_budget == pytest.approx(budget, rel=1e-12)
        assert l1_error(rho_p, case.rho, v_fit) <= budget + 1e-9
        assert fit.error <= p.error + 1e-9  # the plain L1 fit is the best reconstruction
        assert np.abs(p.charges - case.hirshfeld_i).sum() < np.abs(fit.charges - case.hirshfeld_i).sum()
        np.testing.assert_allclose(p.prior_charges, np.clip(case.hirshfeld_i, -1, 1))


def test_prior_computed_when_not_given(hcl):
    p = hcl.project()
    np.testing.assert_allclose(p.prior_charges, hcl.hirshfeld_i, atol=1e-9)


POLAR = ("h2o", "ch2o", "hcl", "hf", "nh3", "pf3", "so2", "no3-", "water_dimer")


@pytest.mark.slow
def test_polar_validation_molecules():
    """Issue 11.6's list (+ HF, NO3-): below the promolecule unless the promolecule is provably optimal.

    About 40 s of DFT. Measured with benchmarks/density_encoder_check.py (all 58 molecules in
    docs/reference.md): NH3 is the one here whose L1 optimum is the promolecule itself (slope +0.018 e per
    unit weight at PBE0/def2-SVP), so no latent density is closer; its charges stay zero.
    """
    before, after = [], []
    for name in POLAR:
        case = dft_case(name)
        old, new = case.project(weighting="inverse_density"), case.project()
        before += list(np.abs(old.charges - case.hirshfeld_i))
        after += list(np.abs(new.charges - case.hirshfeld_i))
        slope = promolecule_slope(case.basis_grid, case.n_electrons, case.rho, case.weights)
        if slope < 0:
            assert new.error < new.promolecule_error - 1e-3, name
        else:  # certified tie: the promolecule is the L1 optimum
            assert new.error == pytest.approx(new.promolecule_error, abs=1e-6), name
    assert np.mean(after) < 0.6 * np.mean(before)
