"""lsip.diagnostics: the docs/model.md section 9 invariants pass on the shipped model and catch broken predictions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lsip import diagnostics
from lsip.errors import LSIPError
from lsip.gallery import gallery_structure
from lsip.model.params import FIRST_PRINCIPLES
from lsip.structure import Structure


@pytest.fixture(scope="module")
def water_case(shipped_model):
    st = gallery_structure("water")
    return st, shipped_model.predict(st)


@pytest.mark.parametrize("key", ["water", "lif", "hydroxide"])
def test_every_check_passes_on_the_shipped_model(shipped_model, key):
    st = gallery_structure(key)
    results = diagnostics.run_diagnostics(shipped_model, st, include_slow=True)
    names = [r.name for r in results]
    assert names == ["encoder converged", "terms sum to total", "charge conservation", "weights in [0, 1], sum to 1",
                     "equal charges on equivalent atoms", "rotation + translation invariance",
                     "permutation of equal atoms", "free-atom limit", "forces = finite differences"]
    for r in results:
        if r.name == "permutation of equal atoms" and key != "water":
            assert r.skipped and "no two atoms" in r.detail  # LiF, OH-: all elements differ
            continue
        assert r.passed is True, r
        assert r.value <= r.tolerance
    if key == "hydroxide":
        assert "checked at Q = 0" in results[7].detail


def test_slow_check_only_on_request(shipped_model, water_case):
    st, pred = water_case
    results = diagnostics.run_diagnostics(shipped_model, st, pred)
    assert "forces = finite differences" not in [r.name for r in results]


def test_checks_leave_the_model_without_per_call_state(shipped_model, water_case):
    st, _ = water_case
    before = dict(vars(shipped_model))
    diagnostics.run_diagnostics(shipped_model, st)
    assert vars(shipped_model) == before
    assert not hasattr(shipped_model, "last_latent")


def test_charges_not_summing_to_q_fail(water_case):
    _, pred = water_case
    broken = dataclasses.replace(pred, charges=pred.charges + 0.01)
    r = diagnostics.check_charge_conservation(broken)
    assert r.passed is False and r.value == pytest.approx(0.03, abs=1e-12)
    # and against an explicit Q: the true prediction is neutral, so asking for Q = -1 fails by 1 e
    assert diagnostics.check_charge_conservation(pred, -1).value == pytest.approx(1.0, abs=1e-9)


def test_terms_not_summing_to_total_fail(water_case):
    _, pred = water_case
    r = diagnostics.check_term_sum(dataclasses.replace(pred, energy=pred.energy + 1e-6))
    assert r.passed is False and r.value == pytest.approx(1e-6, rel=1e-6)
    terms = dict(pred.terms)
    name = next(iter(terms))
    terms[name] = terms[name] + 1e-5
    assert diagnostics.check_term_sum(dataclasses.replace(pred, terms=terms)).passed is False


def test_weights_outside_the_simplex_fail(water_case):
    _, pred = water_case
    w = pred.weights.clone()
    w[0, 0] += 0.2  # no longer sums to 1
    assert diagnostics.check_weights(dataclasses.replace(pred, weights=w)).passed is False
    w = pred.weights.clone()
    w[1, 1], w[1, 2] = w[1, 1] + 0.5 + w[1, 2], -0.5  # sums to 1 but a negative weight
    r = diagnostics.check_weights(dataclasses.replace(pred, weights=w))
    assert r.passed is False and r.value == pytest.approx(0.5, abs=1e-12)


def test_wrong_forces_fail_the_finite_difference_check(shipped_model, water_case):
    st, pred = water_case
    forces = pred.forces.clone()
    forces += 1e-3  # every component off by 1 mHa/bohr: a constant force, as from a missing gradient term
    r = diagnostics.check_forces_fd(shipped_model.with_params(shipped_model.params), st,
                                    dataclasses.replace(pred, forces=forces))
    assert r.passed is False and r.value == pytest.approx(1e-3, rel=0.02)


def test_a_reference_that_disagrees_fails_the_invariance_checks(shipped_model, water_case):
    st, pred = water_case
    model = shipped_model.with_params(shipped_model.params)
    shifted = dataclasses.replace(pred, energy=pred.energy + 1e-4)
    assert diagnostics.check_rigid_motion(model, st, shifted).passed is False
    q = pred.charges.clone()
    q[1] += 1e-3  # the two H are no longer equivalent
    assert diagnostics.check_permutation(model, st, dataclasses.replace(pred, charges=q)).passed is False


def test_non_converged_prediction_fails(water_case):
    _, pred = water_case
    r = diagnostics.check_converged(dataclasses.replace(pred, converged=False, residual=3e-3), 1e-7)
    assert r.passed is False and "NOT converged" in r.detail


def test_large_structures_skip_the_resolving_checks(shipped_model, water_case):
    _, pred = water_case
    big = gallery_structure("water_64")
    assert big.n_atoms > diagnostics.MAX_RESOLVE_ATOMS
    for check in diagnostics.RESOLVING_CHECKS.values():
        r = check(shipped_model, big, pred)
        assert r.skipped and str(big.n_atoms) in r.detail and np.isnan(r.value)


def test_equal_atom_pair_and_fd_components(water_case):
    st, pred = water_case
    assert diagnostics.equal_atom_pair(st) == (1, 2)
    assert diagnostics.equal_atom_pair(Structure(("Li", "F"), np.eye(2, 3))) is None
    comps = diagnostics.fd_components(pred, 4)
    assert len(comps) == len(set(comps)) == 4
    f = pred.forces.abs()
    assert float(f[comps[0]]) == pytest.approx(float(f.max()))  # the largest component is always tested
    assert all(0 <= a < 3 and 0 <= x < 3 for a, x in comps)
    assert torch.is_tensor(pred.forces)


def test_parameter_overrides_name_the_change():
    assert diagnostics.parameter_overrides(FIRST_PRINCIPLES, {"kappa": 1.0, "embedding_scale": 1.0}) == {}
    ov = diagnostics.parameter_overrides(FIRST_PRINCIPLES, {"kappa": 1.5, "electronic_temperature": 0.0})
    assert ov == {"kappa": 1.5, "name": "first-principles + kappa=1.5"}
    assert FIRST_PRINCIPLES.with_(**ov).kappa == 1.5
    with pytest.raises(LSIPError, match="tol"):
        diagnostics.parameter_overrides(FIRST_PRINCIPLES, {"tol": 1.0})
