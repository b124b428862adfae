"""The physical encoder: geometry (+ total charge) -> latent coordinates by chemical-potential equalization.

Minimises the decoder energy E(z) over the latent coordinates z of :mod:`lsip.model.latent` subject to
s_AB >= 0, 0 <= w^* <= 1, r >= 0 with sum r = |Q| (a softmax parametrisation makes the reservoir constraint
exact) and w^0 >= 0 (kept by the resonance term, whose slope in w^0 is infinite at w^0 = 0, plus a stiff
quadratic penalty that is zero at every feasible point). The bound-constrained problem is solved with
L-BFGS-B (scipy) on the concatenated batch; the energy and its gradient are torch (CPU or GPU).

Convergence is judged per structure by the KKT residual: the infinity norm of the projected gradient
|P(z - grad E) - z| (hartree per unit occupation). A structure whose residual exceeds ``params.tol`` is
reported as not converged; :meth:`lsip.model.model.LSIPModel.predict` raises unless asked not to.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
import torch
from torch import Tensor

from lsip.model.latent import Latent, latent_weights
from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.model.terms import PairGeometry, TermContext, evaluate_terms

_PENALTY = 10.0  # hartree per (unit negative w0)^2


@dataclass
class EncoderReport:
    """Solver diagnostics for a batch.

    Attributes
    ----------
    converged : (n_mols,) bool.  residual : (n_mols,) KKT residual, hartree.  iterations : solver iterations.
    mu_atoms : (n,) effective chemical potentials mu_A = (dE/dw_A^- - dE/dw_A^+)/2, hartree.
    mu : (n_mols,) global chemical potential (mean of mu_A over the structure), hartree.
    active_bounds : counts of variables on their bounds (channels at 0, excited at 0, atoms with w0 ~ 0).
    trace : (iteration, total energy in hartree, max residual) per iteration.
    time_s : wall time of the solve.  message : the solver's message.
    """

    converged: np.ndarray
    residual: np.ndarray
    iterations: int
    mu_atoms: Tensor
    mu: Tensor
    active_bounds: list[dict[str, int]]
    trace: list[tuple[int, float, float]] = field(default_factory=list)
    time_s: float = 0.0
    message: str = ""


def total_energy(weights: Tensor, amplitude: Tensor, geometry: PairGeometry, topo: BatchTopology,
                 tables: ModelTables) -> Tensor:
    """Sum of all registered terms over the batch (hartree)."""
    ctx = TermContext(weights, amplitude, geometry, topo, tables)
    return sum(out.per_atom.sum() for out in evaluate_terms(ctx).values())


class _Problem:
    """Packs latent coordinates into one vector for L-BFGS-B and evaluates energy + gradient."""

    def __init__(self, topo: BatchTopology, tables: ModelTables, geometry: PairGeometry) -> None:
        self.topo, self.tables, self.geometry = topo, tables, geometry
        self.n_ch, self.n = len(topo.ch_donor), topo.n_atoms
        charged_mol = topo.total_charge != 0
        self.charged_atoms = torch.nonzero(charged_mol[topo.mol]).flatten()
        self.n_res = len(self.charged_atoms)
        self.dt, self.dev = topo.positions.dtype, topo.positions.device

    def pack(self, latent: Latent) -> np.ndarray:
        r = latent.reservoir[self.charged_atoms]
        theta = torch.log(torch.clamp(r, min=1e-12))
        return torch.cat([latent.amplitude, latent.excited, theta]).detach().cpu().numpy().astype(np.float64)

    def bounds(self) -> scipy.optimize.Bounds:
        n_box = self.n_ch + self.n
        lo = np.concatenate([np.zeros(n_box), np.full(self.n_res, -60.0)])
        hi = np.concatenate([np.ones(n_box), np.full(self.n_res, 60.0)])
        return scipy.optimize.Bounds(lo, hi)

    def unpack(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        s = x[: self.n_ch]
        excited = x[self.n_ch : self.n_ch + self.n]
        reservoir = torch.zeros(self.n, dtype=x.dtype, device=x.device)
        if self.n_res:
            theta = x[self.n_ch + self.n :]
            mol = self.topo.mol[self.charged_atoms]
            ex = torch.exp(theta - theta.detach().max())  # theta is bounded to +-60: no underflow in float64
            den = torch.zeros(self.topo.n_mols, dtype=x.dtype, device=x.device).index_add(0, mol, ex)
            r = self.topo.total_charge.abs()[mol] * ex / den[mol]
            reservoir = reservoir.index_put((self.charged_atoms,), r)
        return s, excited, reservoir

    def objective(self, x: Tensor) -> Tensor:
        s, excited, reservoir = self.unpack(x)
        w = latent_weights(s, excited, reservoir, self.topo)
        e = total_energy(w, s, self.geometry, self.topo, self.tables)
        return e + _PENALTY * torch.clamp(-w[:, 1], min=0.0).pow(2).sum()

    def __call__(self, x_np: np.ndarray) -> tuple[float, np.ndarray]:
        x = torch.tensor(x_np, dtype=self.dt, device=self.dev, requires_grad=True)
        e = self.objective(x)
        (g,) = torch.autograd.grad(e, x)
        return float(e.detach()), g.detach().cpu().numpy().astype(np.float64)

    def residuals(self, x_np: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Per-structure KKT residual (infinity norm of the projected gradient)."""
        b = self.bounds()
        lo, hi = b.lb, b.ub
        pg = np.abs(np.clip(x_np - g, lo, hi) - x_np)
        pg[self.n_ch + self.n :] = np.abs(g[self.n_ch + self.n :])
        owner = np.concatenate([self.topo.mol[self.topo.ch_donor].cpu().numpy(), self.topo.mol.cpu().numpy(),
                                self.topo.mol[self.charged_atoms].cpu().numpy()])
        res = np.zeros(self.topo.n_mols)
        np.maximum.at(res, owner, pg)
        return res


