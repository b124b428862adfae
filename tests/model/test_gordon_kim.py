"""The Gordon-Kim closed-shell repulsion (docs/model.md section 10.6, ``overlap_repulsion_gordon_kim``).

The electron-gas pair energy against an independent quadrature, its symmetries and limits, the ionic-pair bond
lengths it gives with exact penetration electrostatics (the reason it was built), and its use in the model's
tables and energy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lsip.model.library import default_library
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.physics.gordon_kim import C_F, C_X, gordon_kim_energy
from lsip.structure import Structure
from lsip.units import ANGSTROM_TO_BOHR, HARTREE_TO_EV


@pytest.fixture(scope="module")
def lib():
    return default_library()


def _density(lib, symbol: str, state: str) -> np.ndarray:
    return np.asarray(lib.element(symbol).states[state].radial_density)


def _cylinder_quadrature(r_grid, rho_a, rho_b, big_r: float) -> float:
    """The same integral on a plain cylindrical grid (z along the bond, trapezoid-like cells): independent of the
    prolate spheroidal quadrature, and slow."""
    z = np.linspace(-10.0, big_r + 10.0, 1400)
    s = np.concatenate([np.linspace(0.0, 1.0, 200, endpoint=False), np.linspace(1.0, 10.0, 400)])
    zz, ss = np.meshgrid(z, s, indexing="ij")
    a = np.interp(np.hypot(zz, ss), r_grid, rho_a, right=0.0)
    b = np.interp(np.hypot(zz - big_r, ss), r_grid, rho_b, right=0.0)

    def g(x: np.ndarray) -> np.ndarray:
        return C_F * x ** (5 / 3) + C_X * x ** (4 / 3)

    dv = 2 * np.pi * ss * np.gradient(z)[:, None] * np.gradient(s)[None, :]
    return float(((g(a + b) - g(a) - g(b)) * dv).sum())


@pytest.mark.parametrize(("a", "sa", "b", "sb", "r_a"), [("K", "cation", "Cl", "anion", 2.67),
                                                         ("Li", "cation", "F", "anion", 1.6),
                                                         ("O", "neutral", "H", "anion", 1.0)])
def test_pair_energy_matches_an_independent_quadrature(lib, a, sa, b, sb, r_a):
    r = np.asarray(lib.r_grid)
    big_r = r_a * ANGSTROM_TO_BOHR
    got = gordon_kim_energy(r, _density(lib, a, sa), _density(lib, b, sb), np.array([big_r]))[0]
    ref = _cylinder_quadrature(r, _density(lib, a, sa), _density(lib, b, sb), big_r)
    assert got == pytest.approx(ref, rel=2e-3, abs=1e-6)


def test_pair_energy_is_symmetric_vanishes_apart_and_without_electrons(lib):
    r = np.asarray(lib.r_grid)
    k, cl = _density(lib, "K", "cation"), _density(lib, "Cl", "anion")
    d = np.array([3.0, 5.0, 30.0])
    ab, ba = gordon_kim_energy(r, k, cl, d), gordon_kim_energy(r, cl, k, d)
    np.testing.assert_allclose(ab, ba, rtol=1e-6, atol=1e-12)
    assert ab[0] > ab[1] > 0 and abs(ab[2]) < 1e-8
    assert np.all(gordon_kim_energy(r, np.zeros_like(k), cl, d) == 0.0)  # H+ has no density: nothing to repel
    with pytest.raises(ValueError, match="positive"):
        gordon_kim_energy(r, k, cl, np.array([0.0]))


def test_electron_gas_repulsion_with_exact_electrostatics_gives_the_alkali_halide_bonds(lib):
    """Why the term exists (docs/model.md 10.6): the ion pair M+ X- with exact penetration electrostatics of the
    library's densities plus E_GK has its minimum within 0.1 A of PBE0/def2-SVP for KCl (2.674 A), NaCl (2.354)
    and LiF (1.541), where the model's density-overlap walls left KCl at 2.0 A."""
    r = np.asarray(lib.r_grid)

    def potential(z: int, rho: np.ndarray):
        shell = 4 * np.pi * rho * r**2
        inner = np.concatenate([[0.0], np.cumsum(0.5 * (shell[1:] + shell[:-1]) * np.diff(r))])
        t = 4 * np.pi * rho * r
        outer = np.concatenate([np.cumsum((0.5 * (t[1:] + t[:-1]) * np.diff(r))[::-1])[::-1], [0.0]])
        return lambda x: z / x - np.interp(x, r, inner) / x - np.interp(x, r, outer)

    mu, w = np.polynomial.legendre.leggauss(96)
    rr = np.linspace(1e-4, 15.0, 3000)

    def coulomb(za, rho_a, zb, rho_b, big_r):
        phi = potential(za, rho_a)
        d = np.sqrt(rr[:, None] ** 2 + big_r**2 - 2 * rr[:, None] * big_r * mu[None, :])
        inner = (np.interp(rr, r, rho_b)[:, None] * phi(np.maximum(d, 1e-6)) * w[None, :]).sum(1)
        return zb * phi(big_r) - np.trapezoid(inner * 2 * np.pi * rr**2, rr)

    for m, x, dft in (("K", "Cl", 2.674), ("Na", "Cl", 2.354), ("Li", "F", 1.541)):
        ea, eb = lib.element(m), lib.element(x)
        ra, rb = _density(lib, m, "cation"), _density(lib, x, "anion")
        grid = np.arange(0.8 * dft, 1.25 * dft, 0.02)
        e = [coulomb(ea.Z, ra, eb.Z, rb, g * ANGSTROM_TO_BOHR)
             + gordon_kim_energy(r, ra, rb, np.array([g * ANGSTROM_TO_BOHR]))[0] for g in grid]
        assert abs(grid[int(np.argmin(e))] - dft) < 0.1, (m, x)


