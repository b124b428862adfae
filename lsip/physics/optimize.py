"""Bound-constrained minimisation of independent groups in torch: group-wise projected L-BFGS.

Minimises F(x) = sum_m f_m(x_m) subject to lo <= x <= hi, where the variables of group m (one structure of
a batch) influence only f_m. Every group gets its own L-BFGS scalars, its own Armijo line search and its own
convergence test, so a hard structure never slows down or blocks an easy one, and a batch gives the same
answer as one-by-one solves. Each iteration, for every unconverged group:

1. the *active set*: variables on a bound whose gradient points out of the box;
2. the L-BFGS two-loop direction on the free variables with group-wise dot products (a block-diagonal
   quasi-Newton model), replaced by steepest descent where it is not a descent direction;
3. a projected backtracking search x(t) = P(x + t d) with the Armijo condition
   f_m(x(t)) <= f_m(x) + c1 g^T (x(t) - x); an infeasible trial (f_m = inf) is shrunk like a failed one;
4. the curvature pair (s, y), kept per group where s^T y > 0.

Convergence: the infinity norm of the projected gradient |P(x - g) - x| of each group (its KKT residual).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class OptimizeResult:
    """Outcome of :func:`projected_lbfgs`.

    Attributes
    ----------
    x : (n,) solution.  f : (n_groups,) objective per group.  grad : (n,) gradient at ``x``.
    residual : (n_groups,) KKT residual per group.  converged : (n_groups,) bool.
    iterations, evaluations : counts.  trace : (iteration, sum f, max residual) per iteration.
    message : why it stopped.
    group_iterations : (n_groups,) iterations in which each group was still being optimised (a group
        stops counting once converged or stalled; equals ``iterations`` for a single group).
    """

    x: Tensor
    f: Tensor
    grad: Tensor
    residual: Tensor
    converged: Tensor
    iterations: int
    evaluations: int
    trace: list[tuple[int, float, float]] = field(default_factory=list)
    message: str = ""
    group_iterations: Tensor | None = None


def segment_sum(v: Tensor, group: Tensor, n_groups: int) -> Tensor:
    if n_groups == 1:  # fast path: one structure
        return v.sum().reshape(1)
    return torch.zeros(n_groups, dtype=v.dtype, device=v.device).index_add(0, group, v)


def segment_max(v: Tensor, group: Tensor, n_groups: int) -> Tensor:
    """(n_groups,) max of non-negative ``v`` over each group (0 for an empty group)."""
    if n_groups == 1:
        return v.max().reshape(1) if len(v) else torch.zeros(1, dtype=v.dtype, device=v.device)
    out = torch.zeros(n_groups, dtype=v.dtype, device=v.device)
    return out.scatter_reduce(0, group, v, reduce="amax", include_self=True)


def spread(v: Tensor, group: Tensor, n_groups: int) -> Tensor:
    """Per-group values (n_groups,) -> per-variable (n,) (a broadcastable (1,) tensor for one group)."""
    return v if n_groups == 1 else v[group]


def projected_gradient_residual(x: Tensor, g: Tensor, lo: Tensor, hi: Tensor, group: Tensor, n_groups: int) -> Tensor:
    """(n_groups,) max_i |P(x - g) - x| over each group's variables."""
    return segment_max((torch.clamp(x - g, lo, hi) - x).abs(), group, n_groups)


class _Memory:
    """L-BFGS pairs with group-wise curvature scalars."""

    def __init__(self, size: int, group: Tensor, n_groups: int) -> None:
        self.size, self.group, self.n_groups = size, group, n_groups
        self.pairs: list[tuple[Tensor, Tensor, Tensor]] = []  # (s, y, 1 / (y.s) per group, 0 if unusable)

    def dot(self, a: Tensor, b: Tensor) -> Tensor:
        if self.n_groups == 1:
            return torch.dot(a, b).reshape(1)
        return segment_sum(a * b, self.group, self.n_groups)

    def spread(self, v: Tensor) -> Tensor:
        """Per-group scalars (n_groups,) -> per-variable (n,) (a broadcastable scalar for one group)."""
        return spread(v, self.group, self.n_groups)

    def push(self, s: Tensor, y: Tensor) -> None:
        ys = self.dot(y, s)
        ok = ys > 1e-14 * self.dot(y, y)
        rho = torch.where(ok, 1.0 / torch.where(ok, ys, torch.ones_like(ys)), torch.zeros_like(ys))
        self.pairs.append((s, y, rho))
        if len(self.pairs) > self.size:
            self.pairs.pop(0)

    def reset(self, groups: Tensor) -> None:
        """Forget the history of the groups flagged in ``groups`` (n_groups,) bool."""
        if not bool(groups.any()):
            return
        self.pairs = [(s, y, torch.where(groups, torch.zeros_like(r), r)) for s, y, r in self.pairs]

    def direction(self, g: Tensor, delta: Tensor | None = None) -> Tensor:
        """-H g by the two-loop recursion; H0 = gamma I, or gamma diag(delta) with a preconditioner ``delta``
        (gamma = s.y / y.H0 y of each group's newest pair)."""
        q = g.clone()
        alphas = []
        for s, y, rho in reversed(self.pairs):
            a = rho * self.dot(s, q)
            alphas.append(a)
            q = q - self.spread(a) * y
        if self.pairs:
            s, y, rho = self.pairs[-1]
            yy = self.dot(y, y if delta is None else delta * y)
            gamma = torch.where((rho > 0) & (yy > 0), 1.0 / (rho * torch.where(yy > 0, yy, torch.ones_like(yy))),
                                torch.ones_like(yy))
            q = q * self.spread(gamma)
        if delta is not None:
            q = q * delta
        for (s, y, rho), a in zip(self.pairs, reversed(alphas)):
            b = rho * self.dot(y, q)
            q = q + self.spread(a - b) * s
        return -q


