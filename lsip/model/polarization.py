"""Atomic dipoles (the polarization channel) and an optional uniform external field (docs/model.md section 11).

Each atom A carries a dipole p_A (e bohr), a latent coordinate of the encoder: the mixing amplitude of its ground
and excited library states, |0> + c |*> with p = 2 mu_t c (mu_t the transition dipole of the library). Its charge
density is -p_A . grad s_A(r - R_A), s_A the normalised shape of the transition density (so its moment is p_A).

    E_pol = sum_A |p_A|^2 / (2 alpha_A t_A)                               cost: eps |c|^2, alpha = 2 mu_t^2 / eps
          + sum_{A,B} p_A . grad_{R_A} U_{A,B}(w_B)                       field of B's nucleus and state densities
          + sum_{A<B} (p_A . grad_A)(p_B . grad_B) W_AB                   dipole-dipole, with penetration

t_A = 1 - (1 - delta) w_A^+ is the share of the atom that still holds its valence electron (the cation state, which has
lost it, does not polarize: Li+ has 0.2 bohr^3 against Li's 164); |p|^2 / t is jointly convex in (p, w).
U_{A,B}(R) = sum_k w_B^k U_{A,Bk}(R), taken relative to B's neutral state, is the Coulomb energy of A's shape
with B's charge (nucleus minus state-k density), W_AB that of the two shapes: erf sums, tabulated per element
pair (:meth:`ModelTables.dipole_kernels`) and switched off with the short-range pair list. The energy is linear in
w at fixed p and quadratic in p; the
quadratic form in p is positive definite for every geometry (the shapes obey alpha_A (-W_AA''(0)) < 1,
:meth:`ModelTables._build_polarizability`), so there is no polarization catastrophe.

Lone-pair dipoles (docs/model.md section 11.1): an atom whose state holds lone pairs beside its sigma bonds carries
the permanent dipole of its s-p hybrids, p^lp_A = o_A(w) h_A, h_A = kappa_lp 2 mu_sp sqrt(s_A (1 - s_A))
sum_B x_AB u_AB (:func:`lsip.model.hybrid.lone_pair_vectors`, a function of the geometry), o_A = sum_k w_A^k g_k
the weight of those states. It adds to the induced dipole wherever a dipole acts (P_A = p_A + p^lp_A in the field
and dipole-dipole terms, the molecular dipole and the decoded density), except towards the atoms A is bonded to:
pair (A, B) sees p_A + (1 - x_AB) p^lp_A, x_AB the sigma bond order (the electrostatics of a bond's own hybrids is
part of the bonding terms). The cost |p|^2 / (2 alpha t) is the induced part's alone (the lone-pair dipole's cost
is the hybridization, already in the bonding terms).

Induced dipoles may spare their bond partners too (docs/model.md section 11.2, ``polarization_exclusion`` e): pair
(A, B) then sees (1 - e x_AB) p_A, so an induced dipole answers the fields of the atoms it is not bonded to; its cost,
the molecular dipole and the decoded density keep the whole p_A.

``field``: a uniform external field F (``params.external_field``, hartree / (e bohr)),
E = -F . (sum_A q_A R_A + sum_A p_A); zero and skipped unless F is set (used to measure polarizabilities).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from lsip.errors import LSIPError
from lsip.model.hybrid import lone_pair_vectors
from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.model.terms import ANI, CAT, PairGeometry, SolverPart, TermContext, TermOutput, register_term
from lsip.physics.neighbors import pair_vectors, safe_norm
from lsip.physics.optimize import segment_sum
from lsip.physics.switching import cosine_switch

#: inverse polarizability used for elements without a polarization channel (their dipole stays ~0), bohr^-3
_NO_DIPOLE = 1e6
#: delta of t_A = 1 - (1 - delta) w+: keeps the stiffness of a fully ionized atom finite (1 / delta times 1 / alpha)
POLARIZABLE_FLOOR = 1e-3


def polarizable_share(w: Tensor) -> Tensor:
    """(n,) t_A = 1 - (1 - delta) w_A^+: the share of each atom that can polarize, 1 for a neutral atom and delta
    for a bare cation (docs/model.md section 11)."""
    return 1.0 - (1.0 - POLARIZABLE_FLOOR) * w[:, CAT]


def inverse_polarizability(tables: ModelTables, elem: Tensor) -> Tensor:
    """(n,) 1 / alpha of each atom (a stiff constant where alpha = 0), bohr^-3."""
    alpha = tables.polarizability[elem]
    return torch.where(alpha > 0, 1.0 / torch.clamp(alpha, min=1e-300), torch.full_like(alpha, _NO_DIPOLE))


def _dipole_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor, shared: PairGeometry) -> Any:
    """Unit pair vectors (R_j - R_i) / R, distances, the switched kernels (n_sr, 10) of the pair list, the
    lone-pair vectors h_A (n, 3) and the share 1 - x_AB (n_sr,) of each pair that they act on (None when the set
    has no lone-pair dipoles)."""
    p = tables.params
    if not tables.has_dipole_shapes:
        if p.lone_pair_dipole:
            raise LSIPError("the parameter set has lone-pair dipoles (lone_pair_dipole > 0) but the latent library "
                            "has no dipole shapes (transitions); rebuild it with `lsip library build`")
        return None
    lone = keep = keep_induced = None
    if p.lone_pair_dipole:
        if not tables.has_sp_dipoles:
            raise LSIPError("the parameter set has lone-pair dipoles (lone_pair_dipole > 0) but the latent library "
                            "has no valence s-p dipoles; rebuild it with `lsip library build`")
        lone, bonded = lone_pair_vectors(topo, tables, positions, shared)
        keep = 1.0 - bonded  # a lone-pair dipole does not act on the atoms it is bonded to
    if p.polarization_exclusion and tables.has_dipoles:
        bonded = lone_pair_vectors(topo, tables, positions, shared)[1] if keep is None else 1.0 - keep
        keep_induced = 1.0 - p.polarization_exclusion * bonded  # docs/model.md 11.2
    vec = pair_vectors(positions, topo.sr_i, topo.sr_j, topo.cell_shift)
    r = safe_norm(vec)
    sw = cosine_switch(r, p.short_range_cutoff - p.short_range_switch_width, p.short_range_cutoff)
    kern = tables.dipole_kernels(topo.sr_slot, r) * sw[:, None]
    return {"unit": vec / r[:, None], "r": r, "kernels": kern, "lone_pair": lone, "keep": keep,
            "keep_induced": keep_induced}


def _lone_pair_dipoles(ctx: TermContext) -> Tensor | None:
    """(n, 3) p^lp_A = o_A(w) h_A, o_A the weight of A's states that hold lone pairs (e bohr); None without them."""
    cache = ctx.cache("polarization")
    lone = cache.get("lone_pair") if cache is not None else None
    if lone is None:
        return None
    return (ctx.weights * ctx.tables.lone_pair_gate[ctx.topo.elem]).sum(-1)[:, None] * lone


