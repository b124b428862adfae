"""PySCF set-up: molecules, Kohn-Sham objects, integration grids, densities on points and cube grids.

Two kinds of grid are used:

* the **molecular quadrature grid** of the DFT run (Becke partitioning of atom-centred Treutler-Ahlrichs radial
  x Lebedev angular grids, ``pyscf.dft.gen_grid.Grids`` at a ``level``): every integral (electron count,
  charges, density errors, the density encoder's least squares) is a weighted sum over it;
* **regular grids** (:class:`lsip.io.cube.CubeGrid`) for display and cube files; their convention is stated in
  :mod:`lsip.io.cube`. Model, DFT and difference cubes are evaluated on one :class:`~lsip.io.cube.CubeGrid`.

The density is rho(r) = sum_{mu nu} D_{mu nu} chi_mu(r) chi_nu(r) with the total (alpha + beta) density
matrix D, evaluated with ``dft.numint.eval_ao`` / ``eval_rho`` in blocks of :data:`BLOCK_POINTS` points.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from pyscf import dft, gto

from lsip.errors import ReferenceCalculationError, StructureError
from lsip.io.cube import CubeGrid
from lsip.structure import Structure
from lsip.units import ANGSTROM_TO_BOHR

#: Points per block in density evaluations (~1e5 points per block keeps the memory bounded).
BLOCK_POINTS = 100_000


def default_spin(structure: Structure) -> int:
    """2S of ``structure``: its ``spin`` if set, else 0 for an even electron count and 1 for an odd one."""
    if structure.spin is not None:
        return int(structure.spin)
    return structure.n_electrons % 2


def basis_function_count(symbols: tuple[str, ...] | list[str], basis: str) -> int:
    """Number of (spherical) basis functions of ``symbols`` in ``basis``, summed from one-atom molecules.

    Raises
    ------
    ReferenceCalculationError
        when the basis set is unknown or lacks an element.
    """
    per_element = {}
    for sym in set(symbols):
        try:
            per_element[sym] = gto.M(atom=[(sym, (0.0, 0.0, 0.0))], basis=basis, spin=None, verbose=0).nao
        except (KeyError, RuntimeError, ValueError) as exc:
            raise ReferenceCalculationError(f"basis {basis!r} is not available for {sym}: {exc}") from exc
    return sum(per_element[s] for s in symbols)


def build_mole(structure: Structure, basis: str, spin: int | None = None) -> gto.Mole:
    """A built PySCF ``Mole`` of ``structure`` (coordinates passed in bohr), silent.

    Raises
    ------
    StructureError
        for periodic structures, impossible charge/spin combinations.
    ReferenceCalculationError
        when the basis set is unknown or lacks an element.
    """
    if structure.cell is not None and any(structure.pbc):
        raise StructureError("reference DFT is molecular only: remove the periodic cell (pbc) first")
    if structure.n_atoms == 0:
        raise StructureError("the structure has no atoms")
    spin = default_spin(structure) if spin is None else int(spin)
    if structure.n_electrons < 0 or (structure.n_electrons - spin) % 2 or spin > structure.n_electrons:
        raise StructureError(f"{structure.n_electrons} electrons (charge {structure.charge:+d}) cannot have "
                             f"spin 2S = {spin}: 2S must have the parity of the electron count")
    pos = structure.positions * ANGSTROM_TO_BOHR
    mol = gto.Mole()
    mol.atom = [(s, tuple(p)) for s, p in zip(structure.symbols, pos.tolist())]
    mol.unit = "Bohr"
    mol.basis = basis
    mol.charge = int(structure.charge)
    mol.spin = spin
    mol.verbose = 0
    mol.output = None
    try:
        with warnings.catch_warnings():  # PySCF suggests basis-set-exchange for unknown names; we raise instead
            warnings.simplefilter("ignore", UserWarning)
            mol.build(dump_input=False, parse_arg=False)
    except (KeyError, RuntimeError, ValueError, OSError, NotImplementedError) as exc:
        raise ReferenceCalculationError(f"cannot build the molecule with basis {basis!r}: {exc}") from exc
    if mol.nao == 0:
        raise ReferenceCalculationError(f"basis {basis!r} has no functions for {structure.formula}")
    return mol


def molecular_grid(mol: gto.Mole, level: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """PySCF's molecular quadrature grid at ``level``.

    Returns
    -------
    coords : (G, 3) bohr.  weights : (G,) bohr^3 (sum_g weights_g f(r_g) ~ integral of f).
    """
    grids = dft.gen_grid.Grids(mol)
    grids.level = int(level)
    grids.build(with_non0tab=False)
    return np.asarray(grids.coords), np.asarray(grids.weights)


def becke_atom_grids(mol: gto.Mole, level: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """PySCF's molecular grid split into its atoms' Becke cells: per atom (coords (G_A, 3) bohr, weights)."""
    gen_grid = dft.gen_grid
    grids = gen_grid.Grids(mol)
    grids.level = int(level)
    tab = grids.gen_atomic_grids(mol, grids.atom_grid, grids.radi_method, grids.level, grids.prune)
    coords, weights = gen_grid.get_partition(mol, tab, grids.radii_adjust, grids.atomic_radii,
                                             grids.becke_scheme, concat=False)
    return list(zip(coords, weights))


def total_density_matrix(dm: np.ndarray) -> np.ndarray:
    """(nao, nao) alpha + beta density matrix from an RKS (nao, nao) or UKS (2, nao, nao) one."""
    dm = np.asarray(dm)
    return dm[0] + dm[1] if dm.ndim == 3 else dm


def density_on_points(mol: gto.Mole, dm: np.ndarray, coords: np.ndarray,
                      block: int = BLOCK_POINTS) -> np.ndarray:
    """Electron density at ``coords``.

    Parameters
    ----------
    mol : the molecule (basis) the density matrix belongs to.
    dm : (nao, nao) or (2, nao, nao) density matrix.
    coords : (M, 3) bohr.
    block : points per evaluation block (memory ~ block x nao doubles).

    Returns
    -------
    (M,) rho, bohr^-3.
    """
    dm_tot = total_density_matrix(dm)
    coords = np.asarray(coords, dtype=np.float64).reshape(-1, 3)
    rho = np.empty(len(coords))
    for s in range(0, len(coords), block):
        ao = dft.numint.eval_ao(mol, coords[s:s + block], deriv=0)
        rho[s:s + block] = dft.numint.eval_rho(mol, ao, dm_tot, xctype="LDA")
    return rho


def density_on_cube(mol: gto.Mole, dm: np.ndarray, grid: CubeGrid) -> np.ndarray:
    """Electron density on a regular grid, (n1, n2, n3) bohr^-3 in cube order."""
    return density_on_points(mol, dm, grid.points()).reshape(grid.shape)


def cube_grid_for(structure: Structure, shape: tuple[int, int, int] | None = (40, 40, 40),
                  spacing: float | None = None, margin: float = 3.0) -> CubeGrid:
    """The shared display grid of a structure (bohr; see :meth:`lsip.io.cube.CubeGrid.around`)."""
    return CubeGrid.around(structure.positions * ANGSTROM_TO_BOHR, margin=margin,
                           shape=None if spacing is not None else shape, spacing=spacing)


def make_scf(mol: gto.Mole, xc: str, grid_level: int, conv_tol: float, max_cycle: int, unrestricted: bool,
             density_fit: bool) -> dft.rks.RKS | dft.uks.UKS:
    """A configured, silent PySCF Kohn-Sham object (RKS or UKS), no checkpoint file.

    Raises
    ------
    ReferenceCalculationError
        when the functional is unknown to libxc.
    """
    mf = dft.UKS(mol) if unrestricted else dft.RKS(mol)
    try:
        mf.xc = xc
        dft.libxc.parse_xc(xc)
    except (KeyError, ValueError, NotImplementedError) as exc:
        raise ReferenceCalculationError(f"unknown exchange-correlation functional {xc!r}: {exc}") from exc
    mf.grids.level = int(grid_level)
    mf.conv_tol = float(conv_tol)
    mf.max_cycle = int(max_cycle)
    mf.chkfile = None
    mf.verbose = 0
    if density_fit:
        mf = mf.density_fit(auxbasis="def2-universal-jkfit")
    return mf


def retry_scf(mf: object, how: str, max_cycle: int) -> object:
    """A more robust solver for a second attempt: second-order (``"newton"``) or a 0.5 Eh level shift."""
    if how == "newton":
        new = mf.newton()
    else:
        new = mf.copy()
        new.level_shift = 0.5
        new.diis_start_cycle = 3
    new.max_cycle = max_cycle
    new.verbose = 0
    return new


def scf_summary(mf: object, unrestricted: bool, density_fit: bool, attempts: int, cycles: int,
                last_delta: float) -> dict:
    """Scalar SCF outcome and density matrix (fields of :class:`ReferenceResult`)."""
    occ = np.asarray(mf.mo_occ).reshape(-1)
    eps = np.asarray(mf.mo_energy).reshape(-1)
    gap = float(eps[occ == 0].min() - eps[occ > 0].max()) if (occ == 0).any() and (occ > 0).any() else None
    return {"unrestricted": unrestricted, "density_fit": density_fit, "n_basis": int(mf.mol.nao),
            "energy": float(mf.e_tot), "converged": bool(mf.converged), "attempts": attempts, "cycles": cycles,
            "last_delta_e": float(last_delta), "homo_lumo_gap": gap,
            "spin_square": float(mf.spin_square()[0]) if unrestricted else None,
            "density_matrix": np.asarray(mf.make_rdm1())}


def spin_warnings(spin_square: float | None, spin: int, tol: float) -> list[str]:
    """A warning when UKS spin contamination <S^2> - S(S+1) exceeds ``tol``."""
    if spin_square is None:
        return []
    exact = 0.5 * spin * (0.5 * spin + 1)
    if spin_square - exact > tol:
        return [f"spin contamination: <S^2> = {spin_square:.3f}, exact S(S+1) = {exact:.3f} for 2S = {spin}; "
                "the UKS density mixes spin states"]
    return []


def omp_threads() -> int:
    """Threads PySCF uses (``OMP_NUM_THREADS``, default 1 here)."""
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "1")))
    except ValueError:
        return 1


def estimate_scf_time_s(n_basis: int, threads: int | None = None) -> float:
    """Rough wall time of a PBE0 SCF with ``n_basis`` functions (s).

    Fitted to measurements on this project's 2-core machines with one thread (H2O/def2-SVP, 24 functions:
    0.6 s; benzene/def2-SVP, 114 functions: 14 s): t = 0.3 + 14 (n_basis / 114)^2.7 / threads^0.8.
    Good to a factor of ~2; meant for the refusal message and the app's progress bar.
    """
    threads = omp_threads() if threads is None else max(1, threads)
    return 0.3 + 14.0 * (n_basis / 114.0) ** 2.7 / threads**0.8


def format_duration(seconds: float) -> str:
    """'42 s', '7 min' or '2.5 h'."""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min" if seconds < 7200 else \
        f"{seconds / 3600:.1f} h"
