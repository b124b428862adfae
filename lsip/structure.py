"""The structure container passed between I/O, the model, the reference DFT and the app.

A plain frozen dataclass with numpy arrays (no ASE, no torch) so every layer can use it. Positions are in
angstrom here because this is the boundary type users see; the model converts to bohr once.

Every :class:`Structure` is checked when it is made (:func:`validate_geometry`, O(n)): finite coordinates no larger
than :data:`MAX_COORDINATE`, an extent no larger than :data:`MAX_SPAN`, and for a periodic structure a sane cell
(:data:`MIN_CELL_WIDTH`, :data:`MAX_CELL_LENGTH`, :data:`MIN_CELL_ANGLE`, :data:`MIN_VOLUME_PER_ATOM`). File
readers, the calculator and Python callers all pass through it, so no neighbour search (a native library) ever
sees a geometry that has not passed these checks. The limits and their messages are listed in docs/limits.md.
"""

from __future__ import annotations

import math
import operator
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

#: Largest absolute cartesian coordinate, angstrom. Far beyond any real structure; it keeps every coordinate
#: exact to ~1e-11 A in float64 and far from overflow in unit conversions (docs/limits.md).
MAX_COORDINATE: float = 1.0e5
#: Largest extent of the atoms along x, y or z (max - min), angstrom. The neighbour search bins space in cells
#: of the cut-off size; vesin 0.6 dies with SIGFPE near 1.5e5 cut-offs along one axis (two H atoms 8e5 A apart),
#: so the limit sits far below that while staying far above any structure the model can solve (docs/limits.md).
MAX_SPAN: float = 1.0e4
#: Longest lattice vector, angstrom (any cell, periodic or not).
MAX_CELL_LENGTH: float = 1.0e4
#: Shortest lattice vector and smallest perpendicular width (distance between opposite faces) of the cell of a
#: periodic structure, angstrom; an atom is never closer than the width to its own periodic images.
MIN_CELL_WIDTH: float = 0.5
#: The angles between the lattice vectors of a periodic cell lie strictly between this and 180 minus this, degrees.
MIN_CELL_ANGLE: float = 10.0
#: Smallest cell volume per atom of a periodic structure, angstrom^3 (dense solids have 5-20; bounds the number of
#: neighbours the model's pair lists can hold per atom).
MIN_VOLUME_PER_ATOM: float = 1.0

_AXES = "abc"


def hill_formula(symbols: tuple[str, ...] | list[str]) -> str:
    """Hill-ordered formula: C first, then H, then the rest alphabetically (without C: all alphabetically).

    >>> hill_formula(("O", "H", "H")), hill_formula(("H", "C", "H", "H", "H")), hill_formula(("Na", "Cl"))
    ('H2O', 'CH4', 'ClNa')
    """
    counts: dict[str, int] = {}
    for s in symbols:
        counts[s] = counts.get(s, 0) + 1
    order = (["C", "H"] if "C" in counts else []) + sorted(k for k in counts if k not in ("C", "H") or
                                                             "C" not in counts)
    return "".join(f"{s}{counts[s] if counts[s] > 1 else ''}" for s in order if s in counts)


def atom_label(symbols: tuple[str, ...] | list[str], index: int) -> str:
    """The label of atom ``index`` in every table, figure and message: element + 0-based index.

    >>> atom_label(("O", "H", "H"), 2)
    'H2'
    """
    return f"{symbols[int(index)]}{int(index)}"


