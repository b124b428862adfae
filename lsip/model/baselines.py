"""Baseline charge models for comparison: classic QEq and EEQ (tad-multicharge).

**QEq** (Rappe and Goddard, J. Phys. Chem. 95, 3358 (1991)) minimises the quadratic
E(q) = sum_A (chi_A q_A + eta_A q_A^2 / 2) + sum_{A<B} q_A q_B J_AB(R) subject to sum q = Q, with
J_AB = 1 / sqrt(R^2 + (2 / (eta_A + eta_B))^2) (Ohno-Klopman shielding). Decision: chi = (I + A)/2 and
eta = I - A are taken from the *same latent library* as the LSIP model, so the two differ only in the
physics (ensemble + resonance vs quadratic), not in the atomic data. Its charges stay fractional at infinite
separation, q_A = (chi_B - chi_A) / (eta_A + eta_B): the dissociation catastrophe LSIP avoids.

**EEQ** (Caldeweyher et al., J. Chem. Phys. 150, 154122 (2019)) through ``tad_multicharge`` with its
published 2019 parameters (its own electronegativities, not the library's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor

from lsip.errors import LSIPError, SystemTooLargeError
from lsip.model.library import LatentLibrary, default_library
from lsip.structure import Structure
from lsip.units import ANGSTROM_TO_BOHR

#: Largest structure the dense baselines accept (an (n+1)^2 linear system).
BASELINE_MAX_ATOMS = 12000


@dataclass
class BaselinePrediction:
    """Charges (and, for QEq, an energy) of a baseline model in the same units as :class:`Prediction`.

    Attributes
    ----------
    model : "qeq" or "eeq".  symbols, positions (n, 3) bohr, total_charge.
    charges : (n,) e.  dipole : (3,) e bohr about the centre of mass.  energy : hartree or None.
    time_s : wall time.  device : where it ran.
    """

    model: str
    symbols: tuple[str, ...]
    positions: Tensor
    total_charge: float
    charges: Tensor
    dipole: Tensor
    energy: float | None
    time_s: float
    device: str = "cpu"


def _check_size(st: Structure) -> None:
    if st.n_atoms > BASELINE_MAX_ATOMS:
        raise SystemTooLargeError(
            f"{st.n_atoms} atoms exceeds the dense baseline limit of {BASELINE_MAX_ATOMS} atoms"
        )


def _dipole(symbols: tuple[str, ...], pos: Tensor, q: Tensor) -> Tensor:
    from lsip.data.masses import atomic_mass

    mass = torch.tensor([atomic_mass(s) for s in symbols], dtype=pos.dtype)
    center = (mass[:, None] * pos).sum(0) / mass.sum()
    return (q[:, None] * (pos - center)).sum(0)


def qeq_charges(structure: Structure, library: LatentLibrary | None = None) -> BaselinePrediction:
    """Classic QEq with library electronegativities and hardnesses (see module docstring)."""
    _check_size(structure)
    t0 = time.perf_counter()
    lib = library or default_library()
    lib.check_symbols(structure.symbols)
    ent = [lib.element(s) for s in structure.symbols]
    chi = torch.tensor([e.electronegativity for e in ent], dtype=torch.float64)
    eta = torch.tensor([max(e.hardness, 1e-3) for e in ent], dtype=torch.float64)
    pos = torch.tensor(structure.positions * ANGSTROM_TO_BOHR, dtype=torch.float64)
    n = len(ent)
    r2 = torch.cdist(pos, pos) ** 2
    gamma = 2.0 / (eta[:, None] + eta[None, :])
    j = 1.0 / torch.sqrt(r2 + gamma**2)
    j = j - torch.diag(torch.diagonal(j)) + torch.diag(eta)
    a = torch.zeros((n + 1, n + 1), dtype=torch.float64)
    a[:n, :n] = j
    a[:n, n] = 1.0
    a[n, :n] = 1.0
    b = torch.cat([-chi, torch.tensor([float(structure.charge)], dtype=torch.float64)])
    q = torch.linalg.solve(a, b)[:n]
    energy = float(chi @ q + 0.5 * q @ j @ q)
    return BaselinePrediction("qeq", structure.symbols, pos, float(structure.charge), q,
                              _dipole(structure.symbols, pos, q), energy, time.perf_counter() - t0)


def eeq_charges(structure: Structure, device: str | torch.device = "cpu") -> BaselinePrediction:
    """EEQ charges (Caldeweyher 2019 parameters) via ``tad_multicharge``."""
    _check_size(structure)
    try:
        from tad_mctc.io.structure import Structure as TadStructure
        from tad_multicharge import get_eeq_charges
    except ImportError as exc:  # pragma: no cover - installed by requirements.txt
        raise LSIPError("the EEQ baseline needs the 'tad-multicharge' package") from exc
    if structure.cell is not None and any(structure.pbc):
        raise LSIPError("the EEQ baseline is wired for finite structures only")
    t0 = time.perf_counter()
    dev = torch.device(device)
    pos = torch.tensor(structure.positions * ANGSTROM_TO_BOHR, dtype=torch.float64, device=dev)
    numbers = torch.tensor(structure.numbers, device=dev)
    tad = TadStructure(numbers=numbers, positions=pos,
                       charge=torch.tensor(float(structure.charge), dtype=torch.float64, device=dev))
    q = get_eeq_charges(tad).detach()
    if not torch.all(torch.isfinite(q)):
        raise LSIPError("EEQ returned non-finite charges")
    pos, q = pos.cpu(), q.cpu()
    return BaselinePrediction("eeq", structure.symbols, pos, float(structure.charge), q,
                              _dipole(structure.symbols, pos, q), None, time.perf_counter() - t0, str(dev))


def baseline(name: str, structure: Structure, library: LatentLibrary | None = None,
             device: str | torch.device = "cpu") -> BaselinePrediction:
    """Dispatch by name ("qeq" or "eeq")."""
    if name == "qeq":
        return qeq_charges(structure, library)
    if name == "eeq":
        return eeq_charges(structure, device)
    raise LSIPError(f"unknown baseline {name!r}; choose 'qeq' or 'eeq'")

