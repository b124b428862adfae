"""lsip.units against ase.units.

Provenance: ASE builds its units from CODATA tables (``ase.units.create_units(version)``); lsip.units states
CODATA 2018, so it must agree with ASE's 2018 table to round-off, and with ASE's default table (CODATA 2014,
what an ASE user's ``ase.units`` holds) to the ~1e-8 size of the 2014 -> 2018 revision.
"""

from __future__ import annotations

import ase.units
import pytest

from lsip import units

CODATA_2018 = ase.units.create_units("2018")

#: (lsip constant, the same quantity from an ASE unit table)
PAIRS = {
    "BOHR_TO_ANGSTROM": lambda u: u["Bohr"],
    "ANGSTROM_TO_BOHR": lambda u: 1.0 / u["Bohr"],
    "HARTREE_TO_EV": lambda u: u["Hartree"],
    "EV_TO_HARTREE": lambda u: 1.0 / u["Hartree"],
    "DEBYE_TO_E_ANGSTROM": lambda u: u["Debye"],
    "E_BOHR_TO_DEBYE": lambda u: u["Bohr"] / u["Debye"],
    "E_ANGSTROM_TO_DEBYE": lambda u: 1.0 / u["Debye"],
    "HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM": lambda u: u["Hartree"] / u["Bohr"],
    "INV_CM_TO_HARTREE": lambda u: u["invcm"] / u["Hartree"],
    "INV_CM_TO_EV": lambda u: u["invcm"],
    "KCAL_PER_MOL_TO_HARTREE": lambda u: u["kcal"] / u["mol"] / u["Hartree"],
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_constant_matches_ase_codata2018(name):
    assert getattr(units, name) == pytest.approx(PAIRS[name](CODATA_2018), rel=1e-10, abs=0.0)


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_constant_matches_ase_default_table(name):
    assert getattr(units, name) == pytest.approx(PAIRS[name](vars(ase.units)), rel=5e-8, abs=0.0)


def test_round_trips_and_helpers():
    product = units.ANGSTROM_TO_BOHR * units.BOHR_TO_ANGSTROM
    assert product == pytest.approx(1.0, rel=1e-15)
    assert units.hartree_to_ev(units.ev_to_hartree(1.234)) == pytest.approx(1.234, rel=1e-15)
    assert units.hartree_to_ev(1.0) == units.HARTREE_TO_EV


def test_textbook_values():
    # 1 hartree = 627.5095 kcal/mol = 219474.63 cm^-1; 1 e*bohr = 2.541746 D (CODATA 2018, NIST)
    kcal_per_mol = 1.0 / units.KCAL_PER_MOL_TO_HARTREE
    wavenumber = 1.0 / units.INV_CM_TO_HARTREE
    debye = units.E_BOHR_TO_DEBYE
    assert kcal_per_mol == pytest.approx(627.5095, abs=1e-4)
    assert wavenumber == pytest.approx(219474.63, abs=1e-2)
    assert debye == pytest.approx(2.541746, abs=1e-6)
