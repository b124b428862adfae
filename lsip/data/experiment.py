"""Experimental gas-phase dipole moments of small molecules, to show beside the model's (issue 14, teacher).

Values in debye for the vibrationally averaged ground state, from the CRC Handbook of Chemistry and Physics
(97th ed., "Dipole moments", microwave / molecular-beam values) and NIST CCCBDB (Computational Chemistry
Comparison and Benchmark DataBase, release 22, "experimental dipoles"); molecules whose dipole vanishes by
symmetry are listed as 0 with that reason. Keyed by the Hill formula of a neutral molecule; only formulas with one
common isomer are listed, so a formula match names the molecule. The experiment is the equilibrium molecule: the
comparison means something only for a structure near it, which the app says beside the number.

>>> experimental_dipole_for("H2O", 0).value_D
1.8546
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExperimentalDipole:
    """An experimental dipole moment and where it comes from."""

    molecule: str
    value_D: float
    source: str


_CRC = "CRC Handbook (97th ed.)"
_SYM = "zero by symmetry"
#: Hill formula -> (molecule, dipole in debye, source).
DIPOLES: dict[str, ExperimentalDipole] = {f: ExperimentalDipole(m, v, s) for f, (m, v, s) in {
    "H2O": ("water", 1.8546, _CRC), "H3N": ("ammonia", 1.4718, _CRC), "FH": ("hydrogen fluoride", 1.826178, _CRC),
    "ClH": ("hydrogen chloride", 1.1086, _CRC), "H2S": ("hydrogen sulfide", 0.97833, _CRC),
    "H3P": ("phosphine", 0.57395, _CRC), "HLi": ("lithium hydride", 5.882, _CRC),
    "FLi": ("lithium fluoride", 6.3274, _CRC), "ClNa": ("sodium chloride", 9.00117, _CRC),
    "ClK": ("potassium chloride", 10.269, _CRC), "CO": ("carbon monoxide", 0.10980, _CRC),
    "CHN": ("hydrogen cyanide", 2.985188, _CRC), "CH2O": ("formaldehyde", 2.332, _CRC),
    "CH4O": ("methanol", 1.70, _CRC), "C5H5N": ("pyridine", 2.215, _CRC),
    "BH6N": ("ammonia borane", 5.216, "Thorne, Suenram, Lovas, J. Chem. Phys. 78, 167 (1983)"),
    "CH3F": ("fluoromethane", 1.858, _CRC), "CH3Cl": ("chloromethane", 1.8963, _CRC),
    "H2": ("hydrogen", 0.0, _SYM), "N2": ("nitrogen", 0.0, _SYM), "CH4": ("methane", 0.0, _SYM),
    "CO2": ("carbon dioxide", 0.0, _SYM), "C6H6": ("benzene", 0.0, _SYM), "BF3": ("boron trifluoride", 0.0, _SYM),
    "H4Si": ("silane", 0.0, _SYM), "AlCl3": ("aluminium trichloride (monomer)", 0.0, _SYM),
}.items()}


def experimental_dipole_for(formula: str, charge: int) -> ExperimentalDipole | None:
    """The experimental dipole of a neutral molecule with this Hill formula, or None."""
    return DIPOLES.get(formula) if charge == 0 else None