def _integer(value: object, what: str, *, allow_none: bool = False) -> int | None:
    """``value`` as a Python int (integral floats and numpy integers accepted), else :class:`StructureError`."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool | np.bool_):
        raise StructureError(f"{what} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        pass
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise StructureError(f"{what} must be an integer, got {str(value)[:40]!r}") from None
    if not math.isfinite(number) or not number.is_integer():
        raise StructureError(f"{what} must be an integer, got {number}")
    return int(number)


def validate_geometry(positions: np.ndarray, cell: np.ndarray | None, pbc: tuple[bool, bool, bool]) -> None:
    """Raise :class:`StructureError` unless the geometry is safe for every later step (docs/limits.md).

    O(n) and cheap: called by ``Structure.__post_init__`` for every structure.

    Parameters
    ----------
    positions : (n, 3) float64, angstrom. Must be finite, ``|x| <= MAX_COORDINATE`` and span at most
        :data:`MAX_SPAN` along each axis.
    cell : (3, 3) float64 lattice vectors (rows), angstrom, or None. Any cell must be finite with vectors no
        longer than :data:`MAX_CELL_LENGTH`; with a periodic direction every vector must be at least
        :data:`MIN_CELL_WIDTH` long, the angles between them strictly inside (:data:`MIN_CELL_ANGLE`,
        180 - :data:`MIN_CELL_ANGLE`) degrees, every perpendicular width at least :data:`MIN_CELL_WIDTH` and the
        volume at least :data:`MIN_VOLUME_PER_ATOM` per atom.
    pbc : periodic directions; a periodic direction needs a cell.
    """
    n = len(positions)
    if n:
        if not np.isfinite(positions).all():
            bad = int(np.argwhere(~np.isfinite(positions))[0, 0])
            raise StructureError(f"atom {bad + 1} has a NaN or infinite coordinate")
        big = np.abs(positions).max(axis=1)
        if big.max() > MAX_COORDINATE:
            k = int(np.argmax(big))
            raise StructureError(f"atom {k + 1} has a coordinate of {big[k]:.3g} angstrom, beyond the limit of "
                                 f"{MAX_COORDINATE:.0e} angstrom: coordinates not in angstrom, or a damaged file?")
        span = np.ptp(positions, axis=0)
        if span.max() > MAX_SPAN:
            axis = int(np.argmax(span))
            raise StructureError(f"the atoms span {span[axis]:.3g} angstrom along {'xyz'[axis]}, more than the limit "
                                 f"of {MAX_SPAN:.0e} angstrom: a fragment far away, or coordinates not in angstrom?")
    periodic = any(pbc)
    if cell is None:
        if periodic:
            raise StructureError(f"periodic directions {tuple(pbc)} need a cell")
        return
    if not np.isfinite(cell).all():
        raise StructureError("the cell contains NaN or infinite values")
    scale = float(np.abs(cell).max()) or 1.0
    lengths = np.linalg.norm(cell / scale, axis=1) * scale  # no overflow in the squares of 1e300
    if lengths.max() > MAX_CELL_LENGTH:
        k = int(np.argmax(lengths))
        raise StructureError(f"lattice vector {_AXES[k]} is {lengths[k]:.3g} angstrom long, more than the limit of "
                             f"{MAX_CELL_LENGTH:.0e} angstrom")
    if not periodic:
        return
    _validate_periodic_cell(cell, lengths, pbc, n)


def _validate_periodic_cell(cell: np.ndarray, lengths: np.ndarray, pbc: tuple[bool, bool, bool], n: int) -> None:
    """The cell checks of :func:`validate_geometry` for a structure with a periodic direction."""
    k = int(np.argmin(lengths))
    if lengths[k] < MIN_CELL_WIDTH:
        image = (f"atom 1 is only {lengths[k]:.3g} angstrom from its own periodic image: "
                 if pbc[k] and n else "")
        raise StructureError(f"{image}lattice vector {_AXES[k]} is {lengths[k]:.3g} angstrom long (the minimum "
                             f"is {MIN_CELL_WIDTH} angstrom): a degenerate cell, or a scale factor far too small?")
    for a, b in ((1, 2), (0, 2), (0, 1)):
        cos = float(np.dot(cell[a], cell[b]) / (lengths[a] * lengths[b]))
        angle = math.degrees(math.acos(min(1.0, max(-1.0, cos))))
        if not MIN_CELL_ANGLE < angle < 180.0 - MIN_CELL_ANGLE:
            raise StructureError(f"the angle between lattice vectors {_AXES[a]} and {_AXES[b]} is {angle:.3g} deg, "
                                 f"outside ({MIN_CELL_ANGLE:g}, {180 - MIN_CELL_ANGLE:g}) deg: a degenerate cell")
    volume = abs(float(np.linalg.det(cell)))
    areas = np.linalg.norm(np.cross(cell[[1, 2, 0]], cell[[2, 0, 1]]), axis=1)
    widths = volume / areas
    k = int(np.argmin(widths))
    if widths[k] < MIN_CELL_WIDTH * (1.0 - 1e-12):  # round-off of the width of a cell exactly at the limit
        raise StructureError(f"the cell is only {widths[k]:.3g} angstrom wide across lattice vector {_AXES[k]} (the "
                             f"minimum is {MIN_CELL_WIDTH} angstrom): a flat or degenerate cell")
    if n and volume < MIN_VOLUME_PER_ATOM * n:
        raise StructureError(f"the cell volume is {volume:.3g} angstrom^3 for {n} atoms, less than "
                             f"{MIN_VOLUME_PER_ATOM} angstrom^3 per atom: atoms packed far denser than any solid")


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
        try:
            pos = np.asarray(self.positions, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise StructureError("positions must be an (n_atoms, 3) array of numbers") from None
        symbols = tuple(self.symbols)
        if pos.ndim != 2 or pos.shape[1] != 3 or pos.shape[0] != len(symbols):
            raise StructureError(
                f"positions must have shape (n_atoms, 3) = ({len(symbols)}, 3), got {pos.shape}"
            )
        unknown = sorted({str(s)[:20] for s in symbols if s not in ATOMIC_NUMBERS})
        if unknown:
            raise StructureError(f"unknown element symbol(s): {', '.join(unknown)}")
        pbc = tuple(bool(p) for p in np.asarray(self.pbc).reshape(-1))
        if len(pbc) != 3:
            raise StructureError(f"pbc must have three entries, got {self.pbc!r}")
        cell = None
        if self.cell is not None:
            try:
                cell = np.asarray(self.cell, dtype=np.float64).reshape(3, 3)
            except (TypeError, ValueError, OverflowError):
                raise StructureError("the cell must be a (3, 3) array of numbers (lattice vectors as rows)") from None
        validate_geometry(pos, cell, pbc)
        object.__setattr__(self, "positions", pos)
        object.__setattr__(self, "symbols", symbols)
        object.__setattr__(self, "cell", cell)
        object.__setattr__(self, "pbc", pbc)
        object.__setattr__(self, "charge", _integer(self.charge, "the total charge"))
        object.__setattr__(self, "spin", _integer(self.spin, "spin (2S)", allow_none=True))

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
        """Hill-ordered formula, e.g. ``CH4`` or ``H2O`` (:func:`hill_formula`)."""
        return hill_formula(self.symbols)

    def with_positions(self, positions: np.ndarray) -> Structure:
        """Return a copy with new positions (angstrom)."""
        return Structure(self.symbols, positions, self.charge, self.spin, self.cell, self.pbc, self.name,
                         dict(self.info))

    def with_charge(self, charge: int) -> Structure:
        """Return a copy with another total charge."""
        return Structure(self.symbols, self.positions, int(charge), self.spin, self.cell, self.pbc, self.name,
                         dict(self.info))
