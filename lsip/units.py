"""Unit conversions: the one place where LSIP leaves atomic units.

Inside the package everything is in Hartree atomic units (bohr, hartree, elementary charge e).
At the boundaries (ASE calculator, CLI, app) quantities are shown in eV, angstrom, e and debye.
The constants are CODATA 2018 values, the same as ``ase.units.create_units("2018")`` (checked in
``tests/model/test_units.py``; ASE's default table is CODATA 2014).

>>> round(HARTREE_TO_EV, 6)
27.211386
>>> round(1.0 * ANGSTROM_TO_BOHR, 6)
1.889726
"""

from __future__ import annotations

#: Bohr radius in angstrom (CODATA 2018).
BOHR_TO_ANGSTROM: float = 0.529177210903
ANGSTROM_TO_BOHR: float = 1.0 / BOHR_TO_ANGSTROM
#: Hartree in eV (CODATA 2018).
HARTREE_TO_EV: float = 27.211386245988
EV_TO_HARTREE: float = 1.0 / HARTREE_TO_EV
#: Debye in e*angstrom: 1 D = 1e-21 / c  C m (exact SI e and c) = 0.2081943327 e A.
DEBYE_TO_E_ANGSTROM: float = 1e-11 / (1.602176634e-19 * 299792458.0)
E_BOHR_TO_DEBYE: float = BOHR_TO_ANGSTROM / DEBYE_TO_E_ANGSTROM
E_ANGSTROM_TO_DEBYE: float = 1.0 / DEBYE_TO_E_ANGSTROM
#: Force: hartree/bohr to eV/angstrom.
HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM: float = HARTREE_TO_EV / BOHR_TO_ANGSTROM
#: Wavenumber: cm^-1 to hartree (for NIST level energies).
INV_CM_TO_HARTREE: float = 1.0 / 219474.6313632
INV_CM_TO_EV: float = INV_CM_TO_HARTREE * HARTREE_TO_EV
#: Energy: kcal/mol to hartree.
KCAL_PER_MOL_TO_HARTREE: float = 1.0 / 627.5094740631


def ev_to_hartree(value: float) -> float:
    """Convert an energy in eV to hartree."""
    return value * EV_TO_HARTREE


def hartree_to_ev(value: float) -> float:
    """Convert an energy in hartree to eV."""
    return value * HARTREE_TO_EV
