"""Latent coordinates of a batch (docs/model.md section 2) and the per-atom ensemble weights derived from them.

Independent variables:

* channel amplitudes s_AB >= 0 for each ordered pair A->B within the channel cut-off; the occupation is
  c_AB = s_AB^2 (the square root makes the resonance term -2 beta sqrt(c) ... smooth at c = 0);
* excited-state weights w_A^* >= 0;
* reservoir occupations r_A >= 0 with sum_A r_A = |Q| per structure (charged structures only);
* atomic dipoles p_A (e bohr, unbounded) when the parameter set has a polarization channel (docs/model.md
  section 11).

Derived: w_A^+ = sum_B c_AB (+ r_A if Q > 0), w_A^- = sum_B c_BA (+ r_A if Q < 0),
w_A^0 = 1 - w^+ - w^- - w^*, q_A = w^+ - w^-, so sum_A q_A = Q exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from lsip.model.system import BatchTopology


@dataclass
class Latent:
    """Latent coordinates of a batch.

    Attributes
    ----------
    amplitude : (n_ch,) s = sqrt(c) per channel (order of ``topo.ch_donor``).
    excited : (n,) excited-state weights.
    reservoir : (n,) reservoir occupations (zero in neutral structures).
    donor, acceptor : (n_ch,) atom indices of each channel (kept for warm starts).
    dipoles : (n, 3) atomic dipoles p_A, e bohr (zeros when the parameter set has none).
    """

    amplitude: Tensor
    excited: Tensor
    reservoir: Tensor
    donor: Tensor
    acceptor: Tensor
    dipoles: Tensor | None = None

    def __post_init__(self) -> None:
        if self.dipoles is None:
            self.dipoles = torch.zeros(len(self.excited), 3, dtype=self.excited.dtype, device=self.excited.device)

    @property
    def occupation(self) -> Tensor:
        """(n_ch,) channel occupations c_AB."""
        return self.amplitude * self.amplitude

    def detach(self) -> Latent:
        """A copy cut from the autograd graph."""
        return Latent(self.amplitude.detach(), self.excited.detach(), self.reservoir.detach(), self.donor,
                      self.acceptor, self.dipoles.detach())

    def to_cpu(self) -> Latent:
        """A copy on the CPU (guesses from several structures are combined there)."""
        cpu = torch.device("cpu")
        return Latent(self.amplitude.to(cpu), self.excited.to(cpu), self.reservoir.to(cpu), self.donor.to(cpu),
                      self.acceptor.to(cpu), self.dipoles.to(cpu))


def latent_weights(amplitude: Tensor, excited: Tensor, reservoir: Tensor, topo: BatchTopology) -> Tensor:
    """(n, 4) ensemble weights (cation, neutral, anion, excited) from the latent coordinates."""
    c = amplitude * amplitude
    zeros = torch.zeros(topo.n_atoms, dtype=c.dtype, device=c.device)
    w_plus = zeros.index_add(0, topo.ch_donor, c)
    w_minus = zeros.index_add(0, topo.ch_acceptor, c)
    sign = torch.sign(topo.total_charge)[topo.mol]
    w_plus = w_plus + torch.where(sign > 0, reservoir, zeros)
    w_minus = w_minus + torch.where(sign < 0, reservoir, zeros)
    w_neutral = 1.0 - w_plus - w_minus - excited
    return torch.stack([w_plus, w_neutral, w_minus, excited], dim=-1)


def initial_latent(topo: BatchTopology) -> Latent:
    """Neutral atoms (the adiabatic branch); a charged structure spreads |Q| evenly over its atoms."""
    dt, dev = topo.positions.dtype, topo.positions.device
    counts = torch.zeros(topo.n_mols, dtype=dt, device=dev).index_add(0, topo.mol, torch.ones(topo.n_atoms,
                                                                                              dtype=dt, device=dev))
    reservoir = (topo.total_charge.abs() / counts)[topo.mol]
    return Latent(torch.zeros(len(topo.ch_donor), dtype=dt, device=dev), torch.zeros(topo.n_atoms, dtype=dt,
                  device=dev), reservoir, topo.ch_donor, topo.ch_acceptor)


def concat_latents(parts: list[Latent]) -> Latent:
    """One batch latent from per-structure latents (local atom indices), in batch order."""
    offsets, total = [], 0
    for lat in parts:
        offsets.append(total)
        total += len(lat.excited)
    return Latent(torch.cat([p.amplitude for p in parts]), torch.cat([p.excited for p in parts]),
                  torch.cat([p.reservoir for p in parts]),
                  torch.cat([p.donor + o for p, o in zip(parts, offsets)]),
                  torch.cat([p.acceptor + o for p, o in zip(parts, offsets)]),
                  torch.cat([p.dipoles for p in parts]))


def warm_latent(previous: Latent, topo: BatchTopology) -> Latent:
    """Start from ``previous`` (another geometry of the same atoms): channels present in both keep their
    amplitudes, new channels start at zero; excited weights, reservoir and atomic dipoles are copied. A guess for
    another number of atoms is ignored (the neutral start is used)."""
    start = initial_latent(topo)
    if previous.excited.shape != start.excited.shape:
        return start
    n = topo.n_atoms
    old_key = (previous.donor * n + previous.acceptor).cpu()
    new_key = (topo.ch_donor * n + topo.ch_acceptor).cpu()
    lookup = dict(zip(old_key.tolist(), range(len(old_key))))
    if previous.reservoir.shape != start.reservoir.shape:
        return start
    amp = start.amplitude.clone()
    idx = [(k, lookup[key]) for k, key in enumerate(new_key.tolist()) if key in lookup]
    if idx:
        new_i, old_i = (torch.tensor(x, device=amp.device) for x in zip(*idx))
        amp[new_i] = previous.amplitude.to(amp)[old_i]
    reservoir = previous.reservoir.to(amp).clone()
    # the reservoir carries |Q|: a guess from another total charge would violate sum_A r_A = |Q|
    counts = torch.zeros(topo.n_mols, dtype=amp.dtype, device=amp.device).index_add(0, topo.mol, reservoir)
    if not torch.allclose(counts, topo.total_charge.abs().to(amp), atol=1e-9):
        reservoir = start.reservoir
    return Latent(amp, previous.excited.to(amp).clone(), reservoir, topo.ch_donor, topo.ch_acceptor,
                  previous.dipoles.to(amp).clone())
