"""The density encoder (DFT density -> latent weights) and the latent basis densities (lsip.model.density).

Synthetic densities are built from a library with known weights, so the exact answer is known: the encoder
must recover it with every data term, the default L1 fit with its Hirshfeld-I prior included
(docs/reference.md, "The density encoder"). ``slater_library`` (imported by other reference tests)
has analytic, linearly independent state densities; the shipped PySCF library is used too. Real polar DFT
densities are in test_density_encoder_polar.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from pyscf import dft, gto

from lsip.errors import LSIPError
from lsip.model.density import BasisDensities, promolecule_weights
from lsip.model.library import STATE_LABELS, AtomicState, ElementEntry, LatentLibrary, default_library
from lsip.reference.density_encoder import (
    WEIGHTINGS,
    active_set_qp,
    l1_error,
    l1_majoriser,
    project_density,
    promolecule_slope,
)

#: (Z, core electrons, valence Slater exponent zeta) of the analytic test elements.
SLATER = {"H": (1, 0, 1.0), "Li": (3, 2, 0.63), "O": (8, 2, 1.0), "F": (9, 2, 1.13), "Na": (11, 10, 0.61),
          "Cl": (17, 10, 0.98)}
#: Valence shape of each state: (power of r, exponent factor) -> r^p exp(-2 zeta f r).
SHAPES = {"cation": (0, 1.4), "neutral": (0, 1.0), "anion": (0, 0.7), "excited": (2, 0.8)}
SHIFT = {"cation": -1, "neutral": 0, "anion": 1, "excited": 0}

GEOMETRIES = {  # angstrom
    "H2O": (("O", "H", "H"), [[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]]),
    "LiH": (("Li", "H"), [[0, 0, 0], [0, 0, 1.595]]),
    "NaCl": (("Na", "Cl"), [[0, 0, 0], [0, 0, 2.361]]),
    "LiF": (("Li", "F"), [[0, 0, 0], [0, 0, 1.564]]),
}


def slater_density(r: np.ndarray, n_el: float, power: int, a: float) -> np.ndarray:
    """n_el electrons in r^power exp(-a r), normalised: 4 pi int r^2 rho dr = n_el."""
    return n_el * a ** (3 + power) / (4 * math.pi * math.factorial(2 + power)) * r**power * np.exp(-a * r)


def slater_library() -> LatentLibrary:
    r = np.exp(np.linspace(math.log(1e-5), math.log(60.0), 400))
    rhobar = np.exp(np.linspace(math.log(1e-7), math.log(10.0), 20))
    elements = {}
    for s, (z, core, zeta) in SLATER.items():
        states = {}
        for lab in STATE_LABELS:
            n = z + SHIFT[lab]
            power, f = SHAPES[lab]
            rho = slater_density(r, min(core, n), 0, 2.0 * (z - 0.3)) + \
                slater_density(r, n - min(core, n), power, 2.0 * zeta * f)
            states[lab] = AtomicState(lab, n, 0.0, "slater", rho, np.zeros(1), np.ones(1), 0.0, np.zeros(20))
        elements[s] = ElementEntry(s, z, states)
    return LatentLibrary({"xc": "slater-test", "basis": "none"}, r, rhobar, elements)


def molecular_grid(name: str, level: int = 3):
    symbols, pos = GEOMETRIES[name]
    mol = gto.M(atom=[(s, p) for s, p in zip(symbols, pos)], basis="sto-3g", verbose=0)
    grids = dft.gen_grid.Grids(mol)
    grids.level = level
    grids.build()
    return symbols, mol.atom_coords(), grids.coords, grids.weights


@pytest.fixture(scope="module")
def slater():
    return slater_library()


@pytest.fixture(scope="module")
def shipped():
    return default_library()


@pytest.mark.parametrize("lib_name", ["slater", "shipped"])
@pytest.mark.parametrize("name", ["H2O", "LiH", "NaCl"])
def test_basis_densities_integrate_to_state_electron_counts(lib_name, name, request):
    lib = request.getfixturevalue(lib_name)
    symbols, pos, coords, weights = molecular_grid(name)
    bd = BasisDensities(lib, symbols)
    b = bd.evaluate_chunked(coords, pos, chunk_elements=20_000).numpy()
    np.testing.assert_allclose(np.einsum("gak,g->ak", b, weights), bd.n_electrons.numpy(), atol=2e-3)
    rho = bd.density(coords, pos, promolecule_weights(len(symbols)), chunk_elements=7_000).numpy()
    assert rho @ weights == pytest.approx(sum(lib.elements[s].Z for s in symbols), abs=2e-3)


def test_basis_density_matches_radial_table_and_is_differentiable(slater):
    bd = BasisDensities(slater, ("O", "H"))
    pos = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 1.8]], dtype=torch.float64, requires_grad=True)
    pts = torch.tensor([[0.3, 0.1, -0.2], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]], dtype=torch.float64)
    val = bd.evaluate(pts, pos)
    r = torch.linalg.norm(pts[0])
    z, core, zeta = SLATER["O"]
    exact = slater_density(r.item(), core, 0, 2 * (z - 0.3)) + slater_density(r.item(), 6, 0, 2 * zeta)
    assert val[0, 0, 1].item() == pytest.approx(exact, rel=1e-6)
    assert torch.isfinite(val).all()
    w = torch.rand(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, ww: bd.density(pts, p, ww), (pos, w))


def _synthetic_case(lib, name, seed):
    symbols, pos, coords, weights = molecular_grid(name)
    bd = BasisDensities(lib, symbols)
    basis = bd.evaluate_chunked(coords, pos).numpy()
    w_true = np.random.default_rng(seed).dirichlet(np.ones(4), size=len(symbols))
    n_el = bd.n_electrons.numpy()
    rho = np.einsum("gak,ak->g", basis, w_true)
    return basis, n_el, bd.numbers.numpy(), rho, weights, w_true


@pytest.mark.parametrize("lib_name", ["slater", "shipped"])
@pytest.mark.parametrize("name", ["H2O", "LiH", "NaCl"])
@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_encoder_recovers_known_weights(lib_name, name, weighting, request):
    lib = request.getfixturevalue(lib_name)
    basis, n_el, numbers, rho, weights, w_true = _synthetic_case(lib, name, seed=len(name))
    n_total = float((w_true * n_el).sum())
    proj = project_density(basis, n_el, numbers, rho, weights, n_total, weighting=weighting,
                           model_weights=w_true)
    assert proj.converged
    np.testing.assert_allclose(proj.weights, w_true, atol=1e-4)
    np.testing.assert_allclose(proj.charges, numbers - (w_true * n_el).sum(1), atol=1e-4)
    assert proj.charges.sum() == pytest.approx(numbers.sum() - n_total, abs=1e-9)  # sum q = Q exactly
    assert proj.error < 1e-4 and proj.model_error < 1e-9
    assert proj.promolecule_error > 100 * proj.error


def test_encoder_constraints_and_errors(shipped):
    basis, n_el, numbers, rho, weights, _ = _synthetic_case(shipped, "LiH", seed=3)
    proj = project_density(basis, n_el, numbers, 0.8 * rho, weights, 3.0)  # a density the library cannot fit
    assert np.all(proj.weights >= 0) and np.allclose(proj.weights.sum(1), 1.0)
    assert (proj.weights * n_el).sum() == pytest.approx(3.0, abs=1e-9)
    assert proj.error > 0.1
    with pytest.raises(LSIPError, match="hold"):
        project_density(basis, n_el, numbers, rho, weights, 9.0)  # Q = -5 on two atoms
    with pytest.raises(LSIPError, match="weighting"):
        project_density(basis, n_el, numbers, rho, weights, 4.0, weighting="bogus")
    with pytest.raises(LSIPError, match="shape"):
        project_density(basis, n_el, numbers, rho, weights, 4.0, model_weights=np.ones((3, 4)))


def test_active_set_qp_matches_independent_solver():
    """Random convex QPs with the latent constraint structure: same optimum as scipy's trust-constr."""
    from scipy.optimize import LinearConstraint, minimize

    rng = np.random.default_rng(7)
    for _ in range(5):
        n = 3
        m = 4 * n
        a = rng.normal(size=(30, m))
        g, c = a.T @ a, rng.normal(size=m) * 5
        a_eq = np.zeros((n + 1, m))
        for i in range(n):
            a_eq[i, 4 * i:4 * i + 4] = 1.0
        a_eq[n] = np.tile([2.0, 3.0, 4.0, 3.0], n)
        b_eq = np.concatenate([np.ones(n), [9.0]])
        x0 = np.tile([0.1, 0.7, 0.1, 0.1], n)
        x, ok, _ = active_set_qp(g, c, a_eq, b_eq, x0)
        ref = minimize(lambda y, g=g, c=c: 0.5 * y @ g @ y - c @ y, x0, jac=lambda y, g=g, c=c: g @ y - c,
                       hess=lambda y, g=g: g,
                       method="trust-constr", bounds=[(0, None)] * m,
                       constraints=[LinearConstraint(a_eq, b_eq, b_eq)], options={"gtol": 1e-12, "xtol": 1e-14})
        assert ok
        np.testing.assert_allclose(a_eq @ x, b_eq, atol=1e-10)
        assert x.min() >= 0
        f = 0.5 * x @ g @ x - c @ x
        assert f <= 0.5 * ref.x @ g @ ref.x - c @ ref.x + 1e-7
        np.testing.assert_allclose(x, ref.x, atol=1e-4)


