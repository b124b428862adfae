"""Lone-pair (hybridization) dipoles (docs/model.md section 11.1, ``lone_pair_dipole``): the permanent dipole of the
s-p hybrids of an atom that holds lone pairs beside its sigma bonds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lsip.errors import LSIPError
from lsip.gallery import gallery_structure
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.structure import Structure

#: a test set, not a fitted one: bonds, Bent's rule and the lone-pair dipoles on, the induced dipoles nearly off
LONE = ModelParameters(name="lone-pair-test", pairing_strength=0.6, pairing_decay=1.4, hybrid_repulsion=0.3,
                       lone_pair_s_period2=2.0, lone_pair_s_period3=2.0, lone_pair_dipole=1.0,
                       polarizability_scale=1e-6)
_PHI = np.radians([90.0, 210.0, 330.0])
AMMONIA = Structure(("N", "H", "H", "H"), np.vstack([[0.0, 0.0, 0.116], np.stack(
    [0.939 * np.cos(_PHI), 0.939 * np.sin(_PHI), np.full(3, -0.271)], axis=1)]))


@pytest.fixture(scope="module")
def lone_model(shipped_model):
    return LSIPModel(shipped_model.library, LONE, device="cpu")


def test_the_library_has_valence_sp_dipoles_for_the_p_block(shipped_model):
    """mu_sp = int R_ns R_np r^3 dr / sqrt(3) from the neutral atoms' orbitals: present exactly where the ground
    configuration has valence p electrons, growing down a group and shrinking along a period (the shells contract);
    N's equals its 2s->2p polarization transition (the same shells) within the two SCFs' difference."""
    lib = shipped_model.library
    with_p = {"B", "C", "N", "O", "F", "Al", "Si", "P", "S", "Cl"}
    for sym, entry in lib.elements.items():
        assert (entry.sp_dipole is not None) == (sym in with_p), sym
    mu = {s: lib.elements[s].sp_dipole for s in with_p}
    assert mu["B"] > mu["C"] > mu["N"] > mu["O"] > mu["F"] > 0.4
    for light, heavy in (("N", "P"), ("O", "S"), ("F", "Cl"), ("C", "Si")):
        assert mu[heavy] > mu[light]
    assert mu["N"] == pytest.approx(lib.elements["N"].transition.dipole, rel=0.05)


def test_compute_sp_dipole_reproduces_the_stored_value(shipped_model):
    from lsip.reference.library_build import element_settings
    from lsip.reference.transitions import compute_sp_dipole

    lib = shipped_model.library
    ref, settings = element_settings(lib, "F")
    mu = compute_sp_dipole("F", ref.Z, ref.configurations["neutral"], np.asarray(lib.r_grid), **settings)
    assert mu == pytest.approx(lib.elements["F"].sp_dipole, rel=1e-6)


def test_off_by_default_and_zero_without_lone_pairs(shipped_model, lone_model):
    assert ModelParameters().lone_pair_dipole == 0.0
    methane = gallery_structure("ch4")
    off = LSIPModel(shipped_model.library, LONE.with_(lone_pair_dipole=0.0), device="cpu")
    a, b = lone_model.predict(methane), off.predict(methane)
    assert a.energy == pytest.approx(b.energy, abs=1e-12)
    np.testing.assert_allclose(a.atomic_dipoles.numpy(), b.atomic_dipoles.numpy(), atol=1e-12)


def test_ammonia_lone_pair_dipole_points_from_the_lone_pair_to_the_hydrogens(lone_model):
    """N's dipole lies on the C3 axis, pointing from the lone pair towards the hydrogens (the direction of the
    molecular dipole: negative at the lone pair), and it raises the molecular dipole."""
    pred = lone_model.predict(AMMONIA)
    p_n = pred.atomic_dipoles.numpy()[0]
    axis = np.array([0.0, 0.0, -1.0])  # from N towards the plane of the hydrogens
    assert float(p_n @ axis) > 0.1
    np.testing.assert_allclose(p_n[:2], 0.0, atol=1e-8)
    off = lone_model.with_params(LONE.with_(lone_pair_dipole=0.0)).predict(AMMONIA)
    assert float(pred.dipole.norm()) > float(off.dipole.norm()) + 0.1


def test_magnitude_is_the_hybrid_value(lone_model):
    """HF at a long enough distance that the bond order is 1: p_F = kappa 2 mu_sp sqrt(s (1 - s)) with Bent's
    s = 1 / (1 + t n_lp) = 1/7 (t = 2, three lone pairs), times F's weight of states that hold lone pairs."""
    st = Structure(("H", "F"), np.array([[0.0, 0, 0], [0, 0, 0.92]]))
    pred = lone_model.predict(st)
    tables = lone_model.tables
    f = tables.index["F"]
    w = pred.weights.numpy()[1]
    share = float((w * tables.lone_pair_gate[f].numpy()).sum())
    s = 1.0 / 7.0
    expected = 2.0 * float(tables.sp_dipole[f]) * np.sqrt(s * (1 - s)) * share
    # x_HF = min(b, 1) rounded over 0.05 is slightly below 1; the induced part is ~1e-6 of the lone-pair one
    assert float(pred.atomic_dipoles[1, 2]) == pytest.approx(-expected, rel=0.03)  # F -> H is -z


