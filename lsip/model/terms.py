"""The decoder's energy terms as registered, labelled components (docs/model.md, section 3).

Each term maps the latent coordinates and the pair geometry to per-atom energies (hartree) and, where the
term is a pair sum, per-pair energies. Pair energies are split half-and-half between the two atoms, channel
energies half to the donor and half to the acceptor, so that the per-atom energies of every term add up to
the term's total exactly (``docs/conventions.md``). The app, the CLI and the tests list the terms from
:data:`ENERGY_TERMS`.

Adding a term is a change in one place (docs/model.md, "Adding an energy term"): ``@register_term`` on its
energy function, with optionally ``geometry=`` (its own per-geometry cache, differentiable in the positions,
stored in ``PairGeometry.extra[name]`` and reached as ``ctx.cache(name)``) and ``solver=`` (its value and
gradient for the equalization solver, :class:`SolverPart`). Without ``solver=`` the solver differentiates the
energy function by autograd. The decoder, the solver, forces, the CLI JSON, exports and the app's views loop
over the registry. The six terms marked ``core`` are evaluated together by the solver's fused objective
(:class:`lsip.model.objective.EqualizationObjective`), which shares one sparse pair product between them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from lsip.model.bond_order import coupling_saturation, set_bond_orders
from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.physics.coulomb import CoulombOperator, dense_coulomb_matrix, dsf_kernel, dsf_self_term
from lsip.physics.neighbors import pair_vectors, safe_norm
from lsip.physics.overlap import sto_1s_overlap
from lsip.physics.resonance import resonance_energy
from lsip.physics.switching import cosine_switch

# state axis order: cation, neutral, anion, excited
CAT, NEU, ANI, EXC = 0, 1, 2, 3


@dataclass
class PairGeometry:
    """Weight-independent pair quantities of one geometry (recomputed with autograd for forces).

    Attributes
    ----------
    r_sr : (n_sr,) short-range pair distances, bohr.  v_sr : (n_sr, 4, 4) switched penetration potentials.
    rho_at_i, rho_at_j : (n_sr, 4) switched basis densities of atom j's states at atom i and vice versa.
    beta : (n_ch,) switched couplings, hartree.  x_corr : (n_ch,) configuration-correction energies X_AB.
    coulomb : the point-charge operator J (exact dense blocks or DSF pairs), hartree / e^2.
    repulsion : (n_sr,) Born-Mayer energies, hartree.
    """

    r_sr: Tensor
    v_sr: Tensor
    rho_at_i: Tensor
    rho_at_j: Tensor
    beta: Tensor
    x_corr: Tensor
    coulomb: CoulombOperator
    repulsion: Tensor
    #: per-term caches of registered terms with a ``geometry=`` hook, by term name
    extra: dict[str, Any] = field(default_factory=dict)
    #: (b, h) valence-limited bond orders and pairing couplings of the channels, shared by every term that reads
    #: them (``bond_order.set_bond_orders``); None when none is active
    bonds: tuple[Tensor, Tensor] | None = None

    def detach(self) -> PairGeometry:
        """A copy cut from the autograd graph (for the solver's many evaluations)."""
        return PairGeometry(self.r_sr.detach(), self.v_sr.detach(), self.rho_at_i.detach(),
                            self.rho_at_j.detach(), self.beta.detach(), self.x_corr.detach(), self.coulomb.detach(),
                            self.repulsion.detach(), {k: _detach(v) for k, v in self.extra.items()},
                            _detach(self.bonds))


def _detach(obj: Any) -> Any:
    """Tensors (also inside dicts, lists and tuples) cut from the autograd graph."""
    if isinstance(obj, Tensor):
        return obj.detach()
    if isinstance(obj, dict):
        return {k: _detach(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_detach(v) for v in obj)
    return obj


def pair_geometry(topo: BatchTopology, tables: ModelTables, positions: Tensor) -> PairGeometry:
    """Compute :class:`PairGeometry` from positions (bohr), differentiable in ``positions``."""
    p = tables.params
    r_sr = safe_norm(pair_vectors(positions, topo.sr_i, topo.sr_j, topo.cell_shift))
    sw = cosine_switch(r_sr, p.short_range_cutoff - p.short_range_switch_width, p.short_range_cutoff)
    v_sr = tables.penetration(topo.sr_slot, r_sr) * sw[:, None, None]
    rho_at_i = tables.state_density(topo.elem[topo.sr_j], r_sr) * sw[:, None]
    rho_at_j = tables.state_density(topo.elem[topo.sr_i], r_sr) * sw[:, None]
    # channels
    r_ch = r_sr[topo.ch_pair]
    ed, ea = topo.elem[topo.ch_donor], topo.elem[topo.ch_acceptor]
    overlap = sto_1s_overlap(tables.zeta[ed], tables.zeta[ea], r_ch)
    cut = tables.channel_cut[topo.ch_slot]
    sw_ch = cosine_switch(r_ch, cut - p.channel_switch_width, cut)
    beta = p.kappa * overlap * 0.5 * (tables.I[ed] + tables.I[ea]) * sw_ch
    bonds = set_bond_orders(topo, tables, r_sr)  # None unless an active term reads the bond orders
    saturation = coupling_saturation(tables, bonds)  # None (no change) unless the set switches it on
    if saturation is not None:
        beta = beta * saturation
    # configuration correction X = U00 - U+0 - U0- + U+- for donor in +, acceptor in -; V is oriented
    # (sr_i, sr_j): a channel i -> j reads V[k, l], a channel j -> i reads V[l, k]
    # (one product with a (16, 2) sign pattern: its backward is one matrix product, where eight element
    # selections of the (n_sr, 4, 4) tensor would each allocate and fill a zero tensor of that size)
    forward = topo.ch_donor == topo.sr_i[topo.ch_pair]
    x_both = v_sr.reshape(-1, 16) @ _x_pattern(v_sr)  # (n_sr, 2): oriented i -> j, j -> i
    kern = _coulomb_kernel(r_ch, topo.cl_dsf.any() if topo.cl_dsf.numel() else False, p)
    x_pair = x_both[topo.ch_pair]
    x_corr = torch.where(forward, x_pair[:, 0], x_pair[:, 1]) - kern
    # point-charge Coulomb
    r_cl = safe_norm(pair_vectors(positions, topo.cl_i, topo.cl_j, topo.cl_shift))
    blocks = []
    for start, size in topo.dense_blocks:
        x = positions[start : start + size]
        blocks.append((start, x, dense_coulomb_matrix(x)))
    self_term = None
    if topo.dsf_atoms.numel():
        self_term = torch.zeros(topo.n_atoms, dtype=positions.dtype, device=positions.device)
        self_term[topo.dsf_atoms] = dsf_self_term(p.dsf_alpha, p.dsf_cutoff)
    coulomb = CoulombOperator(blocks, topo.cl_i, topo.cl_j, dsf_kernel(r_cl, p.dsf_alpha, p.dsf_cutoff),
                              topo.n_atoms, self_term)
    repulsion = _born_mayer(topo, tables, r_sr) * sw
    geometry = PairGeometry(r_sr, v_sr, rho_at_i, rho_at_j, beta, x_corr, coulomb, repulsion, bonds=bonds)
    for name, term in ENERGY_TERMS.items():
        if term.geometry is not None:  # an inactive term's cache is None (its energy is then zero)
            geometry.extra[name] = term.geometry(topo, tables, positions, geometry) if term.active(p) else None
    return geometry


def _x_pattern(like: Tensor) -> Tensor:
    """(16, 2) signs of X = V00 - V+0 - V0- + V+- on the flattened 4 x 4 state pairs, for a channel i -> j
    (column 0, reading V[k, l]) and j -> i (column 1, reading V[l, k])."""
    pat = torch.zeros(4, 4, 2, dtype=like.dtype, device=like.device)
    for col, (a, b) in enumerate(((0, 1), (1, 0))):
        for (k, l), sign in (((NEU, NEU), 1.0), ((CAT, NEU), -1.0), ((NEU, ANI), -1.0), ((CAT, ANI), 1.0)):
            idx = (k, l) if (a, b) == (0, 1) else (l, k)
            pat[idx[0], idx[1], col] += sign
    return pat.reshape(16, 2)


def _coulomb_kernel(r: Tensor, use_dsf: bool | Tensor, p: object) -> Tensor:
    if bool(use_dsf):
        return dsf_kernel(r, p.dsf_alpha, p.dsf_cutoff)
    return 1.0 / r


def _born_mayer(topo: BatchTopology, tables: ModelTables, r: Tensor) -> Tensor:
    bm = tables.params.born_mayer
    if not bm:
        return torch.zeros_like(r)
    a = torch.tensor([bm.get(s, (0.0, 1.0))[0] for s in tables.symbols], device=r.device, dtype=r.dtype)
    b = torch.tensor([bm.get(s, (0.0, 1.0))[1] for s in tables.symbols], device=r.device, dtype=r.dtype)
    ei, ej = topo.elem[topo.sr_i], topo.elem[topo.sr_j]
    return torch.sqrt(a[ei] * a[ej]) * torch.exp(-0.5 * (b[ei] + b[ej]) * r)


@dataclass
class TermContext:
    """Everything a term may use: latent weights, channel amplitudes, geometry, topology, tables."""

    weights: Tensor  # (n, 4)
    amplitude: Tensor  # (n_ch,) s = sqrt(c)
    geometry: PairGeometry
    topo: BatchTopology
    tables: ModelTables
    #: solver mode: only per-structure totals matter, so each pair energy is booked on one atom (half the
    #: scatter work); the per-atom partition is then meaningless and never reported
    totals_only: bool = False
    #: (n,) reservoir occupations r_A (the total charge's share on each atom; zero in neutral structures)
    reservoir: Tensor | None = None
    #: (n, 3) atomic dipoles p_A, e bohr (None: the model has no atomic dipoles; docs/model.md section 11)
    dipoles: Tensor | None = None

    def cache(self, name: str) -> Any:
        """The per-geometry cache of registered term ``name`` (its ``geometry=`` hook's result; None when the
        term is inactive)."""
        return self.geometry.extra.get(name)

    @property
    def reservoir_or_zero(self) -> Tensor:
        """(n,) the reservoir, zeros when the context has none."""
        if self.reservoir is not None:
            return self.reservoir
        return torch.zeros(self.topo.n_atoms, dtype=self.weights.dtype, device=self.weights.device)

    @property
    def occupation(self) -> Tensor:
        """(n_ch,) channel occupations c = s^2."""
        return self.amplitude * self.amplitude

    @property
    def charges(self) -> Tensor:
        """(n,) q = w+ - w-."""
        return self.weights[:, CAT] - self.weights[:, ANI]


@dataclass(frozen=True)
class TermOutput:
    """Per-atom energies (n,) and optional per-pair energies on the short-range pair list (n_sr,)."""

    per_atom: Tensor
    per_pair: Tensor | None = None


@dataclass(frozen=True)
class SolverPart:
    """A term's contribution to the solver's objective at one point (hartree; see :class:`EnergyTerm`).

    energy : (n_mols,) per structure.  grad_w : (n, 4) dE/dw on the state axis at fixed s and r.
    grad_s : (n_ch,) dE/ds at fixed w.  grad_r : (n,) dE/dr at fixed w (the reservoir's direct dependence).
    grad_p : (n, 3) dE/dp, the atomic dipoles (docs/model.md section 11).
    Any gradient may be None (zero).
    """

    energy: Tensor
    grad_w: Tensor | None = None
    grad_s: Tensor | None = None
    grad_r: Tensor | None = None
    grad_p: Tensor | None = None


@dataclass(frozen=True)
class EnergyTerm:
    """A registered energy component.

    func : the energy (per atom, per pair) for the decoder, written for autograd (forces, partition).
    geometry : optional ``(topo, tables, positions, shared geometry) -> cache``, run once per geometry with
        autograd to the positions; its result is ``ctx.cache(name)``.
    solver : optional ``ctx -> SolverPart`` with a hand-derived gradient (``ctx.weights``, ``ctx.amplitude`` and
        ``ctx.reservoir`` are detached); None: the solver uses autograd through ``func``.
    core : evaluated inside the fused :class:`lsip.model.objective.EqualizationObjective` (the built-in six).
    enabled : optional ``params -> bool``; a term switched off by its parameters is skipped by the solver (the
        decoder still reports it, as zeros).
    meaning : what the term means in plain words (the Energy page shows it before the formula).
    """

    name: str
    label: str
    description: str
    func: Callable[[TermContext], TermOutput]
    geometry: Callable[..., Any] | None = None
    solver: Callable[[TermContext], SolverPart] | None = None
    core: bool = False
    enabled: Callable[[Any], bool] | None = None
    meaning: str = ""

    def active(self, params: Any) -> bool:
        """Whether the term contributes with these parameters."""
        return self.enabled is None or bool(self.enabled(params))


ENERGY_TERMS: dict[str, EnergyTerm] = {}


def register_term(name: str, label: str, description: str, *, geometry: Callable[..., Any] | None = None,
                  solver: Callable[[TermContext], SolverPart] | None = None, core: bool = False,
                  enabled: Callable[[Any], bool] | None = None, meaning: str = "") -> Callable:
    """Decorator adding an energy component to :data:`ENERGY_TERMS` (order of registration is kept).

    See :class:`EnergyTerm` for ``geometry``, ``solver``, ``core``, ``enabled`` and ``meaning``; a name registered
    twice is an error.
    """

    def wrap(func: Callable[[TermContext], TermOutput]) -> Callable[[TermContext], TermOutput]:
        if name in ENERGY_TERMS:
            raise ValueError(f"energy term {name!r} is already registered")
        ENERGY_TERMS[name] = EnergyTerm(name, label, description, func, geometry, solver, core, enabled, meaning)
        return func

    return wrap


def unregister_term(name: str) -> None:
    """Remove a registered term (tests, experiments)."""
    ENERGY_TERMS.pop(name, None)


def _halves(ctx: TermContext, i: Tensor, j: Tensor, e: Tensor) -> Tensor:
    out = torch.zeros(ctx.topo.n_atoms, dtype=e.dtype, device=e.device)
    if ctx.totals_only:
        return out.index_add(0, i, e)
    return out.index_add(0, i, 0.5 * e).index_add(0, j, 0.5 * e)


def _channel_to_pairs(ctx: TermContext, e: Tensor) -> Tensor:
    out = torch.zeros(len(ctx.topo.sr_i), dtype=e.dtype, device=e.device)
    return out.index_add(0, ctx.topo.ch_pair, e)


@register_term("state", "State (ensemble) energy",
               "sum_A w+ I - w- A + w* eps: the exact linear ensemble energy of free atoms", core=True,
               meaning="the cost of ionizing atoms (I) and the gain of adding electrons (A), weighted by how much "
                       "of each atom is cation, anion or excited")
def state_energy(ctx: TermContext) -> TermOutput:
    """E_state per atom = w+ I - w- A + w* eps (hartree)."""
    t, w, e = ctx.tables, ctx.weights, ctx.topo.elem
    return TermOutput(w[:, CAT] * t.I[e] - w[:, ANI] * t.A[e] + w[:, EXC] * t.eps[e])


@register_term("electrostatic", "Electrostatics",
               "mean-field Coulomb of nuclei + state densities (point charges + penetration) "
               "with the per-channel configuration correction", core=True,
               meaning="attraction and repulsion of the atoms' charges and overlapping electron clouds")
def electrostatic_energy(ctx: TermContext) -> TermOutput:
    """E_es = q^T J q / 2 + sum_{A<B} w_A^T V w_B + sum_channels c (1 - c) X (hartree).

    The per-pair output holds the short-range part (penetration + configuration correction); the
    point-charge part is long-ranged and is reported per atom only.
    """
    g, topo, w, q = ctx.geometry, ctx.topo, ctx.weights, ctx.charges
    e_pen = torch.einsum("pk,pkl,pl->p", w[topo.sr_i], g.v_sr, w[topo.sr_j])
    c = ctx.occupation
    e_corr = c * (1.0 - c) * g.x_corr
    per_atom = 0.5 * q * g.coulomb.apply(q) + _halves(ctx, topo.sr_i, topo.sr_j, e_pen)
    per_atom = per_atom + _halves(ctx, topo.ch_donor, topo.ch_acceptor, e_corr)
    return TermOutput(per_atom, e_pen + _channel_to_pairs(ctx, e_corr))


@register_term("charge_transfer", "Charge-transfer resonance",
               "-2 sum_{A->B} beta_AB sqrt(c_AB) (w0_A w0_B)^(1/4): coupling of neutral and ionic configurations",
               core=True,
               meaning="the energy gained because the neutral and the ionic configurations of a bonded pair mix "
                       "(resonance)")
def charge_transfer_energy(ctx: TermContext) -> TermOutput:
    """Resonance energy per channel, split between donor and acceptor (hartree)."""
    topo, w = ctx.topo, ctx.weights
    e = resonance_energy(ctx.geometry.beta, ctx.amplitude, w[topo.ch_donor, NEU], w[topo.ch_acceptor, NEU])
    return TermOutput(_halves(ctx, topo.ch_donor, topo.ch_acceptor, e), _channel_to_pairs(ctx, e))


def _delocalization_solver(ctx: TermContext) -> SolverPart:
    """E = -sum_channels beta sqrt(r_D r_A); dE/dr_A = -sum_{channels at A} beta sqrt(r_other) / (2 sqrt(r_A)),
    finite where the solver keeps it (its softmax variables make r_A > 0)."""
    topo, r = ctx.topo, ctx.reservoir_or_zero
    root = torch.sqrt(torch.clamp(r, min=0.0))
    beta = ctx.geometry.beta
    e_ch = -beta * root[topo.ch_donor] * root[topo.ch_acceptor]
    energy = torch.zeros(topo.n_mols, dtype=r.dtype, device=r.device).index_add_(0, topo.mol[topo.ch_donor], e_ch)
    grad = torch.zeros_like(r)
    grad.index_add_(0, topo.ch_donor, -beta * root[topo.ch_acceptor])
    grad.index_add_(0, topo.ch_acceptor, -beta * root[topo.ch_donor])
    grad = torch.where(root > 0, 0.5 * grad / torch.clamp(root, min=1e-300), torch.zeros_like(grad))
    # channels with one empty end contribute no slope (as the decoder's safe square root): the softmax keeps
    # every reservoir entry of a charged structure positive, so this only affects neutral structures
    return SolverPart(energy, grad_r=grad)


@register_term("delocalization", "Charge delocalization",
               "-2 sum_{A<B} beta_AB sqrt(r_A r_B): the net charge of an ion hops between coupled atoms "
               "(zero in neutral structures)", solver=_delocalization_solver,
               meaning="the energy gained when an ion's extra charge spreads over several atoms instead of sitting "
                       "on one")
def delocalization_energy(ctx: TermContext) -> TermOutput:
    """Hueckel energy of the reservoir charge over the channel couplings, split donor/acceptor (hartree).

    Summed over both directions of a pair, -beta sqrt(r_A r_B) per channel gives -2 beta_AB sqrt(r_A r_B): with
    amplitudes a = sqrt(r / |Q|), the energy of |Q| charges in the lowest orbital of the coupling matrix -beta
    (docs/model.md, "Charge delocalization").
    """
    topo, r = ctx.topo, ctx.reservoir_or_zero
    prod = torch.clamp(r[topo.ch_donor], min=0.0) * torch.clamp(r[topo.ch_acceptor], min=0.0)
    inside = prod > 0  # sqrt'(0) is infinite: a zero reservoir (neutral structure) contributes no gradient
    e = -ctx.geometry.beta * torch.where(inside, torch.sqrt(torch.where(inside, prod, 1.0)), 0.0)
    return TermOutput(_halves(ctx, topo.ch_donor, topo.ch_acceptor, e), _channel_to_pairs(ctx, e))


def host_density(ctx: TermContext) -> Tensor:
    """(n,) rho_bar_A = sum_{B != A} sum_l w_B^l rho_{B,l}(R_AB), bohr^-3."""
    g, topo, w = ctx.geometry, ctx.topo, ctx.weights
    at_i = (g.rho_at_i * w[topo.sr_j]).sum(-1)
    at_j = (g.rho_at_j * w[topo.sr_i]).sum(-1)
    out = torch.zeros(topo.n_atoms, dtype=w.dtype, device=w.device)
    return out.index_add(0, topo.sr_i, at_i).index_add(0, topo.sr_j, at_j)


@register_term("embedding", "Embedding",
               "sum_A sum_k w_A^k F_{A,k}(rho_bar_A): non-additive Thomas-Fermi + LDA energy in the host density",
               core=True,
               meaning="the cost of squeezing an atom's electrons into its neighbours' electron cloud (Pauli "
                       "principle and exchange)")
def embedding_energy(ctx: TermContext) -> TermOutput:
    """E_emb per atom (hartree)."""
    f = ctx.tables.embedding(ctx.topo.elem, host_density(ctx))
    return TermOutput((ctx.weights * f).sum(-1))


@register_term("repulsion", "Pair repulsion", "optional Born-Mayer pair term (zero in the first-principles set)",
               core=True,
               meaning="an optional empirical pair repulsion")
def repulsion_energy(ctx: TermContext) -> TermOutput:
    """Born-Mayer repulsion per atom (hartree)."""
    e = ctx.geometry.repulsion
    return TermOutput(_halves(ctx, ctx.topo.sr_i, ctx.topo.sr_j, e), e)


@register_term("entropy", "Electronic entropy", "-T_e S(w), S = -sum_k w ln w per atom (off by default)",
               core=True,
               meaning="an optional electronic temperature that smooths the charges")
def entropy_energy(ctx: TermContext) -> TermOutput:
    """-T_e S per atom (hartree); zero when the electronic temperature is 0."""
    t = ctx.tables.params.electronic_temperature
    w = ctx.weights
    if t == 0.0:
        return TermOutput(torch.zeros(w.shape[0], dtype=w.dtype, device=w.device))
    wc = torch.clamp(w, min=1e-300)
    return TermOutput(t * (wc * torch.log(wc)).sum(-1))


def evaluate_terms(ctx: TermContext) -> dict[str, TermOutput]:
    """All registered terms for one context."""
    return {name: term.func(ctx) for name, term in ENERGY_TERMS.items()}


# the physics-v2 terms register themselves (docs/model.md, sections 10 and 11)
import lsip.model.bonding  # noqa: E402
import lsip.model.hybrid  # noqa: E402
import lsip.model.polarization  # noqa: E402, F401
