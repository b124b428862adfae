"""Model, DFT, promolecule and difference densities of one structure, evaluated on shared grids (numbers only:
the figures and 3D views of them are :mod:`lsip.viz.density_views`).

Three densities are compared (atomic units: bohr, e/bohr^3):

* the **model** (decoded) density rho_model = sum_A sum_k w_A^k rho_{A,k}(|r - R_A|) with the physical
  encoder's ensemble weights w (``Prediction.weights``, shape (n, 4));
* the **promolecule** (neutral free atoms, w_A^0 = 1);
* the **DFT** density of a :class:`lsip.reference.driver.ReferenceResult` (its density matrix and basis);

and the **difference** rho_model - rho_DFT. Every volumetric quantity is evaluated on ONE
:class:`lsip.io.cube.CubeGrid` (:func:`display_grid`), never by subtracting cubes from different writers; 2D slices
are evaluated directly on the points of a plane (exact, not interpolated from the cube).

Per-atom integrated differences are computed on the DFT's own molecular quadrature grid (Becke fuzzy cells, as
PySCF builds the grid, :func:`lsip.reference.grids.becke_atom_grids`, and Hirshfeld stockholder weights with the
library's neutral atoms as pro-atoms), so they add up to the integrals the density encoder reports. PySCF is
imported only when a DFT reference is used, so the model and promolecule densities work without it.

The **electrostatic potential** (ESP, hartree/e) of the model (:func:`lsip.model.density.model_electrostatic_potential`)
and of the DFT density (:func:`dft_electrostatic_potential`) is evaluated on the display grid only near the density
isosurfaces it is drawn on (:func:`surface_band`, :func:`grid_esp`): docs/reference.md, "Electrostatic potential on
the density surface".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lsip.errors import LSIPError
from lsip.io.cube import CubeGrid, cube_text
from lsip.model.density import (
    BasisDensities,
    BasisPotentials,
    dipole_density,
    model_electrostatic_potential,
    nuclear_potential,
)
from lsip.model.library import STATE_LABELS, LatentLibrary
from lsip.structure import Structure
from lsip.units import ANGSTROM_TO_BOHR, BOHR_TO_ANGSTROM

#: Margin around the atoms of the display grid, bohr (PySCF ``cubegen.BOX_MARGIN`` is 3).
DISPLAY_MARGIN = 3.5
#: Points per axis of the display grid (40^3 cubes are ~0.8 MB of text: enough for isosurfaces).
DISPLAY_POINTS = 40
#: Densities in e/bohr^3 -> e/angstrom^3.
AU_TO_E_PER_A3 = ANGSTROM_TO_BOHR**3
#: The density kinds, in display order.
KINDS: tuple[str, ...] = ("dft", "model", "promolecule", "difference")
KIND_LABELS: dict[str, str] = {"dft": "DFT", "model": "model (decoded)", "promolecule": "promolecule",
                               "difference": "model - DFT", "model_minus_promolecule": "model - promolecule"}
NEUTRAL = STATE_LABELS.index("neutral")
#: A sum over the display grid is reported as an electron count only while the model density (whose exact count is
#: known) comes out between (1 - COUNT_TOLERANCE) N and N: a grid can miss electrons (tails beyond the margin, cores
#: between points; water on 40^3 points: 9.60 of 10), but a sum above N means points sitting on nuclei dominate it
#: (oxygen's 1s density changes by e^15 over 1 bohr; water_216 on 40^3 points, spacing 1.2 bohr: 2302 "electrons" of
#: 2160), so it is no count at all.
COUNT_TOLERANCE = 0.10
#: ... and only on a grid no coarser than this (bohr): a hydrogen 1s density varies on that scale.
COUNT_SPACING_BOHR = 0.5


def grid_counts_electrons(model_sum: float, n_electrons: int, spacing_bohr: float,
                          tol: float = COUNT_TOLERANCE) -> bool:
    """Whether the grid's sums can be shown as electron counts (see :data:`COUNT_TOLERANCE`)."""
    return (n_electrons > 0 and spacing_bohr <= COUNT_SPACING_BOHR
            and (1.0 - tol) * n_electrons <= model_sum <= (1.0 + 1e-3) * n_electrons)
