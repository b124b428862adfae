"""The structure container passed between I/O, the model, the reference DFT and the app.

A plain frozen dataclass with numpy arrays (no ASE, no torch) so every layer can use it. Positions are in
angstrom here because this is the boundary type users see; the model converts to bohr once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lsip.errors import StructureError

#: Atomic numbers of the symbols LSIP may meet (H..Kr); the library decides what is *supported*.
_SYMBOLS: tuple[str, ...] = (
    "X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "Ar",
    "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
)
ATOMIC_NUMBERS: dict[str, int] = {s: i for i, s in enumerate(_SYMBOLS) if i > 0}
SYMBOLS_BY_NUMBER: dict[int, str] = {i: s for s, i in ATOMIC_NUMBERS.items()}


@dataclass(frozen=True)
class Structure:
    """A molecule or cluster (optionally periodic) with its total charge and spin.

    Attributes
    ----------
    symbols : element symbols, length n.
    positions : (n, 3) cartesian coordinates, angstrom.
    charge : total charge Q, e.
    spin : number of unpaired electrons 2S (for reference DFT; the model does not use it).
    cell : (3, 3) lattice vectors in angstrom, or None for a finite system.
    pbc : periodic directions.
    name : a label (gallery key, file name).
    info : small JSON-serialisable metadata (source, comment).
    """

    symbols: tuple[str, ...]
    positions: np.ndarray
    charge: int = 0
    spin: int | None = None
    cell: np.ndarray | None = None
    pbc: tuple[bool, bool, bool] = (False, False, False)
    name: str = ""
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        pos = np.asarray(self.positions, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] != len(self.symbols):
            raise StructureError(
                f"positions must have shape (n_atoms, 3) = ({len(self.symbols)}, 3), got {pos.shape}"
            )
        if not np.all(np.isfinite(pos)):
            raise StructureError("positions contain NaN or infinite values")
        unknown = sorted({s for s in self.symbols if s not in ATOMIC_NUMBERS})
        if unknown:
            raise StructureError(f"unknown element symbol(s): {', '.join(unknown)}")
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "symbols", tuple(self.symbols))
        if self.cell is not None:
            object.__setattr__(self, "cell", np.asarray(self.cell, dtype=np.float64).reshape(3, 3))

    @property
    def n_atoms(self) -> int:
        """Number of atoms."""
        return len(self.symbols)

    @property
    def numbers(self) -> np.ndarray:
        """(n,) atomic numbers."""
        return np.array([ATOMIC_NUMBERS[s] for s in self.symbols], dtype=np.int64)

    @property
    def n_electrons(self) -> int:
        """Electron count sum(Z) - Q."""
        return int(self.numbers.sum()) - int(self.charge)

    @property
    def formula(self) -> str:
        """Hill-ordered formula, e.g. ``CH4`` or ``H2O``."""
        counts: dict[str, int] = {}
        for s in self.symbols:
            counts[s] = counts.get(s, 0) + 1
        order = (["C", "H"] if "C" in counts else []) + sorted(k for k in counts if k not in ("C", "H") or
                                                                 "C" not in counts)
        return "".join(f"{s}{counts[s] if counts[s] > 1 else ''}" for s in order if s in counts)

    def with_positions(self, positions: np.ndarray) -> Structure:
        """Return a copy with new positions (angstrom)."""
        return Structure(self.symbols, positions, self.charge, self.spin, self.cell, self.pbc, self.name,
                         dict(self.info))

    def with_charge(self, charge: int) -> Structure:
        """Return a copy with another total charge."""
        return Structure(self.symbols, self.positions, int(charge), self.spin, self.cell, self.pbc, self.name,
                         dict(self.info))
