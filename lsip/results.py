"""The one unit boundary: a prediction in user units (eV, angstrom, e, debye), and as JSON.

:func:`user_units` converts a :class:`~lsip.model.decoder.Prediction` (atomic units) once, with the per-atom
energies summed once; the CLI's JSON (:func:`prediction_to_dict`, key names documented in
``docs/conventions.md``), the app's headline and tables (:mod:`lsip.export`), the ASE calculator and the
generated reproduction scripts all read it, so every surface reports the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lsip.model.baselines import BaselinePrediction
from lsip.model.decoder import Prediction, as_numpy
from lsip.model.library import STATE_LABELS
from lsip.structure import atom_label
from lsip.units import (
    BOHR_TO_ANGSTROM,
    E_BOHR_TO_DEBYE,
    HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM,
    HARTREE_TO_EV,
)


@dataclass(frozen=True)
class UserUnits:
    """One prediction in user units. Energies eV (relative to free neutral atoms), lengths angstrom, charges e,
    forces eV/angstrom, dipole e angstrom and debye (about the centre of mass), chemical potentials eV."""

    energy_eV: float
    terms_eV: dict[str, float]
    terms_per_atom_eV: dict[str, np.ndarray]
    energies_eV: np.ndarray
    positions_A: np.ndarray
    forces_eV_A: np.ndarray
    charges_e: np.ndarray
    weights: np.ndarray
    dipole_eA: np.ndarray
    dipole_D: float
    mu_eV: float
    mu_atoms_eV: np.ndarray
    atomic_dipoles_eA: np.ndarray

    @property
    def max_force_eV_A(self) -> float:
        """Largest |F| on any atom (0 for no atoms)."""
        return float(np.linalg.norm(self.forces_eV_A, axis=1).max()) if len(self.forces_eV_A) else 0.0


def user_units(pred: Prediction) -> UserUnits:
    """Convert ``pred`` to :class:`UserUnits` (the per-atom energy is the sum of the terms' per-atom values)."""
    per_atom = {k: as_numpy(v) * HARTREE_TO_EV for k, v in pred.terms.items()}
    return UserUnits(
        energy_eV=pred.energy * HARTREE_TO_EV,
        terms_eV={k: v * HARTREE_TO_EV for k, v in pred.term_totals.items()},
        terms_per_atom_eV=per_atom,
        energies_eV=sum(per_atom.values()) if per_atom else np.zeros(pred.n_atoms),
        positions_A=as_numpy(pred.positions) * BOHR_TO_ANGSTROM,
        forces_eV_A=as_numpy(pred.forces) * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM,
        charges_e=as_numpy(pred.charges),
        weights=as_numpy(pred.weights),
        dipole_eA=as_numpy(pred.dipole) * BOHR_TO_ANGSTROM,
        dipole_D=float(np.linalg.norm(as_numpy(pred.dipole)) * E_BOHR_TO_DEBYE),
        mu_eV=pred.mu * HARTREE_TO_EV,
        mu_atoms_eV=as_numpy(pred.mu_atoms) * HARTREE_TO_EV,
        atomic_dipoles_eA=as_numpy(pred.atomic_dipoles) * BOHR_TO_ANGSTROM,
    )


def _list(x: Any, scale: float = 1.0, digits: int = 10) -> list:
    return np.round(np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float64) * scale,
                    digits).tolist()