#: Plane names accepted by :func:`plane_frame`.
PLANES: tuple[str, ...] = ("xy", "xz", "yz", "atoms")
_AXES = {"x": 0, "y": 1, "z": 2}


class DensityFields:
    """Evaluate the model, promolecule and (optional) DFT densities of one structure at any points.

    Parameters
    ----------
    library : the latent library (basis densities).
    structure : the structure (positions in angstrom).
    model_weights : (n, 4) physical-encoder weights in STATE_LABELS order.
    reference : optional reference DFT result of the same geometry.
    dipoles, dipole_shapes : optional (n, 3) atomic dipoles (e bohr) and each atom's dipole shape
        (:attr:`lsip.model.tables.ModelTables.dipole_shapes`): their dipolar lobes are part of the model density.

    Raises
    ------
    LSIPError
        if the weights have the wrong shape or the reference belongs to another geometry.
    """

    def __init__(self, library: LatentLibrary, structure: Structure, model_weights: np.ndarray,
                 reference: object | None = None, dipoles: np.ndarray | None = None,
                 dipole_shapes: list | None = None) -> None:
        self.structure = structure
        self.dipoles = None if dipoles is None or dipole_shapes is None else np.asarray(dipoles, dtype=np.float64)
        self.dipole_shapes = dipole_shapes
        self.positions = np.asarray(structure.positions, dtype=np.float64) * ANGSTROM_TO_BOHR
        self.basis = BasisDensities(library, structure.symbols)
        self.basis_library = library
        self._potentials: BasisPotentials | None = None
        w = np.asarray(model_weights, dtype=np.float64)
        if w.shape != (structure.n_atoms, 4):
            raise LSIPError(f"model weights must have shape ({structure.n_atoms}, 4), got {w.shape}")
        self.model_weights = w
        self.promolecule_weights = np.zeros_like(w)
        self.promolecule_weights[:, NEUTRAL] = 1.0
        self.reference = reference
        self._mol = None
        if reference is not None:
            same = (tuple(reference.symbols) == tuple(structure.symbols)
                    and np.allclose(reference.positions, structure.positions, atol=1e-5))
            if not same:
                raise LSIPError("the reference DFT result belongs to another geometry than the structure shown")
            self._mol = reference.mole()

    @property
    def kinds(self) -> tuple[str, ...]:
        """Density kinds available: model and promolecule, plus dft and difference with a reference."""
        return KINDS if self.reference is not None else ("model", "promolecule")

    def esp(self, points: np.ndarray, kinds: tuple[str, ...] = ("model", "dft")) -> dict[str, np.ndarray]:
        """Electrostatic potential of the model (and, with a reference, the DFT) charge density at ``points``.

        Parameters
        ----------
        points : (M, 3) bohr.
        kinds : which of ``"model"``, ``"dft"`` to evaluate (``"dft"`` is skipped without a reference).

        Returns
        -------
        dict kind -> (M,) ESP, hartree/e (nuclei plus electrons; docs/model.md section 6.1).
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        out = {}
        if "model" in kinds:
            if self._potentials is None:
                self._potentials = BasisPotentials(self.basis_library, self.structure.symbols)
            out["model"] = model_electrostatic_potential(pts, self.positions, self._potentials, self.model_weights,
                                                         self.dipoles, self.dipole_shapes)
        if "dft" in kinds and self.reference is not None:
            out["dft"] = dft_electrostatic_potential(self._mol, self.reference.density_matrix, pts)
        return out

    def evaluate(self, points: np.ndarray, chunk_points: int = 20_000) -> dict[str, np.ndarray]:
        """All available densities at ``points``.

        Parameters
        ----------
        points : (M, 3) bohr.
        chunk_points : points per basis evaluation (memory ~ 16 x chunk x n_atoms x 4 doubles).

        Returns
        -------
        dict kind -> (M,) density, e/bohr^3 (``difference`` = model - dft).
        """
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        model, promol = np.empty(len(pts)), np.empty(len(pts))
        step = max(1, min(chunk_points, 2_000_000 // max(1, self.structure.n_atoms)))
        for s in range(0, len(pts), step):
            b = self.basis.evaluate(pts[s:s + step], self.positions).numpy()
            model[s:s + step] = np.einsum("mak,ak->m", b, self.model_weights)
            if self.dipoles is not None:
                model[s:s + step] += dipole_density(pts[s:s + step], self.positions, self.dipoles,
                                                    self.dipole_shapes).numpy()
            promol[s:s + step] = b[:, :, NEUTRAL].sum(axis=1)
        out = {"model": model, "promolecule": promol}
        if self.reference is not None:
            from lsip.reference.grids import density_on_points

            out["dft"] = density_on_points(self._mol, self.reference.density_matrix, pts)
            out["difference"] = model - out["dft"]
        return out


def display_grid(structure: Structure, points: int = DISPLAY_POINTS, margin: float = DISPLAY_MARGIN) -> CubeGrid:
    """The one regular grid of a structure for cubes and isosurfaces (``points`` per axis, bohr)."""
    if not 8 <= points <= 120:
        raise LSIPError(f"grid points per axis must be between 8 and 120, got {points}")
    pos = np.asarray(structure.positions, dtype=np.float64) * ANGSTROM_TO_BOHR
    return CubeGrid.around(pos, margin=margin, shape=(points, points, points))


def grid_densities(fields: DensityFields, grid: CubeGrid) -> dict[str, np.ndarray]:
    """Every available density on ``grid``: kind -> (n1, n2, n3), e/bohr^3, in cube order."""
    return {k: v.reshape(grid.shape) for k, v in fields.evaluate(grid.points()).items()}


def integrate(values: np.ndarray, grid: CubeGrid) -> float:
    """Riemann sum sum_ijk f_ijk |det axes| on the grid (e for a density in e/bohr^3)."""
    return float(np.sum(values) * grid.voxel_volume)


def density_cube_text(grid: CubeGrid, values: np.ndarray, structure: Structure, kind: str) -> str:
    """Gaussian cube text (bohr, e/bohr^3) of one density kind on ``grid`` (for 3Dmol and downloads)."""
    numbers = np.asarray(structure.numbers)
    pos = np.asarray(structure.positions, dtype=np.float64) * ANGSTROM_TO_BOHR
    label = KIND_LABELS.get(kind, kind)
    return cube_text(grid, values, numbers, pos, comment=f"LSIP {label} electron density of {structure.formula}")


@dataclass(frozen=True)
class PlaneSlice:
    """Densities on a regular 2D grid in a plane.

    Attributes
    ----------
    name : plane description.  origin : (3,) plane centre, bohr.  u, v : (3,) orthonormal in-plane axes.
    s : (nu,) coordinates along u, bohr.  t : (nv,) coordinates along v, bohr.
    values : kind -> (nv, nu) density, e/bohr^3 (row = t, column = s, as a heatmap expects).
    atoms : (label, s, t, distance from the plane) per atom, bohr.
    """

    name: str
    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    s: np.ndarray
    t: np.ndarray
    values: dict[str, np.ndarray]
    atoms: tuple[tuple[str, float, float, float], ...]


def plane_frame(plane: str, grid: CubeGrid, positions: np.ndarray,
                atoms: tuple[int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Centre, in-plane axes and half-extents of a slicing plane.

    Parameters
    ----------
    plane : ``"xy"``, ``"xz"``, ``"yz"`` (through the centre of ``grid``) or ``"atoms"`` (through three atoms).
    grid : the display grid (sets the centre and extent of the axis planes).
    positions : (n, 3) atomic positions, bohr.
    atoms : three atom indices for ``"atoms"``.

    Returns
    -------
    origin (3,), u (3,), v (3,), half-extent along u, half-extent along v (bohr).
    """
    pos = np.asarray(positions, dtype=np.float64).reshape(-1, 3)
    box = np.diag(grid.axes) * (np.array(grid.shape) - 1)
    centre = grid.origin + 0.5 * box
    if plane in ("xy", "xz", "yz"):
        a, b = _AXES[plane[0]], _AXES[plane[1]]
        u, v = np.eye(3)[a], np.eye(3)[b]
        return centre, u, v, 0.5 * box[a], 0.5 * box[b]
    if plane != "atoms":
        raise LSIPError(f"unknown plane {plane!r}; choose one of {', '.join(PLANES)}")
    if atoms is None or len(set(atoms)) != 3 or not all(0 <= k < len(pos) for k in atoms):
        raise LSIPError(f"a plane through atoms needs three different atom indices in 0..{len(pos) - 1}")
    p0, p1, p2 = pos[list(atoms)]
    u = p1 - p0
    w = p2 - p0
    normal = np.cross(u, w)
    if np.linalg.norm(normal) < 1e-6 * max(1.0, np.linalg.norm(u) * np.linalg.norm(w)):
        raise LSIPError(f"atoms {atoms} are collinear: they do not define a plane")
    u = u / np.linalg.norm(u)
    v = np.cross(normal / np.linalg.norm(normal), u)
    origin = (p0 + p1 + p2) / 3.0
    rel = pos - origin
    margin = DISPLAY_MARGIN
    return origin, u, v, float(np.abs(rel @ u).max() + margin), float(np.abs(rel @ v).max() + margin)


