"""Valence-limited bond orders of the channels: shared by the pairing term (docs/model.md section 10.2) and the
valence-saturated charge-transfer coupling (section 10.7).

Atom A offers o_AB = nu_A h_AB / (sum_C h_AC + d) of its nu_A bonds to neighbour B, in proportion to the couplings
h_AB = eps sqrt(I_A I_B) S_AB(lambda zeta_A, lambda zeta_B, R) (a valence-overlap coupling switched off with the
channel); a bond takes the harmonic mean of the two offers, b_AB = 2 o_AB o_BA / (o_AB + o_BA), so it is limited by
the valence of both ends. Weight-independent: a function of the geometry only.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.physics.overlap import sto_1s_overlap
from lsip.physics.switching import cosine_switch

#: Regularises the bond-order offers nu h / (sum h + d) of nearly isolated atoms (hartree).
PAIRING_DELTA = 1e-3


def channel_overlap(topo: BatchTopology, tables: ModelTables, r_sr: Tensor, scale: float) -> Tensor:
    """(n_ch,) S_AB(scale zeta_A, scale zeta_B, R) switched off with the channel (docs/model.md, "Channel range")."""
    p = tables.params
    r_ch = r_sr[topo.ch_pair]
    ed, ea = topo.elem[topo.ch_donor], topo.elem[topo.ch_acceptor]
    cut = tables.channel_cut[topo.ch_slot]
    sw = cosine_switch(r_ch, cut - p.channel_switch_width, cut)
    return sto_1s_overlap(scale * tables.zeta[ed], scale * tables.zeta[ea], r_ch) * sw


def bond_orders(topo: BatchTopology, tables: ModelTables, r_sr: Tensor, strength: float,
                decay: float) -> tuple[Tensor, Tensor]:
    """(b, h): the (n_ch,) valence-limited bond orders of the channels and their couplings h (hartree), with
    ``strength`` = eps and ``decay`` = lambda (see the module docstring)."""
    ed, ea = topo.elem[topo.ch_donor], topo.elem[topo.ch_acceptor]
    h = strength * torch.sqrt(tables.I[ed] * tables.I[ea]) * channel_overlap(topo, tables, r_sr, decay)
    nu = tables.valence[topo.elem]
    total = torch.zeros(topo.n_atoms, dtype=h.dtype, device=h.device).index_add(0, topo.ch_donor, h)
    offer = nu[topo.ch_donor] * h / (total[topo.ch_donor] + PAIRING_DELTA)
    other = nu[topo.ch_acceptor] * h / (total[topo.ch_acceptor] + PAIRING_DELTA)
    return 2.0 * offer * other / (offer + other + 1e-30), h


#: Width over which the corner of min(b, 1) is rounded (no kink where a bond order crosses 1).
SIGMA_SMOOTHING = 0.05


def sigma_order(order: Tensor, eps: float = SIGMA_SMOOTHING) -> Tensor:
    """The sigma part of a bond order, min(b, 1) with the corner rounded over ~eps and 0 at b = 0: one sigma bond
    per pair, the rest of a multiple bond is pi (docs/model.md sections 10.8 and 10.9)."""
    corner = 0.5 * (1.0 - math.hypot(1.0, eps))
    return 0.5 * (order + 1.0 - torch.sqrt((order - 1.0) ** 2 + eps * eps)) - corner


#: tanh(1): the saturation factor tanh(b) / tanh(1) is 1 for a single bond.
_TANH1 = float(torch.tanh(torch.tensor(1.0)))


def set_bond_orders(topo: BatchTopology, tables: ModelTables, r_sr: Tensor) -> tuple[Tensor, Tensor] | None:
    """(b, h) of :func:`bond_orders` with the set's pairing couplings (eps_p, or 1 when the pairing term is off,
    and lambda), computed once per geometry for every term that reads them (pairing, the saturated couplings, the
    Pauli bond relief, the angle term, the lone-pair dipoles, the induced dipoles' bonded exclusion; docs/model.md
    sections 10, 11.1 and 11.2); None when no
    active term needs them."""
    p = tables.params
    needed = p.pairing_strength or p.charge_transfer_saturation or p.hybrid_repulsion \
        or (p.pauli_strength and p.pauli_bond_relief) or p.lone_pair_dipole or p.polarization_exclusion
    if not needed or not len(topo.ch_donor):
        return None
    return bond_orders(topo, tables, r_sr, p.pairing_strength or 1.0, p.pairing_decay)


def coupling_saturation(tables: ModelTables, bonds: tuple[Tensor, Tensor] | None) -> Tensor | None:
    """(n_ch,) factor 1 - s + s tanh(b_AB) / tanh(1) on the charge-transfer couplings beta_AB (docs/model.md
    section 10.7), s = ``charge_transfer_saturation``, b from :func:`set_bond_orders`; None when s = 0 (the
    couplings are left as they are)."""
    s = tables.params.charge_transfer_saturation
    if not s or bonds is None:
        return None
    return 1.0 - s + s * torch.tanh(bonds[0]) / _TANH1
