"""Differentiable cubic interpolation of tabulated functions on uniform grids (torch).

Tables of many functions sampled on one uniform grid ``x_k = x0 + k h`` (k = 0..n-1) are turned once into
per-interval cubic polynomials (:func:`cubic_table`); :func:`cubic_eval` evaluates function ``f`` of the table
at points ``x`` with autograd through ``x`` (the table is a constant). Radial densities live on a logarithmic
radial grid, so their tables are uniform in ``ln r``; :func:`log_radial_table` / :func:`log_radial_eval` wrap
that and interpolate ``ln rho`` (smooth, nearly linear in the exponential tail) instead of ``rho``.

Outside the grid the value is clamped: below ``x0`` the first value, beyond the last point the last value
(for densities the table is built so that ``rho`` beyond the grid is zero, see :func:`log_radial_eval`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

_LOG_FLOOR = -700.0  # ln of the smallest density kept (ln rho below this is treated as zero density)
_TINY = 1e-300  # values below are set to zero: subnormal floats make arithmetic ~100x slower


def cubic_table(y: Tensor, h: float) -> Tensor:
    """Hermite cubic coefficients of tabulated functions with 4th-order finite-difference slopes.

    Parameters
    ----------
    y : (F, n) values of F functions on a uniform grid of spacing ``h`` (n >= 5).
    h : grid spacing.

    Returns
    -------
    (F, n - 1, 4) coefficients ``a, b, c, d`` of ``a + b t + c t^2 + d t^3`` on each interval, t in [0, 1).
    """
    if y.shape[-1] < 5:
        raise ValueError("cubic_table needs at least 5 grid points")
    yp = torch.empty_like(y)
    yp[..., 2:-2] = (y[..., :-4] - 8 * y[..., 1:-3] + 8 * y[..., 3:-1] - y[..., 4:]) / 12.0
    yp[..., 1] = 0.5 * (y[..., 2] - y[..., 0])
    yp[..., -2] = 0.5 * (y[..., -1] - y[..., -3])
    yp[..., 0] = y[..., 1] - y[..., 0]
    yp[..., -1] = y[..., -1] - y[..., -2]
    y0, y1 = y[..., :-1], y[..., 1:]
    m0, m1 = yp[..., :-1], yp[..., 1:]  # slopes per unit of t (already times h)
    a = y0
    b = m0
    c = 3 * (y1 - y0) - 2 * m0 - m1
    d = 2 * (y0 - y1) + m0 + m1
    return torch.stack([a, b, c, d], dim=-1)


def cubic_eval(table: Tensor, func: Tensor, x: Tensor, x0: float, h: float) -> Tensor:
    """Evaluate function ``func[i]`` of ``table`` at ``x[i]`` (differentiable in ``x``).

    Parameters
    ----------
    table : (F, n - 1, 4) from :func:`cubic_table`.
    func : (...) integer index of the function to use for each point.
    x : (...) abscissae, same shape as ``func``.
    x0, h : first grid point and spacing.

    Returns
    -------
    (...) interpolated values; clamped to the end values outside the grid (zero slope there). The gradient
    in ``x`` is the analytic slope of the cubic (first derivatives only: the table is a constant).
    """
    if torch.is_grad_enabled() and x.requires_grad:
        return _SlopeSaved.apply(x, lambda u: cubic_eval_with_slope(table, func, u, x0, h), False)
    return cubic_eval_with_slope(table, func, x, x0, h, slope=False)[0]


def cubic_eval_extended(table: Tensor, func: Tensor, x: Tensor, x0: float, h: float, low_value: Tensor,
                        low_slope: Tensor, slope: bool = True) -> tuple[Tensor, Tensor | None]:
    """:func:`cubic_eval_with_slope` continued below the grid as ``v0 + s0 tanh(x - x0)`` (v0, s0 the value and
    slope of each function at ``x0``: ``low_value``, ``low_slope`` (F,)): smooth (C1 at ``x0``, C-infinity below)
    and bounded, where clamping would leave a kink in the derivative at the grid's first point."""
    value, dv = cubic_eval_with_slope(table, func, x, x0, h, slope)
    below = x < x0
    if bool(below.any()):
        th = torch.tanh(torch.clamp(x - x0, max=0.0))
        value = torch.where(below, low_value[func] + low_slope[func] * th, value)
        if dv is not None:
            dv = torch.where(below, low_slope[func] * (1.0 - th * th), dv)
    return value, dv