#: Points along the longer side of a density slice: full detail up to 100 atoms; above, a quarter of the points
#: (the slice costs points x atoms: 4.7 s at 121 points for 648 atoms on one CPU thread, 1.2 s at 61).
SLICE_RESOLUTION, SLICE_RESOLUTION_LARGE, SLICE_LARGE_ATOMS = 121, 61, 100


def slice_resolution(n_atoms: int) -> int:
    """Points along the longer side of a slice for a structure of ``n_atoms`` (see :data:`SLICE_RESOLUTION`)."""
    return SLICE_RESOLUTION if n_atoms <= SLICE_LARGE_ATOMS else SLICE_RESOLUTION_LARGE


def slice_densities(fields: DensityFields, grid: CubeGrid, plane: str = "xy",
                    atoms: tuple[int, int, int] | None = None, resolution: int = SLICE_RESOLUTION) -> PlaneSlice:
    """Evaluate every available density on a regular grid in a plane (exact values, not interpolated).

    The longer in-plane side gets ``resolution`` points and the other side the same spacing.

    Returns
    -------
    PlaneSlice with values of shape (nv, nu).
    """
    origin, u, v, hu, hv = plane_frame(plane, grid, fields.positions, atoms)
    h = 2.0 * max(hu, hv) / (resolution - 1)
    s = np.linspace(-hu, hu, max(2, round(2 * hu / h) + 1))
    t = np.linspace(-hv, hv, max(2, round(2 * hv / h) + 1))
    pts = origin + s[None, :, None] * u + t[:, None, None] * v  # (nv, nu, 3)
    vals = {k: a.reshape(len(t), len(s)) for k, a in fields.evaluate(pts.reshape(-1, 3)).items()}
    vals["model_minus_promolecule"] = vals["model"] - vals["promolecule"]
    normal = np.cross(u, v)
    rel = fields.positions - origin
    labels = [f"{sym}{k}" for k, sym in enumerate(fields.structure.symbols)]
    placed = tuple((lab, float(r @ u), float(r @ v), float(abs(r @ normal))) for lab, r in zip(labels, rel))
    name = (f"plane through atoms {', '.join(labels[k] for k in atoms)}" if plane == "atoms"
            else f"{plane} plane through the box centre")
    return PlaneSlice(name, origin, u, v, s, t, vals, placed)


