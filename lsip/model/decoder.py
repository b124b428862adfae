"""The decoder: latent coordinates -> named energy terms, forces, charges, dipole (and densities).

Forces are -dE/dR at fixed latent coordinates: at a converged constrained minimum the envelope theorem makes
this the total derivative (docs/model.md section 6). They are obtained by autograd through the pair geometry.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from lsip.model.encoder import EncoderReport
from lsip.model.latent import Latent, latent_weights
from lsip.model.polarization import total_dipoles
from lsip.model.system import BatchTopology
from lsip.model.tables import ModelTables
from lsip.model.terms import ENERGY_TERMS, PairGeometry, TermContext, evaluate_terms, host_density, pair_geometry


@dataclass
class Prediction:
    """Everything the model says about one structure (Hartree atomic units; tensors on CPU, float64).

    Attributes
    ----------
    symbols : element symbols.  positions : (n, 3) bohr.  total_charge : Q, e.
    energy : total energy relative to free neutral atoms, hartree (sum of ``term_totals``).
    terms : name -> (n,) per-atom energies, hartree; every term's per-atom values sum to its total.
    term_totals : name -> total of the term, hartree.
    forces : (n, 3) hartree/bohr.
    charges : (n,) q_A = w+ - w-, e.  weights : (n, 4) cation, neutral, anion, excited.
    channels : donor (n_ch,), acceptor (n_ch,) local atom indices, occupation (n_ch,) c, coupling beta (n_ch,).
    pairs : short-range pairs (i, j) (n_sr,) and name -> (n_sr,) pair energies of the pair terms.
    dipole : (3,) e bohr about the centre of mass: sum_A q_A (R_A - R_cm) + sum_A p_A (point charges plus atomic
        dipoles).
    atomic_dipoles : (n, 3) atomic dipoles P_A = p_A + p^lp_A, e bohr: the induced dipole plus the lone-pair
        dipole (zeros when the parameter set has neither; docs/model.md sections 11 and 11.1). ``latent.dipoles``
        holds the induced part alone.
    mu : global chemical potential, hartree.  mu_atoms : (n,) hartree.  host_density : (n,) bohr^-3.
    converged, residual, iterations, active_bounds, trace, time_s : encoder diagnostics.
    device : where it ran.  params_name : parameter set.
    latent : this structure's latent coordinates (atom indices local to the structure): pass it as
        ``predict(next_geometry, guess=prediction.latent)`` to warm-start a scan or an MD step.
    timings : seconds spent in topology, geometry, encode, decode and in total for the call that made it.
    failure : why the prediction is not usable beyond non-convergence (e.g. non-finite numbers), else "".
    """

    symbols: tuple[str, ...]
    positions: Tensor
    total_charge: float
    energy: float
    terms: dict[str, Tensor]
    term_totals: dict[str, float]
    forces: Tensor
    charges: Tensor
    weights: Tensor
    donor: Tensor
    acceptor: Tensor
    occupation: Tensor
    beta: Tensor
    pair_i: Tensor
    pair_j: Tensor
    pair_terms: dict[str, Tensor]
    dipole: Tensor
    mu: float
    mu_atoms: Tensor
    host_density: Tensor
    converged: bool
    residual: float
    iterations: int
    active_bounds: dict[str, int]
    trace: list = field(default_factory=list)
    time_s: float = 0.0
    device: str = "cpu"
    params_name: str = ""
    latent: Latent | None = None
    timings: dict[str, float] = field(default_factory=dict)
    failure: str = ""
    atomic_dipoles: Tensor | None = None

    def __post_init__(self) -> None:
        if self.atomic_dipoles is None:
            self.atomic_dipoles = torch.zeros(len(self.symbols), 3, dtype=self.positions.dtype)

    @property
    def charge_fluctuation(self) -> Tensor:
        """(n,) w+ + w-: the ionic character of an atom's bonds even where q = 0."""
        return self.weights[:, 0] + self.weights[:, 2]

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.symbols)


