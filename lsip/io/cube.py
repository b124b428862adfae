"""One regular-grid definition for every volumetric quantity (model, DFT and difference densities) and cube I/O.

Convention (the same as PySCF's ``tools.cubegen``, which differs from ASE)
-------------------------------------------------------------------------
A :class:`CubeGrid` is an ``origin`` (bohr), three voxel step vectors ``axes`` (rows, bohr) and a ``shape``
``(n1, n2, n3)``. Point ``(i, j, k)`` sits at ``origin + i axes[0] + j axes[1] + k axes[2]`` with
``0 <= i < n1`` etc., so both end points of the box are grid points: a box of length ``L`` sampled with ``n``
points has spacing ``L / (n - 1)`` (:meth:`CubeGrid.around`). ASE's ``write_cube`` instead treats the cell as
periodic with spacing ``cell / n`` (the far face is not sampled). A Gaussian cube file stores the origin and
the step vectors themselves, in bohr, so the file is unambiguous; the convention only matters when a grid is
built from a box. Values are ordered with the last index fastest (C order), as in the cube format.

Model, DFT and difference cubes must be evaluated on one :class:`CubeGrid` object, never by subtracting cubes
written by different programs. The header is written with 6 decimals (bohr) and values with 6 significant
digits (``%13.5E``), the precision of standard cube files.

>>> g = CubeGrid.around(np.zeros((1, 3)), margin=1.0, shape=(3, 3, 3))
>>> g.points()[:2].tolist()
[[-1.0, -1.0, -1.0], [-1.0, -1.0, 0.0]]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsip.errors import LSIPError
from lsip.units import ANGSTROM_TO_BOHR

#: Default margin around the atoms, bohr (PySCF ``cubegen.BOX_MARGIN``).
DEFAULT_MARGIN = 3.0
#: Largest number of grid points :meth:`CubeGrid.around` creates (guards memory and file size).
MAX_POINTS = 8_000_000


@dataclass(frozen=True)
class CubeGrid:
    """A regular grid: ``origin + i axes[0] + j axes[1] + k axes[2]``.

    Attributes
    ----------
    origin : (3,) position of point (0, 0, 0), bohr.
    axes : (3, 3) voxel step vectors as rows, bohr.
    shape : (n1, n2, n3) number of points along each axis.
    """

    origin: np.ndarray
    axes: np.ndarray
    shape: tuple[int, int, int]

    def __post_init__(self) -> None:
        origin = np.asarray(self.origin, dtype=np.float64).reshape(3)
        axes = np.asarray(self.axes, dtype=np.float64).reshape(3, 3)
        shape = tuple(int(n) for n in self.shape)
        if len(shape) != 3 or min(shape) < 1:
            raise LSIPError(f"cube grid shape must be three positive integers, got {self.shape}")
        if abs(np.linalg.det(axes)) < 1e-12:
            raise LSIPError("cube grid axes are linearly dependent")
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "axes", axes)
        object.__setattr__(self, "shape", shape)

    @classmethod
    def around(
        cls,
        positions: np.ndarray,
        margin: float = DEFAULT_MARGIN,
        shape: tuple[int, int, int] | None = None,
        spacing: float | None = None,
    ) -> CubeGrid:
        """Axis-aligned grid covering ``positions`` plus ``margin`` on every side (end points included).

        Parameters
        ----------
        positions : (n, 3) atomic positions, bohr.
        margin : distance added on each side, bohr.
        shape : number of points per axis; the spacing is then ``box / (n - 1)`` (PySCF convention).
        spacing : target spacing, bohr (used when ``shape`` is None): ``n = ceil(box / spacing) + 1`` and the
            box is widened symmetrically so that the spacing is exact.

        Returns
        -------
        CubeGrid
        """
        pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
        lo, hi = pos.min(axis=0) - margin, pos.max(axis=0) + margin
        box = hi - lo
        if shape is None:
            if spacing is None or spacing <= 0:
                raise LSIPError("give either a grid shape or a positive spacing")
            counts = [max(2, math.ceil(b / spacing - 1e-9) + 1) for b in box]
            steps = np.full(3, float(spacing))
            lo = lo - 0.5 * ((np.array(counts) - 1) * spacing - box)
        else:
            counts = [int(n) for n in shape]
            if min(counts) < 2:
                raise LSIPError("each grid dimension needs at least 2 points")
            steps = box / (np.array(counts) - 1)
        if math.prod(counts) > MAX_POINTS:
            raise LSIPError(f"cube grid of {counts} points exceeds the limit of {MAX_POINTS:,} points; "
                            "use a coarser spacing or fewer points")
        return cls(lo, np.diag(steps), tuple(counts))

    @property
    def n_points(self) -> int:
        """Total number of points."""
        return math.prod(self.shape)

    @property
    def spacing_bohr(self) -> float:
        """The largest step between neighbouring points along an axis, bohr."""
        return float(np.linalg.norm(self.axes, axis=1).max())

    @property
    def voxel_volume(self) -> float:
        """Volume per point |det(axes)|, bohr^3 (the weight of a plain Riemann sum)."""
        return float(abs(np.linalg.det(self.axes)))

    def points(self) -> np.ndarray:
        """(n1 * n2 * n3, 3) coordinates in bohr, last index fastest (cube order)."""
        idx = np.indices(self.shape, dtype=np.float64).reshape(3, -1).T
        return self.origin + idx @ self.axes

    def same_as(self, other: CubeGrid, tol: float = 1e-8) -> bool:
        """Whether two grids define the same points (to ``tol`` bohr)."""
        return (self.shape == other.shape and np.allclose(self.origin, other.origin, atol=tol)
                and np.allclose(self.axes, other.axes, atol=tol))


@dataclass(frozen=True)
class CubeData:
    """A cube file's content.

    Attributes
    ----------
    grid : the grid.
    values : (n1, n2, n3) values (for densities bohr^-3).
    numbers : (n_atoms,) atomic numbers.
    positions : (n_atoms, 3) bohr.
    comments : the two comment lines.
    """

    grid: CubeGrid
    values: np.ndarray
    numbers: np.ndarray
    positions: np.ndarray
    comments: tuple[str, str]


def write_cube(
    path: str | Path,
    grid: CubeGrid,
    values: np.ndarray,
    numbers: np.ndarray,
    positions: np.ndarray,
    comment: str = "LSIP volumetric data",
) -> Path:
    """Write a Gaussian cube file (bohr) and return its path.

    Parameters
    ----------
    path : output file.
    grid : the grid the values were evaluated on.
    values : (n1, n2, n3) or (n1 * n2 * n3,) values in cube order.
    numbers : (n_atoms,) atomic numbers.
    positions : (n_atoms, 3) atomic positions, bohr.
    comment : first comment line.
    """
    path = Path(path)
    path.write_text(cube_text(grid, values, numbers, positions, comment))
    return path


def cube_text(
    grid: CubeGrid, values: np.ndarray, numbers: np.ndarray, positions: np.ndarray,
    comment: str = "LSIP volumetric data",
) -> str:
    """The text of a cube file (see :func:`write_cube`); the app hands it to 3Dmol directly."""
    vals = np.asarray(values, dtype=np.float64)
    if vals.size != grid.n_points:
        raise LSIPError(f"cube values have {vals.size} entries, the grid has {grid.n_points}")
    vals = vals.reshape(grid.shape)
    numbers = np.asarray(numbers, dtype=np.int64).reshape(-1)
    positions = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    lines = [comment.replace("\n", " "), "units: bohr; grid includes both box end points (spacing = box/(n-1))"]
    lines.append(f"{len(numbers):5d}" + "".join(f"{x:12.6f}" for x in grid.origin))
    for n, ax in zip(grid.shape, grid.axes):
        lines.append(f"{n:5d}" + "".join(f"{x:12.6f}" for x in ax))
    for z, p in zip(numbers, positions):
        lines.append(f"{z:5d}{float(z):12.6f}" + "".join(f"{x:12.6f}" for x in p))
    rows = vals.reshape(-1, grid.shape[2])
    chunks = []
    for row in rows:
        for s in range(0, len(row), 6):
            chunks.append("".join(f"{v:13.5E}" for v in row[s:s + 6]))
    return "\n".join(lines + chunks) + "\n"


def read_cube(path: str | Path) -> CubeData:
    """Read a Gaussian cube file (bohr, or angstrom when a point count is negative).

    Raises
    ------
    LSIPError
        if the file is malformed.
    """
    text = Path(path).read_text()
    try:
        return _parse_cube(text)
    except (ValueError, IndexError) as exc:
        raise LSIPError(f"malformed cube file {path}: {exc}") from exc


def _parse_cube(text: str) -> CubeData:
    lines = text.splitlines()
    comments = (lines[0], lines[1])
    head = lines[2].split()
    n_atoms = int(head[0])
    origin = np.array([float(x) for x in head[1:4]])
    counts, axes = [], []
    for line in lines[3:6]:
        f = line.split()
        counts.append(int(f[0]))
        axes.append([float(x) for x in f[1:4]])
    scale = ANGSTROM_TO_BOHR if any(n < 0 for n in counts) else 1.0  # negative counts: angstrom
    counts = [abs(n) for n in counts]
    axes_arr = np.array(axes) * scale
    origin = origin * scale
    atom_lines = lines[6:6 + abs(n_atoms)]
    numbers = np.array([int(a.split()[0]) for a in atom_lines], dtype=np.int64)
    positions = np.array([[float(x) for x in a.split()[2:5]] for a in atom_lines]).reshape(-1, 3) * scale
    start = 6 + abs(n_atoms) + (1 if n_atoms < 0 else 0)  # negative n_atoms: one line of orbital indices
    data = np.array(" ".join(lines[start:]).split(), dtype=np.float64)
    n_total = math.prod(counts)
    if data.size != n_total:
        raise ValueError(f"expected {n_total} values, found {data.size}")
    grid = CubeGrid(origin, axes_arr, tuple(counts))
    return CubeData(grid, data.reshape(grid.shape), numbers, positions, comments)
