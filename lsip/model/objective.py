"""The encoder's objective with an analytic gradient: E(w, s) and dE/dw, dE/ds for fixed geometry.

The decoder's terms (:mod:`lsip.model.terms`) are written for autograd, which is what forces and the per-atom
partition need. The equalization solver, however, evaluates the energy and its gradient in the latent
coordinates 40-100 times per geometry, and there a hand-derived gradient avoids building and walking an
autograd graph every time (2.3-2.8x faster from 30 to 3,000 atoms, docs/benchmarks.md). The energy is
the same sum (``tests/model/test_objective.py`` compares value and gradient with autograd):

    E = sum_A [w_A . L_A]                          state:   L = (I, 0, -A, eps)
      + q^T J q / 2                                point-charge Coulomb,   q = w+ - w-
      + sum_{A<B} w_A^T V_AB w_B                   penetration
      + sum_AB c (1 - c) X_AB                      configuration correction (per channel)
      - 2 sum_AB beta s (w0_A w0_B)^(1/4)          resonance (per channel, s = sqrt(c))
      + sum_A sum_k w_Ak F_Ak(rho_bar_A)           embedding, rho_bar_A = sum_B rho_at_A(B) . w_B
      + T_e sum_A sum_k w ln w                     entropy (when T_e > 0)
      + every other registered term              through its own ``solver=`` part or autograd
                                                   (:meth:`EqualizationObjective.extra_terms`)
      + constant pair repulsion (no latent dependence, left out of the gradient, kept in the value)

The gradient is taken in the three free weights u_A = (w+, w-, w*) with w0 = 1 - w+ - w- - w*, i.e.
w = e0 + D u (e0 the neutral state): these are what the chain rule to the latent coordinates needs
(:func:`latent_gradient`), and the pair operators shrink from 4 x 4 to 3 x 3 blocks. With C_AB = D^T V_AB D,
k_A = sum_B D^T V_AB e0 and the pairs assembled once per geometry into block-sparse operators
(:class:`lsip.physics.blocksparse.BlockSparseOperator`):

    E_pen = sum_{A<B} V_AB^00 + sum_A u_A . k_A + 1/2 sum_AB u_A . C_AB u_B,
    dE/du_A = D^T L_A + (J q)_A (1, -1, 0) + k_A + sum_B C_AB u_B + D^T F_A(rho_bar_A)
              + sum_B h_B D^T rho_at_B(A) - dE_res/dw0_A (1, 1, 1) + T_e D^T (ln w_A + 1),
    h_B = sum_k w_Bk F'_Bk(rho_bar_B),   rho_bar_A = sum_B rho_at_A(B) . (e0 + D u_B),
    dE/ds|_w = -2 beta (w0_A w0_B)^(1/4) + 2 s (1 - 2c) X.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.model.terms import ANI, CAT, ENERGY_TERMS, EXC, NEU, EnergyTerm, PairGeometry, SolverPart, TermContext
from lsip.physics.blocksparse import BlockSparseOperator
from lsip.physics.optimize import segment_sum
from lsip.physics.resonance import W_FLOOR

#: w = e0 + D u with u = (w+, w-, w*): columns of D are the derivatives of (w+, w0, w-, w*) by u
_FREE = (CAT, ANI, EXC)
_D = ((1.0, 0.0, 0.0), (-1.0, -1.0, -1.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


def _free_part(v: Tensor) -> Tensor:
    """D^T v for v (..., 4) on the state axis: (v+ - v0, v- - v0, v* - v0), shape (..., 3)."""
    return v @ torch.tensor(_D, dtype=v.dtype, device=v.device)


class EqualizationObjective:
    """E(w, s) per structure with its gradient, for one fixed (detached) geometry.

    Parameters
    ----------
    topo : batch topology.  tables : model tables.  geometry : detached :class:`PairGeometry`.
    backend : of the pair operators, see :class:`BlockSparseOperator` ("auto": scipy on the CPU).
    """

    def __init__(self, topo: BatchTopology, tables: ModelTables, geometry: PairGeometry,
                 backend: str = "auto") -> None:
        self.topo, self.tables, self.geometry = topo, tables, geometry
        t, e, n = tables, topo.elem, topo.n_atoms
        self.linear_u = torch.stack([t.I[e], -t.A[e], t.eps[e]], dim=-1)
        self.mol_ch = topo.mol[topo.ch_donor]
        self.minus_2beta, self.x_corr = -2.0 * geometry.beta, geometry.x_corr
        self.temperature = tables.params.electronic_temperature
        zeros = torch.zeros(topo.n_mols, dtype=t.dtype, device=t.device)
        i, j = topo.sr_i, topo.sr_j
        self.constant = zeros
        self.field_const = torch.zeros(n, 4, dtype=t.dtype, device=t.device)
        if len(i):
            v = geometry.v_sr
            mol_pair = topo.mol[i]
            self.constant = segment_sum(v[:, NEU, NEU] + geometry.repulsion, mol_pair, topo.n_mols)
            # directed pairs A <- B: (i <- j) with V, rho_at_i and (j <- i) with V^T, rho_at_j
            row, col = torch.cat([i, j]), torch.cat([j, i])
            c_ij = _free_part(_free_part(v).transpose(1, 2)).transpose(1, 2)  # D^T V D (P, 3, 3)
            rho_i, rho_j = _free_part(geometry.rho_at_i), _free_part(geometry.rho_at_j)  # (P, 3)
            blocks = torch.cat([torch.cat([c_ij, rho_i[:, None, :]], dim=1),
                                torch.cat([c_ij.transpose(1, 2), rho_j[:, None, :]], dim=1)])  # (2P, 4, 3)
            self.pair_op = BlockSparseOperator(row, col, blocks, n, n, backend)
            self.density_back = BlockSparseOperator(col, row, torch.cat([rho_i, rho_j])[:, :, None], n, n, backend)
            const_i = torch.cat([_free_part(v[:, :, NEU]), geometry.rho_at_i[:, NEU, None]], dim=1)  # (P, 4)
            const_j = torch.cat([_free_part(v[:, NEU, :]), geometry.rho_at_j[:, NEU, None]], dim=1)
            self.field_const.index_add_(0, i, const_i).index_add_(0, j, const_j)

    def __call__(self, w: Tensor, s: Tensor, reservoir: Tensor | None = None,
                 dipoles: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Energy per structure (n_mols,), dE/du (n, 3), dE/ds at fixed w (n_ch,), dE/dr at fixed w (n,) and
        dE/dp (n, 3); hartree. The fused core terms plus :meth:`extra_terms`."""
        energy, grad, grad_s = self._core(w, s)
        e_x, g_w, g_s, g_r, g_p = self.extra_terms(w, s, reservoir, dipoles)
        return energy + e_x, grad + _free_part(g_w), grad_s + g_s, g_r, g_p

    def extra_terms(self, w: Tensor, s: Tensor, reservoir: Tensor | None,
                    dipoles: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Sum of the registered non-core terms: energy (n_mols,), dE/dw (n, 4), dE/ds (n_ch,), dE/dr (n,),
        dE/dp (n, 3).

        A term's ``solver=`` part gives its value and gradient; a term without one is differentiated by autograd
        through its energy function (w, s, r and p treated as independent, like the analytic parts).
        """
        topo = self.topo
        r = reservoir if reservoir is not None else torch.zeros(topo.n_atoms, dtype=w.dtype, device=w.device)
        energy = torch.zeros(topo.n_mols, dtype=w.dtype, device=w.device)
        g_w, g_s, g_r = torch.zeros_like(w), torch.zeros_like(s), torch.zeros_like(r)
        g_p = torch.zeros(topo.n_atoms, 3, dtype=w.dtype, device=w.device)
        for term in ENERGY_TERMS.values():
            if term.core or not term.active(self.tables.params):
                continue
            if term.solver is not None:
                ctx = TermContext(w, s, self.geometry, topo, self.tables, totals_only=True, reservoir=r,
                                  dipoles=dipoles)
                part = term.solver(ctx)
            else:
                part = _autograd_part(term, w, s, r, self.geometry, topo, self.tables, dipoles)
            energy = energy + part.energy
            for acc, g in ((g_w, part.grad_w), (g_s, part.grad_s), (g_r, part.grad_r), (g_p, part.grad_p)):
                if g is not None:
                    acc += g
        return energy, g_w, g_s, g_r, g_p

    def _core(self, w: Tensor, s: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The fused core terms: energy per structure (n_mols,), dE/du (n, 3), dE/ds at fixed w (n_ch,)."""
        topo, g = self.topo, self.geometry
        u = w[:, list(_FREE)]
        q = u[:, 0] - u[:, 1]
        pairs = len(topo.sr_i) > 0
        # the pair products (scipy, a worker thread on the CPU) overlap the torch work: Coulomb and channels
        pending = self.pair_op.apply_async(u) if pairs else None
        phi = g.coulomb.apply(q)
        e_ch, grad_s, d_w0 = self._channels(w, s)
        field = self.field_const + pending.result() if pairs else self.field_const
        pen, rho_bar = field[:, :3], field[:, 3]
        f_emb, df_emb = self.tables.embedding_with_slope(topo.elem, rho_bar)
        pending = self.density_back.apply_async((w * df_emb).sum(-1, keepdim=True)) if pairs else None
        e_atom = (u * (self.linear_u + 0.5 * (pen + self.field_const[:, :3]))).sum(-1) + 0.5 * q * phi \
            + (w * f_emb).sum(-1)
        grad = self.linear_u + pen + _free_part(f_emb) - d_w0[:, None]
        grad[:, 0] += phi
        grad[:, 1] -= phi
        if self.temperature > 0.0:
            wc = torch.clamp(w, min=1e-300)
            e_atom = e_atom + self.temperature * (wc * torch.log(wc)).sum(-1)
            d_w = torch.where(w > 1e-300, torch.log(wc) + 1.0, torch.zeros_like(w))
            grad += self.temperature * _free_part(d_w)
        if pending is not None:
            grad += pending.result()
        energy = segment_sum(e_atom, topo.mol, topo.n_mols) + segment_sum(e_ch, self.mol_ch, topo.n_mols)
        return energy + self.constant, grad, grad_s

    def _channels(self, w: Tensor, s: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-channel energies (configuration correction + resonance), dE/ds at fixed w, and the resonance's
        dE/dw0 per atom (n,)."""
        topo = self.topo
        d_w0 = torch.zeros(topo.n_atoms, dtype=w.dtype, device=w.device)
        if not len(s):
            return s, s, d_w0
        c = s * s
        # (w0 + floor)^(1/4) once per atom, then gathered per channel
        w0 = torch.clamp(w[:, NEU], min=0.0) + W_FLOOR
        root = torch.pow(w0, 0.25)
        coupling = root[topo.ch_donor].mul_(root[topo.ch_acceptor]).mul_(self.minus_2beta)  # -2 beta roots
        e_res = coupling * s
        x_c = self.x_corr * c
        e_ch = x_c - x_c * c + e_res  # c (1 - c) X + resonance
        grad_s = (self.x_corr - 2.0 * x_c).mul_(2.0 * s).add_(coupling)  # 2 s (1 - 2c) X - 2 beta roots
        # d root / d w0 = root / (4 (w0 + floor)): the resonance energy of every channel of an atom, summed, times
        # 1 / (4 w0); zero on the clamped side w0 <= 0 (as autograd of clamp gives)
        d_w0.index_add_(0, topo.ch_donor, e_res).index_add_(0, topo.ch_acceptor, e_res)
        d_w0 = torch.where(w[:, NEU] > 0, 0.25 * d_w0 / w0, torch.zeros_like(d_w0))
        return e_ch, grad_s, d_w0


def _autograd_part(term: EnergyTerm, w: Tensor, s: Tensor, r: Tensor, geometry: PairGeometry,
                   topo: BatchTopology, tables: ModelTables, dipoles: Tensor | None = None) -> SolverPart:
    """A term's solver part by autograd through its energy function (the generic path)."""
    with torch.enable_grad():
        p = dipoles if dipoles is not None else torch.zeros(topo.n_atoms, 3, dtype=w.dtype, device=w.device)
        leaves = [x.detach().requires_grad_(True) for x in (w, s, r, p)]
        ctx = TermContext(leaves[0], leaves[1], geometry, topo, tables, totals_only=True, reservoir=leaves[2],
                          dipoles=leaves[3] if dipoles is not None else None)
        per_atom = term.func(ctx).per_atom
        energy = segment_sum(per_atom, topo.mol, topo.n_mols)
        if not energy.requires_grad:  # the term does not read the latent coordinates here (e.g. no pairs)
            return SolverPart(energy.detach())
        grads = torch.autograd.grad(energy.sum(), leaves, allow_unused=True)
    return SolverPart(energy.detach(), *(None if g is None else g.detach() for g in grads))


def latent_gradient(grad_u: Tensor, grad_s_direct: Tensor, amplitude: Tensor, topo: BatchTopology,
                    grad_r_direct: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Chain rule from dE/du (n, 3), u = (w+, w-, w*), to the independent coordinates of
    :func:`lsip.model.latent.latent_weights`.

    w+_A = sum_B s_AB^2 (+ r_A), w-_B = sum_A s_AB^2 (+ r_B), w*_A = x_A, hence
    dE/ds_AB = dE/ds|_w + 2 s_AB (dE/dw+_A + dE/dw-_B), dE/dx_A = dE/dw*_A and
    dE/dr_A = dE/dw+_A (Q > 0) or dE/dw-_A (Q < 0), plus the direct dE/dr of terms that read r.

    Returns
    -------
    dE/ds (n_ch,), dE/dx (n,), dE/dr (n,), and the transfer cost dE/dw+_A + dE/dw-_B of each channel (n_ch,)
    (hartree per electron moved from A to B; the solver's preconditioner uses it).
    """
    d_plus, d_minus, g_x = grad_u.unbind(-1)
    transfer = d_plus[topo.ch_donor] + d_minus[topo.ch_acceptor]
    g_s = grad_s_direct + 2.0 * amplitude * transfer
    sign = torch.sign(topo.total_charge)[topo.mol]
    g_r = torch.where(sign > 0, d_plus, torch.where(sign < 0, d_minus, torch.zeros_like(d_plus)))
    if grad_r_direct is not None:
        g_r = g_r + grad_r_direct
    return g_s, g_x, g_r, transfer
