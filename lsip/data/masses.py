"""Standard atomic weights (IUPAC 2021 abridged, as tabulated in ``ase.data.atomic_masses``), u."""

from __future__ import annotations

from lsip.errors import UnsupportedElementError

ATOMIC_MASSES: dict[str, float] = {
    "H": 1.008, "He": 4.0026, "Li": 6.94, "Be": 9.0122, "B": 10.81, "C": 12.011, "N": 14.007, "O": 15.999,
    "F": 18.998, "Ne": 20.180, "Na": 22.990, "Mg": 24.305, "Al": 26.982, "Si": 28.085, "P": 30.974,
    "S": 32.06, "Cl": 35.45, "Ar": 39.95, "K": 39.098, "Ca": 40.078, "Br": 79.904, "Kr": 83.798,
}


def atomic_mass(symbol: str) -> float:
    """Standard atomic weight of ``symbol`` in u."""
    try:
        return ATOMIC_MASSES[symbol]
    except KeyError:
        raise UnsupportedElementError(f"no atomic mass tabulated for {symbol!r}") from None