@dataclass(frozen=True)
class AtomDifferences:
    """Per-atom integrals of density differences on the DFT's molecular grid (e).

    Attributes
    ----------
    labels : atom labels ("O0", ...).
    becke_model, becke_promolecule : integral over atom A's Becke cell of rho_model - rho_DFT and
        rho_promolecule - rho_DFT (positive: the model puts more electrons there than DFT).
    becke_abs_model : integral over A's Becke cell of |rho_model - rho_DFT| (sums to the model's L1 error).
    hirshfeld_model, hirshfeld_promolecule : the same with Hirshfeld stockholder weights (neutral pro-atoms).
    dft_hirshfeld_charges : Hirshfeld charges of the DFT density on this grid.
    electrons_grid : integral of rho_DFT on the grid.
    """

    labels: tuple[str, ...]
    becke_model: np.ndarray
    becke_promolecule: np.ndarray
    becke_abs_model: np.ndarray
    hirshfeld_model: np.ndarray
    hirshfeld_promolecule: np.ndarray
    dft_hirshfeld_charges: np.ndarray
    electrons_grid: float

    def rows(self) -> list[dict[str, object]]:
        """One dict per atom (for tables and CSV), electrons e."""
        return [{"atom": lab, "dN Becke model-DFT (e)": float(self.becke_model[k]),
                 "dN Becke promolecule-DFT (e)": float(self.becke_promolecule[k]),
                 "int |model-DFT| Becke (e)": float(self.becke_abs_model[k]),
                 "dN Hirshfeld model-DFT (e)": float(self.hirshfeld_model[k]),
                 "dN Hirshfeld promolecule-DFT (e)": float(self.hirshfeld_promolecule[k]),
                 "q Hirshfeld DFT (e)": float(self.dft_hirshfeld_charges[k])}
                for k, lab in enumerate(self.labels)]


