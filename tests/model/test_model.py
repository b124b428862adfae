"""Physics contract of the encoder/decoder (docs/model.md section 9) on an analytic library (fast, no DFT)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lsip.diagnostics import run_diagnostics
from lsip.errors import ConvergenceError, LSIPError, StructureError, UnsupportedElementError
from lsip.model.baselines import qeq_charges
from lsip.model.terms import ENERGY_TERMS
from lsip.structure import Structure

WATER = Structure(("O", "H", "H"), np.array([[0.0, 0.0, 0.1173], [0.0, 0.7572, -0.4692], [0.0, -0.7572, -0.4692]]),
                  name="water")


def dimer(a: str, b: str, d: float, charge: int = 0) -> Structure:
    return Structure((a, b), np.array([[0.0, 0.0, 0.0], [0.0, 0.0, d]]), charge=charge, name=f"{a}{b}")


def random_rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


#: Water moved off its symmetric geometry (the finite-difference forces are then non-trivial).
DISTORTED = Structure(("O", "H", "H"), WATER.positions + np.array([[0.02, -0.03, 0.01], [0, 0.05, 0], [0, 0, 0.04]]),
                      name="distorted water")

#: The invariants of docs/model.md section 9, as ``lsip.diagnostics`` checks them (one check set for the app's
#: Diagnostics page and for these tests; issue 12.8).
INVARIANTS = {"encoder converged", "terms sum to total", "charge conservation", "weights in [0, 1], sum to 1",
              "equal charges on equivalent atoms", "rotation + translation invariance", "permutation of equal atoms",
              "free-atom limit", "forces = finite differences"}


@pytest.mark.parametrize("structure", [WATER, WATER.with_charge(-1), WATER.with_charge(1), DISTORTED],
                         ids=["water", "water-", "water+", "distorted"])
def test_every_invariant_holds(synth_model, structure):
    results = {r.name: r for r in run_diagnostics(synth_model, structure, include_slow=True)}
    assert set(results) >= INVARIANTS, sorted(INVARIANTS - set(results))
    failed = [f"{r.name}: {r.detail}" for r in results.values() if r.passed is False]
    assert not failed, failed
    assert results["forces = finite differences"].passed is True  # ran, not skipped


def test_every_term_is_reported_and_forces_rotate_with_the_structure(synth_model):
    """What the check set does not cover: every registered term appears, and forces are covariant vectors."""
    ref = synth_model.predict(WATER)
    assert set(ref.terms) == set(ENERGY_TERMS)
    r = random_rotation(1)
    p = synth_model.predict(WATER.with_positions(WATER.positions @ r.T + np.array([3.0, -2.0, 7.5])))
    torch.testing.assert_close(p.forces, ref.forces @ torch.tensor(r.T), atol=1e-6, rtol=0)
    torch.testing.assert_close(ref.forces.sum(0), torch.zeros(3, dtype=torch.float64), atol=1e-10, rtol=0)


def test_free_atoms_are_exactly_neutral_with_exactly_zero_energy(synth_model):
    """Stronger than the check set's tolerance: beyond every cut-off nothing couples, so the numbers are exact."""
    st = Structure(("Na", "Cl", "H"), np.array([[0.0, 0, 0], [40.0, 0, 0], [0, 40.0, 0]]))
    p = synth_model.predict(st)
    assert torch.all(p.charges == 0)
    assert p.energy == 0.0
    torch.testing.assert_close(p.weights[:, 1], torch.ones(3, dtype=torch.float64))


def test_a_broken_prediction_fails_the_check_set(synth_model):
    """The check set can fail: charges that do not sum to Q and a term that does not add up are caught."""
    import dataclasses

    pred = synth_model.predict(WATER)
    bad = dataclasses.replace(pred, charges=pred.charges + 0.01, energy=pred.energy + 1e-3)
    results = {r.name: r for r in run_diagnostics(synth_model, WATER, pred=bad)}
    assert results["charge conservation"].passed is False and results["terms sum to total"].passed is False


@pytest.mark.parametrize(("a", "b", "r_eq"), [("Na", "Cl", 2.361), ("Li", "F", 1.564), ("Li", "H", 1.595),
                                              ("H", "F", 0.917)])