def total_dipoles(ctx: TermContext) -> Tensor | None:
    """(n, 3) P_A = p_A + o_A(w) h_A: the induced atomic dipoles plus the lone-pair dipoles (e bohr); None when the
    set has neither."""
    p, big_l = ctx.dipoles, _lone_pair_dipoles(ctx)
    if big_l is None:
        return p
    return big_l if p is None else p + big_l


def _pair_dipoles(ctx: TermContext) -> tuple[Tensor, Tensor] | None:
    """(P_i, P_j) (n_sr, 3): the dipoles of both ends of every short-range pair as that pair sees them, the induced
    dipole plus the lone-pair dipole times 1 - x_ij (a lone-pair dipole does not act on its own bond partners:
    their electrostatics is part of the bond, docs/model.md 11.1); None without dipoles."""
    topo, p = ctx.topo, ctx.dipoles
    i, j = topo.sr_i, topo.sr_j
    big_l = _lone_pair_dipoles(ctx)
    p_i = p_j = None
    if p is not None:
        p_i, p_j = p[i], p[j]
        keep_induced = ctx.cache("polarization")["keep_induced"]
        if keep_induced is not None:  # induced dipoles spared by their bond partners' fields (docs/model.md 11.2)
            p_i, p_j = keep_induced[:, None] * p_i, keep_induced[:, None] * p_j
    if big_l is None:
        return None if p is None else (p_i, p_j)
    keep = ctx.cache("polarization")["keep"][:, None]
    if p is None:
        return keep * big_l[i], keep * big_l[j]
    return p_i + keep * big_l[i], p_j + keep * big_l[j]