def _neutral_misfit_case(lib):
    """A neutral H2O density the library cannot represent: known weights, then a smooth +-30 % modulation."""
    basis, n_el, numbers, rho, weights, _ = _synthetic_case(lib, "H2O", seed=11)
    coords = molecular_grid("H2O")[2]
    rho = rho * (1.0 + 0.3 * np.cos(1.3 * coords[:, 0]) * np.sin(0.9 * coords[:, 2] + 0.4))
    return basis, n_el, numbers, rho, weights, float(numbers.sum())


def test_l1_majoriser_bounds_the_error_and_touches_it(slater):
    basis, _, _, rho, weights, _ = _neutral_misfit_case(slater)
    n = basis.shape[1]
    diff = (basis - basis[:, :, 1:2]).reshape(len(rho), 4 * n)
    target = rho - basis[:, :, 1].sum(1)
    v = np.maximum(weights, 0.0)
    rng = np.random.default_rng(5)
    x = rng.dirichlet(np.ones(4), size=n).reshape(-1)
    gram, c, k, err = l1_majoriser(diff, target, v, x, floor=1e-14)
    assert err == pytest.approx(float(v @ np.abs(diff @ x - target)), rel=1e-12)
    assert 0.5 * x @ gram @ x - c @ x + k == pytest.approx(err, rel=1e-9)  # touches at x
    for _ in range(20):
        y = rng.dirichlet(np.ones(4), size=n).reshape(-1)
        assert 0.5 * y @ gram @ y - c @ y + k >= float(v @ np.abs(diff @ y - target)) - 1e-12  # majorises