def test_heteronuclear_dimers_dissociate_to_neutral_atoms_while_qeq_does_not(synth_model, synth_library, a, b, r_eq):
    near = synth_model.predict(dimer(a, b, r_eq))
    assert abs(float(near.charges[0])) > 0.05  # polar bond at equilibrium
    # ionic-covalent crossing R_c = 1 / (I_donor - A_acceptor) (a.u.); 3 R_c (capped below at 30 bohr)
    ea, eb = synth_library.element(a), synth_library.element(b)
    gap = min(ea.ionization_energy - eb.electron_affinity, eb.ionization_energy - ea.electron_affinity)
    far_bohr = max(3.0 / gap, 30.0)
    far = synth_model.predict(dimer(a, b, far_bohr * 0.529177))
    assert float(far.charges.abs().max()) < 1e-6
    assert abs(float(qeq_charges(dimer(a, b, far_bohr * 0.529177), synth_library).charges[0])) > 0.05


def test_nacl_is_ionic_near_crossing_inside_and_neutral_outside(synth_model, synth_library):
    """Ionic up to near the ionic-covalent crossing R_x = 1/(I_Na - A_Cl), neutral past it, exactly 0 at 3 R_x."""
    r_x = 0.529177 / (synth_library.element("Na").ionization_energy - synth_library.element("Cl").electron_affinity)
    assert float(synth_model.predict(dimer("Na", "Cl", 5.0)).charges[0]) > 0.95
    assert float(synth_model.predict(dimer("Na", "Cl", 0.95 * r_x)).charges[0]) > 0.9
    assert 0.0 < float(synth_model.predict(dimer("Na", "Cl", 1.2 * r_x)).charges[0]) < 1e-3
    assert float(synth_model.predict(dimer("Na", "Cl", 3.0 * r_x)).charges[0]) == 0.0


def test_h2_has_zero_charge_but_nonzero_charge_fluctuation(synth_model):
    p = synth_model.predict(dimer("H", "H", 0.741))
    assert float(p.charges.abs().max()) < 1e-9
    assert float(p.charge_fluctuation[0]) > 0.1
    assert float(p.weights[0, 0]) == pytest.approx(float(p.weights[0, 2]), abs=1e-9)


def test_batch_equals_one_by_one(synth_model):
    structs = [WATER, dimer("Na", "Cl", 2.5), dimer("H", "H", 0.74), WATER.with_charge(-1)]
    batch = synth_model.predict(structs)
    for st, pb in zip(structs, batch):
        p1 = synth_model.predict(st)
        assert pb.energy == pytest.approx(p1.energy, abs=1e-9)
        # equal to within the solver tolerance (KKT residual 1e-7 Ha)
        torch.testing.assert_close(pb.charges, p1.charges, atol=2e-6, rtol=0)
        torch.testing.assert_close(pb.forces, p1.forces, atol=2e-6, rtol=0)
        # each structure reports its own iteration count, close to its count when solved alone, not the batch's
        # maximum (a single structure runs the compact L-BFGS form, a batch the group-wise two-loop recursion:
        # the same quasi-Newton model, so the paths agree up to round-off and to how rejected curvature pairs
        # are dropped, which can move a charged structure's count by ~15 %)
        assert abs(pb.iterations - p1.iterations) <= max(3, 0.2 * p1.iterations), (pb.iterations, p1.iterations)
    assert len({p.iterations for p in batch}) > 1


def test_warm_start_reaches_same_solution_in_fewer_iterations(synth_model):
    cold = synth_model.predict(dimer("Li", "F", 1.60))
    near = synth_model.predict(dimer("Li", "F", 1.56))
    warm = synth_model.predict(dimer("Li", "F", 1.60), guess=near.latent)
    assert warm.energy == pytest.approx(cold.energy, abs=1e-10)
    assert warm.iterations <= cold.iterations


def test_guess_per_structure_in_a_batch(synth_model):
    """A batch takes one guess per structure (None = cold); the result is the cold-start minimum."""
    a, b = dimer("Li", "F", 1.60), dimer("Na", "Cl", 2.40)
    cold = synth_model.predict([a, b])
    near = synth_model.predict(dimer("Li", "F", 1.56))
    warm = synth_model.predict([a, b], guess=[near.latent, None])
    for c, w in zip(cold, warm):
        assert w.energy == pytest.approx(c.energy, abs=1e-10)
    with pytest.raises(LSIPError, match="guess has 1 latent"):
        synth_model.predict([a, b], guess=[near.latent])


def test_guess_of_another_charge_or_size_is_not_used(synth_model):
    """The reservoir carries |Q|: a neutral guess for a cation must not break charge conservation."""
    neutral = synth_model.predict(dimer("Li", "F", 1.60))
    cation = synth_model.predict(dimer("Li", "F", 1.60).with_charge(1), guess=neutral.latent)
    assert float(cation.charges.sum()) == pytest.approx(1.0, abs=1e-10)
    single = synth_model.predict(Structure(("F",), np.zeros((1, 3))), guess=neutral.latent)
    assert single.converged