class _CompactMemory:
    """L-BFGS pairs of a single group in the compact representation of Byrd, Nocedal & Schnabel,
    Math. Program. 63, 129 (1994), Theorem 2.2, with H0 = gamma I (gamma = s.y / y.y of the newest pair):

        H g = gamma g + S t - gamma Y u,   u = R^-1 S^T g,   t = R^-T ((D + gamma Y^T Y) u - gamma Y^T g),

    R the upper triangle of S^T Y and D its diagonal (pairs in chronological order). Mathematically the same
    product as the two-loop recursion of :class:`_Memory`, but two matrix products over the stored pairs
    instead of ~4 m vector operations: a few times fewer passes over memory and Python calls per iteration.
    The pairs live in a fixed (2 m, n) buffer (rows 0..m-1 = s, m..2m-1 = y) used as a ring.
    """

    def __init__(self, size: int, n: int, dtype: torch.dtype, device: torch.device) -> None:
        self.size = size
        self.buf = torch.zeros(2 * size, n, dtype=dtype, device=device)
        self.tmp = torch.empty(size, n, dtype=dtype, device=device)  # scratch for Y diag(delta)
        self.sy = torch.zeros(size, size, dtype=dtype, device=device)  # s_i . y_j (physical rows)
        self.yy = torch.zeros(size, size, dtype=dtype, device=device)
        self.slots: list[int] = []  # physical rows in chronological order
        self.pairs = self.slots  # truthiness / len() as in _Memory

    @staticmethod
    def dot(a: Tensor, b: Tensor) -> Tensor:
        return torch.dot(a, b).reshape(1)

    @staticmethod
    def spread(v: Tensor) -> Tensor:
        return v

    def push(self, s: Tensor, y: Tensor) -> None:
        ys, yy = float(torch.dot(y, s)), float(torch.dot(y, y))
        if not ys > 1e-14 * yy:
            return
        slot = self.slots.pop(0) if len(self.slots) == self.size else \
            next(k for k in range(self.size) if k not in self.slots)
        self.buf[slot], self.buf[self.size + slot] = s, y
        m = self.size
        prod = self.buf @ torch.stack([s, y], dim=1)  # (2m, 2): S s, S y, Y s, Y y
        self.sy[slot, :] = prod[m:, 0]  # s_slot . y_j
        self.sy[:, slot] = prod[:m, 1]  # s_j . y_slot
        self.yy[slot, :] = prod[m:, 1]
        self.yy[:, slot] = prod[m:, 1]
        self.slots.append(slot)

    def reset(self, groups: Tensor) -> None:
        if bool(groups.any()):
            self.slots.clear()

    def direction(self, g: Tensor, delta: Tensor | None = None) -> Tensor:
        """-H g. With ``delta`` (n,) > 0 the initial matrix is H0 = gamma diag(delta) (a diagonal preconditioner,
        gamma = s.y / y.delta.y of the newest pair) instead of gamma I."""
        if not self.slots:
            return -g if delta is None else -delta * g
        idx = torch.tensor(self.slots, device=g.device)
        m = self.size
        sy = self.sy[idx][:, idx]
        r = torch.triu(sy)
        if delta is None:
            proj = self.buf @ g
            a, b = proj[idx], proj[m + idx]
            ydy = self.yy[idx][:, idx]
        else:
            y_buf = self.buf[m:]
            a = torch.mv(self.buf[:m], g)[idx]
            dg = delta * g
            b = torch.mv(y_buf, dg)[idx]
            ydy = torch.mm(y_buf, torch.mul(y_buf, delta, out=self.tmp).T)[idx][:, idx]
        gamma = sy[-1, -1] / ydy[-1, -1]
        u = torch.linalg.solve_triangular(r, a[:, None], upper=True)[:, 0]
        rhs = torch.diagonal(sy) * u + gamma * (ydy @ u) - gamma * b
        t = torch.linalg.solve_triangular(r.T, rhs[:, None], upper=False)[:, 0]
        coef = torch.zeros(2 * m, dtype=g.dtype, device=g.device)
        coef[idx] = t
        if delta is None:
            coef[m + idx] = -gamma * u
            return -(gamma * g + self.buf.T @ coef)
        coef_y = torch.zeros(m, dtype=g.dtype, device=g.device)
        coef_y[idx] = u
        out = torch.mv(self.buf[m:].T, coef_y).sub_(g).mul_(delta).mul_(-gamma)  # gamma delta (g - Y^T u)
        return out.add_(torch.mv(self.buf[:m].T, coef[:m])).neg_()


