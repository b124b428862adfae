"""Induced atomic dipoles that spare their bond partners (docs/model.md section 11.2, ``polarization_exclusion``):
pair A-B sees (1 - e x_AB) p_A, x_AB the sigma bond order."""

from __future__ import annotations

import numpy as np
import pytest

from lsip.errors import LSIPError
from lsip.gallery import gallery_structure
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.structure import Structure

#: a test set, not a fitted one: bonds (for the bond orders) and the library's induced dipoles, no lone-pair dipoles
INDUCED = ModelParameters(name="exclusion-test", pairing_strength=0.6, pairing_decay=1.4, polarizability_scale=1.0)


def _models(library, **extra):
    return (LSIPModel(library, INDUCED.with_(**extra), device="cpu"),
            LSIPModel(library, INDUCED.with_(polarization_exclusion=1.0, **extra), device="cpu"))


def test_off_by_default_and_a_clear_error_outside_zero_to_one():
    assert ModelParameters().polarization_exclusion == 0.0
    for bad in (-0.1, 1.5):
        with pytest.raises(LSIPError, match="polarization_exclusion"):
            ModelParameters(polarization_exclusion=bad)


def test_a_diatomic_has_no_partner_but_its_bond_partner(shipped_model):
    """HF alone: the only field on F's and H's dipoles is the partner's, which the exclusion removes up to 1 - x_HF
    (x ~ 0.98): the induced dipoles fall to a few per cent of their value without the exclusion."""
    free, spared = _models(shipped_model.library)
    hf = Structure(("H", "F"), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.92]]))
    p_free, p_spared = free.predict(hf), spared.predict(hf)
    full = float(p_free.latent.dipoles.norm(dim=1).max())
    assert full > 0.02
    assert float(p_spared.latent.dipoles.norm(dim=1).max()) < 0.05 * full


def test_a_non_bonded_field_acts_in_full(shipped_model):
    """Li and F 5 A apart have no bond to spare (x ~ 0) but polarize each other: the same induced dipoles and
    energy with and without the exclusion; and a free atom carries no dipole."""
    free, spared = _models(shipped_model.library)
    pair = Structure(("Li", "F"), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 5.0]]), charge=0.0)
    a, b = free.predict(pair), spared.predict(pair)
    assert float(a.latent.dipoles.norm(dim=1).max()) > 1e-4
    assert b.energy == pytest.approx(a.energy, abs=1e-9)
    assert np.allclose(b.latent.dipoles.numpy(), a.latent.dipoles.numpy(), atol=1e-7)
    atom = spared.predict(Structure(("O",), np.zeros((1, 3))))
    assert float(atom.latent.dipoles.abs().max()) < 1e-9


def test_a_hydrogen_bond_still_polarizes_the_acceptor(shipped_model):
    """Water dimer: the exclusion removes the intramolecular fields, so the monomer's own dipoles shrink, but the
    partner molecule's field still polarizes: the acceptor O's induced dipole differs from the free monomer's."""
    _, spared = _models(shipped_model.library)
    dimer = gallery_structure("water_dimer")
    pred = spared.predict(dimer)
    mono = spared.predict(Structure(dimer.symbols[3:], dimer.positions[3:]))
    acceptor = 3 if dimer.symbols[3] == "O" else next(k for k in range(3, 6) if dimer.symbols[k] == "O")
    shift = float((pred.latent.dipoles[acceptor] - mono.latent.dipoles[acceptor - 3]).norm())
    assert shift > 1e-3


def test_forces_equal_finite_differences_with_the_exclusion(shipped_model):
    """The exclusion depends on the geometry through the bond orders: the forces include it (HOCl, six components)."""
    from lsip.diagnostics import check_forces_fd

    _, spared = _models(shipped_model.library, lone_pair_dipole=0.5, hybrid_repulsion=0.3)
    st = Structure(("O", "Cl", "H"), np.array([[0.0, 0.0, 0.0], [1.70, 0.0, 0.0], [-0.25, 0.94, 0.0]]))
    pred = spared.predict(st)
    assert pred.converged
    res = check_forces_fd(spared, st, pred, n_components=6, tol=2e-6)
    assert res.passed, res.detail


def test_rotating_a_molecule_rotates_its_dipoles(shipped_model):
    from scipy.spatial.transform import Rotation

    _, spared = _models(shipped_model.library)
    st = gallery_structure("water")
    rot = Rotation.from_euler("xyz", [30, -50, 70], degrees=True).as_matrix()
    a = spared.predict(st)
    b = spared.predict(Structure(st.symbols, st.positions @ rot.T))
    assert b.energy == pytest.approx(a.energy, abs=1e-9)
    assert np.allclose(b.latent.dipoles.numpy(), a.latent.dipoles.numpy() @ rot.T, atol=1e-6)
