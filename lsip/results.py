"""Predictions as plain JSON-ready dictionaries in user units (eV, angstrom, e, debye).

The key names are the CLI's documented JSON schema (``docs/conventions.md``); the app's exports and the
generated reproduction scripts use the same function, so every surface reports the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lsip.model.baselines import BaselinePrediction
from lsip.model.decoder import Prediction
from lsip.model.library import STATE_LABELS
from lsip.units import (
    BOHR_TO_ANGSTROM,
    E_BOHR_TO_DEBYE,
    HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM,
    HARTREE_TO_EV,
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
    dip_ea = pred.dipole.numpy() * BOHR_TO_ANGSTROM
    out: dict[str, Any] = {
        "model": "lsip",
        "params": pred.params_name,
        "n_atoms": pred.n_atoms,
        "symbols": list(pred.symbols),
        "positions_A": _list(pred.positions, BOHR_TO_ANGSTROM),
        "total_charge": pred.total_charge,
        "energy_eV": pred.energy * HARTREE_TO_EV,
        "terms_eV": {k: v * HARTREE_TO_EV for k, v in pred.term_totals.items()},
        "energies_eV": _list(sum(pred.terms.values()), HARTREE_TO_EV),
        "terms_per_atom_eV": {k: _list(v, HARTREE_TO_EV) for k, v in pred.terms.items()},
        "charges_e": _list(pred.charges),
        "charge_fluctuation": _list(pred.charge_fluctuation),
        "weights": {lab: _list(pred.weights[:, k]) for k, lab in enumerate(STATE_LABELS)},
        "channels": [
            {"donor": int(d), "acceptor": int(a), "occupation": float(c), "beta_eV": float(b) * HARTREE_TO_EV}
            for d, a, c, b in zip(pred.donor.tolist(), pred.acceptor.tolist(), pred.occupation.tolist(),
                                  pred.beta.tolist())
        ],
        "dipole_eA": np.round(dip_ea, 10).tolist(),
        "dipole_D": float(np.linalg.norm(pred.dipole.numpy()) * E_BOHR_TO_DEBYE),
        "mu_eV": pred.mu * HARTREE_TO_EV,
        "mu_atoms_eV": _list(pred.mu_atoms, HARTREE_TO_EV),
        "forces_eV_per_A": _list(pred.forces, HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM),
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