def test_non_finite_result_is_never_converged(synth_model):
    from lsip.model import model as model_module

    pred = synth_model.predict(dimer("Li", "F", 1.60))
    pred.energy = float("nan")
    model_module._flag_non_finite(pred)
    assert not pred.converged and "NaN" in pred.failure


def test_chemical_potential_of_a_free_atom_is_minus_mulliken_electronegativity(synth_model, synth_library):
    p = synth_model.predict(Structure(("F",), np.zeros((1, 3))))
    assert p.mu == pytest.approx(-synth_library.element("F").electronegativity, abs=1e-10)


def test_nonconverged_solve_raises_with_partial_result(synth_library):
    from lsip.model.model import LSIPModel

    model = LSIPModel(synth_library, params="first-principles", device="cpu")
    model = model.with_params(model.params.with_(max_iter=1, tol=1e-14))
    with pytest.raises(ConvergenceError, match="did not converge") as info:
        model.predict(WATER)
    assert info.value.result is not None and not info.value.result.converged
    p = model.predict(WATER, raise_on_failure=False)
    assert not p.converged and p.residual > 1e-14


def test_clear_errors_for_unsupported_elements_and_impossible_charges(synth_model):
    with pytest.raises(UnsupportedElementError, match="Kr"):
        synth_model.predict(Structure(("Kr", "H"), np.array([[0, 0, 0], [0, 0, 1.5]])))
    with pytest.raises(StructureError, match="at most one electron"):
        synth_model.predict(dimer("H", "H", 0.74, charge=-3))


def test_dipole_of_ionic_dimer_is_charge_times_distance(synth_model):
    p = synth_model.predict(dimer("Li", "F", 1.564))
    assert float(torch.linalg.norm(p.dipole)) == pytest.approx(abs(float(p.charges[0])) * 1.564 / 0.529177, rel=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_cpu_and_gpu_agree(synth_library):
    from lsip.model.model import LSIPModel

    cpu = LSIPModel(synth_library, device="cpu").predict(WATER)
    gpu = LSIPModel(synth_library, device="cuda").predict(WATER)
    assert gpu.energy == pytest.approx(cpu.energy, abs=1e-9)
    torch.testing.assert_close(gpu.charges, cpu.charges, atol=1e-7, rtol=0)


def test_nacl_equilibrium_is_not_the_spurious_fully_ionic_minimum(synth_model):
    """A penalty once made a spurious minimum (docs/model.md section 5): the solution must beat the pure ionic
    configuration."""
    p = synth_model.predict(dimer("Na", "Cl", 2.361))
    assert 0.5 < float(p.charges[0]) < 0.99
    assert float(p.weights[0, 1]) > 0.05  # neutral configuration keeps weight through the resonance


def test_dsf_summation_approximates_exact_coulomb_for_a_cluster(synth_library):
    """The large-system DSF path (with its self term) stays close to the exact sum on the same cluster."""
    from lsip.model.model import LSIPModel
    from lsip.model.params import ModelParameters

    rng = np.random.default_rng(3)
    pos, sym = [], []
    for k in range(27):
        centre = 3.1 * np.array([k % 3, (k // 3) % 3, k // 9])
        rot = random_rotation(int(rng.integers(1000)))
        pos.append(WATER.positions @ rot.T + centre)
        sym += ["O", "H", "H"]
    st = Structure(tuple(sym), np.concatenate(pos))
    exact = LSIPModel(synth_library, ModelParameters(coulomb="dense"), device="cpu").predict(st)
    dsf = LSIPModel(synth_library, ModelParameters(coulomb="dsf"), device="cpu").predict(st)
    assert float((exact.charges - dsf.charges).abs().max()) < 0.06
    assert float(dsf.charges.sum()) == pytest.approx(0.0, abs=1e-10)


def test_solver_time_limit_returns_not_converged(synth_model):
    """Every solve has a wall-clock bound (issue 10.3): past it the result says so instead of running on."""
    model = synth_model.with_params(synth_model.params.with_(time_limit_s=0.0))
    pred = model.predict(dimer("Na", "Cl", 2.4), raise_on_failure=False)
    assert not pred.converged and "time limit" in pred.failure
    with pytest.raises(ConvergenceError, match="time limit"):
        model.predict(dimer("Na", "Cl", 2.4))