@pytest.mark.parametrize("lib_name", ["slater", "shipped"])
def test_l1_fit_is_never_worse_than_the_promolecule(lib_name, request):
    """Started at the promolecule, majorize-minimize only descends: the reported error cannot exceed it."""
    basis, n_el, numbers, rho, weights, n_total = _neutral_misfit_case(request.getfixturevalue(lib_name))
    fit = project_density(basis, n_el, numbers, rho, weights, n_total, use_prior=False)
    full = project_density(basis, n_el, numbers, rho, weights, n_total)
    assert fit.converged and full.converged
    assert fit.error < fit.promolecule_error and full.error < full.promolecule_error
    assert fit.error <= full.error + 1e-9 <= full.promolecule_error
    assert full.charges.sum() == pytest.approx(0.0, abs=1e-9)


def test_promolecule_slope_is_the_steepest_feasible_descent(slater):
    """The certificate equals the smallest finite-difference slope over the generating directions."""
    basis, n_el, _, rho, weights, _ = _neutral_misfit_case(slater)
    n = basis.shape[1]
    v = np.maximum(weights, 0.0)
    w0 = np.zeros((n, 4))
    w0[:, 1] = 1.0

    def err(w):
        return l1_error(np.einsum("gak,ak->g", basis, w), rho, v)

    h, slopes = 1e-6, []
    for a in range(n):
        d = np.zeros((n, 4))
        d[a, 3], d[a, 1] = 1.0, -1.0
        slopes.append((err(w0 + h * d) - err(w0)) / h)
        for b in range(n):
            lost, gained = n_el[a, 1] - n_el[a, 0], n_el[b, 2] - n_el[b, 1]
            d = np.zeros((n, 4))
            d[a, 0] += gained / (lost + gained)
            d[b, 2] += lost / (lost + gained)
            d[a, 1] -= gained / (lost + gained)
            d[b, 1] -= lost / (lost + gained)
            assert (d * n_el).sum() == pytest.approx(0.0, abs=1e-12)
            slopes.append((err(w0 + h * d) - err(w0)) / h)
    assert promolecule_slope(basis, n_el, rho, weights) == pytest.approx(min(slopes), abs=1e-4)
