"""Physics v2 energy terms: covalent pairing, Pauli repulsion, environment-dependent electronegativity.

Each term is one registered function (docs/model.md, section 10, "Physics v2"), off (exactly zero, and skipped by
the solver) unless its strength in :class:`~lsip.model.params.ModelParameters` is non-zero, so the
``first-principles`` set is the model of sections 3-9 unchanged. The calibrated sets switch them on.

* ``pairing``: valence-limited bond pairing of the covalent (neutral) configurations,
  E = -sum_A w0_A sum_B b_AB h_AB, h_AB = eps_p sqrt(I_A I_B) S_AB(lambda zeta_A, lambda zeta_B, R) (a
  valence-overlap coupling decaying as exp(-lambda zeta R)), b_AB the bond order from the valences nu of both ends.
* ``pauli``: closed-shell overlap repulsion eps_r sum_{A<B} sqrt(I_A I_B) S_AB(lambda_r zeta_A, lambda_r zeta_B, R)^2.
* ``electronegativity``: state energies shifted by the promolecular host density, sum_A d_A rho0_A q_A (I and A
  both rise by d_A rho0_A: an environment-dependent Mulliken electronegativity).

Both latent-dependent terms are *linear* in the weights: they shift state energies by amounts that depend on the
geometry, so the equalization problem keeps the convexity that makes its solution unique (docs/model.md,
section 10: a pairing energy bilinear in the neutral weights, sqrt(w0_A w0_B), is concave and broke the symmetry
of NH4+). Their solver parts are analytic.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lsip.model.params import ModelParameters
from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.model.terms import (
    ANI,
    CAT,
    NEU,
    PairGeometry,
    SolverPart,
    TermContext,
    TermOutput,
    _channel_to_pairs,
    _halves,
    register_term,
)
from lsip.physics.overlap import sto_1s_overlap
from lsip.physics.switching import cosine_switch
from lsip.structure import ATOMIC_NUMBERS

#: Regularises the bond-order offers nu h / (sum h + d) of nearly isolated atoms (hartree).
PAIRING_DELTA = 1e-3


def valence(symbol: str) -> int:
    """Number of covalent bonds an element can form: min(n_v, 8 - n_v) with n_v the valence electrons (H: 1).

    >>> [valence(s) for s in ("H", "Li", "C", "N", "O", "F", "Mg", "Si", "Cl")]
    [1, 1, 4, 3, 2, 1, 2, 4, 1]
    """
    z = ATOMIC_NUMBERS[symbol]
    if z <= 2:
        return min(z, 2 - z)
    n_v = (z - 2) % 8 if z <= 18 else (z - 18 if z <= 20 else 2)
    return min(n_v, 8 - n_v)


def _zeros(ctx: TermContext) -> TermOutput:
    return TermOutput(torch.zeros(ctx.topo.n_atoms, dtype=ctx.weights.dtype, device=ctx.weights.device))


def _channel_overlap(topo: BatchTopology, tables: ModelTables, r_sr: Tensor, scale: float) -> Tensor:
    """(n_ch,) S_AB(scale zeta_A, scale zeta_B, R) switched off with the channel (docs/model.md, "Channel range")."""
    p = tables.params
    r_ch = r_sr[topo.ch_pair]
    ed, ea = topo.elem[topo.ch_donor], topo.elem[topo.ch_acceptor]
    cut = tables.channel_cut[topo.ch_slot]
    sw = cosine_switch(r_ch, cut - p.channel_switch_width, cut)
    return sto_1s_overlap(scale * tables.zeta[ed], scale * tables.zeta[ea], r_ch) * sw


def _pairing_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor, shared: PairGeometry) -> Any:
    """(n,) k_A: the pairing energy of A's neutral state (hartree), -sum_B b_AB h_AB (half of each pair's -2 b h).

    Bond orders (docs/model.md section 10): atom A offers o_AB = nu_A h_AB / (sum_C h_AC + d) of its nu_A bonds
    to neighbour B (in proportion to the couplings); the pair takes the harmonic mean of the two offers,
    b_AB = 2 o_AB o_BA / (o_AB + o_BA), so a bond is limited by the valence of both ends.
    """
    p = tables.params
    if not p.pairing_strength or not len(topo.ch_donor):
        return None
    ed, ea = topo.elem[topo.ch_donor], topo.elem[topo.ch_acceptor]
    h = p.pairing_strength * torch.sqrt(tables.I[ed] * tables.I[ea]) * _channel_overlap(topo, tables, shared.r_sr,
                                                                                        p.pairing_decay)
    nu = torch.tensor([float(valence(s)) for s in tables.symbols], dtype=h.dtype, device=h.device)[topo.elem]
    total = torch.zeros(topo.n_atoms, dtype=h.dtype, device=h.device).index_add(0, topo.ch_donor, h)
    offer = nu[topo.ch_donor] * h / (total[topo.ch_donor] + PAIRING_DELTA)
    other = nu[topo.ch_acceptor] * h / (total[topo.ch_acceptor] + PAIRING_DELTA)
    order = 2.0 * offer * other / (offer + other + 1e-30)
    return torch.zeros_like(total).index_add(0, topo.ch_donor, -order * h)


def _linear_solver(name: str, column: tuple[tuple[int, float], ...]) -> Any:
    """Solver part of a term E = sum_A k_A sum_c sign_c w_A^c with k = ``ctx.cache(name)`` (linear in w)."""

    def solver(ctx: TermContext) -> SolverPart:
        k, topo, w = ctx.cache(name), ctx.topo, ctx.weights
        energy = torch.zeros(topo.n_mols, dtype=w.dtype, device=w.device)
        if k is None:
            return SolverPart(energy)
        grad = torch.zeros_like(w)
        for col, sign in column:
            grad[:, col] = sign * k
        return SolverPart(energy.index_add(0, topo.mol, (grad * w).sum(-1)), grad_w=grad)

    return solver


def _pairing_enabled(params: ModelParameters) -> bool:
    return params.pairing_strength != 0.0


@register_term("pairing", "Covalent pairing",
               "-sum_A w0_A sum_B b_AB h_AB: two electrons per bond order b_AB gain h_AB each; b from the valences "
               "nu of both atoms (bonds the element can form), h from valence-orbital overlaps",
               geometry=_pairing_geometry, solver=_linear_solver("pairing", ((NEU, 1.0),)), enabled=_pairing_enabled)
def pairing_energy(ctx: TermContext) -> TermOutput:
    """Per-atom covalent pairing energy (hartree); docs/model.md section 10."""
    k = ctx.cache("pairing")
    if k is None:
        return _zeros(ctx)
    return TermOutput(k * ctx.weights[:, NEU])


def _pauli_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor, shared: PairGeometry) -> Any:
    p = tables.params
    if not p.pauli_strength or not len(topo.ch_donor):
        return None
    ed, ea = topo.elem[topo.ch_donor], topo.elem[topo.ch_acceptor]
    s = _channel_overlap(topo, tables, shared.r_sr, p.pauli_decay)
    # each unordered pair carries two channels: half the pair energy on each
    return 0.5 * p.pauli_strength * torch.sqrt(tables.I[ed] * tables.I[ea]) * s * s


def _pauli_solver(ctx: TermContext) -> SolverPart:
    e = ctx.cache("pauli")
    topo = ctx.topo
    out = torch.zeros(topo.n_mols, dtype=ctx.weights.dtype, device=ctx.weights.device)
    if e is not None:
        out = out.index_add(0, topo.mol[topo.ch_donor], e)
    return SolverPart(out)


@register_term("pauli", "Pauli repulsion",
               "eps_r sum_{A<B} sqrt(I_A I_B) S_AB^2: closed-shell overlap repulsion (no latent dependence)",
               geometry=_pauli_geometry, solver=_pauli_solver,
               enabled=lambda params: params.pauli_strength != 0.0)
def pauli_energy(ctx: TermContext) -> TermOutput:
    """Per-atom (half of each pair) and per-pair Pauli repulsion (hartree)."""
    e = ctx.cache("pauli")
    if e is None:
        return _zeros(ctx)
    topo = ctx.topo
    return TermOutput(_halves(ctx, topo.ch_donor, topo.ch_acceptor, e), _channel_to_pairs(ctx, e))


def _electronegativity_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor,
                                shared: PairGeometry) -> Any:
    """(n,) d_A rho0_A: the shift of A's I and A in its promolecular host density (hartree)."""
    slopes = tables.params.electronegativity_slope
    if not slopes:
        return None
    d = torch.tensor([float(slopes.get(s, 0.0)) for s in tables.symbols], dtype=positions.dtype,
                     device=positions.device)
    rho0 = torch.zeros(topo.n_atoms, dtype=positions.dtype, device=positions.device)
    rho0 = rho0.index_add(0, topo.sr_i, shared.rho_at_i[:, NEU]).index_add(0, topo.sr_j, shared.rho_at_j[:, NEU])
    return d[topo.elem] * rho0


@register_term("electronegativity", "Environment electronegativity",
               "sum_A d_A rho0_A q_A: I_A and A_A both shifted by d_A times the promolecular host density",
               geometry=_electronegativity_geometry,
               solver=_linear_solver("electronegativity", ((CAT, 1.0), (ANI, -1.0))),
               enabled=lambda params: bool(params.electronegativity_slope))
def electronegativity_energy(ctx: TermContext) -> TermOutput:
    """Per-atom environment-dependent electronegativity shift (hartree); docs/model.md section 10."""
    k = ctx.cache("electronegativity")
    if k is None:
        return _zeros(ctx)
    return TermOutput(k * ctx.charges)
