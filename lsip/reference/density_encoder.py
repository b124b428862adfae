"""The density encoder (MODEL.md section 6): a DFT density -> latent ensemble weights, by constrained projection.

Given the DFT density rho_g on the molecular quadrature grid (points r_g, weights v_g) and the library's basis
densities b_{A,k}(r) = rho_{A,k}(|r - R_A|), find the weights w (n atoms x 4 states) that minimise

    chi2(w) = sum_g W_g (sum_{A,k} w_A^k b_{A,k}(r_g) - rho_g)^2  +  lambda |w - w_0|^2

subject to the latent constraints w_A^k >= 0, sum_k w_A^k = 1 (each atom), and the electron count
sum_{A,k} w_A^k N_{A,k} = N. The charges are q_A = Z_A - sum_k w_A^k N_{A,k} (so sum_A q_A = Q exactly).

Decisions
---------
* **Weighting** (named option): ``"inverse_density"`` (default) uses W_g = v_g / max(rho_g, rho_floor), i.e.
  chi2 = integral (rho_latent - rho)^2 / rho, the second-order expansion of the Kullback-Leibler divergence
  between the densities. By Cauchy-Schwarz (integral |d rho|)^2 <= N * chi2, so it bounds the L1 error that is
  reported, and it weights the valence region, where the states differ, instead of the atomic cores, which
  dominate plain least squares. ``"quadrature"`` uses W_g = v_g (plain L2).
  ``rho_floor`` = 1e-5 bohr^-3 keeps the far tail from dominating.
* **Uniqueness**: basis densities of one atom can be nearly linearly dependent (e.g. rho_+ + rho_- ~ 2 rho_0),
  which makes the optimum a flat valley; a tiny ridge lambda = ``ridge`` x max_i G_ii towards the promolecule
  w_0 (w^0 = 1) picks the point of that valley closest to the neutral atoms. It shifts recovered weights by
  less than 1e-4 in the tests.
* **Solver**: the problem is a convex QP in 4n variables. Written with the raw basis densities its normal
  matrix is badly conditioned (the shared atomic cores dominate; eigenvalues span ~8 decades), which stalled
  SLSQP 0.15 off the true weights of a synthetic NaCl density. So the columns are the differences
  rho_{A,k} - rho_{A,0} (the cores cancel point by point on the grid) and the target is rho - rho_promolecule,
  which is the same problem because sum_k w_A^k = 1; an exact primal active-set method
  (:func:`active_set_qp`) solves the Jacobi-scaled problem.

Reported next to it on the same grid: the promolecule error integral |rho_promol - rho| and, when the
physical encoder's weights are given, the model's decoded-density error integral |rho_model - rho|.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsip.errors import LSIPError

WEIGHTINGS: tuple[str, ...] = ("inverse_density", "quadrature")
#: Density floor of the inverse-density weighting, bohr^-3.
RHO_FLOOR = 1e-5
#: Relative ridge towards the promolecule.
RIDGE = 1e-8
NEUTRAL = 1  # STATE_LABELS index


@dataclass(frozen=True)
class DensityProjection:
    """Result of the density encoder.

    Attributes
    ----------
    weights : (n, 4) latent weights in STATE_LABELS order.
    charges : (n,) q_A = Z_A - sum_k w_A^k N_{A,k}, e.
    error : integral |rho_latent - rho_DFT| on the grid, e.
    promolecule_error : integral |rho_promolecule - rho_DFT|, e.
    model_error : integral |rho_model - rho_DFT| for the given physical-encoder weights, or None.
    electrons_grid : integral of rho_DFT on the grid, e.
    weighting : the weighting used.  objective : chi2 at the solution (without the ridge).
    converged : the QP solver's success flag.  iterations : its iteration count.
    """

    weights: np.ndarray
    charges: np.ndarray
    error: float
    promolecule_error: float
    model_error: float | None
    electrons_grid: float
    weighting: str
    objective: float
    converged: bool
    iterations: int


def point_weights(rho: np.ndarray, grid_weights: np.ndarray, weighting: str = "inverse_density",
                  rho_floor: float = RHO_FLOOR) -> np.ndarray:
    """(G,) least-squares weights W_g of a weighting scheme (see the module docstring)."""
    if weighting == "inverse_density":
        return grid_weights / np.maximum(rho, rho_floor)
    if weighting == "quadrature":
        return np.asarray(grid_weights, dtype=np.float64)
    raise LSIPError(f"unknown density-encoder weighting {weighting!r}; choose one of {', '.join(WEIGHTINGS)}")


def l1_error(rho_a: np.ndarray, rho_b: np.ndarray, grid_weights: np.ndarray) -> float:
    """integral |rho_a - rho_b| d^3r on the grid, e."""
    return float(grid_weights @ np.abs(np.asarray(rho_a) - np.asarray(rho_b)))


def _constraints(n_electrons: np.ndarray, n_total: float) -> tuple[np.ndarray, np.ndarray]:
    n = n_electrons.shape[0]
    a_eq = np.zeros((n + 1, 4 * n))
    for a in range(n):
        a_eq[a, 4 * a:4 * a + 4] = 1.0
    a_eq[n] = n_electrons.reshape(-1)
    return a_eq, np.concatenate([np.ones(n), [float(n_total)]])


def _start(n_electrons: np.ndarray, n_total: float) -> np.ndarray:
    """A strictly feasible start (every weight > 0 where possible), so the active set stays independent.

    Per atom w = (a, 1 - 3a, a, a) holds Z_A electrons (cation and anion balance); the total charge is then
    spread evenly, q = Q / n on every atom, through w+ (Q > 0) or w- (Q < 0).
    """
    n = n_electrons.shape[0]
    q_mean = (n_electrons[:, NEUTRAL].sum() - n_total) / n
    a = max(0.0, min(0.1, (1.0 - abs(q_mean)) / 4.0))
    w = np.tile([a, 1.0 - 3.0 * a - abs(q_mean), a, a], (n, 1))
    w[:, 0 if q_mean > 0 else 2] += abs(q_mean)
    return w.reshape(-1)


def active_set_qp(g: np.ndarray, c: np.ndarray, a_eq: np.ndarray, b_eq: np.ndarray, x0: np.ndarray,
                  tol: float = 1e-12, max_iter: int | None = None) -> tuple[np.ndarray, bool, int]:
    """Primal active-set solver of min 1/2 x G x - c x subject to A x = b, x >= 0 (convex, G PSD).

    Nocedal & Wright, Numerical Optimization (2006), algorithm 16.3: each step solves the equality-constrained
    problem on the free variables with the exact G (least squares on the KKT matrix, so redundant constraints
    and a singular G are handled), moves until a bound blocks, and frees the bound with the most negative
    multiplier once the step vanishes. Finite and exact for the small problems here.

    Parameters
    ----------
    g : (m, m) G.  c : (m,).  a_eq : (k, m), b_eq : (k,).  x0 : (m,) a feasible start (A x0 = b, x0 >= 0).
    tol : step and multiplier tolerance (relative to the scale of G).  max_iter : default 20 m.

    Returns
    -------
    x (m,), converged, iterations.
    """
    m = len(c)
    x = np.maximum(np.asarray(x0, dtype=np.float64), 0.0)
    active = x <= 0.0
    scale = float(np.max(np.abs(np.diag(g)))) or 1.0
    it = 0
    for it in range(1, (max_iter or 20 * m) + 1):
        free = ~active
        grad = g @ x - c
        af = a_eq[:, free]
        k = af.shape[0]
        kkt = np.block([[g[np.ix_(free, free)], af.T], [af, np.zeros((k, k))]])
        sol = np.linalg.lstsq(kkt, np.concatenate([-grad[free], np.zeros(k)]), rcond=1e-13)[0]
        p = np.zeros(m)
        p[free] = sol[:free.sum()]
        if np.max(np.abs(p), initial=0.0) <= 1e-10 * max(1.0, float(np.max(x))):
            lam = np.linalg.lstsq(a_eq[:, free].T, grad[free], rcond=1e-13)[0] if free.any() else np.zeros(k)
            mu = grad - a_eq.T @ lam
            blocked = np.where(active, mu, np.inf)
            worst = int(np.argmin(blocked))
            if blocked[worst] >= -tol * scale:
                return x, True, it
            active[worst] = False
            continue
        shrink = free & (p < 0)
        ratios = np.where(shrink, -x / np.where(shrink, p, -1.0), np.inf)
        block = int(np.argmin(ratios))
        step = min(1.0, float(ratios[block]))
        x = np.maximum(x + step * p, 0.0)
        if step < 1.0:
            x[block] = 0.0
            active[block] = True
    return x, False, it


def solve_projection_qp(gram: np.ndarray, rhs: np.ndarray, n_electrons: np.ndarray, n_total: float,
                        ridge: float = RIDGE) -> tuple[np.ndarray, bool, int]:
    """Minimise 1/2 x G x - c x + 1/2 sum_i lambda_i (x_i - x0_i)^2 under the latent constraints.

    Parameters
    ----------
    gram : (4n, 4n) G.  rhs : (4n,) c.  n_electrons : (n, 4) N_{A,k}.  n_total : N, electrons.
    ridge : lambda_i = ridge * max(G_ii, 1e-6 max_j G_jj) towards the promolecule x0.

    Returns
    -------
    weights (n, 4), converged, iterations.

    Raises
    ------
    LSIPError
        if no weights can hold N electrons (|Q| larger than the number of atoms allows).
    """
    n = n_electrons.shape[0]
    lo = float(np.sort(n_electrons, axis=1)[:, 0].sum())
    hi = float(np.sort(n_electrons, axis=1)[:, -1].sum())
    if not lo - 1e-9 <= n_total <= hi + 1e-9:
        raise LSIPError(f"the latent states of these atoms hold {lo:g} to {hi:g} electrons, not {n_total:g}")
    diag = np.maximum(np.diag(gram), 1e-6 * (float(np.max(np.diag(gram))) or 1.0))
    d = 1.0 / np.sqrt(diag)  # Jacobi scaling x = d * y: the core-dominated G spans many orders of magnitude
    x_ref = np.zeros((n, 4))
    x_ref[:, NEUTRAL] = 1.0
    gy = gram * d[:, None] * d[None, :] + ridge * np.eye(4 * n)
    cy = rhs * d + ridge * x_ref.reshape(-1) / d
    a_eq, b_eq = _constraints(n_electrons, n_total)
    y, ok, nit = active_set_qp(gy, cy, a_eq * d[None, :], b_eq, _start(n_electrons, n_total) / d)
    w = np.clip(y * d, 0.0, 1.0).reshape(n, 4)
    w /= w.sum(axis=1, keepdims=True)
    return w, ok, nit


def project_density(basis_grid: np.ndarray, n_electrons: np.ndarray, numbers: np.ndarray, rho: np.ndarray,
                    grid_weights: np.ndarray, n_total: float, weighting: str = "inverse_density",
                    ridge: float = RIDGE, model_weights: np.ndarray | None = None) -> DensityProjection:
    """Project a density onto the latent basis densities (see the module docstring).

    Parameters
    ----------
    basis_grid : (G, n, 4) library basis densities at the grid points, bohr^-3
        (:meth:`lsip.model.density.BasisDensities.evaluate`).
    n_electrons : (n, 4) N_{A,k}.  numbers : (n,) Z_A.
    rho : (G,) the DFT density, bohr^-3.  grid_weights : (G,) quadrature weights, bohr^3.
    n_total : electron count N of the system (sum Z - Q).
    weighting : one of :data:`WEIGHTINGS`.  ridge : relative ridge towards the promolecule.
    model_weights : optional (n, 4) weights of the physical encoder (STATE_LABELS order).

    Returns
    -------
    DensityProjection
    """
    n = basis_grid.shape[1]
    big_w = point_weights(rho, grid_weights, weighting)
    b = basis_grid.reshape(len(rho), 4 * n)
    promol = basis_grid[:, :, NEUTRAL].sum(axis=1)
    # differences from the neutral state (the shared cores cancel on the grid, not in G): same QP, better
    # conditioned, since sum_k w_k rho_k = rho_0 + sum_k w_k (rho_k - rho_0) when sum_k w_k = 1
    diff = (basis_grid - basis_grid[:, :, NEUTRAL:NEUTRAL + 1]).reshape(len(rho), 4 * n)
    wd = diff * big_w[:, None]
    gram, rhs = wd.T @ diff, wd.T @ (rho - promol)
    w, ok, nit = solve_projection_qp(gram, rhs, np.asarray(n_electrons, float), n_total, ridge)
    rho_latent = b @ w.reshape(-1)
    objective = float(big_w @ (rho_latent - rho) ** 2)
    model_error = None
    if model_weights is not None:
        mw = np.asarray(model_weights, dtype=np.float64)
        if mw.shape != (n, 4):
            raise LSIPError(f"model weights must have shape ({n}, 4), got {mw.shape}")
        model_error = l1_error(b @ mw.reshape(-1), rho, grid_weights)
    charges = np.asarray(numbers, float) - (w * n_electrons).sum(axis=1)
    return DensityProjection(
        weights=w, charges=charges, error=l1_error(rho_latent, rho, grid_weights),
        promolecule_error=l1_error(promol, rho, grid_weights), model_error=model_error,
        electrons_grid=float(grid_weights @ rho), weighting=weighting, objective=objective, converged=ok,
        iterations=nit,
    )
