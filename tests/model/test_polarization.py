"""Atomic dipoles, the polarization channel (docs/model.md section 11): library data, invariants, outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from lsip.gallery import gallery_structure
from lsip.model.density import dipole_density
from lsip.model.model import LSIPModel
from lsip.results import prediction_to_dict
from lsip.structure import Structure
from lsip.units import ANGSTROM_TO_BOHR


@pytest.fixture(scope="module")
def fp_model():
    return LSIPModel(params="first-principles", device="cpu")


def test_every_library_element_has_a_dipolar_transition(shipped_model):
    lib = shipped_model.library
    for sym, entry in lib.elements.items():
        tr = entry.transition
        assert tr is not None, sym
        assert "->" in tr.label
        # the shape is normalised: its dipole density -p . grad s has moment p
        assert math.isclose(float(np.sum(tr.shape_coefficients)), 1.0, rel_tol=1e-12), sym
        assert np.all(tr.shape_exponents > 0)
        assert entry.polarizability == pytest.approx(2.0 * tr.dipole**2 / entry.excitation_energy, rel=1e-14)


def test_sp_polarizabilities_are_near_experiment(shipped_model):
    """The s->p promotions give the free-atom polarizability within 40 % (CRC values, bohr^3); a test that the
    transition dipoles are computed from the right orbitals (a wrong shell gives factors of 3-100)."""
    experiment = {"H": 4.5, "Li": 164.1, "B": 20.5, "C": 11.3, "Na": 162.7, "Mg": 71.3, "Ca": 160.8}
    lib = shipped_model.library
    for sym, alpha in experiment.items():
        assert 0.6 < lib.elements[sym].polarizability / alpha < 1.4, sym


@pytest.mark.parametrize("symbol", ["H", "C", "Li", "O"])
def test_free_atom_polarizability_equals_the_library_sum_over_states(fp_model, symbol):
    """A free atom in a uniform field F: p = alpha F with alpha = 2 mu_t^2 / eps of the library, exactly (the
    shape widening of the positivity bound leaves alpha alone)."""
    field = np.array([1e-4, -2e-4, 3e-4])
    model = fp_model.with_params(fp_model.params.with_(external_field=tuple(field)))
    atom = Structure((symbol,), np.zeros((1, 3)))
    pred = model.predict(atom)
    alpha = fp_model.library.elements[symbol].polarizability
    np.testing.assert_allclose(pred.atomic_dipoles.numpy()[0], alpha * field, rtol=1e-6, atol=1e-12)
    assert pred.energy == pytest.approx(-0.5 * alpha * float(field @ field), rel=1e-6)
    # and no field, no dipole
    assert float(fp_model.predict(atom).atomic_dipoles.abs().max()) == 0.0


def test_homonuclear_bonds_have_opposite_dipoles_and_dissociate_to_none(fp_model):
    """H2 and N2: the ionic fluctuations (w+ = w- on each atom) polarize the two atoms equally and oppositely along
    the bond (the molecule stays non-polar); pulled apart, the atoms become neutral and their dipoles vanish."""
    for sym, d in (("H", 0.74), ("N", 1.10)):
        pred = fp_model.predict(Structure((sym, sym), np.array([[0.0, 0, 0], [0, 0, d]])))
        p = pred.atomic_dipoles.numpy()
        np.testing.assert_allclose(p[0], -p[1], atol=1e-9)
        np.testing.assert_allclose(p[:, :2], 0.0, atol=1e-9)
        assert float(np.abs(pred.dipole.numpy()).max()) < 1e-9
        far = fp_model.predict(Structure((sym, sym), np.array([[0.0, 0, 0], [0, 0, 30.0]])))
        assert float(far.atomic_dipoles.abs().max()) < 1e-12


def test_atomic_dipoles_rotate_with_the_molecule(fp_model):
    st = gallery_structure("formaldehyde")
    rot = Rotation.from_euler("xyz", [0.3, -1.1, 0.7]).as_matrix()
    turned = Structure(st.symbols, st.positions @ rot.T, st.charge)
    p0 = fp_model.predict(st).atomic_dipoles.numpy()
    p1 = fp_model.predict(turned).atomic_dipoles.numpy()
    assert np.abs(p0).max() > 1e-3  # a polar molecule: real dipoles are compared
    np.testing.assert_allclose(p1, p0 @ rot.T, atol=1e-6)


def test_symmetry_equivalent_atoms_have_equal_dipoles(fp_model):
    """Exactly tetrahedral NH4+: equal |p| on the four H, zero on N (its site is a centre of symmetry for p)."""
    d = 1.03 / math.sqrt(3.0)
    pos = np.array([[0, 0, 0], [d, d, d], [d, -d, -d], [-d, d, -d], [-d, -d, d]])
    pred = fp_model.predict(Structure(("N", "H", "H", "H", "H"), pos, 1))
    mags = np.linalg.norm(pred.atomic_dipoles.numpy(), axis=1)
    assert mags[1] > 1e-3
    assert np.ptp(mags[1:]) < 1e-8
    assert mags[0] < 1e-8
    # each H dipole points along its bond (the only direction the symmetry allows)
    p_h = pred.atomic_dipoles.numpy()[1:]
    cos = np.abs((p_h * pos[1:]).sum(1)) / (mags[1:] * np.linalg.norm(pos[1:], axis=1))
    np.testing.assert_allclose(cos, 1.0, atol=1e-8)


def test_molecular_dipole_includes_the_atomic_dipoles(fp_model):
    pred = fp_model.predict(gallery_structure("water"))
    pos = pred.positions.numpy()
    from lsip.data.masses import atomic_mass

    m = np.array([atomic_mass(s) for s in pred.symbols])
    cm = (m[:, None] * pos).sum(0) / m.sum()
    expected = (pred.charges.numpy()[:, None] * (pos - cm)).sum(0) + pred.atomic_dipoles.numpy().sum(0)
    np.testing.assert_allclose(pred.dipole.numpy(), expected, atol=1e-12)
    assert np.abs(pred.atomic_dipoles.numpy().sum(0)).max() > 1e-3
    out = prediction_to_dict(pred)
    assert len(out["atomic_dipoles_eA"]) == 3 and len(out["atomic_dipoles_eA"][0]) == 3


def test_polarization_scale_zero_removes_the_dipoles(fp_model):
    model = fp_model.with_params(fp_model.params.with_(polarizability_scale=0.0))
    pred = model.predict(gallery_structure("water"))
    assert float(pred.atomic_dipoles.abs().max()) == 0.0
    assert pred.term_totals["polarization"] == 0.0


def test_forces_with_dipoles_equal_finite_differences(fp_model):
    """Forces at fixed latent coordinates (envelope theorem, the dipoles included) against central differences
    of the re-equalized energy."""
    st = gallery_structure("formaldehyde")
    pred = fp_model.predict(st)
    h = 1e-4  # angstrom
    for atom, axis in ((0, 2), (2, 0), (3, 1)):
        energies = []
        for sign in (1, -1):
            pos = st.positions.copy()
            pos[atom, axis] += sign * h
            energies.append(fp_model.predict(Structure(st.symbols, pos, st.charge), guess=pred.latent).energy)
        fd = -(energies[0] - energies[1]) / (2 * h * ANGSTROM_TO_BOHR)
        assert float(pred.forces[atom, axis]) == pytest.approx(fd, abs=2e-6)


def test_the_dipolar_lobe_has_zero_electrons_and_moment_p(fp_model):
    tables = fp_model.tables
    shapes = [tables.dipole_shapes[tables.index["C"]]]
    p = np.array([[0.3, -0.2, 0.5]])
    # a product Gauss-Legendre grid in a cube of +-14 bohr (the widest C shape exponent is ~0.01 bohr^-2)
    x, wq = np.polynomial.legendre.leggauss(80)
    x, wq = 14.0 * x, 14.0 * wq
    g = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1).reshape(-1, 3)
    wg = (wq[:, None, None] * wq[None, :, None] * wq[None, None, :]).reshape(-1)
    rho = dipole_density(g, np.zeros((1, 3)), p, shapes).numpy()
    assert abs(float((wg * rho).sum())) < 1e-8
    moment = -(wg[:, None] * rho[:, None] * g).sum(0)  # charge = -electrons
    np.testing.assert_allclose(moment, p[0], rtol=1e-5)


def test_the_quadratic_form_in_the_dipoles_is_positive_definite(fp_model):
    """The positivity bound alpha (-W''(0)) < 1 holds for every element after the widening, so dense clusters of
    very polarizable atoms (K, 414 bohr^3) still have a unique, finite minimum."""
    from lsip.model.tables import _self_curvature

    t = fp_model.tables
    for sym in t.symbols:
        c, x = t.dipole_shapes[t.index[sym]]
        assert float(t.polarizability[t.index[sym]]) * _self_curvature(c, x) <= 1.0 / 1.05 + 1e-12, sym
    k4 = Structure(("K",) * 4, np.array([[0.0, 0, 0], [3.9, 0, 0], [0, 3.9, 0], [3.9, 3.9, 0.2]]))
    pred = fp_model.predict(k4)
    assert pred.converged and np.isfinite(pred.energy)
    assert torch.isfinite(pred.atomic_dipoles).all()


def test_ase_calculator_reports_atomic_dipoles():
    from ase import Atoms

    from lsip.calculator import LSIPCalculator
    from lsip.units import BOHR_TO_ANGSTROM

    st = gallery_structure("water")
    atoms = Atoms(st.symbols, positions=st.positions)
    atoms.calc = LSIPCalculator(params="first-principles", device="cpu")
    atoms.get_potential_energy()
    p = atoms.calc.results["atomic_dipoles"]
    assert p.shape == (3, 3)
    pred = LSIPModel(params="first-principles", device="cpu").predict(st)
    np.testing.assert_allclose(p, pred.atomic_dipoles.numpy() * BOHR_TO_ANGSTROM, atol=1e-7)
    np.testing.assert_allclose(atoms.get_dipole_moment(), pred.dipole.numpy() * BOHR_TO_ANGSTROM, atol=1e-7)


def test_tiny_polarizabilities_still_converge():
    """The dipoles' preconditioner is alpha itself (docs/model.md section 5): with a polarizability scale of 1e-5
    (alpha ~ 1e-6 bohr^3) a floor of 1e-3 stalled Na+...OH2 and Cl-...HOH at long range at 2,000 iterations."""
    from lsip.calibration.dataset import DIMER_SCANS
    from lsip.model.params import get_parameters

    params = get_parameters("calibrated").with_(polarizability_scale=1e-5)
    model = LSIPModel(params=params, device="cpu")
    for name in ("Na+...OH2", "Cl-...HOH"):
        far = next(d for d in DIMER_SCANS if d.name == name).structures()[-2]
        pred = model.predict(far, forces=False)
        assert pred.converged and pred.iterations < 1000, (name, pred.iterations)
