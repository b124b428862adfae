"""GFN2-xTB (tblite) as a third baseline of the validation: charges, dipoles, atomization energies.

GFN2-xTB (Bannwarth, Ehlert, Grimme 2019) is a semi-empirical tight-binding method with its own charges
(Mulliken populations of its minimal basis), run here through tblite's Python API at its default settings
(electronic temperature 300 K). Atomization energies are E(molecule) - sum E(free atom), the free atoms with
their ground-state spin (:data:`lsip.validation.molecules.ATOM_SPIN`, as for DFT). Nothing is fitted: it is a
published method placed beside the model, EEQ and QEq (docs/validation.md).
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from functools import cache

import numpy as np

from lsip.data.masses import atomic_mass
from lsip.structure import ATOMIC_NUMBERS, Structure
from lsip.units import ANGSTROM_TO_BOHR
from lsip.validation.molecules import ATOM_SPIN


@dataclass(frozen=True)
class XtbResult:
    """One GFN2-xTB single point: energy (hartree), charges (e), dipole (e bohr about the centre of mass)."""

    energy: float
    charges: np.ndarray
    dipole: np.ndarray


def _singlepoint(numbers: np.ndarray, positions_bohr: np.ndarray, charge: int, uhf: int) -> object:
    from tblite.interface import Calculator

    calc = Calculator("GFN2-xTB", numbers, positions_bohr, charge=float(charge), uhf=int(uhf))
    calc.set("verbosity", 0)
    # tblite prints from Fortran on failure; keep the validation's output clean
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(sink):
        return calc.singlepoint()


def gfn2(structure: Structure) -> XtbResult | None:
    """GFN2-xTB of a closed-shell structure, or None when tblite is missing or its SCF fails."""
    numbers = np.array([ATOMIC_NUMBERS[s] for s in structure.symbols])
    pos = np.asarray(structure.positions, dtype=float) * ANGSTROM_TO_BOHR
    try:
        res = _singlepoint(numbers, pos, int(structure.charge), 0)
    except (ImportError, RuntimeError, ValueError):
        return None
    mass = np.array([atomic_mass(s) for s in structure.symbols])
    com = (mass[:, None] * pos).sum(0) / mass.sum()
    dipole = np.asarray(res.get("dipole"), float) - float(structure.charge) * com  # tblite: about the origin
    return XtbResult(float(res.get("energy")), np.asarray(res.get("charges"), float), dipole)


@cache
def atom_energy(symbol: str) -> float | None:
    """GFN2-xTB energy of the free neutral atom in its ground-state spin (hartree), or None."""
    try:
        res = _singlepoint(np.array([ATOMIC_NUMBERS[symbol]]), np.zeros((1, 3)), 0, ATOM_SPIN[symbol])
    except (ImportError, RuntimeError, ValueError, KeyError):
        return None
    return float(res.get("energy"))


def atomization_energy(structure: Structure, result: XtbResult | None) -> float | None:
    """E(molecule) - sum E(free atoms), hartree (None if any part is missing)."""
    if result is None:
        return None
    atoms = [atom_energy(s) for s in structure.symbols]
    if any(e is None for e in atoms):
        return None
    return result.energy - float(sum(atoms))