def test_rotation_covariance_and_dissociation(lone_model):
    st = gallery_structure("formaldehyde")
    pred = lone_model.predict(st)
    rot = Rotation.from_euler("xyz", [0.4, -1.1, 2.3])
    moved = lone_model.predict(Structure(st.symbols, rot.apply(st.positions) + 1.7, st.charge))
    np.testing.assert_allclose(moved.atomic_dipoles.numpy(), rot.apply(pred.atomic_dipoles.numpy()), atol=1e-7)
    assert moved.energy == pytest.approx(pred.energy, abs=1e-9)
    far = lone_model.predict(Structure(("H", "F"), np.array([[0.0, 0, 0], [0, 0, 40.0]])))
    assert float(far.atomic_dipoles.abs().max()) < 1e-9
    assert float(far.charges.abs().max()) < 1e-6 and abs(far.energy) < 1e-9


def test_symmetry_equivalent_atoms_have_equal_lone_pair_dipoles(lone_model):
    """N2: opposite dipoles of equal size, no molecular dipole."""
    pred = lone_model.predict(Structure(("N", "N"), np.array([[0.0, 0, 0], [0, 0, 1.10]])))
    p = pred.atomic_dipoles.numpy()
    assert abs(p[0, 2]) > 0.05
    np.testing.assert_allclose(p[0], -p[1], atol=1e-9)
    assert float(pred.dipole.norm()) < 1e-9


def test_forces_equal_finite_differences_with_lone_pair_dipoles(lone_model):
    """HOCl (two lone-pair atoms, one bonded to the other): the forces include the derivatives of the bond orders,
    Bent's s share and the bond directions (six components, the largest first)."""
    from lsip.diagnostics import check_forces_fd

    st = Structure(("O", "Cl", "H"), np.array([[0.0, 0.0, 0.0], [1.70, 0.0, 0.0], [-0.25, 0.94, 0.0]]))
    pred = lone_model.predict(st)
    res = check_forces_fd(lone_model, st, pred, n_components=6, tol=2e-6)
    assert res.passed, res.detail


def test_lone_pair_dipoles_without_induced_dipoles(shipped_model):
    """polarizability_scale = 0 (no induced dipoles, no dipole variables in the solver) with lone-pair dipoles on:
    water converges, O carries its lone-pair dipole, and the forces still equal finite differences."""
    from lsip.diagnostics import check_forces_fd

    model = LSIPModel(shipped_model.library, LONE.with_(polarizability_scale=0.0), device="cpu")
    st = gallery_structure("water")
    pred = model.predict(st)
    assert pred.converged
    assert float(pred.atomic_dipoles[0].norm()) > 0.05 and float(pred.atomic_dipoles[1:].abs().max()) == 0.0
    res = check_forces_fd(model, st, pred, n_components=4, tol=2e-6)
    assert res.passed, res.detail


def test_a_library_without_sp_dipoles_is_a_clear_error(shipped_model):
    lib = shipped_model.library
    bare = replace(lib, elements={s: replace(e, sp_dipole=None) for s, e in lib.elements.items()})
    with pytest.raises(LSIPError, match="valence s-p dipoles"):
        LSIPModel(bare, LONE, device="cpu").predict(gallery_structure("water"))


def test_lone_pair_dipoles_spare_their_own_bonds_and_act_across_a_hydrogen_bond(lone_model):
    """Pair (A, B) sees A's lone-pair dipole times 1 - x_AB: in HF (x ~ 0.98) its field term nearly vanishes although
    p_F is large; across the water dimer's hydrogen bond (x ~ 0) the acceptor's lone pairs attract the donor's
    hydrogen, so the dimer's polarization energy lies below its two monomers'."""
    hf = lone_model.predict(Structure(("H", "F"), np.array([[0.0, 0, 0], [0, 0, 0.92]])))
    assert float(hf.atomic_dipoles[1].norm()) > 0.1
    assert abs(hf.term_totals["polarization"]) < 5e-4
    dimer = gallery_structure("water_dimer")
    assert dimer.symbols == ("O", "H", "H", "O", "H", "H")
    both = lone_model.predict(dimer).term_totals["polarization"]
    parts = [lone_model.predict(Structure(dimer.symbols[k:k + 3], dimer.positions[k:k + 3])).term_totals[
        "polarization"] for k in (0, 3)]
    assert both - sum(parts) < -1e-3
