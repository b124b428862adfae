"""Hybrid-orthogonality repulsion: the directional part of covalent bonding (docs/model.md section 10.8).

The pairing term (section 10.2) counts bonds but not their directions, so nothing but the hydrogens' own
interactions fixes a bond angle. A sigma bond of atom A to B uses a valence hybrid h_AB = sqrt(s_A) s +
sqrt(1 - s_A) (u_AB . p); two such hybrids overlap by

    g_ABC = s_A + (1 - s_A) u_AB . u_AC,

and non-orthogonal bond pairs on one atom pay an exchange (Pauli) cost quadratic in their overlap. The term is

    E = sum_A o_A kappa_h I_A sum_{B<C} x_AB x_AC g_ABC^2,    o_A = sum_k w_A^k [f_{A,k} > 0],

with x_AB the sigma part of the valence-limited bond order (min(b_AB, 1), smoothed, and switched off between
:data:`ANGULAR_ON` and :data:`ANGULAR_OFF` bohr) and the s share of A's sigma hybrids from Bent's rule,
s_A = 1 / (n_sigma,A + t n_lp,A) (n_sigma = sum_B x_AB, n_lp the neutral atom's lone pairs, t the lone pairs'
weight, per period); hydrogen has no valence p shell (s_H = 1). o_A is the weight of A's states that hold bonding
hybrids: the neutral atom, and the ions with unpaired valence electrons (O- in water's O- H+ resonance form, N+
in NH4+); closed shells (H+, Li+, F-, Cl-) have none, so ionic bonds pay nothing.
Its minimum, g = 0, is the Coulson angle cos(theta) = -s / (1 - s): 109.5 degrees for CH4 (s = 1/4), 120 for BF3,
180 for BeH2 and CO2's carbon (two sigma bonds), and for water and H2S as t says. Like the other physics-v2
terms it shifts state energies by a function of the geometry only (linear in the weights: the equalization stays
convex); off (exactly zero, not evaluated) when ``hybrid_repulsion`` is 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from lsip.model.bond_order import SIGMA_SMOOTHING, sigma_order
from lsip.model.bonding import register_shift_term
from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.model.terms import PairGeometry
from lsip.physics.neighbors import pair_vectors
from lsip.physics.switching import cosine_switch

#: The bond-pair list of an atom: channels shorter than ANGULAR_OFF bohr (3.4 A), their sigma bond orders switched
#: off smoothly from ANGULAR_ON (2.9 A); every bond of the data (K-Cl 2.7 A) lies inside.
ANGULAR_ON, ANGULAR_OFF = 5.5, 6.5


def smooth_max1(x: Tensor, eps: float = SIGMA_SMOOTHING) -> Tensor:
    """max(x, 1) with the corner rounded over ~eps."""
    return 0.5 * (x + 1.0 + torch.sqrt((x - 1.0) ** 2 + eps * eps))


def bond_pairs(donor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (a, b), a < b, of positions in ``donor`` that share the same atom (any order of ``donor``).

    >>> [x.tolist() for x in bond_pairs(np.array([0, 1, 0, 0, 1]))]
    [[0, 0, 2, 1], [2, 3, 3, 4]]
    """
    order = np.argsort(donor, kind="stable")
    d = donor[order]
    starts = np.r_[0, np.nonzero(np.diff(d))[0] + 1]
    sizes = np.diff(np.r_[starts, len(d)])
    rank = np.arange(len(d)) - np.repeat(starts, sizes)
    after = np.repeat(sizes, sizes) - rank - 1  # later members of each one's group
    first = np.repeat(np.arange(len(d)), after)
    offset = np.arange(len(first)) - np.repeat(np.cumsum(after) - after, after)
    return order[first], order[first + 1 + offset]


def sigma_hybrids(topo: BatchTopology, tables: ModelTables, positions: Tensor,
                  shared: PairGeometry) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor] | None:
    """The sigma bonds of every atom and its hybrids' s share (module docstring): (owner (m,), x (m,), u (m, 3),
    s (n,), pair (m,)) for the m directed channels shorter than :data:`ANGULAR_OFF` (the channel's donor owns the
    bond, x its switched sigma bond order, u the unit vector from the owner to its partner, pair its index in the
    short-range pair list), s_A = 1 / (n_sigma,A + t n_lp,A);
    None without bond orders or channels. Differentiable in the positions; shared by the angle term (10.8) and the
    lone-pair dipoles (11.1), computed once per geometry (kept in ``shared.extra``)."""
    if _MEMO in shared.extra:
        return shared.extra[_MEMO]
    shared.extra[_MEMO] = _sigma_hybrids(topo, tables, positions, shared)
    return shared.extra[_MEMO]


#: key of :func:`sigma_hybrids`'s result in ``PairGeometry.extra`` (not a term name)
_MEMO = "_sigma_hybrids"


