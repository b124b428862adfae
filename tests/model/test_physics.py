"""Pure tensor physics: closed forms against numerics, gradchecks in float64, limits."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
import scipy.integrate
import scipy.optimize
import torch

from lsip.physics.coulomb import (
    CoulombOperator,
    DensePotential,
    dense_coulomb_matrix,
    dsf_kernel,
    penetration_potential,
)
from lsip.physics.interpolate import cubic_eval, cubic_table, log_radial_eval, log_radial_table
from lsip.physics.overlap import sto_1s_overlap
from lsip.physics.resonance import dimer_configuration_hamiltonian, resonance_energy
from lsip.physics.switching import cosine_switch

f64 = torch.float64


def _numeric_overlap(za: float, zb: float, r: float) -> float:
    """S by 2D quadrature in cylindrical coordinates (independent of the elliptic closed form)."""
    def f(rho: float, z: float) -> float:
        ra = math.hypot(rho, z)
        rb = math.hypot(rho, z - r)
        return 2 * math.pi * rho * math.sqrt(za**3 * zb**3) / math.pi * math.exp(-za * ra - zb * rb)
    val, _ = scipy.integrate.dblquad(f, -30, 30 + r, 0, 30, epsabs=1e-11)
    return val


@pytest.mark.parametrize(("za", "zb", "r"), [(1.0, 1.0, 1.4), (1.0, 0.615, 4.46), (0.976, 1.24, 2.0),
                                              (1.0, 1.0005, 3.0)])
def test_sto_overlap_matches_quadrature(za, zb, r):
    s = sto_1s_overlap(torch.tensor(za, dtype=f64), torch.tensor(zb, dtype=f64), torch.tensor(r, dtype=f64))
    assert float(s) == pytest.approx(_numeric_overlap(za, zb, r), rel=1e-6, abs=1e-9)


def test_sto_overlap_equal_exponent_textbook_and_limits():
    p = torch.linspace(0.5, 20, 40, dtype=f64)
    s = sto_1s_overlap(torch.ones_like(p), torch.ones_like(p), p)
    torch.testing.assert_close(s, torch.exp(-p) * (1 + p + p * p / 3))
    assert float(sto_1s_overlap(torch.tensor(1.0, dtype=f64), torch.tensor(1.0, dtype=f64),
                                torch.tensor(1e-3, dtype=f64))) == pytest.approx(1.0, abs=1e-6)


def test_sto_overlap_gradcheck_including_near_equal_exponents():
    za = torch.tensor([1.0, 1.0, 0.8], dtype=f64, requires_grad=True)
    zb = torch.tensor([1.0, 1.0002, 1.3], dtype=f64)
    r = torch.tensor([2.0, 3.0, 4.0], dtype=f64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, x: sto_1s_overlap(a, zb, x), (za, r))


def test_penetration_potential_against_radial_quadrature():
    """V for a proton + a 2-Gaussian cloud equals -(electron attraction) + N/R computed by quadrature."""
    c = torch.tensor([1.2, 0.8], dtype=f64)
    a = torch.tensor([0.7, 3.0], dtype=f64)
    empty = torch.zeros(0, dtype=f64)
    for r in (0.5, 1.5, 3.0):
        v = penetration_potential(1.0, empty, empty, 0.0, c, a, torch.tensor([r], dtype=f64))
        # nucleus (Z=1) in the field of the cloud: -sum c erf(sqrt(a) r)/r ; remainder = V = sum c erfc/r
        expect = sum(ci * math.erfc(math.sqrt(ai) * r) / r for ci, ai in zip(c.tolist(), a.tolist()))
        assert float(v) == pytest.approx(expect, rel=1e-12)


def test_penetration_potential_neutral_atoms_vanish_far_apart_and_gradcheck():
    c = torch.tensor([2.0, 6.0], dtype=f64)
    a = torch.tensor([40.0, 0.9], dtype=f64)
    r = torch.tensor([1.0, 2.0, 15.0], dtype=f64, requires_grad=True)
    v = penetration_potential(8.0, c, a, 8.0, c, a, r)
    assert abs(float(v[2])) < 1e-12
    assert float(v[0]) > 0  # penetrating neutral closed clouds repel at short range (nuclei unscreened)
    assert torch.autograd.gradcheck(lambda x: penetration_potential(8.0, c, a, 8.0, c, a, x), (r,))


def test_dsf_kernel_vanishes_with_slope_at_cutoff():
    rc, alpha = 20.0, 0.1
    r = torch.tensor([rc - 1e-4, rc, rc + 1.0], dtype=f64, requires_grad=True)
    f = dsf_kernel(r, alpha, rc)
    assert abs(float(f[0])) < 1e-8 and float(f[1]) == 0.0 and float(f[2]) == 0.0
    (g,) = torch.autograd.grad(f[0], r)
    assert abs(float(g[0])) < 1e-6


def test_coulomb_operator_dense_matches_pairs():
    torch.manual_seed(0)
    x = torch.randn(6, 3, dtype=f64) * 3
    q = torch.randn(6, dtype=f64)
    j = dense_coulomb_matrix(x)
    i, k = torch.triu_indices(6, 6, 1)
    direct = sum(float(q[a] * q[b] / torch.linalg.norm(x[a] - x[b])) for a, b in zip(i.tolist(), k.tolist()))
    op = CoulombOperator.dense(x)
    torch.testing.assert_close(op.blocks[0][2], j, rtol=0, atol=0)
    assert float(0.5 * q @ op.apply(q)) == pytest.approx(direct, rel=1e-12)
    r = torch.linalg.norm(x[i] - x[k], dim=1)
    op2 = CoulombOperator([], i, k, 1.0 / r, 6)
    torch.testing.assert_close(op.apply(q), op2.apply(q))


@pytest.mark.parametrize(("d1", "d2", "beta"), [(0.2, 0.3, 0.05), (0.05, 0.5, 0.1), (-0.1, 0.4, 0.02), (0.3, 0.3, 0.2)])
def test_dimer_resonance_equals_lowest_eigenvalue(d1, d2, beta):
    """min over (c1, c2) of c1 D1 + c2 D2 + E_ct(c) equals the ground state of the 3x3 configuration problem."""
    b = torch.tensor(beta, dtype=f64)

    def energy(x: np.ndarray) -> float:
        s = torch.tensor(x, dtype=f64)
        w0 = 1 - (s * s).sum()
        e_ct = resonance_energy(b.expand(2), s, w0.expand(2), w0.expand(2)).sum()
        return float(d1 * s[0] ** 2 + d2 * s[1] ** 2 + e_ct)

    cons = {"type": "ineq", "fun": lambda x: 1 - (x**2).sum()}
    best = scipy.optimize.minimize(energy, [0.3, 0.3], bounds=[(0, 1), (0, 1)], constraints=cons,
                                   method="SLSQP", options={"ftol": 1e-14})
    h = dimer_configuration_hamiltonian(torch.tensor(d1, dtype=f64), torch.tensor(d2, dtype=f64), b)
    assert best.fun == pytest.approx(float(torch.linalg.eigvalsh(h)[0]), abs=1e-8)


def test_resonance_vanishes_without_coupling_and_is_convex_in_amplitude_direction():
    s = torch.linspace(0, 0.9, 10, dtype=f64)
    w0 = 1 - s * s
    assert torch.all(resonance_energy(torch.zeros_like(s), s, w0, w0) == 0)


def test_cubic_table_reproduces_smooth_function_and_gradient():
    x = torch.linspace(0, 3, 301, dtype=f64)
    y = torch.stack([torch.sin(x), torch.exp(-x)])
    table = cubic_table(y, 0.01)
    xs = torch.tensor([0.123, 1.777, 2.5], dtype=f64, requires_grad=True)
    v = cubic_eval(table, torch.tensor([0, 1, 0]), xs, 0.0, 0.01)
    expect = torch.stack([torch.sin(xs[0]), torch.exp(-xs[1]), torch.sin(xs[2])])
    torch.testing.assert_close(v, expect.detach(), atol=1e-9, rtol=0)
    (g,) = torch.autograd.grad(v.sum(), xs)
    torch.testing.assert_close(g, torch.stack([torch.cos(xs[0]), -torch.exp(-xs[1]), torch.cos(xs[2])]).detach(),
                               atol=1e-6, rtol=0)


def test_log_radial_density_interpolation_accuracy():
    r = torch.exp(torch.linspace(math.log(1e-5), math.log(60), 400, dtype=f64))
    rho = torch.exp(-2 * r)[None] / math.pi
    tab = log_radial_table(r, rho)
    pts = torch.tensor([0.01, 0.5, 2.0, 8.0], dtype=f64)
    v = log_radial_eval(*tab, torch.zeros(4, dtype=torch.long), pts)
    torch.testing.assert_close(v, torch.exp(-2 * pts) / math.pi, rtol=1e-7, atol=0)
    assert float(log_radial_eval(*tab, torch.zeros(1, dtype=torch.long), torch.tensor([70.0], dtype=f64))) == 0


def test_cosine_switch_limits_and_smoothness():
    r = torch.tensor([0.0, 5.0, 6.0, 7.0, 9.0], dtype=f64, requires_grad=True)
    s = cosine_switch(r, 5.0, 7.0)
    torch.testing.assert_close(s.detach(), torch.tensor([1, 1, 0.5, 0, 0], dtype=f64))
    (g,) = torch.autograd.grad(s.sum(), r)
    assert abs(float(g[1])) < 1e-12 and abs(float(g[3])) < 1e-12


def test_gradcheck_float64_of_the_remaining_physics_functions():
    """Analytic (autograd) derivatives of every pure physics function against finite differences, float64."""
    gradcheck = torch.autograd.gradcheck
    # resonance: -2 beta s (w0_A w0_B)^(1/4), in every argument (interior points: w0 > 0)
    beta = torch.tensor([0.05, 0.2, 0.01], dtype=f64, requires_grad=True)
    s = torch.tensor([0.1, 0.5, 0.9], dtype=f64, requires_grad=True)
    wd = torch.tensor([0.3, 0.7, 0.95], dtype=f64, requires_grad=True)
    wa = torch.tensor([0.6, 0.2, 0.5], dtype=f64, requires_grad=True)
    assert gradcheck(resonance_energy, (beta, s, wd, wa))
    # damped shifted force kernel: inside the cut-off and beyond it (identically zero there)
    r = torch.tensor([1.0, 5.0, 12.0, 21.9, 23.0], dtype=f64, requires_grad=True)
    assert gradcheck(lambda x: dsf_kernel(x, 0.1, 22.0), (r,))
    # dense J q with its hand-written backward (positions and charges; the zero diagonal leaks no NaN)
    pos = torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 1.8], [1.5, 0.3, -0.4], [3.0, 2.0, 1.0]], dtype=f64,
                       requires_grad=True)
    qs = torch.tensor([0.3, -0.5, 0.1, 0.25], dtype=f64, requires_grad=True)
    assert gradcheck(lambda x, c: DensePotential.apply(x, c, dense_coulomb_matrix(x)), (pos, qs))
    # cosine switch: flat, switching and zero regions (away from the two kinks of its second derivative)
    rs = torch.tensor([1.0, 8.3, 9.0, 9.9, 13.0], dtype=f64, requires_grad=True)
    assert gradcheck(lambda x: cosine_switch(x, 8.0, 10.0), (rs,))
    # cubic table: C1 interpolation, differentiable in the abscissa inside a grid interval
    xs = torch.linspace(0.0, 3.0, 31, dtype=f64)
    table = cubic_table(torch.stack([torch.sin(xs), torch.exp(-xs)]), 0.1)
    x = torch.tensor([0.123, 1.555, 2.71], dtype=f64, requires_grad=True)
    func = torch.tensor([0, 1, 0])
    assert gradcheck(lambda u: cubic_eval(table, func, u, 0.0, 0.1), (x,))


@pytest.mark.parametrize("shape", [(4, 3), (3, 1), (1, 1)])
def test_block_sparse_operator_backends_match_dense(shape):
    """y_A = sum_B M_AB x_B with repeated and missing pairs: scipy BSR/CSR and the torch path equal a dense sum."""
    from lsip.physics.blocksparse import BlockSparseOperator

    g = torch.Generator().manual_seed(5)
    n, p = 7, 30
    row, col = torch.randint(0, n - 1, (p,), generator=g), torch.randint(0, n, (p,), generator=g)  # atom 6: no row
    blocks = torch.randn(p, *shape, generator=g, dtype=f64)
    x = torch.randn(n, shape[1], generator=g, dtype=f64)
    dense = torch.zeros(n, shape[0], dtype=f64)
    for k in range(p):
        dense[row[k]] += blocks[k] @ x[col[k]]
    for backend in ("scipy", "torch"):
        y = BlockSparseOperator(row, col, blocks, n, n, backend).apply(x)
        torch.testing.assert_close(y, dense, rtol=1e-13, atol=1e-13)
    assert float(dense[n - 1].abs().max()) == 0.0
    with pytest.raises(ValueError, match="backend"):
        BlockSparseOperator(row, col, blocks, n, n, "mkl")


def test_compact_lbfgs_memory_equals_two_loop_recursion():
    """The single-structure compact representation gives the two-loop product H g, with and without a diagonal
    preconditioner, through ring wrap-around, rejected pairs (s.y <= 0) and a reset."""
    from lsip.physics.optimize import _CompactMemory, _Memory

    g = torch.Generator().manual_seed(2)
    n = 40
    a = torch.randn(n, n, generator=g, dtype=f64)
    hess = a @ a.T / n + torch.eye(n, dtype=f64)  # SPD: every pair s, H s has s.y > 0
    group = torch.zeros(n, dtype=torch.long)
    two_loop, compact = _Memory(4, group, 1), _CompactMemory(4, n, f64, torch.device("cpu"))
    for k in range(7):
        s = torch.randn(n, generator=g, dtype=f64)
        y = hess @ s if k != 3 else -s  # the 4th pair has negative curvature: both must skip it
        two_loop.push(s, y)
        two_loop.pairs = [p for p in two_loop.pairs if float(p[2]) > 0][-4:]
        compact.push(s, y)
        v = torch.randn(n, generator=g, dtype=f64)
        torch.testing.assert_close(compact.direction(v), two_loop.direction(v), rtol=1e-10, atol=1e-12)
        delta = 0.5 + torch.rand(n, generator=g, dtype=f64)  # a diagonal preconditioner H0 = gamma diag(delta)
        torch.testing.assert_close(compact.direction(v, delta), two_loop.direction(v, delta), rtol=1e-10, atol=1e-12)
    assert len(compact.slots) == 4
    compact.reset(torch.tensor([True]))
    torch.testing.assert_close(compact.direction(v), -v)



def test_block_cubic_evaluation_equals_per_function_evaluation():
    """cubic_eval_blocks (all functions of a block at one abscissa) gives cubic_eval's values and float64-exact
    slopes, inside the grid and clamped outside it."""
    from lsip.physics.interpolate import cubic_blocks, cubic_eval_blocks

    xs = torch.linspace(0.0, 3.0, 31, dtype=f64)
    y = torch.stack([torch.sin(k * xs) + k for k in range(1, 7)])  # 2 blocks of 3 functions
    table = cubic_table(y, 0.1)
    blocks = cubic_blocks(table, 3)
    x = torch.tensor([-0.5, 0.05, 0.77, 1.234, 2.95, 3.5], dtype=f64, requires_grad=True)
    block = torch.tensor([0, 1, 0, 1, 1, 0])
    v = cubic_eval_blocks(blocks, block, x, 0.0, 0.1)
    func = block[:, None] * 3 + torch.arange(3)[None, :]
    x_ref = x.detach().clone().requires_grad_(True)
    v_ref = cubic_eval(table, func, x_ref[:, None].expand(-1, 3), 0.0, 0.1)
    torch.testing.assert_close(v, v_ref, rtol=0, atol=1e-15)
    (g,) = torch.autograd.grad(v.sum(), x)
    (g_ref,) = torch.autograd.grad(v_ref.sum(), x_ref)
    torch.testing.assert_close(g, g_ref, rtol=1e-15, atol=1e-15)
    assert float(g[0]) == 0.0 and float(g[-1]) == 0.0 and float(g[2].abs()) > 0.1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_block_sparse_products_work_in_a_forked_child():
    """The worker thread does not survive fork(): a child that inherits a used pool must get its own."""
    from lsip.physics.blocksparse import BlockSparseOperator

    op = BlockSparseOperator(torch.tensor([0, 1]), torch.tensor([1, 0]), torch.ones(2, 1, 1, dtype=f64), 2, 2, "scipy")
    x = torch.tensor([[1.0], [2.0]], dtype=f64)
    assert op.apply(x).flatten().tolist() == [2.0, 1.0]  # the parent's pool is now started
    pid = os.fork()
    if pid == 0:  # child: exit 0 only if the product completes, never return into pytest
        ok = False
        try:
            ok = op.apply(x).flatten().tolist() == [2.0, 1.0]
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 30
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            pytest.fail("the forked child hung on the block-sparse worker")
        time.sleep(0.05)
    assert os.waitstatus_to_exitcode(status) == 0