def per_atom_differences(fields: DensityFields, level: int | None = None) -> AtomDifferences:
    """Per-atom integrated differences (model - DFT and promolecule - DFT) on the DFT's molecular grid.

    Parameters
    ----------
    fields : densities with a reference.
    level : PySCF grid level (default: the reference's ``grid_level``).

    Returns
    -------
    AtomDifferences
    """
    ref = fields.reference
    if ref is None:
        raise LSIPError("per-atom differences need a DFT reference")
    from lsip.reference.grids import becke_atom_grids

    n = fields.structure.n_atoms
    cells = becke_atom_grids(fields._mol, ref.grid_level if level is None else level)
    out = {k: np.zeros(n) for k in ("bm", "bp", "ba", "hm", "hp", "hq")}
    numbers = np.asarray(fields.structure.numbers, dtype=np.float64)
    n_grid = 0.0
    for a, (coords, weights) in enumerate(cells):
        rho = fields.evaluate(coords)
        b = fields.basis.evaluate(coords, fields.positions).numpy()[:, :, NEUTRAL]
        share = b / np.maximum(b.sum(axis=1, keepdims=True), 1e-300)
        d_model, d_pro = rho["model"] - rho["dft"], rho["promolecule"] - rho["dft"]
        out["bm"][a], out["bp"][a] = weights @ d_model, weights @ d_pro
        out["ba"][a] = weights @ np.abs(d_model)
        out["hm"] += (weights * d_model) @ share
        out["hp"] += (weights * d_pro) @ share
        out["hq"] += (weights * rho["dft"]) @ share
        n_grid += float(weights @ rho["dft"])
    labels = tuple(f"{s}{k}" for k, s in enumerate(fields.structure.symbols))
    return AtomDifferences(labels, out["bm"], out["bp"], out["ba"], out["hm"], out["hp"], numbers - out["hq"],
                           n_grid)


#: Density isovalues (e/bohr^3) offered for the ESP surface; 0.002 is the usual "van der Waals" ESP surface.
ESP_ISOVALUES: tuple[float, ...] = (0.001, 0.002, 0.004)
ESP_ISOVALUE = 0.002
#: Seconds per (grid point x AO pair) of the DFT ESP integrals with one thread, measured on this project's 2-core
#: machines (benzene/def2-SVP, 6,555 pairs, 4,000 points: 1.8 s); the page computes larger maps on request only.
DFT_ESP_SECONDS_PER_PAIR_POINT = 7e-8
#: The app computes a DFT ESP map without asking up to this estimated time (s); longer ones wait for a button.
DFT_ESP_AUTO_SECONDS = 15.0
#: Bytes of AO-pair integrals held at once by :func:`dft_electrostatic_potential`.
DFT_ESP_MEMORY_BYTES = 200_000_000