def eval_saving_slope(x: Tensor, evaluate: Callable[[Tensor], tuple[Tensor, Tensor]]) -> Tensor:
    """``evaluate(x) -> (value, slope)`` as a function differentiable in ``x`` (the slope is saved for the
    backward pass instead of a gather graph)."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _SlopeSaved.apply(x, evaluate, False)
    return evaluate(x)[0]


class _SlopeSaved(torch.autograd.Function):
    """Autograd wrapper of a tabulated evaluation ``evaluate(x) -> (value, slope)`` that saves the slope instead
    of the gather graph. ``per_row``: the value is (P, F) of one abscissa per row, and the gradient sums F."""

    @staticmethod
    def forward(ctx: object, x: Tensor, evaluate: Callable, per_row: bool) -> Tensor:
        value, slope = evaluate(x)
        ctx.save_for_backward(slope)
        ctx.per_row = per_row
        return value

    @staticmethod
    @once_differentiable
    def backward(ctx: object, grad: Tensor) -> tuple:
        (slope,) = ctx.saved_tensors
        g = grad * slope
        return (g.sum(-1) if ctx.per_row else g), None, None


def cubic_eval_with_slope(table: Tensor, func: Tensor, x: Tensor, x0: float, h: float,
                          slope: bool = True) -> tuple[Tensor, Tensor | None]:
    """Values and first derivatives d/dx of :func:`cubic_eval` (no autograd graph).

    The slope is zero where ``x`` is clamped to the grid (the interpolant is constant there).

    Returns
    -------
    value, slope : (...) each, like ``x`` (slope None when not asked for).
    """
    n_int = table.shape[1]
    with torch.no_grad():
        u = (x - x0) / h
        inside = (u >= 0.0) & (u <= float(n_int) - 1e-9)
        u = torch.clamp(u, 0.0, float(n_int) - 1e-9)
        k = torch.floor(u).long()
        t = u - k.to(u.dtype)
        a, b, c, d = table[func, k].unbind(-1)
        value = a + t * (b + t * (c + t * d))
        if not slope:
            return value, None
        dv = (b + t * (2.0 * c + 3.0 * t * d)) / h
        return value, torch.where(inside, dv, torch.zeros_like(dv))


def cubic_blocks(table: Tensor, block_size: int) -> Tensor:
    """Regroup a :func:`cubic_table` of B * F functions into (B, n - 1, 4, F): the F functions of a block that are
    always evaluated at the same abscissa (e.g. the 16 state pairs of one element pair at one distance) then
    sit next to each other in memory and :func:`cubic_eval_blocks` gathers one contiguous row per point."""
    n_f, n_int, _ = table.shape
    return table.reshape(n_f // block_size, block_size, n_int, 4).permute(0, 2, 3, 1).contiguous()


def cubic_eval_blocks(blocks: Tensor, block: Tensor, x: Tensor, x0: float, h: float) -> Tensor:
    """All F functions of block ``block[i]`` at ``x[i]``: (P, F), differentiable in ``x`` (P,).

    Same interpolant and clamping as :func:`cubic_eval` (``blocks`` from :func:`cubic_blocks`).
    """
    if torch.is_grad_enabled() and x.requires_grad:
        return _SlopeSaved.apply(x, lambda u: _cubic_blocks_with_slope(blocks, block, u, x0, h), True)
    return _cubic_blocks_with_slope(blocks, block, x, x0, h, slope=False)[0]


def _cubic_blocks_with_slope(blocks: Tensor, block: Tensor, x: Tensor, x0: float, h: float,
                             slope: bool = True) -> tuple[Tensor, Tensor | None]:
    n_int = blocks.shape[1]
    with torch.no_grad():
        u = (x - x0) / h
        inside = ((u >= 0.0) & (u <= float(n_int) - 1e-9))[:, None]
        u = torch.clamp(u, 0.0, float(n_int) - 1e-9)
        k = torch.floor(u).long()
        t = (u - k.to(u.dtype))[:, None]
        coef = blocks.reshape(-1, 4, blocks.shape[-1]).index_select(0, block * n_int + k)  # (P, 4, F)
        a, b, c, d = coef.unbind(1)
        value = torch.addcmul(c, t, d).mul_(t).add_(b).mul_(t).add_(a)  # Horner, in place
        if not slope:
            return value, None
        dv = torch.addcmul(c, t, d, value=1.5).mul_(t).mul_(2.0).add_(b).div_(h)  # b + 2ct + 3dt^2
        dv = dv.masked_fill_(~inside, 0.0)
        return value, dv


def log_radial_eval_blocks(blocks: Tensor, ln_r0: float, h: float, ln_rmax: float, block: Tensor,
                           r: Tensor) -> Tensor:
    """All F radial functions of block ``block[i]`` at distance ``r[i]`` (bohr): (P, F), like
    :func:`log_radial_eval` (``blocks`` = :func:`cubic_blocks` of a :func:`log_radial_table`)."""
    ln_r = torch.log(torch.clamp(r, min=math.exp(ln_r0)))
    val = torch.exp(cubic_eval_blocks(blocks, block, ln_r, ln_r0, h))
    keep = (ln_r <= ln_rmax)[:, None] & (val > _TINY)  # no subnormal numbers (slow arithmetic)
    return torch.where(keep, val, torch.zeros_like(val))


def log_radial_table(r_grid: Tensor, rho: Tensor) -> tuple[Tensor, float, float, float]:
    """Table of ``ln rho`` against ``ln r`` for radial functions on a logarithmic grid.

    Parameters
    ----------
    r_grid : (n,) radial grid, bohr, uniform in ln r.
    rho : (F, n) non-negative radial functions (e.g. densities, bohr^-3).

    Returns
    -------
    table, ln r0, h, ln r_max : for :func:`log_radial_eval`.
    """
    ln_r = torch.log(r_grid)
    h = float((ln_r[-1] - ln_r[0]) / (len(r_grid) - 1))
    if not torch.allclose(ln_r[1:] - ln_r[:-1], torch.full_like(ln_r[1:], h), rtol=1e-6, atol=1e-9):
        raise ValueError("r_grid must be uniform in ln r")
    ln_rho = torch.log(torch.clamp(rho, min=math.exp(_LOG_FLOOR)))
    return cubic_table(ln_rho, h), float(ln_r[0]), h, float(ln_r[-1])


def log_radial_eval(
    table: Tensor, ln_r0: float, h: float, ln_rmax: float, func: Tensor, r: Tensor
) -> Tensor:
    """Evaluate radial functions tabulated by :func:`log_radial_table` at distances ``r`` (bohr).

    Below the first grid point the value at r0 is used (densities are flat at the nucleus on the scale of
    r0 ~ 1e-5 bohr); beyond the last grid point the function is zero.
    """
    ln_r = torch.log(torch.clamp(r, min=math.exp(ln_r0)))
    val = torch.exp(cubic_eval(table, func, ln_r, ln_r0, h))
    return torch.where(ln_r <= ln_rmax, val, torch.zeros_like(val))