def json_safe(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float replaced by None (JSON has no such numbers; docs/limits.md)."""
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def prediction_to_dict(pred: Prediction, *, trace: bool = False) -> dict[str, Any]:
    """JSON-ready summary of a :class:`Prediction` (keys of the ``lsip predict --json`` schema)."""
    u = user_units(pred)
    out: dict[str, Any] = {
        "model": "lsip",
        "params": pred.params_name,
        "n_atoms": pred.n_atoms,
        "symbols": list(pred.symbols),
        "positions_A": _list(u.positions_A),
        "total_charge": pred.total_charge,
        "energy_eV": u.energy_eV,
        "terms_eV": u.terms_eV,
        "energies_eV": _list(u.energies_eV),
        "terms_per_atom_eV": {k: _list(v) for k, v in u.terms_per_atom_eV.items()},
        "charges_e": _list(u.charges_e),
        "charge_fluctuation": _list(pred.charge_fluctuation),
        "weights": {lab: _list(pred.weights[:, k]) for k, lab in enumerate(STATE_LABELS)},
        "channels": [
            {"donor": int(d), "acceptor": int(a), "occupation": float(c), "beta_eV": float(b) * HARTREE_TO_EV}
            for d, a, c, b in zip(pred.donor.tolist(), pred.acceptor.tolist(), pred.occupation.tolist(),
                                  pred.beta.tolist())
        ],
        "dipole_eA": np.round(u.dipole_eA, 10).tolist(),
        "dipole_D": u.dipole_D,
        "atomic_dipoles_eA": _list(u.atomic_dipoles_eA),
        "mu_eV": u.mu_eV,
        "mu_atoms_eV": _list(u.mu_atoms_eV),
        "forces_eV_per_A": _list(u.forces_eV_A),
        "converged": pred.converged,
        **({"failure": pred.failure} if pred.failure else {}),
        "iterations": pred.iterations,
        "residual": pred.residual,
        "active_bounds": pred.active_bounds,
        "time_s": pred.time_s,
        "device": pred.device,
    }
    if trace:
        out["trace"] = [{"iteration": i, "energy_eV": e * HARTREE_TO_EV, "residual": r} for i, e, r in pred.trace]
    return out


def baseline_to_dict(pred: BaselinePrediction) -> dict[str, Any]:
    """JSON-ready summary of a baseline; fields the baseline does not have are absent or null."""
    return {
        "model": pred.model,
        "n_atoms": len(pred.symbols),
        "symbols": list(pred.symbols),
        "positions_A": _list(pred.positions, BOHR_TO_ANGSTROM),
        "total_charge": pred.total_charge,
        "energy_eV": None if pred.energy is None else pred.energy * HARTREE_TO_EV,
        "charges_e": _list(pred.charges),
        "dipole_eA": _list(pred.dipole, BOHR_TO_ANGSTROM),
        "dipole_D": float(np.linalg.norm(pred.dipole.numpy()) * E_BOHR_TO_DEBYE),
        "converged": True,
        "time_s": pred.time_s,
        "device": pred.device,
    }


def compare_sets(pred_a: Prediction, pred_b: Prediction, label_a: str,
                 label_b: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two predictions of one structure (two parameter sets) side by side, in user units.

    Returns the summary rows (total energy, every term either set has, dipole, chemical potential, iterations:
    ``quantity``, ``label_a``, ``label_b``, ``B - A``) and one row per atom (``atom``, charge in each set and
    their difference).
    """
    if list(pred_a.symbols) != list(pred_b.symbols):
        raise ValueError("the two predictions are not of the same structure")
    ua, ub = user_units(pred_a), user_units(pred_b)

    def row(name: str, a: float, b: float) -> dict[str, Any]:
        return {"quantity": name, label_a: a, label_b: b, "B - A": b - a}

    rows = [row("energy (eV)", ua.energy_eV, ub.energy_eV)]
    for term in dict.fromkeys([*ua.terms_eV, *ub.terms_eV]):
        rows.append(row(f"  {term} (eV)", ua.terms_eV.get(term, 0.0), ub.terms_eV.get(term, 0.0)))
    rows += [row("dipole |mu| (D)", ua.dipole_D, ub.dipole_D),
             row("chemical potential (eV)", ua.mu_eV, ub.mu_eV),
             row("solver iterations", float(pred_a.iterations), float(pred_b.iterations))]
    labels = [atom_label(pred_a.symbols, k) for k in range(len(pred_a.symbols))]
    atoms = [{"atom": lab, f"q {label_a} (e)": float(qa), f"q {label_b} (e)": float(qb), "B - A (e)": float(qb - qa)}
             for lab, qa, qb in zip(labels, ua.charges_e, ub.charges_e, strict=True)]
    return rows, atoms