def test_model_tables_hold_share_times_the_pair_energy_and_the_term_acts(lib):
    """With ``overlap_repulsion_gordon_kim`` the 16 closed-shell rows of a pair are share_kl E_GK^{kl}(R) (hartree)
    and the closed-shell repulsion of K+ Cl- is K times them; off, they are the density overlaps."""
    params = ModelParameters(name="gk", overlap_repulsion=1.0, overlap_repulsion_product=True,
                             overlap_repulsion_gordon_kim=True)
    t = LSIPModel(params=params, device="cpu").tables
    ea, eb = t.index["K"], t.index["Cl"]
    slot = torch.as_tensor(t.pair_slots(np.array([ea]), np.array([eb])))
    r = torch.tensor([2.0, 2.67, 3.5], dtype=torch.float64) * ANGSTROM_TO_BOHR
    rows = torch.stack([t.closed_overlap(slot, r[i:i + 1])[0][0] for i in range(3)])  # (3, 4, 4)
    c = t.closed_fraction.double()
    share = (c[ea][:, None] * c[eb][None, :]).numpy()
    dens = [np.stack([_density(lib, s, k) for k in ("cation", "neutral", "anion", "excited")]) for s in ("K", "Cl")]
    ref = gordon_kim_energy(np.asarray(lib.r_grid), dens[0], dens[1], r.numpy())  # (4, 4, 3)
    np.testing.assert_allclose(rows.numpy(), np.moveaxis(ref, -1, 0) * share[None], rtol=2e-3, atol=1e-7)
    # the pure ion pair: the term is K E_GK for K+ Cl- weighted by the solved states (here the cation/anion ones)
    kcl = Structure(("K", "Cl"), np.array([[0.0, 0, 0], [0, 0, 2.67]]))
    on = LSIPModel(params=params, device="cpu").predict(kcl, forces=False).term_totals["overlap_repulsion"]
    off = LSIPModel(params=params.with_(overlap_repulsion_gordon_kim=False), device="cpu").predict(
        kcl, forces=False).term_totals["overlap_repulsion"]
    assert on * HARTREE_TO_EV > 0.3 and on > 3 * off  # the electron gas is the stronger wall at 2.67 A


def test_the_two_orders_of_an_element_pair_share_one_quadrature():
    """E^{kl}(a, b) = E^{lk}(b, a): the K-Cl table is the Cl-K one transposed (one quadrature per unordered pair)."""
    params = ModelParameters(name="gk-order", overlap_repulsion=1.0, overlap_repulsion_product=True,
                             overlap_repulsion_gordon_kim=True)
    t = LSIPModel(params=params, device="cpu").tables
    k, cl = t.index["K"], t.index["Cl"]
    slots = torch.as_tensor(t.pair_slots(np.array([k, cl]), np.array([cl, k])))
    r = torch.tensor([2.4, 2.4], dtype=torch.float64) * ANGSTROM_TO_BOHR
    closed = t.closed_overlap(slots, r)[0]
    torch.testing.assert_close(closed[0], closed[1].T, rtol=1e-12, atol=1e-15)
    assert float(closed[0].abs().max()) > 0
