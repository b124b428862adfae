"""Overlap of normalised 1s Slater-type functions on two centres (closed form, differentiable).

The charge-transfer coupling of docs/model.md section 3 (term `charge_transfer`) uses the overlap S_AB(R) of
normalised valence functions phi(r) = sqrt(zeta^3 / pi) exp(-zeta r) with the exact density-tail exponents
zeta = sqrt(2 I).
In elliptic coordinates (Mulliken, Rieke, Orloff and Orloff, J. Chem. Phys. 17, 1248 (1949)):

    S = (zeta_a zeta_b)^(3/2) R^3 / 4 * [A_2(alpha) B_0(beta) - A_0(alpha) B_2(beta)],
    alpha = (zeta_a + zeta_b) R / 2,  beta = (zeta_a - zeta_b) R / 2,
    A_n(x) = int_1^inf t^n e^(-x t) dt,  B_n(x) = int_-1^1 t^n e^(-x t) dt.

For equal exponents this is the textbook S = exp(-p) (1 + p + p^2 / 3), p = zeta R.

>>> import torch
>>> p = torch.tensor(2.0, dtype=torch.float64)
>>> s = sto_1s_overlap(torch.tensor(1.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64), p)
>>> round(float(s), 10) == round(float(torch.exp(-p) * (1 + p + p * p / 3)), 10)
True
"""

from __future__ import annotations

import torch
from torch import Tensor

_SMALL_BETA = 1e-3


def sto_1s_overlap(zeta_a: Tensor, zeta_b: Tensor, r: Tensor) -> Tensor:
    """Overlap of two normalised 1s Slater functions.

    Parameters
    ----------
    zeta_a, zeta_b : (...) exponents, bohr^-1 (broadcast with ``r``).
    r : (...) centre-centre distance, bohr (> 0).

    Returns
    -------
    (...) overlap S in [0, 1], dimensionless.
    """
    alpha = 0.5 * (zeta_a + zeta_b) * r
    beta = 0.5 * (zeta_a - zeta_b) * r
    inv_a = 1.0 / alpha
    p0 = inv_a
    p2 = inv_a + 2 * inv_a**2 + 2 * inv_a**3  # A_n = exp(-alpha) P_n
    small = beta.abs() < _SMALL_BETA
    b = torch.where(small, torch.full_like(beta, _SMALL_BETA), beta)
    ep = torch.exp(b - alpha)
    em = torch.exp(-b - alpha)
    inv_b = 1.0 / b
    b0_exact = (ep - em) * inv_b  # exp(-alpha) B_0
    b2_exact = ep * (inv_b - 2 * inv_b**2 + 2 * inv_b**3) - em * (inv_b + 2 * inv_b**2 + 2 * inv_b**3)
    ea = torch.exp(-alpha)
    b0_series = ea * 2 * (1 + beta**2 / 6)
    b2_series = ea * 2 * (1.0 / 3 + beta**2 / 10)
    b0 = torch.where(small, b0_series, b0_exact)
    b2 = torch.where(small, b2_series, b2_exact)
    return (zeta_a * zeta_b) ** 1.5 * r**3 / 4 * (p2 * b0 - p0 * b2)
