"""Configuration-controlled, spherically averaged atomic UKS (lsip.reference.atoms)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lsip.errors import ReferenceCalculationError
from lsip.reference.atoms import (
    ao_angular_momentum,
    atom_basis,
    atom_molecule,
    orbital_angular_momentum,
    parse_configuration,
    radial_electrons,
    run_atom,
    spin_occupations,
)

R_GRID = np.exp(np.linspace(math.log(1e-5), math.log(60.0), 400))


def test_parse_configuration_expands_cores():
    assert parse_configuration("[Ne] 3s2 3p5") == {(1, 0): 2, (2, 0): 2, (2, 1): 6, (3, 0): 2, (3, 1): 5}
    assert parse_configuration("") == {}


@pytest.mark.parametrize("bad", ["2d1", "1s3", "2p7", "1s2 1s1", "xyz"])
def test_parse_configuration_rejects_impossible_shells(bad):
    with pytest.raises(ReferenceCalculationError):
        parse_configuration(bad)


def test_hund_highest_spin():
    # N 2s1 2p4 (the N excited state): alpha 1s 2s 2p3, beta 1s 2p1 -> 2S = 5 - 2 = 3 (a quartet, 4P)
    alpha, beta = spin_occupations("1s2 2s1 2p4")
    assert alpha == {0: [1, 1], 1: [3]} and beta == {0: [1, 0], 1: [1]}
    # O 2p3 3s: 5S, 2S = 4; the 3s shell sits at index 2 of the s list (1s, 2s, 3s)
    alpha, beta = spin_occupations("[He] 2s2 2p3 3s1")
    assert alpha[0] == [1, 1, 1] and beta[0] == [1, 1, 0]
    assert sum(map(sum, alpha.values())) - sum(map(sum, beta.values())) == 4


def test_atom_basis_adds_one_diffuse_s_shell():
    plain, aug = atom_basis("H", diffuse_s=False), atom_basis("H")
    assert len(aug) == len(plain) + 1
    s_min = min(p[0] for sh in plain if sh[0] == 0 for p in sh[1:])
    assert aug[-1] == [0, [s_min / 3.0, 1.0]]


def test_atom_molecule_charge_and_spin():
    mol = atom_molecule("O", "[He] 2s2 2p5", "def2-svp", 8)  # O-: 9 electrons, doublet
    assert mol.charge == -1 and mol.spin == 1 and mol.nelectron == 9


@pytest.fixture(scope="module")
def carbon():
    """C 2s2 2p2 (open p shell), both occupation modes; small basis and grid keep it ~2 s."""
    kw = {"basis": "def2-svp", "grid_level": 2}
    return (run_atom("C", 6, "[He] 2s2 2p2", R_GRID, occupation="spherical", **kw),
            run_atom("C", 6, "[He] 2s2 2p2", R_GRID, occupation="integer", **kw))


def test_spherical_occupation_keeps_open_shell_spherical(carbon):
    sph, integer = carbon
    assert sph.converged and integer.converged
    assert sph.sphericity < 1e-8  # plain UKS puts 2 electrons in two of three p orbitals: O(1) anisotropy
    assert integer.anisotropy > 0.1  # the integer-occupation determinant really is non-spherical
    assert sph.spin == 2 and sph.n_electrons == 6


def test_integer_occupation_is_lower_for_hybrid_functional(carbon):
    # PBE0 exact exchange of fractionally occupied p orbitals raises the energy (measured 44 mEh for C in
    # def2-TZVPPD); the integer determinant is lower, and both use the same configuration
    sph, integer = carbon
    assert integer.energy < sph.energy - 0.01
    assert integer.spherical_energy == pytest.approx(sph.energy, abs=1e-6)


def test_radial_density_normalised(carbon):
    for res in carbon:
        assert res.electrons == pytest.approx(6.0, abs=1e-4)
        assert radial_electrons(R_GRID, res.radial_density) == pytest.approx(6.0, abs=1e-4)
        assert np.all(res.radial_density >= 0.0)
        tail = res.radial_density[(R_GRID > 1.0) & (R_GRID < 15.0)]
        assert np.all(np.diff(tail) < 0.0)  # monotone valence tail


def test_orbitals_have_pure_angular_momentum():
    from pyscf import dft

    from lsip.reference.atoms import configuration_get_occ

    mol = atom_molecule("C", "[He] 2s2 2p2", "def2-svp", 6)
    mf = dft.UKS(mol, xc="pbe0")
    mf.grids.level = 2
    configuration_get_occ(mf, "[He] 2s2 2p2", spherical=True)
    mf.kernel()
    ao_l, s = ao_angular_momentum(mol), mol.intor_symmetric("int1e_ovlp")
    c = mf.mo_coeff[0]
    pops = np.stack([np.sum((c * (s @ c))[ao_l == l], axis=0) for l in range(ao_l.max() + 1)])
    assert np.allclose(pops.sum(axis=0), 1.0, atol=1e-10)
    assert np.all(pops.max(axis=0) > 1.0 - 1e-8)  # each MO is one l: the spherical potential does not mix l
    lvals = orbital_angular_momentum(ao_l, s, c)
    occ = mf.mo_occ[0]
    assert occ[lvals == 1].max() == pytest.approx(2.0 / 3.0)  # 2 alpha p electrons over 3 orbitals


def test_empty_configuration_is_zero_density():
    res = run_atom("H", 1, "", R_GRID)
    assert res.n_electrons == 0 and res.energy == 0.0 and not res.radial_density.any()


def test_unknown_occupation_mode():
    with pytest.raises(ReferenceCalculationError):
        run_atom("H", 1, "1s1", R_GRID, occupation="aufbau")