def dft_electrostatic_potential(mol: object, density_matrix: np.ndarray, points: np.ndarray,
                                memory_bytes: int = DFT_ESP_MEMORY_BYTES) -> np.ndarray:
    """Electrostatic potential of a DFT charge density (nuclei + electrons) at ``points``, hartree/e.

    ESP(r) = sum_A Z_A / |r - R_A| - sum_{mu nu} D_{mu nu} (mu nu | 1/|r - r'|): the nuclear part with the
    :data:`lsip.model.density.NUCLEUS_FLOOR_BOHR` floor (as the model's), the electronic part from the
    three-centre integrals of the AO pairs with a point charge at each point (PySCF ``df.incore.aux_e2`` with
    ``gto.fakemol_for_charges``, the ``tools.cubegen.mep`` method), pair-packed (``aosym="s2ij"``) and in chunks
    of points so that at most ``memory_bytes`` of integrals exist at once (benzene/def2-SVP: ~3,800 points per
    chunk). UKS density matrices (2, nao, nao) are summed over spin.

    Parameters
    ----------
    mol : the PySCF ``Mole`` of the density matrix.  density_matrix : (nao, nao) or (2, nao, nao), AO basis.
    points : (M, 3) bohr.

    Returns
    -------
    (M,) ESP, hartree/e.
    """
    from pyscf import df, gto, lib

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    dm = np.asarray(density_matrix, dtype=np.float64)
    if dm.ndim == 3:
        dm = dm.sum(axis=0)
    weights = dm + dm.T
    weights[np.diag_indices_from(weights)] *= 0.5  # sum_{i>=j} (2 - delta_ij) D_ij (ij|r)
    packed = lib.pack_tril(weights)
    chunk = max(1, min(20_000, int(memory_bytes) // (8 * len(packed))))
    electrons = np.empty(len(pts))
    for s in range(0, len(pts), chunk):
        fake = gto.fakemol_for_charges(pts[s:s + chunk])
        electrons[s:s + chunk] = packed @ df.incore.aux_e2(mol, fake, aosym="s2ij")
    return nuclear_potential(pts, mol.atom_coords(), mol.atom_charges()) - electrons


def dft_esp_seconds(n_points: int, n_basis: int) -> float:
    """Rough wall time of :func:`dft_electrostatic_potential` on ``n_points`` points (s, one thread)."""
    return DFT_ESP_SECONDS_PER_PAIR_POINT * n_points * n_basis * (n_basis + 1) / 2


def surface_band(density: np.ndarray, isovalue: float, dilate: int = 1) -> np.ndarray:
    """Grid points next to the isosurface ``density = isovalue`` (e/bohr^3): the points whose 3 x 3 x 3
    neighbourhood holds values on both sides of ``isovalue`` (every corner of every grid cell the surface crosses),
    widened by ``dilate`` more points. 3Dmol colours a surface vertex with the value of the grid point nearest to
    it, and its smoothing moves vertices by a fraction of a cell, so one extra layer keeps every lookup in the band.

    Returns
    -------
    bool array of ``density``'s shape.
    """
    from scipy.ndimage import binary_dilation, maximum_filter, minimum_filter

    rho = np.asarray(density, dtype=np.float64)
    band = ((maximum_filter(rho, size=3, mode="nearest") >= isovalue)
            & (minimum_filter(rho, size=3, mode="nearest") <= isovalue))
    if dilate > 0 and band.any():
        band = binary_dilation(band, np.ones((3, 3, 3), dtype=bool), iterations=int(dilate))
    return band


def grid_esp(fields: DensityFields, grid: CubeGrid, densities: dict[str, np.ndarray], isovalue: float,
             kinds: tuple[str, ...] = ("model", "dft")) -> dict[str, np.ndarray]:
    """ESP of each kind on ``grid``, evaluated on the :func:`surface_band` of that kind's own density.

    Parameters
    ----------
    fields : the densities (model; DFT with a reference).
    grid : the display grid of ``densities``.
    densities : kind -> (n1, n2, n3) density on ``grid`` (:func:`grid_densities`), e/bohr^3.
    isovalue : the density of the surface the ESP is drawn on, e/bohr^3.
    kinds : ``"model"`` and/or ``"dft"`` (skipped when absent from ``densities``).

    Returns
    -------
    dict kind -> (n1, n2, n3) ESP in hartree/e on the band, exactly 0 elsewhere (never drawn: see
    :func:`surface_band`).
    """
    points = grid.points()
    out = {}
    for kind in kinds:
        if kind not in densities:
            continue
        band = surface_band(densities[kind], isovalue).reshape(-1)
        values = np.zeros(grid.n_points)
        if band.any():
            values[band] = fields.esp(points[band], (kind,))[kind]
        out[kind] = values.reshape(grid.shape)
    return out


def band_points(density: np.ndarray, isovalue: float) -> int:
    """Number of grid points :func:`grid_esp` evaluates for a density (to estimate the DFT ESP's time)."""
    return int(surface_band(density, isovalue).sum())


def surface_esp_values(density: np.ndarray, esp: np.ndarray, isovalue: float) -> np.ndarray:
    """ESP where the isosurface ``density = isovalue`` crosses the grid's edges (linear interpolation along each
    edge, as marching cubes places its vertices), hartree/e; empty when the surface misses the grid."""
    rho = np.asarray(density, dtype=np.float64)
    v = np.asarray(esp, dtype=np.float64)
    found = []
    for axis in range(3):
        a = [slice(None)] * 3
        b = [slice(None)] * 3
        a[axis], b[axis] = slice(None, -1), slice(1, None)
        r0, r1, v0, v1 = rho[tuple(a)], rho[tuple(b)], v[tuple(a)], v[tuple(b)]
        cross = (r0 - isovalue) * (r1 - isovalue) < 0
        t = (isovalue - r0[cross]) / (r1[cross] - r0[cross])
        found.append(v0[cross] + t * (v1[cross] - v0[cross]))
    return np.concatenate(found)


def esp_colour_limit(samples: list[np.ndarray], percentile: float = 98.0) -> float:
    """A symmetric colour limit (hartree/e) shared by several ESP maps: the largest ``percentile``-th percentile of
    |ESP| on their surfaces, rounded up to two significant digits (0.01 when there is no surface)."""
    tops = [float(np.percentile(np.abs(s), percentile)) for s in samples if len(s)]
    top = max(tops) if tops else 0.0
    if top <= 0.0:
        return 0.01
    scale = 10.0 ** (np.floor(np.log10(top)) - 1)
    return float(np.ceil(top / scale) * scale)


def esp_cube_text(grid: CubeGrid, values: np.ndarray, structure: Structure, kind: str) -> str:
    """Cube text (bohr, hartree/e) of an ESP map for 3Dmol's ``voldata``; the zeros off the band are written as
    ``0`` (a cube reader parses them as numbers; the text shrinks to about the band's share)."""
    numbers = np.asarray(structure.numbers)
    pos = np.asarray(structure.positions, dtype=np.float64) * ANGSTROM_TO_BOHR
    label = KIND_LABELS.get(kind, kind)
    text = cube_text(grid, values, numbers, pos,
                     comment=f"LSIP {label} electrostatic potential (hartree/e) of {structure.formula}")
    return text.replace("  0.00000E+00", " 0")


def isovalue_to_au(value_e_per_a3: float) -> float:
    """An isovalue in e/angstrom^3 -> e/bohr^3."""
    return float(value_e_per_a3) / AU_TO_E_PER_A3


def to_angstrom(x_bohr: np.ndarray) -> np.ndarray:
    """Lengths bohr -> angstrom."""
    return np.asarray(x_bohr) * BOHR_TO_ANGSTROM
