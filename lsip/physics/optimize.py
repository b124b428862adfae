"""Bound-constrained minimisation in torch: projected L-BFGS with an Armijo backtracking line search.

Minimises f(x) subject to lo <= x <= hi on CPU or GPU without leaving torch. Each iteration:

1. the *active set*: variables on a bound whose gradient points out of the box;
2. the L-BFGS two-loop direction on the free variables (active components zeroed), falling back to the
   steepest descent when it is not a descent direction;
3. a projected backtracking search x(t) = P(x + t d) with the Armijo condition
   f(x(t)) <= f(x) + c1 g^T (x(t) - x);
4. the curvature pair (s, y) is stored when s^T y > 0.

Convergence is the infinity norm of the projected gradient |P(x - g) - x|, evaluated per group (structure)
so that a batch reports each structure's own KKT residual.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class OptimizeResult:
    """Outcome of :func:`projected_lbfgs`.

    Attributes
    ----------
    x : (n,) solution.  f : objective value.  grad : (n,) gradient at ``x``.
    residual : (n_groups,) infinity norm of the projected gradient per group.
    iterations, evaluations : counts.  converged : all groups below tolerance.
    trace : (iteration, f, max residual) per iteration.  message : why it stopped.
    """

    x: Tensor
    f: float
    grad: Tensor
    residual: Tensor
    iterations: int
    evaluations: int
    converged: bool
    trace: list[tuple[int, float, float]] = field(default_factory=list)
    message: str = ""


def projected_gradient_residual(x: Tensor, g: Tensor, lo: Tensor, hi: Tensor, group: Tensor, n_groups: int) -> Tensor:
    """(n_groups,) max_i |P(x - g) - x| over each group's variables."""
    pg = (torch.clamp(x - g, lo, hi) - x).abs()
    out = torch.zeros(n_groups, dtype=x.dtype, device=x.device)
    return out.scatter_reduce(0, group, pg, reduce="amax", include_self=True)


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
) -> OptimizeResult:
    """Minimise ``fun`` (returning value and gradient) over the box [lo, hi].

    Parameters
    ----------
    fun : x -> (f, grad), both tensors (f 0-d).
    x0 : (n,) start, projected onto the box first.
    lo, hi : (n,) bounds (use +-inf for none).
    group : (n,) group index of every variable (e.g. the structure it belongs to); n_groups groups.
    tol : convergence threshold on each group's projected-gradient infinity norm.
    max_iter : iteration limit.  memory : number of L-BFGS pairs.
    """
    x = torch.clamp(x0, lo, hi)
    f, g = fun(x)
    n_eval, trace = 1, []
    s_hist: list[Tensor] = []
    y_hist: list[Tensor] = []
    message = "maximum number of iterations reached"
    it = 0
    res = projected_gradient_residual(x, g, lo, hi, group, n_groups)
    while it < max_iter:
        if float(res.max()) <= tol:
            message = "converged: projected gradient below tolerance"
            break
        it += 1
        active = ((x <= lo) & (g > 0)) | ((x >= hi) & (g < 0))
        free_g = torch.where(active, torch.zeros_like(g), g)
        d = -_two_loop(free_g, s_hist, y_hist)
        d = torch.where(active, torch.zeros_like(d), d)
        if float(d @ free_g) >= 0:
            d, s_hist, y_hist = -free_g, [], []
        _, x_new, f_new, g_new, evals = _line_search(fun, x, f, g, d, lo, hi, scale=len(s_hist) == 0)
        n_eval += evals
        if x_new is None:
            if s_hist:  # restart from steepest descent once before giving up
                s_hist, y_hist = [], []
                continue
            message = "line search failed to decrease the objective"
            break
        s, y = x_new - x, g_new - g
        if float(s @ y) > 1e-14 * float(y @ y):
            s_hist.append(s)
            y_hist.append(y)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        x, f, g = x_new, f_new, g_new
        res = projected_gradient_residual(x, g, lo, hi, group, n_groups)
        trace.append((it, float(f), float(res.max())))
    return OptimizeResult(x, float(f), g, res, it, n_eval, bool(float(res.max()) <= tol), trace, message)


def _two_loop(g: Tensor, s_hist: list[Tensor], y_hist: list[Tensor]) -> Tensor:
    q = g.clone()
    alphas = []
    for s, y in zip(reversed(s_hist), reversed(y_hist)):
        a = (s @ q) / (y @ s)
        alphas.append(a)
        q = q - a * y
    if s_hist:
        s, y = s_hist[-1], y_hist[-1]
        q = q * ((s @ y) / (y @ y))
    for (s, y), a in zip(zip(s_hist, y_hist), reversed(alphas)):
        b = (y @ q) / (y @ s)
        q = q + (a - b) * s
    return q


def _line_search(fun: Callable, x: Tensor, f: Tensor, g: Tensor, d: Tensor, lo: Tensor, hi: Tensor,
                 scale: bool, c1: float = 1e-4, shrink: float = 0.3, max_steps: int = 40) -> tuple:
    t = 1.0
    if scale:  # steepest-descent step: start with a unit move of the largest component
        t = 1.0 / max(float(d.abs().max()), 1e-12) * 0.1
    for k in range(max_steps):
        x_new = torch.clamp(x + t * d, lo, hi)
        f_new, g_new = fun(x_new)
        slack = 1e-14 * max(1.0, abs(float(f)))  # round-off of f near convergence
        if torch.isfinite(f_new) and float(f_new) <= float(f) + c1 * float(g @ (x_new - x)) + slack:
            return t, x_new, f_new, g_new, k + 1
        t *= shrink
    return t, None, None, None, max_steps
