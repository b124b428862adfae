"""Gordon-Kim electron-gas interaction of two spherical densities (docs/model.md section 10.6).

The non-additive Thomas-Fermi kinetic and LDA (Dirac) exchange energy of two overlapping, frozen, spherical
densities rho_a (centred at the origin) and rho_b (centred at R on the z axis):

    E_GK(R) = int [g(rho_a + rho_b) - g(rho_a) - g(rho_b)] d^3r,   g(rho) = C_F rho^(5/3) + C_X rho^(4/3),

C_F = (3/10) (3 pi^2)^(2/3), C_X = -(3/4) (3/pi)^(1/3) (hartree). This is the closed-shell repulsion of the
Gordon-Kim model (R. G. Gordon and Y. S. Kim, J. Chem. Phys. 56, 3122 (1972)) without its correlation part.

Quadrature in prolate spheroidal coordinates (mu, nu, phi) about the two centres: r_a = R (mu + nu) / 2,
r_b = R (mu - nu) / 2, d^3r = (R/2)^3 (mu^2 - nu^2) dmu dnu dphi; Gauss-Legendre in nu and in t with
mu = 1 + s t / (1 - t) (s chosen so that the points reach the densities' tails). Pure numpy: the tables are built
once per element pair (``lsip.model.tables``).
"""

from __future__ import annotations

import math

import numpy as np

#: Thomas-Fermi kinetic constant C_F (hartree bohr^2) and Dirac exchange constant C_X (hartree bohr)
C_F = 0.3 * (3.0 * math.pi**2) ** (2.0 / 3.0)
C_X = -0.75 * (3.0 / math.pi) ** (1.0 / 3.0)

_NU, _NU_W = np.polynomial.legendre.leggauss(48)
_T, _T_W = np.polynomial.legendre.leggauss(64)
_T = 0.5 * (_T + 1.0)  # on (0, 1)
_T_W = 0.5 * _T_W


def _g(rho: np.ndarray) -> np.ndarray:
    """Thomas-Fermi kinetic plus Dirac exchange energy density of a uniform gas of density ``rho`` (hartree)."""
    return C_F * rho ** (5.0 / 3.0) + C_X * rho ** (4.0 / 3.0)


def gordon_kim_energy(r_grid: np.ndarray, rho_a: np.ndarray, rho_b: np.ndarray,
                      distances: np.ndarray) -> np.ndarray:
    """E_GK(R) (hartree) of two spherical densities given on ``r_grid`` (bohr; bohr^-3, zero beyond the grid) at
    each of ``distances`` (bohr, > 0). Several densities per side may be passed as (n_a, n_r) and (n_b, n_r):
    the result is then (n_a, n_b, n_R)."""
    r_grid = np.asarray(r_grid, dtype=np.float64)
    a2 = np.atleast_2d(np.asarray(rho_a, dtype=np.float64))
    b2 = np.atleast_2d(np.asarray(rho_b, dtype=np.float64))
    dist = np.atleast_1d(np.asarray(distances, dtype=np.float64))
    if np.any(dist <= 0):
        raise ValueError("distances must be positive")
    out = np.zeros((len(a2), len(b2), len(dist)))
    r_max = float(r_grid[-1])
    for i, big_r in enumerate(dist):
        half = 0.5 * big_r
        # mu = 1 + s t / (1 - t): half the points within mu - 1 < s, reaching mu ~ 1 + 2 r_max / R
        s = max(1.0, 2.0 / big_r)
        mu = 1.0 + s * _T / (1.0 - _T)
        dmu = s / (1.0 - _T) ** 2
        keep = half * (mu - 1.0) < r_max
        mu, wmu = mu[keep], (_T_W * dmu)[keep]
        m, n = np.meshgrid(mu, _NU, indexing="ij")
        w = (half**3 * (m**2 - n**2) * 2.0 * math.pi) * (wmu[:, None] * _NU_W[None, :])
        ra = (half * (m + n)).reshape(-1)
        rb = (half * (m - n)).reshape(-1)
        w = w.reshape(-1)
        da = np.stack([np.interp(ra, r_grid, x, right=0.0) for x in a2])  # (n_a, P)
        db = np.stack([np.interp(rb, r_grid, x, right=0.0) for x in b2])  # (n_b, P)
        da, db = np.maximum(da, 0.0), np.maximum(db, 0.0)
        ga, gb = _g(da), _g(db)
        tot = _g(da[:, None, :] + db[None, :, :])
        out[:, :, i] = ((tot - ga[:, None, :] - gb[None, :, :]) * w).sum(-1)
    if np.ndim(rho_a) == 1 and np.ndim(rho_b) == 1:
        return out[0, 0]
    return out
