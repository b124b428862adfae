"""The physical encoder: geometry (+ total charge) -> latent coordinates by chemical-potential equalization.

Minimises the decoder energy E(z) over the latent coordinates z of :mod:`lsip.model.latent` subject to
s_AB >= 0, 0 <= w^* <= 1, r >= 0 with sum r = |Q| (a softmax parametrisation makes the reservoir constraint
exact) and w^0 >= 0 (the line search rejects infeasible points; the resonance term, whose slope in w^0 is
infinite at w^0 = 0, keeps the minimum strictly inside whenever a channel has a non-zero coupling). The
bound-constrained problem is solved with a projected L-BFGS in torch (:mod:`lsip.physics.optimize`) on the
concatenated batch, on CPU or GPU.

Convergence is judged per structure by the KKT residual: the infinity norm of the projected gradient
|P(z - grad E) - z| (hartree per unit occupation). A structure whose residual exceeds ``params.tol`` is
reported as not converged; :meth:`lsip.model.model.LSIPModel.predict` raises unless asked not to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from lsip.model.latent import Latent, latent_weights
from lsip.model.objective import EqualizationObjective, latent_gradient
from lsip.model.polarization import inverse_polarizability
from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.model.terms import PairGeometry, TermContext, evaluate_terms
from lsip.physics.optimize import OptimizeResult, projected_lbfgs, segment_sum

#: |p_A| components are bounded to +-DIPOLE_BOUND e bohr (a box far outside any physical dipole)
DIPOLE_BOUND = 50.0


@dataclass
class EncoderReport:
    """Solver diagnostics for a batch.

    Attributes
    ----------
    converged : (n_mols,) bool.  residual : (n_mols,) KKT residual, hartree.  iterations : solver iterations
    of the batch.  iterations_per_structure : (n_mols,) iterations each structure took (its own count in a batch).
    mu_atoms : (n,) effective chemical potentials mu_A = (dE/dw_A^- - dE/dw_A^+)/2, hartree.
    mu : (n_mols,) global chemical potential (mean of mu_A over the structure), hartree.
    active_bounds : counts of variables on their bounds (channels at 0, excited at 0, atoms with w0 ~ 0).
    trace : (iteration, total energy in hartree, max residual) per iteration.
    time_s : wall time of the solve.  message : the solver's message.
    """

    converged: np.ndarray
    residual: np.ndarray
    iterations: int
    iterations_per_structure: np.ndarray
    mu_atoms: Tensor
    mu: Tensor
    active_bounds: list[dict[str, int]]
    trace: list[tuple[int, float, float]] = field(default_factory=list)
    time_s: float = 0.0
    message: str = ""


def total_energy(weights: Tensor, amplitude: Tensor, geometry: PairGeometry, topo: BatchTopology,
                 tables: ModelTables, reservoir: Tensor | None = None, dipoles: Tensor | None = None) -> Tensor:
    """Sum of all registered terms over the batch (hartree)."""
    ctx = TermContext(weights, amplitude, geometry, topo, tables, reservoir=reservoir, dipoles=dipoles)
    return sum(out.per_atom.sum() for out in evaluate_terms(ctx).values())


class _Problem:
    """Packs latent coordinates into one vector for L-BFGS-B and evaluates energy + gradient."""

    def __init__(self, topo: BatchTopology, tables: ModelTables, geometry: PairGeometry) -> None:
        self.topo, self.tables, self.geometry = topo, tables, geometry
        self.n_ch, self.n = len(topo.ch_donor), topo.n_atoms
        charged_mol = topo.total_charge != 0
        self.charged_atoms = torch.nonzero(charged_mol[topo.mol]).flatten()
        self.n_res = len(self.charged_atoms)
        # atomic dipoles (docs/model.md section 11): 3 unbounded variables per atom when the set has them
        self.n_p = 3 * self.n if tables.has_dipoles and tables.params.polarizability_scale > 0 else 0
        self.dt, self.dev = topo.positions.dtype, topo.positions.device
        # atoms in a channel with beta > 0 have their minimum strictly inside w0 > 0 (infinite resonance slope at
        # w0 = 0); excluding w0 = 0 for them keeps the line search away from that singular face
        coupled = geometry.beta > 0
        self.interior = torch.zeros(self.n, dtype=torch.bool, device=self.dev)
        self.interior[topo.ch_donor[coupled]] = True
        self.interior[topo.ch_acceptor[coupled]] = True
        self.energy = EqualizationObjective(topo, tables, geometry)
        self.precondition = tables.params.precondition
        self.variable_group = self.groups()

    def pack(self, latent: Latent) -> Tensor:
        r = latent.reservoir[self.charged_atoms]
        theta = torch.log(torch.clamp(r, min=1e-12))
        p = latent.dipoles.reshape(-1) if self.n_p else latent.excited[:0]
        return torch.cat([latent.amplitude, latent.excited, p.to(latent.excited), theta]).detach().to(self.dt)

    def bounds(self) -> tuple[Tensor, Tensor]:
        kw = {"dtype": self.dt, "device": self.dev}
        n_box = self.n_ch + self.n
        lo = torch.cat([torch.zeros(n_box, **kw), torch.full((self.n_p,), -DIPOLE_BOUND, **kw),
                        torch.full((self.n_res,), -60.0, **kw)])
        hi = torch.cat([torch.ones(n_box, **kw), torch.full((self.n_p,), DIPOLE_BOUND, **kw),
                        torch.full((self.n_res,), 60.0, **kw)])
        return lo, hi

    def groups(self) -> Tensor:
        """Structure index of every variable."""
        t = self.topo
        p_mol = t.mol.repeat_interleave(3) if self.n_p else t.mol[:0]
        return torch.cat([t.mol[t.ch_donor], t.mol, p_mol, t.mol[self.charged_atoms]])

    def unpack(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """Channel amplitudes, excited weights, reservoir and atomic dipoles (None without them) of ``x``."""
        s = x[: self.n_ch]
        excited = x[self.n_ch : self.n_ch + self.n]
        start = self.n_ch + self.n
        dipoles = x[start : start + self.n_p].reshape(self.n, 3) if self.n_p else None
        reservoir = torch.zeros(self.n, dtype=x.dtype, device=x.device)
        if self.n_res:
            theta = x[start + self.n_p :]
            mol = self.topo.mol[self.charged_atoms]
            ex = torch.exp(theta - theta.detach().max())  # theta is bounded to +-60: no underflow in float64
            den = torch.zeros(self.topo.n_mols, dtype=x.dtype, device=x.device).index_add(0, mol, ex)
            r = self.topo.total_charge.abs()[mol] * ex / den[mol]
            reservoir = reservoir.index_put((self.charged_atoms,), r)
        return s, excited, reservoir, dipoles

    def objective(self, x: Tensor) -> Tensor:
        """(n_mols,) energy per structure; +inf for structures outside the feasible set (w0 < 0, or w0 = 0 on a
        coupled atom), which the line search rejects."""
        s, excited, reservoir, dipoles = self.unpack(x)
        w = latent_weights(s, excited, reservoir, self.topo)
        ctx = TermContext(w, s, self.geometry, self.topo, self.tables, totals_only=True, reservoir=reservoir,
                          dipoles=dipoles)
        per_atom = sum(out.per_atom for out in evaluate_terms(ctx).values())
        e = torch.zeros(self.topo.n_mols, dtype=x.dtype, device=x.device).index_add(0, self.topo.mol, per_atom)
        bad = self._infeasible(w)
        if bad is not None:
            e = torch.where(bad, torch.full_like(e, float("inf")), e)
        return e

    def autograd_value_and_grad(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Energy per structure and gradient by autograd through the decoder's terms (the reference that
        the analytic :meth:`__call__` is tested against)."""
        x = x.detach().requires_grad_(True)
        e = self.objective(x)
        finite = torch.isfinite(e)
        if not bool(finite.any()):
            return e.detach(), torch.zeros_like(x)
        (g,) = torch.autograd.grad(torch.where(finite, e, torch.zeros_like(e)).sum(), x)
        return e.detach(), g.detach()

    def __call__(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Energy per structure (+inf where infeasible) and its analytic gradient (zero for infeasible
        structures), from :class:`lsip.model.objective.EqualizationObjective`."""
        with torch.no_grad():
            s, excited, reservoir, dipoles = self.unpack(x)
            w = latent_weights(s, excited, reservoir, self.topo)
            e, grad_w, grad_s_direct, grad_r_direct, grad_p = self.energy(w, s, reservoir, dipoles)
            g_s, g_x, g_r, transfer = latent_gradient(grad_w, grad_s_direct, s, self.topo, grad_r_direct)
            parts = [g_s, g_x]
            if self.n_p:
                parts.append(grad_p.reshape(-1))
            if self.n_res:
                g_r = g_r[self.charged_atoms]
                r = reservoir[self.charged_atoms]
                mol = self.topo.mol[self.charged_atoms]
                mean = segment_sum(r * g_r, mol, self.topo.n_mols) / self.topo.total_charge.abs()
                parts.append(r * (g_r - mean[mol]))
            grad = torch.cat(parts)
            bad = self._infeasible(w)
            if bad is not None:
                e = torch.where(bad, torch.full_like(e, float("inf")), e)
                grad = torch.where(bad[self.variable_group], torch.zeros_like(grad), grad)
            if not self.precondition:
                return e, grad
            return e, grad, self._inverse_curvature(s, transfer, reservoir)

    def _inverse_curvature(self, s: Tensor, transfer: Tensor, reservoir: Tensor) -> Tensor:
        """Diagonal preconditioner of the solver: inverse estimates of d2E/dx2 (hartree^-1).

        A channel amplitude enters through c = s^2 in the weights (slope D = dE/dw+_A + dE/dw-_B, the cost of
        moving one electron from A to B), the correction c (1 - c) X and the resonance, linear in s, so
        d2E/ds2 ~ 2 (D + (1 - 6c) X); checked against finite differences of the gradient (median ratio 1.002 on
        a water cluster). It halves the condition number of the Hessian (15 -> 7 for water clusters) and
        with it the tail of the iterations (45 -> 34 energy evaluations for 3,000 atoms). Excited weights get a
        typical 2.5 hartree; a reservoir logit theta, r = |Q| softmax(theta), gets 2.5 (dr/dtheta)^2 so that
        nearly empty reservoir sites (flat in theta) still move.
        """
        c = s * s
        h_s = torch.clamp(2.0 * (transfer + (1.0 - 6.0 * c) * self.geometry.x_corr), min=1.0)
        parts = [1.0 / h_s, torch.full((self.n,), 1.0 / 2.5, dtype=s.dtype, device=s.device)]
        if self.n_p:  # d2E/dp2 ~ 1 / alpha: the exact inverse curvature of a neutral atom's dipole (a calibrated
            # set with a tiny polarizability scale, alpha ~ 1e-6 bohr^3, stalled at 2,000 iterations with a floor of
            # 1e-3 here: Na+...OH2 and Cl-...HOH at long range, residual 1e-5)
            alpha = torch.clamp(1.0 / inverse_polarizability(self.tables, self.topo.elem), max=100.0)
            parts.append(alpha.repeat_interleave(3))
        if self.n_res:
            r = reservoir[self.charged_atoms]
            q = self.topo.total_charge.abs()[self.topo.mol[self.charged_atoms]]
            dr = r * (1.0 - r / q)  # d r / d theta of the softmax
            parts.append(1.0 / torch.clamp(2.5 * dr * dr, min=0.01))
        return torch.cat(parts)

    def _infeasible(self, w: Tensor) -> Tensor | None:
        """(n_mols,) structures with w0 < 0 somewhere (or w0 = 0 on a coupled atom); None when all are fine."""
        w0 = w[:, 1]
        bad_atom = (w0 < 0) | (self.interior & (w0 <= 0))
        if not bool(bad_atom.any()):
            return None
        bad = torch.zeros(self.topo.n_mols, dtype=torch.bool, device=w.device)
        bad[self.topo.mol[bad_atom]] = True
        return bad


def encode(topo: BatchTopology, tables: ModelTables, geometry: PairGeometry, start: Latent,
           max_iter: int | None = None) -> tuple[Latent, EncoderReport]:
    """Solve the equalization for a batch from ``start``; returns the latent coordinates and a report."""
    t0 = time.perf_counter()
    p = tables.params
    prob = _Problem(topo, tables, geometry)
    lo, hi = prob.bounds()
    # 7 curvature pairs: with the preconditioner as few iterations as 10 on water clusters, and fewer line-search
    # failures on charged and ionic structures (measured on the gallery)
    def solve(x0: Tensor, limit_s: float) -> OptimizeResult:
        return projected_lbfgs(prob, x0, lo, hi, prob.groups(), topo.n_mols, tol=p.tol,
                               max_iter=max_iter or p.max_iter, memory=7, time_limit_s=limit_s)

    result = solve(prob.pack(start), p.time_limit_s)
    iterations, evaluations, trace, retried = result.iterations, result.evaluations, list(result.trace), ""
    left_s = p.time_limit_s - (time.perf_counter() - t0)
    if not bool(result.converged.all()) and not result.message.startswith("time limit") and left_s > 0:
        # A solve can stall a hair's breadth from w0 = 0, where the resonance's slope in w0 diverges (KCl at
        # 5.42 A from neutral atoms: w0 = 7e-13, residual 0.98). The solution is unique, so one restart from the
        # stalled point with the amplitudes of the stalled structures scaled by 0.9 (their w0 moved inward) reaches
        # it; the converged structures restart at their solution (docs/model.md 5).
        s0, excited0, reservoir0, dipoles0 = prob.unpack(result.x)
        stalled = ~result.converged[topo.mol[topo.ch_donor]]
        inward = prob.pack(Latent(torch.where(stalled, 0.9 * s0, s0), excited0, reservoir0, topo.ch_donor,
                                  topo.ch_acceptor, dipoles0))
        first = result
        result = solve(inward, left_s)
        iterations, evaluations, retried = iterations + result.iterations, evaluations + result.evaluations, \
            "; restarted once from the interior"
        trace += [(first.iterations + k, e, r) for k, e, r in result.trace]
        result.group_iterations = first.group_iterations + result.group_iterations
    s, excited, reservoir, dipoles = prob.unpack(result.x)
    latent = Latent(s, excited, reservoir, topo.ch_donor, topo.ch_acceptor, dipoles)
    residual = result.residual.cpu().numpy()
    converged = result.converged.cpu().numpy()
    mu_atoms, mu = chemical_potentials(latent, geometry, topo, tables, prob.energy)
    report = EncoderReport(
        converged=converged, residual=residual, iterations=iterations,
        iterations_per_structure=result.group_iterations.cpu().numpy(), mu_atoms=mu_atoms, mu=mu,
        active_bounds=_active_bounds(latent, topo), trace=trace, time_s=time.perf_counter() - t0,
        message=f"{result.message} ({evaluations} evaluations{retried})",
    )
    return latent, report


def chemical_potentials(latent: Latent, geometry: PairGeometry, topo: BatchTopology, tables: ModelTables,
                        objective: EqualizationObjective | None = None) -> tuple[Tensor, Tensor]:
    """mu_A = (dE/dw_A^- - dE/dw_A^+)/2 (hartree) and its per-structure mean.

    For a free atom this is -(I + A)/2 = -chi (Mulliken); at the solution the mu_A of atoms joined by
    populated channels are close to each other (equalization, up to the resonance and hardness terms).
    """
    objective = objective or EqualizationObjective(topo, tables, geometry)
    with torch.no_grad():
        w = latent_weights(latent.amplitude, latent.excited, latent.reservoir, topo)
        _, grad_u, _, _, _ = objective(w, latent.amplitude, latent.reservoir, _dipoles_or_none(latent, tables))
    mu_atoms = 0.5 * (grad_u[:, 1] - grad_u[:, 0])
    counts = torch.zeros(topo.n_mols, dtype=w.dtype, device=w.device).index_add(0, topo.mol, torch.ones_like(mu_atoms))
    mu = torch.zeros_like(counts).index_add(0, topo.mol, mu_atoms) / counts
    return mu_atoms, mu


def _dipoles_or_none(latent: Latent, tables: ModelTables) -> Tensor | None:
    """The latent's atomic dipoles when the parameter set has them, else None."""
    return latent.dipoles if tables.has_dipoles and tables.params.polarizability_scale > 0 else None


def _active_bounds(latent: Latent, topo: BatchTopology) -> list[dict[str, int]]:
    w = latent_weights(latent.amplitude, latent.excited, latent.reservoir, topo).detach()
    out = []
    mol_ch = topo.mol[topo.ch_donor]
    for m in range(topo.n_mols):
        sel_a, sel_c = topo.mol == m, mol_ch == m
        out.append({
            "channels_at_zero": int((latent.amplitude[sel_c] <= 1e-12).sum()),
            "excited_at_zero": int((latent.excited[sel_a] <= 1e-12).sum()),
            "neutral_weight_at_zero": int((w[sel_a, 1] <= 1e-9).sum()),
        })
    return out