def encode(topo: BatchTopology, tables: ModelTables, geometry: PairGeometry, start: Latent,
           max_iter: int | None = None) -> tuple[Latent, EncoderReport]:
    """Solve the equalization for a batch from ``start``; returns the latent coordinates and a report."""
    t0 = time.perf_counter()
    p = tables.params
    prob = _Problem(topo, tables, geometry)
    x0 = prob.pack(start)
    trace: list[tuple[int, float, float]] = []
    n_var = len(x0)
    if n_var == 0:
        x, message, nit = x0, "no latent variables (free atoms)", 0
    else:
        def callback(intermediate_result: scipy.optimize.OptimizeResult) -> None:
            trace.append((len(trace) + 1, float(intermediate_result.fun), float("nan")))

        res = scipy.optimize.minimize(
            prob, x0, jac=True, method="L-BFGS-B", bounds=prob.bounds(), callback=callback,
            options={"maxiter": max_iter or p.max_iter, "maxcor": 10, "ftol": 1e-16, "gtol": 0.2 * p.tol,
                     "maxls": 40},
        )
        x, message, nit = res.x, str(res.message), int(res.nit)
    _, g = prob(x) if n_var else (0.0, x0)
    residual = prob.residuals(x, g) if n_var else np.zeros(topo.n_mols)
    if trace:
        trace[-1] = (trace[-1][0], trace[-1][1], float(residual.max()))
    xt = torch.tensor(x, dtype=prob.dt, device=prob.dev)
    s, excited, reservoir = prob.unpack(xt)
    latent = Latent(s, excited, reservoir, topo.ch_donor, topo.ch_acceptor)
    mu_atoms, mu = chemical_potentials(latent, geometry, topo, tables)
    report = EncoderReport(
        converged=residual <= p.tol, residual=residual, iterations=nit, mu_atoms=mu_atoms, mu=mu,
        active_bounds=_active_bounds(latent, topo), trace=trace, time_s=time.perf_counter() - t0, message=message,
    )
    return latent, report


def chemical_potentials(latent: Latent, geometry: PairGeometry, topo: BatchTopology,
                        tables: ModelTables) -> tuple[Tensor, Tensor]:
    """mu_A = (dE/dw_A^- - dE/dw_A^+)/2 (hartree) and its per-structure mean.

    For a free atom this is -(I + A)/2 = -chi (Mulliken); at the solution the mu_A of atoms joined by
    populated channels are close to each other (equalization, up to the resonance and hardness terms).
    """
    w = latent_weights(latent.amplitude, latent.excited, latent.reservoir, topo).detach().requires_grad_(True)
    e = total_energy(w, latent.amplitude.detach(), geometry, topo, tables)
    (gw,) = torch.autograd.grad(e, w)
    mu_atoms = 0.5 * (gw[:, 2] - gw[:, 0])
    counts = torch.zeros(topo.n_mols, dtype=w.dtype, device=w.device).index_add(0, topo.mol, torch.ones_like(mu_atoms))
    mu = torch.zeros_like(counts).index_add(0, topo.mol, mu_atoms) / counts
    return mu_atoms.detach(), mu.detach()


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