def _sigma_hybrids(topo: BatchTopology, tables: ModelTables, positions: Tensor,
                   shared: PairGeometry) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor] | None:
    p = tables.params
    if shared.bonds is None or not len(topo.ch_donor):
        return None
    order, _ = shared.bonds
    r_ch = shared.r_sr[topo.ch_pair]
    near = torch.nonzero(r_ch < ANGULAR_OFF).squeeze(1)
    donor = topo.ch_donor[near]
    x = sigma_order(order[near]) * cosine_switch(r_ch[near], ANGULAR_ON, ANGULAR_OFF)
    pair = topo.ch_pair[near]
    vec = pair_vectors(positions, topo.sr_i[pair], topo.sr_j[pair], topo.cell_shift[pair])
    sign = torch.where(donor == topo.sr_i[pair], 1.0, -1.0).to(vec.dtype)
    u = vec * (sign / torch.linalg.norm(vec, dim=1))[:, None]
    n_sigma = torch.zeros(topo.n_atoms, dtype=positions.dtype, device=positions.device).index_add(0, donor, x)
    el = topo.elem
    t = torch.where(tables.period[el] <= 2, p.lone_pair_s_period2, p.lone_pair_s_period3)
    s = torch.where(tables.period[el] <= 1, torch.ones_like(n_sigma),
                    1.0 / smooth_max1(n_sigma + t * tables.lone_pairs[el]))
    return donor, x, u, s, pair


def _hybrid_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor, shared: PairGeometry) -> Any:
    """G_{A,k} = kappa_h I_A sum_{B<C} x_AB x_AC g_ABC^2 for every state k with valence electrons that can bond
    (f_k > 0), 0 for closed shells and empty states (hartree; module docstring)."""
    p = tables.params
    if not p.hybrid_repulsion or not len(topo.ch_donor):
        return None
    g = torch.zeros(topo.n_atoms, 4, dtype=positions.dtype, device=positions.device)
    bonds = sigma_hybrids(topo, tables, positions, shared)
    if bonds is None or not len(bonds[0]):
        return g
    donor, x, u, s, _ = bonds
    a, b = (torch.as_tensor(v, device=positions.device) for v in bond_pairs(donor.cpu().numpy()))
    if not len(a):
        return g
    atom = donor[a]
    overlap = s[atom] + (1.0 - s[atom]) * (u[a] * u[b]).sum(-1)
    e = torch.zeros_like(s).index_add(0, atom, x[a] * x[b] * overlap * overlap)
    el = topo.elem
    e = p.hybrid_repulsion * tables.I[el] * e
    return e[:, None] * (tables.pairing_fraction[el] > 0).to(e.dtype)


def lone_pair_vectors(topo: BatchTopology, tables: ModelTables, positions: Tensor,
                      shared: PairGeometry) -> tuple[Tensor, Tensor]:
    """(h (n, 3), x (n_sr,)): h_A = kappa_lp 2 mu_sp,A sqrt(s_A (1 - s_A)) sum_B x_AB u_AB (e bohr), the lone-pair
    dipole of a state of A that holds lone pairs (docs/model.md section 11.1; zero for atoms without lone pairs (H,
    C, the metals), for free atoms and without bond orders), and the sigma bond order of every short-range pair
    (0 for pairs that are not bonded). Differentiable in the positions."""
    h = torch.zeros(topo.n_atoms, 3, dtype=positions.dtype, device=positions.device)
    x_pair = torch.zeros(len(topo.sr_i), dtype=positions.dtype, device=positions.device)
    bonds = sigma_hybrids(topo, tables, positions, shared)
    if bonds is None or not len(bonds[0]):
        return h, x_pair
    donor, x, u, s, pair = bonds
    x_pair = x_pair.index_add(0, pair, 0.5 * x)  # each bond is two directed channels with the same order
    h = h.index_add(0, donor, x[:, None] * u)
    mu = tables.sp_dipole[topo.elem] * (tables.lone_pairs[topo.elem] > 0).to(h.dtype)
    amp = 2.0 * tables.params.lone_pair_dipole * mu * torch.sqrt(torch.clamp(s * (1.0 - s), min=1e-12))
    return amp[:, None] * h, x_pair


hybrid_energy = register_shift_term(
    "hybrid", "Bond-angle (hybrid) repulsion",
    "sum_A o_A kappa_h I_A sum_{B<C} x_AB x_AC g_ABC^2: two sigma bonds of one atom whose hybrids overlap "
    "by g = s_A + (1 - s_A) cos(theta_BAC) repel (s_A the hybrids' s share, Bent's rule)",
    geometry=_hybrid_geometry, enabled=lambda params: params.hybrid_repulsion != 0.0,
    meaning="bond angles: two bonds of one atom push apart until their orbitals no longer overlap "
    "(109.5 degrees for CH4's sp3 carbon, 180 for CO2's sp carbon)",
    section="10.8",
)
