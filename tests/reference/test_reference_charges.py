"""Hirshfeld and Hirshfeld-I on synthetic densities whose exact partition is known, and channel flows."""

from __future__ import annotations

import numpy as np
import pytest
from test_density_encoder import molecular_grid, slater_library

from lsip.errors import LSIPError
from lsip.model.density import BasisDensities
from lsip.reference.charges import hirshfeld_charges, hirshfeld_i_charges, ionic_line_weights
from lsip.reference.flows import bond_pairs, charge_flow, minimum_norm_flow


def _case(name):
    lib = slater_library()
    symbols, pos, coords, weights = molecular_grid(name)
    bd = BasisDensities(lib, symbols)
    return bd.evaluate_chunked(coords, pos).numpy(), bd.numbers.numpy(), weights


@pytest.mark.parametrize("name", ["H2O", "LiF"])
def test_hirshfeld_of_the_promolecule_is_zero(name):
    basis, numbers, weights = _case(name)
    rho = basis[:, :, 1].sum(1)
    np.testing.assert_allclose(hirshfeld_charges(basis, rho, weights, numbers), 0.0, atol=2e-4)
    hi = hirshfeld_i_charges(basis, rho, weights, numbers)
    assert hi.converged
    np.testing.assert_allclose(hi.charges, 0.0, atol=2e-4)


def test_hirshfeld_i_recovers_ionic_line_charges():
    """A density made of atoms on the ionic line (Li+0.7, F-0.7) is a fixed point of Hirshfeld-I."""
    basis, numbers, weights = _case("LiF")
    w, clamped = ionic_line_weights(np.array([0.7, -0.7]))
    assert not clamped.any()
    np.testing.assert_allclose(w, [[0.7, 0.3, 0.0, 0.0], [0.0, 0.3, 0.7, 0.0]])
    rho = np.einsum("gak,ak->g", basis, w)
    plain = hirshfeld_charges(basis, rho, weights, numbers)
    hi = hirshfeld_i_charges(basis, rho, weights, numbers, tol=1e-8)
    assert hi.converged and hi.iterations > 2
    np.testing.assert_allclose(hi.charges, [0.7, -0.7], atol=2e-4)
    assert 0 < plain[0] < 0.7  # plain Hirshfeld underestimates ionicity
    assert hi.charges.sum() == pytest.approx(plain.sum(), abs=1e-9)


def test_ionic_line_clamps_beyond_one():
    w, clamped = ionic_line_weights(np.array([1.4, -2.0, 0.25]))
    np.testing.assert_allclose(w[:2], [[1, 0, 0, 0], [0, 0, 1, 0]])
    np.testing.assert_allclose(w[2], [0.25, 0.75, 0, 0])
    assert clamped.tolist() == [True, True, False]


def test_flow_on_a_chain_is_unique():
    flow = minimum_norm_flow(np.array([0.5, 0.0, -0.5]), (np.array([0, 1]), np.array([1, 2])))
    assert flow.donor.tolist() == [0, 1] and flow.acceptor.tolist() == [1, 2]
    np.testing.assert_allclose(flow.occupation, [0.5, 0.5])
    np.testing.assert_allclose(flow.net_outflow(), [0.5, 0.0, -0.5], atol=1e-12)
    np.testing.assert_allclose(flow.reservoir, 0.0, atol=1e-12)


def test_flow_on_a_ring_splits_like_resistors():
    # triangle, one electron from 0 to 1: direct edge 2/3, detour through 2 carries 1/3 (minimum norm)
    flow = minimum_norm_flow(np.array([1.0, -1.0, 0.0]), (np.array([0, 1, 0]), np.array([1, 2, 2])))
    got = {(int(d), int(a)): float(c) for d, a, c in zip(flow.donor, flow.acceptor, flow.occupation)}
    assert got == pytest.approx({(0, 1): 2 / 3, (0, 2): 1 / 3, (2, 1): 1 / 3})


def test_flow_reservoir_holds_net_fragment_charge():
    # two fragments {0, 1} (net +1) and {2, 3} (net 0)
    q = np.array([0.8, 0.2, 0.3, -0.3])
    flow = minimum_norm_flow(q, (np.array([0, 2]), np.array([1, 3])))
    np.testing.assert_allclose(flow.reservoir, [0.5, 0.5, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(flow.net_outflow() + flow.reservoir, q, atol=1e-12)
    with pytest.raises(LSIPError):
        minimum_norm_flow(q, (np.array([0]), np.array([0])))


def test_water_bond_graph_and_flow():
    symbols = ("O", "H", "H")
    pos = np.array([[0, 0, 0.1173], [0, 0.7572, -0.4692], [0, -0.7572, -0.4692]])
    i, j = bond_pairs(symbols, pos)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (0, 2)]  # no H-H bond
    flow = charge_flow(symbols, pos, np.array([-0.8, 0.4, 0.4]))
    assert set(flow.donor.tolist()) == {1, 2} and set(flow.acceptor.tolist()) == {0}
    np.testing.assert_allclose(flow.occupation, [0.4, 0.4])