def decode(latent: Latent, topo: BatchTopology, tables: ModelTables, report: EncoderReport,
           symbols: list[tuple[str, ...]], geometry: PairGeometry | None = None, positions: Tensor | None = None,
           params_name: str = "") -> list[Prediction]:
    """Energy terms, forces, charges and dipoles of every structure of the batch at fixed latent coordinates.

    ``geometry`` may be given with its autograd graph to ``positions`` (then forces are computed);
    otherwise it is computed here from ``topo.positions`` with forces.
    """
    if geometry is None:
        positions = topo.positions.detach().clone().requires_grad_(True)
        geometry = pair_geometry(topo, tables, positions)
    forces = positions is not None and positions.requires_grad
    lat = latent.detach()
    w = latent_weights(lat.amplitude, lat.excited, lat.reservoir, topo)
    dipoles = lat.dipoles if tables.has_dipoles and tables.params.polarizability_scale > 0 else None
    ctx = TermContext(w, lat.amplitude, geometry, topo, tables, reservoir=lat.reservoir, dipoles=dipoles)
    outs = evaluate_terms(ctx)
    total = sum(o.per_atom.sum() for o in outs.values())
    if forces:
        (grad,) = torch.autograd.grad(total, positions)
        f = -grad.detach()
    else:
        f = torch.zeros_like(topo.positions)
    rho_bar = host_density(ctx).detach()
    big_p = total_dipoles(ctx)  # induced plus lone-pair dipoles (docs/model.md sections 11 and 11.1)
    p_total = lat.dipoles if big_p is None else big_p.detach()
    return [_slice(m, outs, f, w.detach(), lat, geometry, rho_bar, topo, tables, report, symbols[m], params_name,
                   p_total) for m in range(topo.n_mols)]


def _slice(m: int, outs: dict, forces: Tensor, w: Tensor, lat: Latent, geometry: object, rho_bar: Tensor,
           topo: BatchTopology, tables: ModelTables, report: EncoderReport, symbols: tuple[str, ...],
           params_name: str, p_total: Tensor) -> Prediction:
    cpu = torch.device("cpu")
    atoms = torch.nonzero(topo.mol == m).flatten()
    off = int(atoms[0]) if len(atoms) else 0
    ch = torch.nonzero(topo.mol[topo.ch_donor] == m).flatten()
    pr = torch.nonzero(topo.mol[topo.sr_i] == m).flatten()
    terms = {k: o.per_atom.detach()[atoms].to(cpu) for k, o in outs.items()}
    totals = {k: float(v.sum()) for k, v in terms.items()}
    pair_terms = {k: o.per_pair.detach()[pr].to(cpu) for k, o in outs.items() if o.per_pair is not None}
    pos = topo.positions.detach()[atoms].to(cpu)
    q = (w[atoms, 0] - w[atoms, 2]).to(cpu)
    mass_center = _mass_center(symbols, pos)
    p_atoms = p_total[atoms].to(cpu)
    return Prediction(
        symbols=symbols, positions=pos, total_charge=float(topo.total_charge[m]),
        energy=float(sum(totals.values())), terms=terms, term_totals=totals, forces=forces[atoms].to(cpu),
        charges=q, weights=w[atoms].to(cpu), donor=(topo.ch_donor[ch] - off).to(cpu),
        acceptor=(topo.ch_acceptor[ch] - off).to(cpu), occupation=lat.occupation[ch].to(cpu),
        beta=geometry.beta.detach()[ch].to(cpu), pair_i=(topo.sr_i[pr] - off).to(cpu),
        pair_j=(topo.sr_j[pr] - off).to(cpu), pair_terms=pair_terms,
        dipole=(q[:, None] * (pos - mass_center)).sum(0) + p_atoms.sum(0), mu=float(report.mu[m]),
        mu_atoms=report.mu_atoms[atoms].to(cpu), host_density=rho_bar[atoms].to(cpu),
        converged=bool(report.converged[m]), residual=float(report.residual[m]),
        iterations=int(report.iterations_per_structure[m]),
        active_bounds=report.active_bounds[m], trace=report.trace, time_s=report.time_s,
        device=str(tables.device), params_name=params_name,
        latent=Latent(lat.amplitude[ch].to(cpu), lat.excited[atoms].to(cpu), lat.reservoir[atoms].to(cpu),
                      (lat.donor[ch] - off).to(cpu), (lat.acceptor[ch] - off).to(cpu), lat.dipoles[atoms].to(cpu)),
        atomic_dipoles=p_atoms,
    )


def _mass_center(symbols: tuple[str, ...], pos: Tensor) -> Tensor:
    from lsip.data.masses import atomic_mass

    mass = torch.tensor([atomic_mass(s) for s in symbols], dtype=pos.dtype)
    return (mass[:, None] * pos).sum(0) / mass.sum()


def term_labels() -> dict[str, str]:
    """name -> human label of every registered energy term."""
    return {k: t.label for k, t in ENERGY_TERMS.items()}


def as_numpy(t: Tensor | np.ndarray) -> np.ndarray:
    """A tensor (detached, any device) or an array as a float64 numpy array: the package's one such helper."""
    return np.asarray(t.detach().cpu() if isinstance(t, Tensor) else t, dtype=np.float64)
