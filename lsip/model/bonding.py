"""Physics v2 energy terms: covalent pairing, Pauli repulsion, environment-dependent electronegativity.

Each term is one registered function (docs/model.md, section 10, "Physics v2"), off (exactly zero, and skipped by
the solver) unless its strength in :class:`~lsip.model.params.ModelParameters` is non-zero, so the
``first-principles`` set is the model of sections 3-9 unchanged. The calibrated sets switch them on.

* ``pairing``: valence-limited bond pairing of the covalent (neutral) configurations,
  E = -sum_A w0_A sum_B b_AB h_AB, h_AB = eps_p sqrt(I_A I_B) S_AB(lambda zeta_A, lambda zeta_B, R) (a
  valence-overlap coupling decaying as exp(-lambda zeta R)), b_AB the bond order from the valences nu of both ends.
* ``pauli``: overlap repulsion of the closed-shell part of each atom's density,
  E = sum_{A != B} c_A(w) x_B eps_r sqrt(I_A I_B) S_AB(lambda_r zeta_A, lambda_r zeta_B, R)^2 / 2,
  c_A(w) = sum_k w_A^k (1 - f_k); x_B = 1, or c0_B = 1 - f of B's neutral state with ``pauli_two_sided``.
* ``electronegativity``: state energies shifted by the promolecular host density, sum_A d_A rho0_A q_A (I and A
  both rise by d_A rho0_A: an environment-dependent Mulliken electronegativity).

All three (and the angle term of ``lsip.model.hybrid``) are *state-energy shifts*: E = sum_A sum_k G_{A,k}(R) w_A^k
with a geometry-dependent (n, 4) matrix G (the term's per-geometry cache), linear in the weights, so the
equalization problem keeps the convexity that makes its solution unique (docs/model.md section 10); they register
through :func:`register_shift_term`, and one analytic solver part (:func:`shift_solver`) serves them all. The
bond orders they read are computed once per geometry (``PairGeometry.bonds``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lsip.data.valence import valence_for_electrons
from lsip.errors import LSIPError
from lsip.model.bond_order import channel_overlap, sigma_order
from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.model.terms import (
    NEU,
    PairGeometry,
    SolverPart,
    TermContext,
    TermOutput,
    register_term,
)
from lsip.physics.switching import cosine_switch
from lsip.structure import ATOMIC_NUMBERS


def valence(symbol: str) -> int:
    """Number of covalent bonds an element can form: min(n_v, 8 - n_v) with n_v the valence electrons (H: 1).

    >>> [valence(s) for s in ("H", "Li", "C", "N", "O", "F", "Mg", "Si", "Cl")]
    [1, 1, 4, 3, 2, 1, 2, 4, 1]
    """
    return valence_for_electrons(ATOMIC_NUMBERS[symbol])


def _zeros(ctx: TermContext) -> TermOutput:
    return TermOutput(torch.zeros(ctx.topo.n_atoms, dtype=ctx.weights.dtype, device=ctx.weights.device))


def shift_solver(name: str) -> Any:
    """Solver part of a state-energy shift E = sum_A sum_k G_{A,k} w_A^k, G = ``ctx.cache(name)`` (n, 4)."""

    def solver(ctx: TermContext) -> SolverPart:
        g, topo, w = ctx.cache(name), ctx.topo, ctx.weights
        energy = torch.zeros(topo.n_mols, dtype=w.dtype, device=w.device)
        if g is None:
            return SolverPart(energy)
        return SolverPart(energy.index_add(0, topo.mol, (g * w).sum(-1)), grad_w=g)

    return solver


def shift_energy(name: str) -> Any:
    """Decoder energy of a state-energy shift: per atom sum_k G_{A,k} w_A^k (hartree)."""

    def energy(ctx: TermContext) -> TermOutput:
        g = ctx.cache(name)
        if g is None:
            return _zeros(ctx)
        return TermOutput((g * ctx.weights).sum(-1))

    energy.__doc__ = f"Per-atom energy of the ``{name}`` term (hartree); docs/model.md section 10."
    return energy


def register_shift_term(name: str, label: str, description: str, *, geometry: Any, enabled: Any, meaning: str,
                        section: str) -> Any:
    """Register a state-energy shift term E = sum_A sum_k G_{A,k} w_A^k: its per-geometry cache ``geometry``, the
    shared solver part and decoder energy; ``section`` of docs/model.md documents it. Returns the energy function."""
    energy = shift_energy(name)
    energy.__name__ = f"{name}_energy"
    energy.__doc__ = f"Per-atom energy of the ``{name}`` term (hartree); docs/model.md section {section}."
    return register_term(name, label, description, geometry=geometry, solver=shift_solver(name), enabled=enabled,
                         meaning=meaning)(energy)


def _pairing_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor, shared: PairGeometry) -> Any:
    """G[:, neutral] = -sum_B b_AB h_AB: the pairing energy of A's neutral state (half of each pair's -2 b h).

    Bond orders (docs/model.md section 10.2): atom A offers o_AB = nu_A h_AB / (sum_C h_AC + d) of its nu_A bonds
    to neighbour B (in proportion to the couplings); the pair takes the harmonic mean of the two offers,
    b_AB = 2 o_AB o_BA / (o_AB + o_BA), so a bond is limited by the valence of both ends.
    """
    p = tables.params
    if not p.pairing_strength or not len(topo.ch_donor):
        return None
    order, h = shared.bonds
    k = torch.zeros(topo.n_atoms, dtype=h.dtype, device=h.device).index_add(0, topo.ch_donor, -order * h)
    g = torch.zeros(topo.n_atoms, 4, dtype=h.dtype, device=h.device)
    return torch.cat([g[:, :NEU], k[:, None], g[:, NEU + 1:]], dim=1)


pairing_energy = register_shift_term(
    "pairing", "Covalent pairing",
    "-sum_A w0_A sum_B b_AB h_AB: two electrons per bond order b_AB gain h_AB each; b from the valences "
    "nu of both atoms (bonds the element can form), h from valence-orbital overlaps",
    geometry=_pairing_geometry, enabled=lambda params: params.pairing_strength != 0.0,
    meaning="covalent bonds: electrons of neighbouring atoms pairing up, limited by how many bonds each "
    "element can form",
    section="10.2",
)


def _pauli_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor, shared: PairGeometry) -> Any:
    """G_{A,k} = (1 - f_{A,k}) sum_B x_B eps_r sqrt(I_A I_B) S_AB^2 / 2 (1 - u m_{A,k} sigma(b_AB)) (docs/model.md
    sections 10.3, 10.9): A's closed-shell share in state k against all of B (x_B = 1) or, with
    ``pauli_two_sided``, against B's neutral closed-shell share (x_B = c0_B); less the share u (``pauli_bond_relief``)
    of the repulsion against a bonded partner, sigma(b) the pair's sigma bond order, for states that can bond
    (m = [f > 0]: the lone pairs of a neutral O or of O-, not the closed shells of F- or Na+)."""
    p = tables.params
    if not p.pauli_strength or not len(topo.ch_donor):
        return None
    ed, ea = topo.elem[topo.ch_donor], topo.elem[topo.ch_acceptor]
    s = channel_overlap(topo, tables, shared.r_sr, p.pauli_decay)
    closed = tables.closed_fraction
    half = 0.5 * p.pauli_strength * torch.sqrt(tables.I[ed] * tables.I[ea]) * s * s
    if p.pauli_two_sided:
        half = half * closed[ea, NEU]
    field_ = torch.zeros(topo.n_atoms, dtype=s.dtype, device=s.device).index_add(0, topo.ch_donor, half)
    out = field_[:, None] * closed[topo.elem]
    if p.pauli_bond_relief:  # docs/model.md 10.9: a bonded partner's electron sits in a hybrid orthogonal to them
        order, _ = shared.bonds
        bonded = torch.zeros_like(field_).index_add(0, topo.ch_donor, half * sigma_order(order))
        can_bond = (tables.pairing_fraction[topo.elem] > 0).to(s.dtype)
        out = out - p.pauli_bond_relief * bonded[:, None] * closed[topo.elem] * can_bond
    return out


pauli_energy = register_shift_term(
    "pauli", "Pauli repulsion",
    "sum_{A != B} c_A(w) eps_r sqrt(I_A I_B) S_AB^2 / 2: overlap repulsion of the closed-shell share c_A "
    "of each atom's states (Li+, F-: all of it; H: none)",
    geometry=_pauli_geometry, enabled=lambda params: params.pauli_strength != 0.0,
    meaning="closed electron shells (e.g. Na+, Cl-, lone pairs) pushing each other away when they overlap",
    section="10.3",
)


def _electronegativity_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor,
                                shared: PairGeometry) -> Any:
    """G = d_A rho0_A (+1 cation, -1 anion): I_A and A_A shifted in the promolecular host density (hartree)."""
    slopes = tables.params.electronegativity_slope
    if not slopes:
        return None
    d = torch.tensor([float(slopes.get(s, 0.0)) for s in tables.symbols], dtype=positions.dtype,
                     device=positions.device)
    at_i, at_j = shared.rho_at_i[:, NEU], shared.rho_at_j[:, NEU]
    if tables.params.electronegativity_pair_saturation > 0.0:  # each neighbour saturates on its own (10.4)
        ei, ej = topo.elem[topo.sr_i], topo.elem[topo.sr_j]
        sat = tables.en_pair_saturation
        sig_i, sig_j = sat[ei, ej], sat[ej, ei]
        at_i, at_j = sig_i * torch.tanh(at_i / sig_i), sig_j * torch.tanh(at_j / sig_j)
    rho0 = torch.zeros(topo.n_atoms, dtype=positions.dtype, device=positions.device)
    rho0 = rho0.index_add(0, topo.sr_i, at_i).index_add(0, topo.sr_j, at_j)
    rho_s = tables.params.electronegativity_saturation
    if rho_s > 0.0:  # bounded: a neighbour's core density must not make the shift (and the energy) unbounded
        rho0 = rho_s * torch.tanh(rho0 / rho_s)
    sign = torch.tensor([1.0, 0.0, -1.0, 0.0], dtype=positions.dtype, device=positions.device)
    return (d[topo.elem] * rho0)[:, None] * sign


electronegativity_energy = register_shift_term(
    "electronegativity", "Environment electronegativity",
    "sum_A d_A rho0_A q_A: I_A and A_A both shifted by d_A times the promolecular host density",
    geometry=_electronegativity_geometry, enabled=lambda params: bool(params.electronegativity_slope),
    meaning="an atom surrounded by more neighbours' electron density pulls electrons harder (or less hard)",
    section="10.4",
)


def _overlap_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor, shared: PairGeometry) -> Any:
    """(n_sr, 4, 4) M_kl = K share_kl I_kl + K_c (int rho^core_i rho_{j,l} + int rho_{i,k} rho^core_j), I_kl the
    density overlap int rho_{i,k} rho_{j,l} or the Gordon-Kim pair energy, switched with the short-range pair list
    (hartree; docs/model.md 10.6, 10.10).

    The core walls are linear in each atom's weights; written as M_kl with a row (column) that does not depend on
    k (l) they enter the same bilinear form, because the weights of an atom sum to one."""
    p = tables.params
    if not (p.overlap_repulsion or p.core_repulsion) or not len(topo.sr_i):
        return None
    if p.core_repulsion and not tables.has_cores:
        raise LSIPError("the parameter set has core walls (core_repulsion > 0) but the latent library has no core "
                        "densities; rebuild it with `lsip library build`")
    sw = cosine_switch(shared.r_sr, p.short_range_cutoff - p.short_range_switch_width, p.short_range_cutoff)
    closed, core_i, core_j = tables.closed_overlap(topo.sr_slot, shared.r_sr)
    m = p.overlap_repulsion * closed
    if p.core_repulsion:
        m = m + p.core_repulsion * (core_i[:, None, :] + core_j[:, :, None])
    return m * sw[:, None, None]


def _overlap_solver(ctx: TermContext) -> SolverPart:
    """E = sum_pairs w_i^T M w_j; dE/dw_i = M w_j, dE/dw_j = M^T w_i."""
    m, topo, w = ctx.cache("overlap_repulsion"), ctx.topo, ctx.weights
    energy = torch.zeros(topo.n_mols, dtype=w.dtype, device=w.device)
    if m is None:
        return SolverPart(energy)
    i, j = topo.sr_i, topo.sr_j
    mw_j = torch.einsum("pkl,pl->pk", m, w[j])
    e = (w[i] * mw_j).sum(-1)
    grad = torch.zeros_like(w).index_add(0, i, mw_j).index_add(0, j, torch.einsum("pkl,pk->pl", m, w[i]))
    return SolverPart(energy.index_add(0, topo.mol[i], e), grad_w=grad)


@register_term("overlap_repulsion", "Closed-shell repulsion",
               "K sum_{A<B} sum_kl w_A^k w_B^l share_kl I_kl(R): repulsion of the closed-shell shares of the two "
               "atoms' states (state-resolved: Li+ is compact, F- diffuse), I the density overlap int rho_{A,k} "
               "rho_{B,l} or the Gordon-Kim electron-gas energy of the two densities (overlap_repulsion_gordon_kim), "
               "plus the core walls K_c sum_{A != B} sum_l w_B^l int rho^core_A rho_{B,l}",
               geometry=_overlap_geometry, solver=_overlap_solver,
               enabled=lambda params: params.overlap_repulsion != 0.0 or params.core_repulsion != 0.0,
               meaning="filled electron shells of touching atoms (ions, lone pairs, the inner cores of heavier "
                       "atoms) repelling in proportion to how much their electron clouds overlap")
def overlap_repulsion_energy(ctx: TermContext) -> TermOutput:
    """Per-atom closed-shell and core overlap repulsion, each pair split half-and-half (hartree); docs/model.md
    sections 10.6 and 10.10."""
    m, topo, w = ctx.cache("overlap_repulsion"), ctx.topo, ctx.weights
    if m is None:
        return TermOutput(torch.zeros(topo.n_atoms, dtype=w.dtype, device=w.device),
                          torch.zeros(len(topo.sr_i), dtype=w.dtype, device=w.device))
    e = torch.einsum("pk,pkl,pl->p", w[topo.sr_i], m, w[topo.sr_j])
    out = torch.zeros(topo.n_atoms, dtype=w.dtype, device=w.device)
    if ctx.totals_only:
        return TermOutput(out.index_add(0, topo.sr_i, e), e)
    return TermOutput(out.index_add(0, topo.sr_i, 0.5 * e).index_add(0, topo.sr_j, 0.5 * e), e)