def _pieces(ctx: TermContext, p_i: Tensor, p_j: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Per-pair charge-dipole and dipole-dipole energies of the pair dipoles ``p_i``, ``p_j`` (n_sr, 3), and the
    pieces their gradients need."""
    cache, topo, w = ctx.cache("polarization"), ctx.topo, ctx.weights
    i, j = topo.sr_i, topo.sr_j
    u, r, k = cache["unit"], cache["r"], cache["kernels"]
    pi_u = (p_i * u).sum(-1)
    pj_u = (p_j * u).sum(-1)
    slope_i = (k[:, 0:4] * w[j]).sum(-1)  # U'_{i,j}(R): field on i's dipole from j's charge
    slope_j = (k[:, 4:8] * w[i]).sum(-1)
    e_cd = -pi_u * slope_i + pj_u * slope_j
    w1, w2 = k[:, 8], k[:, 9]
    e_dd = -(w2 * pi_u * pj_u + (w1 / r) * ((p_i * p_j).sum(-1) - pi_u * pj_u))
    return e_cd, e_dd, pi_u, pj_u, r


def _self_energy(ctx: TermContext) -> Tensor:
    """(n,) |p_A|^2 / (2 alpha_A t_A) of the induced dipoles (zero without them)."""
    topo, w, p = ctx.topo, ctx.weights, ctx.dipoles
    if p is None:
        return torch.zeros(topo.n_atoms, dtype=w.dtype, device=w.device)
    return 0.5 * inverse_polarizability(ctx.tables, topo.elem) * (p * p).sum(-1) / polarizable_share(w)


def _dipole_solver(ctx: TermContext) -> SolverPart:
    """Value and analytic gradient in w (n, 4) and p (n, 3) of :func:`polarization_energy`."""
    topo, tables, w, p = ctx.topo, ctx.tables, ctx.weights, ctx.dipoles
    if total_dipoles(ctx) is None:  # a library without transitions: no atomic dipoles
        return SolverPart(torch.zeros(topo.n_mols, dtype=w.dtype, device=w.device))
    grad_w = torch.zeros_like(w)
    e_atom = _self_energy(ctx)
    grad_p = None
    if p is not None:
        t = polarizable_share(w)
        grad_p = (inverse_polarizability(tables, topo.elem) / t)[:, None] * p
        grad_w[:, CAT] = (1.0 - POLARIZABLE_FLOOR) * e_atom / t  # d/dw+ of p^2 / (2 alpha t)
    energy = segment_sum(e_atom, topo.mol, topo.n_mols)
    pair_p = _pair_dipoles(ctx) if len(topo.sr_i) and ctx.cache("polarization") is not None else None
    if pair_p is not None:
        i, j = topo.sr_i, topo.sr_j
        cache = ctx.cache("polarization")
        u, k = cache["unit"], cache["kernels"]
        p_i, p_j = pair_p
        e_cd, e_dd, pi_u, pj_u, r = _pieces(ctx, p_i, p_j)
        energy = energy + segment_sum(e_cd + e_dd, topo.mol[i], topo.n_mols)
        slope_i = (k[:, 0:4] * w[j]).sum(-1)
        slope_j = (k[:, 4:8] * w[i]).sum(-1)
        w1r, w2 = k[:, 8] / r, k[:, 9]
        # d e_dd / d P_i = -(W'' (P_j.u) u + W'/R (P_j - (P_j.u) u)), and i <-> j (per pair)
        g_i = -slope_i[:, None] * u - (w2 - w1r)[:, None] * pj_u[:, None] * u - w1r[:, None] * p_j
        g_j = slope_j[:, None] * u - (w2 - w1r)[:, None] * pi_u[:, None] * u - w1r[:, None] * p_i
        if p is not None:
            keep_induced = cache["keep_induced"]
            if keep_induced is None:
                grad_p = grad_p.index_add(0, i, g_i).index_add(0, j, g_j)
            else:
                ki = keep_induced[:, None]
                grad_p = grad_p.index_add(0, i, ki * g_i).index_add(0, j, ki * g_j)
        grad_w = grad_w.index_add(0, j, -pi_u[:, None] * k[:, 0:4]).index_add(0, i, pj_u[:, None] * k[:, 4:8])
        lone = cache.get("lone_pair")
        if lone is not None:  # P = p + keep o(w) h per pair: dE/dw_k += g_k sum_pairs keep (dE/dP . h)
            keep = cache["keep"][:, None]
            grad_l = torch.zeros_like(lone).index_add(0, i, keep * g_i).index_add(0, j, keep * g_j)
            grad_w = grad_w + (grad_l * lone).sum(-1)[:, None] * tables.lone_pair_gate[topo.elem]
    return SolverPart(energy, grad_w=grad_w, grad_p=grad_p)


@register_term("polarization", "Atomic polarization",
               "sum_A |p_A|^2 / (2 alpha_A) + P_A . grad U_A + dipole-dipole: atomic dipoles from mixing each atom's "
               "ground and excited library states (alpha = 2 mu_t^2 / eps), plus the lone-pair dipoles of its s-p "
               "hybrids (P = p + p_lp), in the field of the other atoms (bond partners spared: docs/model.md 11.1, "
               "11.2)",
               geometry=_dipole_geometry, solver=_dipole_solver,
               enabled=lambda params: params.polarizability_scale > 0.0 or params.lone_pair_dipole > 0.0,
               meaning="each atom's electron cloud shifting towards or away from its neighbours (an atomic dipole), "
                       "paid for by mixing in its excited state, and the lone pairs of N, O, F, P, S, Cl pointing "
                       "away from their bonds")
def polarization_energy(ctx: TermContext) -> TermOutput:
    """Per-atom polarization energy (hartree): the self term on its atom, pair terms split half-and-half."""
    topo, w = ctx.topo, ctx.weights
    zeros = torch.zeros(topo.n_atoms, dtype=w.dtype, device=w.device)
    if total_dipoles(ctx) is None or ctx.cache("polarization") is None:
        return TermOutput(zeros, torch.zeros(len(topo.sr_i), dtype=w.dtype, device=w.device))
    per_atom = _self_energy(ctx)
    if not len(topo.sr_i):
        return TermOutput(per_atom, zeros[:0])
    e_cd, e_dd, _, _, _ = _pieces(ctx, *_pair_dipoles(ctx))
    e = e_cd + e_dd
    if ctx.totals_only:
        return TermOutput(per_atom.index_add(0, topo.sr_i, e), e)
    per_atom = per_atom.index_add(0, topo.sr_i, 0.5 * e).index_add(0, topo.sr_j, 0.5 * e)
    return TermOutput(per_atom, e)


def _field_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor, shared: PairGeometry) -> Any:
    """(n,) F . R_A (hartree / e), differentiable in the positions; None without a field."""
    if not any(x != 0.0 for x in tables.params.external_field):
        return None
    field = torch.tensor(tables.params.external_field, dtype=positions.dtype, device=positions.device)
    return positions @ field


def _field_solver(ctx: TermContext) -> SolverPart:
    topo, w = ctx.topo, ctx.weights
    f_r = ctx.cache("field")
    field = torch.tensor(ctx.tables.params.external_field, dtype=w.dtype, device=w.device)
    e_atom = -f_r * (w[:, CAT] - w[:, ANI])
    grad_w = torch.zeros_like(w)
    grad_w[:, CAT] = -f_r
    grad_w[:, ANI] = f_r
    grad_p = None
    big_p = total_dipoles(ctx)
    if big_p is not None:
        e_atom = e_atom - big_p @ field
        if ctx.dipoles is not None:
            grad_p = -field.expand(topo.n_atoms, 3).clone()
        lone = (ctx.cache("polarization") or {}).get("lone_pair")
        if lone is not None:
            grad_w = grad_w - (lone @ field)[:, None] * ctx.tables.lone_pair_gate[topo.elem]
    return SolverPart(segment_sum(e_atom, topo.mol, topo.n_mols), grad_w=grad_w, grad_p=grad_p)


@register_term("field", "External field",
               "-F . (sum_A q_A R_A + sum_A P_A): a uniform applied field (zero unless external_field is set)",
               geometry=_field_geometry, solver=_field_solver,
               enabled=lambda params: any(x != 0.0 for x in params.external_field),
               meaning="an electric field applied from outside (used to measure polarizabilities)")
def field_energy(ctx: TermContext) -> TermOutput:
    """Per-atom energy in the external field (hartree); zero without a field."""
    w = ctx.weights
    if ctx.cache("field") is None:
        return TermOutput(torch.zeros(ctx.topo.n_atoms, dtype=w.dtype, device=w.device))
    field = torch.tensor(ctx.tables.params.external_field, dtype=w.dtype, device=w.device)
    e = -ctx.cache("field") * ctx.charges
    big_p = total_dipoles(ctx)
    if big_p is not None:
        e = e - big_p @ field
    return TermOutput(e)
