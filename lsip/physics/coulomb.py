"""Electrostatics of atoms made of a point nucleus and a sum of normalised s-Gaussian electron clouds.

A state k of atom A is the charge distribution n_k(r) = Z delta(r) - sum_i c_i g_{a_i}(r), with
g_a(r) = (a / pi)^(3/2) exp(-a r^2) (one electron each) and sum_i c_i = N_k. The interaction of two such
distributions at distance R splits exactly into a point-charge part and a short-range *penetration*
remainder (docs/model.md section 3, Electrostatics):

    U^{kl}(R) = q_k q_l / R + V^{kl}(R),   q = Z - N,
    V^{kl}(R) = [ Z_A sum_j c_j erfc(sqrt(b_j) R) + Z_B sum_i c_i erfc(sqrt(a_i) R)
                  - sum_ij c_i c_j erfc(sqrt(a_i b_j / (a_i + b_j)) R) ] / R,

using int g_a(r) / |r - R| = erf(sqrt(a) R) / R and the Gaussian-Gaussian Coulomb integral
erf(sqrt(a b / (a + b)) R) / R. V decays like a Gaussian, so it lives on a neighbour list.

The point-charge part is summed exactly for small systems and with the damped shifted force (DSF) kernel of
Fennell and Gezelter, J. Chem. Phys. 124, 234104 (2006) beyond a documented size (:func:`dsf_kernel`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


def penetration_potential(
    z_a: float, c_a: Tensor, a_a: Tensor, z_b: float, c_b: Tensor, a_b: Tensor, r: Tensor
) -> Tensor:
    """Short-range remainder V^{kl}(R) of the interaction of two nucleus + Gaussian-cloud atoms.

    Parameters
    ----------
    z_a, z_b : nuclear charges, e.
    c_a, a_a : (Ga,) electron counts and exponents (bohr^-2) of the Gaussians of atom A's state.
    c_b, a_b : (Gb,) same for atom B's state.
    r : (M,) distances, bohr (> 0).

    Returns
    -------
    (M,) V(R), hartree. ``V + q_a q_b / R`` is the full interaction.

    Examples
    --------
    Two bare protons' clouds: a hydrogen atom made of one Gaussian interacting with a proton (z_b = 1, no
    electrons) at large R feels nothing (neutral atom):

    >>> import torch
    >>> one = torch.ones(1, dtype=torch.float64)
    >>> v = penetration_potential(1.0, one, one, 1.0, one[:0], one[:0], torch.tensor([20.0], dtype=torch.float64))
    >>> abs(float(v)) < 1e-12
    True
    """
    r = r[:, None]
    term = z_a * (c_b * torch.erfc(torch.sqrt(a_b) * r)).sum(-1)
    term = term + z_b * (c_a * torch.erfc(torch.sqrt(a_a) * r)).sum(-1)
    mu = a_a[:, None] * a_b[None, :] / (a_a[:, None] + a_b[None, :])
    cc = c_a[:, None] * c_b[None, :]
    ee = (cc * torch.erfc(torch.sqrt(mu) * r[:, :, None])).sum((-1, -2))
    return (term - ee) / r[:, 0]


def dsf_kernel(r: Tensor, alpha: float, r_cut: float) -> Tensor:
    """Damped shifted force pair kernel (Fennell & Gezelter 2006) in atomic units.

    f(r) = erfc(a r)/r - erfc(a rc)/rc + (erfc(a rc)/rc^2 + 2a/sqrt(pi) exp(-a^2 rc^2)/rc) (r - rc),
    zero beyond rc; f and f' vanish at rc. The pair energy is q_A q_B f(r).

    Parameters
    ----------
    r : (...) distances, bohr.
    alpha : damping, bohr^-1.
    r_cut : cut-off, bohr.
    """
    erfc_c = math.erfc(alpha * r_cut)
    shift = erfc_c / r_cut
    slope = erfc_c / r_cut**2 + 2 * alpha / math.sqrt(math.pi) * math.exp(-(alpha * r_cut) ** 2) / r_cut
    f = torch.erfc(alpha * r) / r - shift + slope * (r - r_cut)
    return torch.where(r < r_cut, f, torch.zeros_like(f))


class DensePotential(torch.autograd.Function):
    """v = J q for a dense block J_AB = 1/R_AB (zero diagonal), with a hand-written backward.

    Autograd through ``cdist`` would keep several m x m intermediates per block and walk them again for the
    forces; here J is formed once without a graph and the backward uses J^3 = 1/R^3:

        d(g . J q)/dR_A = -sum_B (g_A q_B + g_B q_A) (R_A - R_B) / R_AB^3
                        = -g_A [(J^3 q)_A R_A - (J^3 (q R))_A] - q_A [(J^3 g)_A R_A - (J^3 (g R))_A],

    one m x m x 8 product. Inputs: positions (m, 3) bohr, q (m,) e, J (m, m) from
    :func:`dense_coulomb_matrix` (a constant, no gradient). Output (m,) hartree / e.
    """

    @staticmethod
    def forward(ctx: object, positions: Tensor, q: Tensor, j: Tensor) -> Tensor:
        ctx.save_for_backward(positions, q, j)
        return j @ q

    @staticmethod
    @once_differentiable
    def backward(ctx: object, grad: Tensor) -> tuple[Tensor | None, Tensor | None, None]:
        positions, q, j = ctx.saved_tensors
        grad_q = j @ grad if ctx.needs_input_grad[1] else None
        grad_pos = None
        if ctx.needs_input_grad[0]:
            rhs = torch.cat([q[:, None], q[:, None] * positions, grad[:, None], grad[:, None] * positions], dim=1)
            m = torch.empty_like(rhs)
            for start in range(0, j.shape[0], 256):  # J^3 by row blocks: no m x m temporary
                block = j[start : start + 256]
                m[start : start + 256] = (block * block * block) @ rhs
            grad_pos = -(grad[:, None] * (m[:, 0:1] * positions - m[:, 1:4])
                         + q[:, None] * (m[:, 4:5] * positions - m[:, 5:8]))
        return grad_pos, grad_q, None


class CoulombOperator:
    """The point-charge interaction matrix J of a batch, applied as J q without forming N x N for large N.

    Finite structures up to a documented size are exact dense blocks J_AB = 1/R_AB (zero diagonal); the rest
    are sparse pair lists with the DSF kernel. The point-charge energy is q^T J q / 2, and its per-atom
    share q_A (J q)_A / 2 is the half-and-half split of every pair energy.

    Parameters
    ----------
    blocks : list of (start, positions, J) dense blocks: atoms start..start+m-1, their positions (m, 3) bohr
        (carrying the autograd graph for forces) and J (m, m) hartree/e^2 (a constant, see
        :class:`DensePotential`).
    pair_i, pair_j, kernel : (P,) sparse pairs and their kernel values (each unordered pair once).
    n_atoms : total atoms of the batch.
    self_term : (n,) diagonal J_AA (the DSF self energy -2 (erfc(a rc) / (2 rc) + a / sqrt(pi)) for atoms of
        DSF structures, 0 elsewhere), or None.
    """

    def __init__(self, blocks: list[tuple[int, Tensor, Tensor]], pair_i: Tensor, pair_j: Tensor, kernel: Tensor,
                 n_atoms: int, self_term: Tensor | None = None) -> None:
        self.blocks, self.pair_i, self.pair_j, self.kernel, self.n_atoms = blocks, pair_i, pair_j, kernel, n_atoms
        self.self_term = self_term

    @classmethod
    def dense(cls, positions: Tensor) -> CoulombOperator:
        """Exact operator of one finite structure (positions (m, 3) bohr)."""
        empty = torch.zeros(0, dtype=torch.long, device=positions.device)
        return cls([(0, positions, dense_coulomb_matrix(positions))], empty, empty,
                   torch.zeros(0, dtype=positions.dtype, device=positions.device), positions.shape[0])

    def detach(self) -> CoulombOperator:
        """A copy without autograd graph."""
        return CoulombOperator([(s, x.detach(), j) for s, x, j in self.blocks], self.pair_i, self.pair_j,
                               self.kernel.detach(), self.n_atoms,
                               None if self.self_term is None else self.self_term.detach())

    def apply(self, q: Tensor) -> Tensor:
        """(n,) potential J q at every atom, hartree/e."""
        parts = []
        pos = 0
        for start, x, j in self.blocks:
            if start > pos:
                parts.append(torch.zeros(start - pos, dtype=q.dtype, device=q.device))
            q_block = q[start : start + j.shape[0]]
            if torch.is_grad_enabled() and (x.requires_grad or q_block.requires_grad):
                parts.append(DensePotential.apply(x, q_block, j))
            else:
                parts.append(j @ q_block)
            pos = start + j.shape[0]
        if pos < self.n_atoms:
            parts.append(torch.zeros(self.n_atoms - pos, dtype=q.dtype, device=q.device))
        v = torch.cat(parts) if parts else torch.zeros_like(q)
        if len(self.pair_i):
            v = v.index_add(0, self.pair_i, self.kernel * q[self.pair_j])
            v = v.index_add(0, self.pair_j, self.kernel * q[self.pair_i])
        if self.self_term is not None:
            v = v + self.self_term * q
        return v


def dsf_self_term(alpha: float, r_cut: float) -> float:
    """Diagonal J_AA of the DSF sum: the self energy -(erfc(a rc) / (2 rc) + a / sqrt(pi)) q_A^2 = J_AA q_A^2 / 2."""
    return -2.0 * (math.erfc(alpha * r_cut) / (2 * r_cut) + alpha / math.sqrt(math.pi))


def dense_coulomb_matrix(positions: Tensor) -> Tensor:
    """(m, m) 1/R_AB with a zero diagonal (bohr in, hartree/e^2 out), formed without an autograd graph (the
    gradient goes through :class:`DensePotential`)."""
    with torch.no_grad():
        r = torch.cdist(positions, positions)
        r.fill_diagonal_(1.0)
        j = r.reciprocal_()
        j.fill_diagonal_(0.0)
    return j