def projected_lbfgs(
    fun: Callable[[Tensor], tuple[Tensor, Tensor]],
    x0: Tensor,
    lo: Tensor,
    hi: Tensor,
    group: Tensor,
    n_groups: int,
    tol: float = 1e-7,
    max_iter: int = 1000,
    memory: int = 10,
    time_limit_s: float = math.inf,
) -> OptimizeResult:
    """Minimise independent groups over the box [lo, hi].

    Parameters
    ----------
    fun : x -> (f (n_groups,), grad (n,)); f_m = inf marks group m infeasible at x.
    x0 : (n,) feasible start (projected onto the box first).
    lo, hi : (n,) bounds.  group : (n,) group of every variable.  n_groups : number of groups.
    tol : threshold on every group's projected-gradient infinity norm.
    max_iter : iteration limit.  memory : L-BFGS pairs kept.
    time_limit_s : wall-clock bound; past it the iteration stops with "time limit reached" (not converged).
    """
    deadline = time.monotonic() + time_limit_s
    if n_groups == 1:
        return _projected_lbfgs_single(fun, x0, lo, hi, tol, max_iter, memory, deadline=deadline)
    x = torch.clamp(x0, lo, hi)
    f, g, delta = _evaluate(fun, x)
    mem = _Memory(memory, group, n_groups)
    n_eval, trace, it = 1, [], 0
    stalled = torch.zeros(n_groups, dtype=torch.bool, device=x.device)
    group_iterations = torch.zeros(n_groups, dtype=torch.long, device=x.device)
    res = projected_gradient_residual(x, g, lo, hi, group, n_groups)
    message = "maximum number of iterations reached"
    while it < max_iter:
        todo = (res > tol) & ~stalled
        if not bool(todo.any()):
            message = "converged" if not bool(stalled.any()) else "some groups stalled (line search failed)"
            break
        if time.monotonic() > deadline:
            message = "time limit reached"
            break
        it += 1
        group_iterations += todo.long()
        active = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0)) | ~spread(todo, group, n_groups)
        free_g = torch.where(active, torch.zeros_like(g), g)
        d = torch.where(active, torch.zeros_like(g), mem.direction(free_g, delta))
        uphill = mem.dot(d, free_g) >= 0
        if bool(uphill.any()):
            mem.reset(uphill)
            d = torch.where(spread(uphill, group, n_groups), -free_g if delta is None else -delta * free_g, d)
        steepest = uphill | (len(mem.pairs) == 0)
        x_new, f_new, g_new, delta_new, failed, evals = _line_search(fun, x, f, g, delta, d, lo, hi, group,
                                                                     n_groups, todo, steepest)
        n_eval += evals
        stalled = stalled | (failed & steepest)  # a failed steepest-descent search: give up on that group
        mem.reset(failed)
        keep = spread(todo, group, n_groups) & ~active  # curvature pairs on the free variables only
        mem.push(x_new - x, torch.where(keep, g_new - g, torch.zeros_like(g)))
        x, f, g, delta = x_new, f_new, g_new, delta_new
        res = projected_gradient_residual(x, g, lo, hi, group, n_groups)
        trace.append((it, float(f[torch.isfinite(f)].sum()), float(res.max())))
    converged = res <= tol
    return OptimizeResult(x, f, g, res, converged, it, n_eval, trace, message, group_iterations)


