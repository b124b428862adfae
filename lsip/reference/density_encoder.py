"""The density encoder: a DFT density -> latent ensemble weights, by constrained projection.

See docs/reference.md, "The density encoder".

Given the DFT density rho_g on the molecular quadrature grid (points r_g, weights v_g) and the library's basis
densities b_{A,k}(r) = rho_{A,k}(|r - R_A|), find the weights w (n atoms x 4 states) of the latent density
rho_w = sum_{A,k} w_A^k b_{A,k} subject to the latent constraints w_A^k >= 0, sum_k w_A^k = 1 (each atom) and the
electron count sum_{A,k} w_A^k N_{A,k} = N. The charges are q_A = Z_A - sum_k w_A^k N_{A,k} (sum exactly Q).
The derivation, the measurements behind every choice and the before/after numbers are in docs/reference.md
("The density encoder").

Data term (``weighting``)
-------------------------
* ``"l1"`` (default): the reconstruction error that is reported, E(w) = integral |rho_w - rho|. It is convex in
  w and minimised by majorize-minimize (iteratively reweighted least squares, :func:`l1_majoriser`): at the
  current point x, |r| <= r^2 / (2 a) + a / 2 with a_g = max(|r_g(x)|, 0.01 max(rho_g, 1e-5)), so every step
  is a QP in the latent constraints and E never increases (the floor makes it the Huber function below 1 % of
  the density: well-conditioned steps, exact densities still recovered to 1e-7). Started at the promolecule
  (whenever it holds N electrons), the fit is never worse than the promolecule; :func:`promolecule_slope`
  proves when it cannot be better. The fit uses the quadrature weights with PySCF's few negative Becke
  weights (far from the nuclei) set to zero: with them E is not convex, and the iteration stalled 1e-3 e
  above an exactly representable density. The reported errors keep the signed quadrature, as before.
* ``"inverse_density"`` and ``"quadrature"``: the former least-squares fits, chi2 = sum_g W_g (rho_w - rho)^2
  with W_g = v_g / max(rho_g, 1e-5) or W_g = v_g. The inverse-density fit returns the promolecule for most
  covalent molecules (water, HCl, NH3, ...): its weights give the density tail (rho < 1e-3: 0.06 of water's 10
  electrons) the deciding vote, and there the def2-SVP reference decays faster than the library's diffuse
  anion densities, so every charge-transfer direction ascends. Kept to reproduce earlier numbers.

Prior (``"l1"`` only)
---------------------
For covalent molecules the L1 optimum is flat (water: E within 0.006 e of the promolecule's from q_O = 0 to
-0.27), far inside the reference density's own uncertainty (def2-SVP vs def2-TZVPPD: 0.34 e). Among the
near-optimal fits the encoder returns the one whose charges are closest to a prior, Hirshfeld-I on the same
library clipped to the latent range:

    minimise  sum_A (q_A(w) - q_A^prior)^2   subject to   E(w) <= E_min + min(eps E_min, tau (E_pro - E_min)),

Morozov's discrepancy principle for the Tikhonov problem E + lambda |q - q_prior|^2: the largest lambda whose
solution stays within the error budget, found by bisection on log lambda inside the majorize-minimize loop.
eps = :data:`FIT_TOLERANCE` (5 %: fits within 5 % of the best error count as equally good; the budget vanishes
with E_min, so an exactly representable density is still recovered) and tau = :data:`PRIOR_BUDGET` (1/2: at
most half of the best fit's improvement over the promolecule may be given up, so the result stays strictly
below the promolecule's error whenever any latent density is). A tiny ridge towards the promolecule makes
every QP strictly convex.

Solver
------
The columns are the differences rho_{A,k} - rho_{A,0} and the target is rho - rho_promolecule (the same problem
because sum_k w_A^k = 1; the shared cores cancel point by point), and each QP is solved exactly by a primal
active-set method (:func:`active_set_qp`) on the Jacobi-scaled problem from a strictly feasible start, which
keeps the working set independent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lsip.errors import LSIPError

WEIGHTINGS: tuple[str, ...] = ("l1", "inverse_density", "quadrature")
#: The data term used unless another is asked for.
DEFAULT_WEIGHTING = "l1"
#: Density floor of the inverse-density weighting, bohr^-3.
RHO_FLOOR = 1e-5
#: Relative ridge towards the promolecule.
RIDGE = 1e-8
#: eps: L1 fits within this fraction of the best error count as equally good (the prior chooses among them).
FIT_TOLERANCE = 0.05
#: tau: fraction of the best fit's improvement over the promolecule that the prior may give up.
PRIOR_BUDGET = 0.5
#: Residual floor a_g = L1_REL_FLOOR max(rho_g, RHO_FLOOR) of the L1 majoriser (bohr^-3; Huber smoothing).
L1_REL_FLOOR = 1e-2
L1_FLOOR = L1_REL_FLOOR * RHO_FLOOR
#: Majorize-minimize: stop when the L1 error falls by less than this fraction in one step.
MM_TOL = 1e-5
MM_MAX_ITER = 100
PRIOR_MAX_ITER = 20
#: Prior stage: stop when |q - q_prior|^2 falls by less than this fraction in one majorize-minimize step.
PRIOR_TOL = 1e-2
NEUTRAL = 1  # STATE_LABELS index
_GRAM_CHUNK = 4_000_000  # grid values (points x columns) per block of the weighted normal matrix


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
    weighting : the data term used.  objective : its value at the solution (L1 error for ``"l1"``, chi2
        without the ridge for the least-squares weightings).
    converged : all QPs solved and the majorize-minimize loop converged.  iterations : QP active-set iterations.
    fit_error : ``"l1"``: the error of the unregularised L1 fit, E_min (None otherwise), in the fitting norm
        (negative quadrature weights set to zero; within ~1 % of ``error``'s signed quadrature).
    error_budget : ``"l1"``: the error the prior may use (module docstring), same norm, or None.
    prior_charges : ``"l1"``: the prior's target charges (clipped to the latent range), or None.
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
    fit_error: float | None = None
    error_budget: float | None = None
    prior_charges: np.ndarray | None = None


def point_weights(rho: np.ndarray, grid_weights: np.ndarray, weighting: str = DEFAULT_WEIGHTING,
                  rho_floor: float = RHO_FLOOR) -> np.ndarray:
    """(G,) weights W_g of a weighting scheme (see the module docstring).

    For ``"l1"`` these are the weights of sum_g W_g |r_g| (the quadrature weights); for the least-squares
    schemes the weights of sum_g W_g r_g^2.
    """
    if weighting == "inverse_density":
        return grid_weights / np.maximum(rho, rho_floor)
    if weighting in ("quadrature", "l1"):
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
    at_subspace_minimum = False  # a full step was just taken: x minimises on the working set (exactly)
    it = 0
    for it in range(1, (max_iter or 20 * m) + 1):
        free = ~active
        grad = g @ x - c
        k = a_eq.shape[0]
        p = np.zeros(m)
        if not at_subspace_minimum:
            af = a_eq[:, free]
            kkt = np.block([[g[np.ix_(free, free)], af.T], [af, np.zeros((k, k))]])
            sol = np.linalg.lstsq(kkt, np.concatenate([-grad[free], np.zeros(k)]), rcond=1e-13)[0]
            p[free] = sol[:free.sum()]
        # after a full step the next one is rounding noise only (ill-conditioned KKT): test the multipliers
        if at_subspace_minimum or np.max(np.abs(p), initial=0.0) <= 1e-10 * max(1.0, float(np.max(x))):
            at_subspace_minimum = False
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
        else:
            at_subspace_minimum = True
    return x, False, it


def _check_electrons(n_electrons: np.ndarray, n_total: float) -> None:
    lo = float(np.sort(n_electrons, axis=1)[:, 0].sum())
    hi = float(np.sort(n_electrons, axis=1)[:, -1].sum())
    if not lo - 1e-9 <= n_total <= hi + 1e-9:
        raise LSIPError(f"the latent states of these atoms hold {lo:g} to {hi:g} electrons, not {n_total:g}")


def _scaled_qp(gram: np.ndarray, rhs: np.ndarray, a_eq: np.ndarray, b_eq: np.ndarray, x0: np.ndarray,
               ridge: float) -> tuple[np.ndarray, bool, int]:
    """min 1/2 x G x - c x + ridge-term towards the promolecule under A x = b, x >= 0, Jacobi-scaled.

    The ridge is lambda_i = ``ridge`` x max(G_ii, 1e-6 max_j G_jj) per weight (towards w^0 = 1); x0 must be
    strictly feasible. Returns the weights (4n,) (clipped at 0), converged, iterations.
    """
    n = len(rhs) // 4
    diag = np.maximum(np.diag(gram), 1e-6 * (float(np.max(np.diag(gram))) or 1.0))
    d = 1.0 / np.sqrt(diag)  # x = d * y: the core-dominated G spans many orders of magnitude
    x_ref = np.zeros((n, 4))
    x_ref[:, NEUTRAL] = 1.0
    gy = gram * d[:, None] * d[None, :] + ridge * np.eye(4 * n)
    cy = rhs * d + ridge * x_ref.reshape(-1) / d
    y, ok, nit = active_set_qp(gy, cy, a_eq * d[None, :], b_eq, x0 / d)
    return np.maximum(y * d, 0.0), ok, nit


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
    _check_electrons(n_electrons, n_total)
    a_eq, b_eq = _constraints(n_electrons, n_total)
    x, ok, nit = _scaled_qp(gram, rhs, a_eq, b_eq, _start(n_electrons, n_total), ridge)
    w = np.clip(x, 0.0, 1.0).reshape(n, 4)
    w /= w.sum(axis=1, keepdims=True)
    return w, ok, nit


def l1_majoriser(diff: np.ndarray, target: np.ndarray, grid_weights: np.ndarray, x: np.ndarray,
                 floor: np.ndarray | float = L1_FLOOR) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Quadratic majoriser of E(y) = sum_g v_g |diff_g . y - target_g| (v_g >= 0) that touches it at y = x.

    |r| <= r^2 / (2a) + a / 2 for every a > 0 (arithmetic-geometric mean), with equality at |r| = a; with
    a_g = max(|r_g(x)|, floor_g), M(y) = 1/2 y G y - c y + k >= E(y) for every y and M(x) = E(x) except at points
    whose residual is below the floor (there M majorises the Huber function of E, see the module docstring).

    Parameters
    ----------
    diff : (G, m) columns.  target : (G,).  grid_weights : (G,) v_g >= 0.  x : (m,) the touching point.
    floor : (G,) or scalar residual floor, bohr^-3.

    Returns
    -------
    G (m, m), c (m,), k, E(x).
    """
    m = diff.shape[1]
    gram, rhs, const, err = np.zeros((m, m)), np.zeros(m), 0.0, 0.0
    step = max(1, _GRAM_CHUNK // max(1, m))
    for s in range(0, len(target), step):
        b, t, v = diff[s:s + step], target[s:s + step], grid_weights[s:s + step]
        r = np.einsum("gm,m->g", b, x) - t  # (a threaded BLAS gemv is slower here on a busy machine)
        err += float(np.einsum("g,g->", v, np.abs(r)))
        a = np.maximum(np.abs(r), floor if np.ndim(floor) == 0 else floor[s:s + step])
        u = 0.5 * v / a  # sum u (b.y - t)^2 = 1/2 y (2 b^T u b) y - (2 b^T u t) y + sum u t^2
        su = np.sqrt(u)
        bs = b * su[:, None]
        gram += 2.0 * (bs.T @ bs)
        rhs += 2.0 * np.einsum("g,gm->m", t * su, bs)
        const += float(np.einsum("g,g->", u, t * t)) + 0.5 * float(np.einsum("g,g->", v, a))
    return gram, rhs, const, err


def _residual_l1(diff: np.ndarray, target: np.ndarray, grid_weights: np.ndarray, x: np.ndarray) -> float:
    # einsum, not BLAS: a threaded gemv/dot is many times slower when other jobs share the 2 cores
    return float(np.einsum("g,g->", grid_weights, np.abs(np.einsum("gm,m->g", diff, x) - target)))


@dataclass(frozen=True)
class L1Fit:
    """Result of :func:`fit_l1`.

    Attributes
    ----------
    x : (4n,) weights.  error : final L1 error.  fit_error : E_min.  budget : the prior's error budget (all three
    in the fitting norm).  converged : MM loop and all QPs converged.  iterations : QP active-set iterations.
    """

    x: np.ndarray
    error: float
    fit_error: float
    budget: float
    converged: bool
    iterations: int


def fit_l1(diff: np.ndarray, target: np.ndarray, grid_weights: np.ndarray, n_electrons: np.ndarray,
           n_total: float, promolecule_error: float, prior_charges: np.ndarray | None, numbers: np.ndarray,
           ridge: float = RIDGE, fit_tolerance: float = FIT_TOLERANCE,
           prior_budget: float = PRIOR_BUDGET, floor: np.ndarray | float = L1_FLOOR) -> L1Fit:
    """The ``"l1"`` encoder: L1 fit by majorize-minimize, then the prior within the error budget.

    Parameters
    ----------
    diff : (G, 4n) columns rho_{A,k} - rho_{A,0}.  target : (G,) rho - rho_promolecule.  grid_weights : (G,).
    n_electrons : (n, 4) N_{A,k}.  n_total : N.  promolecule_error : E_pro, e.
    prior_charges : (n,) target charges (None: no prior).  numbers : (n,) Z_A.
    ridge, fit_tolerance (eps), prior_budget (tau) : see the module docstring.

    Returns
    -------
    L1Fit with the weights x (4n,), the final error, E_min, the budget, convergence and QP iterations.
    """
    n = n_electrons.shape[0]
    a_eq, b_eq = _constraints(n_electrons, n_total)
    interior = _start(n_electrons, n_total)
    x = np.zeros((n, 4))
    x[:, NEUTRAL] = 1.0
    x = x.reshape(-1)
    if abs(float(n_electrons[:, NEUTRAL].sum()) - n_total) > 1e-9:
        x = interior  # the promolecule does not hold N electrons (ions)
    err = _residual_l1(diff, target, grid_weights, x)
    total_it, ok_all, converged = 0, True, False
    for _ in range(MM_MAX_ITER):
        gram, rhs, _, err = l1_majoriser(diff, target, grid_weights, x, floor)
        x_new, ok, nit = _scaled_qp(gram, rhs, a_eq, b_eq, 0.5 * (x + interior), ridge)
        total_it, ok_all = total_it + nit, ok_all and ok
        err_new = _residual_l1(diff, target, grid_weights, x_new)
        if err_new > err:  # only rounding (or the floor) can do this: keep the better point
            converged = True
            break
        x, decrease, err = x_new, err - err_new, err_new
        if decrease <= MM_TOL * err:
            converged = True
            break
    fit_error = err
    budget = fit_error + min(fit_tolerance * fit_error, prior_budget * max(promolecule_error - fit_error, 0.0))
    if prior_charges is None or budget <= fit_error:
        return L1Fit(x, err, fit_error, budget, converged and ok_all, total_it)
    stats: list[tuple[bool, int]] = []  # (converged, iterations) of every QP of the prior stage
    dmat = np.zeros((n, 4 * n))
    for a in range(n):
        dmat[a, 4 * a:4 * a + 4] = n_electrons[a]
    shift = np.asarray(numbers, float) - prior_charges  # q - q_prior = shift - D x
    pgram, prhs = 2.0 * dmat.T @ dmat, 2.0 * dmat.T @ shift

    def distance(y: np.ndarray) -> float:
        return float(np.sum((shift - dmat @ y) ** 2))

    previous: float | None = None
    for _ in range(PRIOR_MAX_ITER):
        gram, rhs, _, _ = l1_majoriser(diff, target, grid_weights, x, floor)
        scale = float(np.trace(gram)) / float(np.trace(pgram))  # makes lambda dimensionless
        start = 0.5 * (x + interior)
        solutions: dict[float, np.ndarray] = {}

        def error_at(log_lam: float, gram: np.ndarray = gram, rhs: np.ndarray = rhs, scale: float = scale,
                     start: np.ndarray = start, solutions: dict = solutions) -> float:
            lam = scale * 10.0 ** log_lam
            y, ok, nit = _scaled_qp(gram + lam * pgram, rhs + lam * prhs, a_eq, b_eq, start, ridge)
            solutions[log_lam] = y
            stats.append((ok, nit))
            return _residual_l1(diff, target, grid_weights, y)

        log_lam = None
        if previous is not None:  # lambda moves little between majorisers: bracket it first
            log_lam = _largest_within(error_at, budget, previous - 0.5, previous + 0.5)
        if log_lam is None or (previous is not None and log_lam >= previous + 0.5):  # outside the bracket
            log_lam = _largest_within(error_at, budget)
        if log_lam is None:
            break
        best = solutions[log_lam]
        before, after = distance(x), distance(best)
        if after >= before:
            break
        x, previous = best, log_lam
        if before - after <= PRIOR_TOL * before:
            break
    ok_all = ok_all and all(ok for ok, _ in stats)
    total_it += sum(nit for _, nit in stats)
    return L1Fit(x, _residual_l1(diff, target, grid_weights, x), fit_error, budget, converged and ok_all,
                  total_it)


def _largest_within(error_at: Callable[[float], float], budget: float, lo: float = -6.0, hi: float = 6.0,
                    resolution: float = 0.05) -> float | None:
    """Bisection on log10(lambda) for the largest penalty whose solution's L1 error is within the budget.

    ``error_at(log10 lambda)`` solves the penalised QP and returns its error; None if even ``lo`` is outside.
    """
    if error_at(hi) <= budget:
        return hi
    if error_at(lo) > budget:
        return None
    best = lo
    while hi - lo > resolution:
        mid = 0.5 * (lo + hi)
        if error_at(mid) <= budget:
            lo = best = mid
        else:
            hi = mid
    return best


def promolecule_slope(basis_grid: np.ndarray, n_electrons: np.ndarray, rho: np.ndarray,
                      grid_weights: np.ndarray) -> float:
    """Smallest rate of change of the L1 error when the latent weights leave the promolecule, e per unit weight.

    At the promolecule the residual r = rho_promolecule - rho is nonzero almost everywhere, so E is
    differentiable there: dE/dw_A^k = sum_g v_g sign(r_g) (rho_{A,k} - rho_{A,0})(r_g) for moving weight from
    the neutral state to state k. The feasible directions that keep N electrons are generated by excitations
    (A -> A*) and by pairs of a donor move (A -> A+) with an acceptor move (B -> B-, B = A allowed), weighted to
    conserve electrons. E is convex, so a non-negative result proves that no latent density is closer to rho
    than the promolecule (in the fitting norm: negative quadrature weights set to zero).

    Parameters
    ----------
    basis_grid : (G, n, 4) basis densities.  n_electrons : (n, 4).  rho : (G,).  grid_weights : (G,).

    Returns
    -------
    The minimum over those generating directions (each normalised to unit total weight moved).
    """
    v = np.maximum(np.asarray(grid_weights, dtype=np.float64), 0.0)
    sign = np.sign(basis_grid[:, :, NEUTRAL].sum(axis=1) - rho)
    slope = np.einsum("g,gak->ak", v * sign, basis_grid - basis_grid[:, :, NEUTRAL:NEUTRAL + 1])
    n_el = np.asarray(n_electrons, dtype=np.float64)
    lost = n_el[:, NEUTRAL] - n_el[:, 0]  # electrons given up per unit cation weight
    gained = n_el[:, 2] - n_el[:, NEUTRAL]  # electrons taken per unit anion weight
    best = float(np.min(slope[:, 3]))
    for a in range(len(lost)):
        for b in range(len(gained)):
            t_a, t_b = gained[b], lost[a]  # t_a lost_a = t_b gained_b
            best = min(best, float((t_a * slope[a, 0] + t_b * slope[b, 2]) / (t_a + t_b)))
    return best


def latent_charge_range(numbers: np.ndarray, n_electrons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lowest, highest) charge each atom's latent states can carry, e."""
    z = np.asarray(numbers, float)
    return z - n_electrons.max(axis=1), z - n_electrons.min(axis=1)


def project_density(basis_grid: np.ndarray, n_electrons: np.ndarray, numbers: np.ndarray, rho: np.ndarray,
                    grid_weights: np.ndarray, n_total: float, weighting: str = DEFAULT_WEIGHTING,
                    ridge: float = RIDGE, model_weights: np.ndarray | None = None,
                    prior_charges: np.ndarray | None = None, use_prior: bool = True,
                    fit_tolerance: float = FIT_TOLERANCE, prior_budget: float = PRIOR_BUDGET) -> DensityProjection:
    """Project a density onto the latent basis densities (see the module docstring and docs/reference.md).

    Parameters
    ----------
    basis_grid : (G, n, 4) library basis densities at the grid points, bohr^-3
        (:meth:`lsip.model.density.BasisDensities.evaluate`).
    n_electrons : (n, 4) N_{A,k}.  numbers : (n,) Z_A.
    rho : (G,) the DFT density, bohr^-3.  grid_weights : (G,) quadrature weights, bohr^3.
    n_total : electron count N of the system (sum Z - Q).
    weighting : one of :data:`WEIGHTINGS`.  ridge : relative ridge towards the promolecule.
    model_weights : optional (n, 4) weights of the physical encoder (STATE_LABELS order).
    prior_charges : ``"l1"``: the prior's charges (n,); None computes Hirshfeld-I charges of ``rho`` on the
        same basis densities (:func:`lsip.reference.charges.hirshfeld_i_charges`).
    use_prior : ``"l1"``: False returns the plain L1 fit.
    fit_tolerance, prior_budget : eps and tau of the error budget (module docstring).

    Returns
    -------
    DensityProjection
    """
    n = basis_grid.shape[1]
    n_el = np.asarray(n_electrons, dtype=np.float64)
    big_w = point_weights(rho, grid_weights, weighting)
    _check_electrons(n_el, n_total)
    if model_weights is not None and np.shape(model_weights) != (n, 4):
        raise LSIPError(f"model weights must have shape ({n}, 4), got {np.shape(model_weights)}")
    b = basis_grid.reshape(len(rho), 4 * n)
    promol = basis_grid[:, :, NEUTRAL].sum(axis=1)
    promolecule_error = l1_error(promol, rho, grid_weights)
    # differences from the neutral state (the shared cores cancel on the grid, not in G): same problem,
    # better conditioned, since sum_k w_k rho_k = rho_0 + sum_k w_k (rho_k - rho_0) when sum_k w_k = 1
    diff = (basis_grid - basis_grid[:, :, NEUTRAL:NEUTRAL + 1]).reshape(len(rho), 4 * n)
    target = rho - promol
    extra: dict = {}
    if weighting == "l1":
        prior = None
        if use_prior:
            if prior_charges is None:
                from lsip.reference.charges import hirshfeld_i_charges  # charges imports this module

                prior_charges = hirshfeld_i_charges(basis_grid, rho, grid_weights, numbers).charges
            q_lo, q_hi = latent_charge_range(numbers, n_el)
            prior = np.clip(np.asarray(prior_charges, dtype=np.float64), q_lo, q_hi)
        floor = L1_REL_FLOOR * np.maximum(rho, RHO_FLOOR)
        v_fit = np.maximum(grid_weights, 0.0)  # a few Becke weights are negative: fit in a proper (convex) norm
        fit = fit_l1(diff, target, v_fit, n_el, n_total, l1_error(promol, rho, v_fit), prior, numbers, ridge,
                     fit_tolerance, prior_budget, floor)
        w = np.clip(fit.x, 0.0, 1.0).reshape(n, 4)
        w /= w.sum(axis=1, keepdims=True)
        ok, nit = fit.converged, fit.iterations
        extra = {"fit_error": fit.fit_error, "error_budget": fit.budget, "prior_charges": prior}
    else:
        wd = diff * big_w[:, None]
        gram, rhs = wd.T @ diff, wd.T @ target
        w, ok, nit = solve_projection_qp(gram, rhs, n_el, n_total, ridge)
    rho_latent = b @ w.reshape(-1)
    error = l1_error(rho_latent, rho, grid_weights)
    objective = error if weighting == "l1" else float(big_w @ (rho_latent - rho) ** 2)
    model_error = None
    if model_weights is not None:
        mw = np.asarray(model_weights, dtype=np.float64)
        model_error = l1_error(b @ mw.reshape(-1), rho, grid_weights)
    charges = np.asarray(numbers, float) - (w * n_el).sum(axis=1)
    return DensityProjection(
        weights=w, charges=charges, error=error, promolecule_error=promolecule_error, model_error=model_error,
        electrons_grid=float(grid_weights @ rho), weighting=weighting, objective=objective, converged=ok,
        iterations=nit, **extra,
    )