def _projected_lbfgs_single(fun: Callable, x0: Tensor, lo: Tensor, hi: Tensor, tol: float, max_iter: int,
                            memory: int, c1: float = 1e-4, shrink: float = 0.3, max_steps: int = 40,
                            deadline: float = math.inf) -> OptimizeResult:
    """:func:`projected_lbfgs` for one group: the same iteration with Python scalars for the per-group
    quantities, in-place masks and the compact L-BFGS memory (a few vector passes per iteration instead of
    dozens: the optimizer's own cost was ~12 ms per iteration on 85,000 variables, as much as the energy)."""
    x = torch.clamp(x0, lo, hi)
    f, g, delta = _evaluate(fun, x)
    mem = _CompactMemory(memory, len(x), x.dtype, x.device)
    n_eval, trace, it, stalled = 1, [], 0, False
    res = float(projected_gradient_residual(x, g, lo, hi, lo, 1))
    message = "maximum number of iterations reached"
    while it < max_iter:
        if res <= tol or stalled:
            message = "converged" if not stalled else "some groups stalled (line search failed)"
            break
        if time.monotonic() > deadline:
            message = "time limit reached"
            break
        it += 1
        active = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
        free_g = g.masked_fill(active, 0.0)
        d = mem.direction(free_g, delta).masked_fill_(active, 0.0)
        steepest = not mem.pairs
        if float(torch.dot(d, free_g)) >= 0:
            mem.reset(torch.ones(1, dtype=torch.bool))
            d, steepest = -free_g if delta is None else -delta * free_g, True
        dmax = max(float(d.abs().max()), 1e-12)
        t = (0.1 / dmax if delta is None else min(1.0, 0.3 / dmax)) if steepest else 1.0
        slack = 1e-14 * max(abs(float(f)), 1.0)  # round-off of f near convergence
        accepted = None
        for _ in range(max_steps):
            x_try = torch.clamp(x + t * d, lo, hi)
            f_try, g_try, delta_try = _evaluate(fun, x_try)
            n_eval += 1
            step = x_try - x
            if bool(torch.isfinite(f_try).all()) and float(f_try) <= float(f) + c1 * float(torch.dot(g, step)) + slack:
                accepted = (x_try, f_try, g_try, delta_try, step)
                break
            t *= shrink
        if accepted is None:
            stalled = steepest  # a failed steepest-descent search: give up
            mem.reset(torch.ones(1, dtype=torch.bool))
            trace.append((it, float(f), res))
            continue
        x, f_new, g_new, delta, step = accepted
        mem.push(step, (g_new - g).masked_fill_(active, 0.0))
        f, g = f_new, g_new
        res = float(projected_gradient_residual(x, g, lo, hi, lo, 1))
        trace.append((it, float(f), res))
    res_t = torch.tensor([res], dtype=x.dtype, device=x.device)
    return OptimizeResult(x, f, g, res_t, res_t <= tol, it, n_eval, trace, message,
                          torch.tensor([it], device=x.device))


def _evaluate(fun: Callable, x: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
    """fun(x) -> (f, g) or (f, g, delta): the optional diagonal inverse-curvature estimate (preconditioner)."""
    out = fun(x)
    return (out[0], out[1], out[2] if len(out) > 2 else None)


def _line_search(fun: Callable, x: Tensor, f: Tensor, g: Tensor, delta: Tensor | None, d: Tensor, lo: Tensor,
                 hi: Tensor, group: Tensor, n_groups: int, todo: Tensor, steepest: Tensor, c1: float = 1e-4,
                 shrink: float = 0.3, max_steps: int = 40) -> tuple:
    """Group-wise backtracking; returns the accepted point (unchanged for groups that failed)."""
    dmax = torch.clamp(segment_max(d.abs(), group, n_groups), min=1e-12)
    first = 0.1 / dmax if delta is None else torch.clamp(0.3 / dmax, max=1.0)
    t = torch.where(steepest, first, torch.ones_like(dmax))
    pending = todo.clone()
    x_acc, f_acc, g_acc = x.clone(), f.clone(), g.clone()
    delta_acc = None if delta is None else delta.clone()
    slack = 1e-14 * torch.clamp(f.abs(), min=1.0)  # round-off of f near convergence
    evals = 0
    for _ in range(max_steps):
        if not bool(pending.any()):
            break
        step = spread(torch.where(pending, t, torch.zeros_like(t)), group, n_groups)
        x_try = torch.clamp(x + step * d, lo, hi)
        f_try, g_try, delta_try = _evaluate(fun, x_try)
        evals += 1
        decrease = segment_sum(g * (x_try - x), group, n_groups)
        ok = pending & torch.isfinite(f_try) & (f_try <= f + c1 * decrease + slack)
        okv = spread(ok, group, n_groups)
        x_acc = torch.where(okv, x_try, x_acc)
        g_acc = torch.where(okv, g_try, g_acc)
        if delta_acc is not None:
            delta_acc = torch.where(okv, delta_try, delta_acc)
        f_acc = torch.where(ok, f_try, f_acc)
        pending = pending & ~ok
        t = torch.where(pending, t * shrink, t)
    return x_acc, f_acc, g_acc, delta_acc, pending, evals
