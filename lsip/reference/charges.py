"""Atomic charges and the dipole moment of a DFT density.

Partition charges on the molecular quadrature grid (weights v_g, density rho_g):

* **Hirshfeld** (F. L. Hirshfeld, Theor. Chim. Acta 44, 129 (1977)): pro-atoms are the library's spherical
  neutral-atom densities p_A = rho_{A,0}; q_A = Z_A - sum_g v_g rho_g p_A(r_g) / sum_B p_B(r_g).
* **Iterative Hirshfeld, Hirshfeld-I** (P. Bultinck et al., J. Chem. Phys. 126, 144111 (2007)): the pro-atom
  of A is the library's density at A's current charge, interpolated linearly between the integer-charge
  states, p_A = (1 - q) rho_0 + q rho_+ for 0 <= q <= 1 and (1 + q) rho_0 - q rho_- for -1 <= q <= 0,
  so it integrates to Z_A - q_A; iterate until the charges stop changing. The library has only the states
  +1, 0, -1: for |q| > 1 the pro-atom is **clamped** to the +1 or -1 state (normalised to Z_A -+ 1, not to
  Z_A - q) and the atom is flagged. The Hirshfeld-I pro-atom is exactly a latent density on the ionic line.
* **Mulliken** and **meta-Lowdin** populations from PySCF (``scf.hf.mulliken_pop`` / ``mulliken_meta`` with
  its default ANO pre-orthogonalisation), basis-set dependent, shown for comparison.

Partition charges sum to Q up to the quadrature error of the electron count (|N_grid - N| ~ 1e-6 e at grid
level 3 for small molecules). The dipole moment is taken about the centre of mass, as in the model.
:func:`analyse_density` runs all of them, and the density encoder, on a converged density.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyscf import gto
from pyscf.scf import hf

from lsip.data.masses import atomic_mass
from lsip.model.density import BasisDensities, dipole_density
from lsip.model.library import LatentLibrary
from lsip.reference.density_encoder import l1_error, project_density
from lsip.reference.grids import density_on_points, total_density_matrix

CATION, NEUTRAL, ANION = 0, 1, 2  # STATE_LABELS order


def hirshfeld_partition(proatoms: np.ndarray, rho: np.ndarray, grid_weights: np.ndarray,
                        numbers: np.ndarray) -> np.ndarray:
    """Stockholder charges for given pro-atom densities.

    Parameters
    ----------
    proatoms : (G, n) pro-atom densities p_A(r_g), bohr^-3.
    rho : (G,) molecular density, bohr^-3.
    grid_weights : (G,) quadrature weights, bohr^3.
    numbers : (n,) nuclear charges Z_A.

    Returns
    -------
    (n,) q_A = Z_A - integral of rho p_A / sum_B p_B, e.  Where every pro-atom vanishes (far from all atoms)
    the density is shared equally.
    """
    total = proatoms.sum(axis=1, keepdims=True)
    n = proatoms.shape[1]
    share = np.divide(proatoms, total, out=np.full_like(proatoms, 1.0 / n), where=total > 1e-300)
    return np.asarray(numbers, dtype=np.float64) - (grid_weights * rho) @ share


def hirshfeld_charges(basis_grid: np.ndarray, rho: np.ndarray, grid_weights: np.ndarray,
                      numbers: np.ndarray) -> np.ndarray:
    """Plain Hirshfeld charges with the library's neutral atoms as pro-atoms.

    Parameters
    ----------
    basis_grid : (G, n, 4) library basis densities at the grid points (STATE_LABELS order), bohr^-3.
    rho, grid_weights, numbers : as in :func:`hirshfeld_partition`.

    Returns
    -------
    (n,) charges, e.
    """
    return hirshfeld_partition(basis_grid[:, :, NEUTRAL], rho, grid_weights, numbers)


def ionic_line_weights(charges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ensemble weights (cation, neutral, anion, excited) of the pro-atom with charge q on the ionic line.

    Parameters
    ----------
    charges : (n,) e.

    Returns
    -------
    weights : (n, 4) with w+ = max(q, 0), w- = max(-q, 0), w0 = 1 - |q|, w* = 0 after clamping q to [-1, 1].
    clamped : (n,) bool, True where |q| > 1.
    """
    q = np.asarray(charges, dtype=np.float64)
    qc = np.clip(q, -1.0, 1.0)
    w = np.zeros((len(q), 4))
    w[:, CATION] = np.maximum(qc, 0.0)
    w[:, ANION] = np.maximum(-qc, 0.0)
    w[:, NEUTRAL] = 1.0 - np.abs(qc)
    return w, np.abs(q) > 1.0


@dataclass(frozen=True)
class HirshfeldIResult:
    """Hirshfeld-I charges.

    Attributes
    ----------
    charges : (n,) e.  iterations : number of updates.  converged : max |dq| < tol reached.
    clamped : (n,) bool, atoms whose pro-atom was clamped to the +-1 state (|q| > 1).
    """

    charges: np.ndarray
    iterations: int
    converged: bool
    clamped: np.ndarray


def hirshfeld_i_charges(basis_grid: np.ndarray, rho: np.ndarray, grid_weights: np.ndarray, numbers: np.ndarray,
                        tol: float = 1e-6, max_iter: int = 500) -> HirshfeldIResult:
    """Iterative Hirshfeld charges on the library's ionic basis densities (see the module docstring).

    Parameters
    ----------
    basis_grid : (G, n, 4) library basis densities at the grid points, bohr^-3.
    rho : (G,) DFT density.  grid_weights : (G,) bohr^3.  numbers : (n,) Z_A.
    tol : convergence threshold on max |q_new - q_old|, e.
    max_iter : iteration limit.

    Returns
    -------
    HirshfeldIResult
    """
    q = hirshfeld_charges(basis_grid, rho, grid_weights, numbers)
    converged = False
    it = 1
    for it in range(2, max_iter + 1):  # noqa: B007 - the count is reported
        w, _ = ionic_line_weights(q)
        q_new = hirshfeld_partition(np.einsum("gak,ak->ga", basis_grid, w), rho, grid_weights, numbers)
        delta = float(np.max(np.abs(q_new - q)))
        q = q_new
        if delta < tol:
            converged = True
            break
    return HirshfeldIResult(q, it, converged, ionic_line_weights(q)[1])


def mulliken_charges(mol: gto.Mole, dm: np.ndarray) -> np.ndarray:
    """(n,) Mulliken charges, e (PySCF ``scf.hf.mulliken_pop``)."""
    return np.asarray(hf.mulliken_pop(mol, total_density_matrix(dm), verbose=0)[1])


def meta_lowdin_charges(mol: gto.Mole, dm: np.ndarray) -> np.ndarray:
    """(n,) meta-Lowdin charges, e (PySCF ``scf.hf.mulliken_meta``, the default of ``mf.analyze()``)."""
    return np.asarray(hf.mulliken_meta(mol, total_density_matrix(dm), verbose=0)[1])


def center_of_mass(symbols: tuple[str, ...] | list[str], positions: np.ndarray) -> np.ndarray:
    """(3,) centre of mass of atoms at ``positions`` (same unit as the positions)."""
    m = np.array([atomic_mass(s) for s in symbols])
    return (m[:, None] * np.asarray(positions)).sum(0) / m.sum()


def dipole_moment(mol: gto.Mole, dm: np.ndarray, origin: np.ndarray | None = None) -> np.ndarray:
    """Dipole moment sum_A Z_A (R_A - O) - integral rho(r) (r - O), e bohr.

    Parameters
    ----------
    mol, dm : molecule and (total or spin) density matrix.
    origin : (3,) bohr; default the centre of mass (matters only for charged systems).

    Returns
    -------
    (3,) e bohr.
    """
    if origin is None:
        symbols = [mol.atom_pure_symbol(i) for i in range(mol.natm)]
        origin = center_of_mass(symbols, mol.atom_coords())
    return np.asarray(hf.dip_moment(mol, total_density_matrix(dm), unit="AU", origin=np.asarray(origin),
                                    verbose=0))


def _symbols(mol: gto.Mole) -> tuple[str, ...]:
    return tuple(mol.atom_pure_symbol(i) for i in range(mol.natm))


def basis_on_grid(library: LatentLibrary, mol: gto.Mole, coords: np.ndarray) -> tuple[BasisDensities, np.ndarray]:
    """The library's basis densities of ``mol``'s atoms at ``coords`` (bohr): (G, n, 4) numpy, bohr^-3."""
    basis = BasisDensities(library, _symbols(mol))
    return basis, basis.evaluate_chunked(coords, mol.atom_coords()).numpy()


def analyse_density(mol: gto.Mole, dm: np.ndarray, coords: np.ndarray, grid_weights: np.ndarray,
                    library: LatentLibrary | None, weighting: str = "l1") -> dict:
    """Charges, dipole and the density encoder of a converged DFT density on its molecular grid.

    Parameters
    ----------
    mol, dm : the molecule and its density matrix.
    coords : (G, 3) bohr and grid_weights : (G,) bohr^3 of the molecular quadrature grid.
    library : latent library (None or missing elements: only Mulliken, meta-Lowdin and the dipole).
    weighting : density-encoder weighting.

    Returns
    -------
    dict with ``charges`` {name: (n,)}, ``dipole`` (3,) e bohr, ``electrons_grid``, ``latent_weights`` (n, 4) or
    None, ``density_error`` {latent, promolecule, model} (e), ``hirshfeld_i_iterations``, ``warnings`` list.
    """
    rho = density_on_points(mol, dm, coords)
    n_total = float(mol.nelectron)
    out: dict = {
        "charges": {"mulliken": mulliken_charges(mol, dm), "meta_lowdin": meta_lowdin_charges(mol, dm)},
        "dipole": dipole_moment(mol, dm), "electrons_grid": float(grid_weights @ rho), "latent_weights": None,
        "density_error": {"latent": None, "promolecule": None, "model": None}, "hirshfeld_i_iterations": 0,
        "warnings": [],
    }
    if abs(out["electrons_grid"] - n_total) > 1e-3:
        out["warnings"].append(f"the density integrates to {out['electrons_grid']:.5f} e on the grid, not "
                               f"{n_total:g}: use a finer grid_level")
    missing = sorted(set(_symbols(mol)) - set(library.elements)) if library is not None else ["(no library)"]
    if missing:
        out["warnings"].append(f"no latent-library densities for {', '.join(missing)}: Hirshfeld, Hirshfeld-I and "
                               "the density encoder were skipped")
        return out
    basis, bgrid = basis_on_grid(library, mol, coords)
    numbers = basis.numbers.numpy()
    out["charges"]["hirshfeld"] = hirshfeld_charges(bgrid, rho, grid_weights, numbers)
    hi = hirshfeld_i_charges(bgrid, rho, grid_weights, numbers)
    out["charges"]["hirshfeld_i"] = hi.charges
    out["hirshfeld_i_iterations"] = hi.iterations
    if not hi.converged:
        out["warnings"].append(f"Hirshfeld-I did not converge in {hi.iterations} iterations")
    if hi.clamped.any():
        out["warnings"].append("Hirshfeld-I pro-atoms clamped to the +-1 state for atoms "
                               f"{np.nonzero(hi.clamped)[0].tolist()} (|q| > 1)")
    proj = project_density(bgrid, basis.n_electrons.numpy(), numbers, rho, grid_weights, n_total, weighting,
                           prior_charges=hi.charges)
    if not proj.converged:
        out["warnings"].append(f"the density-encoder QP did not converge ({proj.iterations} iterations)")
    out["charges"]["density_encoder"] = proj.charges
    out["latent_weights"] = proj.weights
    out["density_error"].update(latent=proj.error, promolecule=proj.promolecule_error)
    return out


def model_density_error(mol: gto.Mole, dm: np.ndarray, coords: np.ndarray, grid_weights: np.ndarray,
                        library: LatentLibrary, model_weights: np.ndarray, dipoles: np.ndarray | None = None,
                        dipole_shapes: list[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """integral |rho_model - rho_DFT| (e) for physical-encoder weights (n, 4) on the molecular grid; with the
    atomic dipoles (n, 3) e bohr and each atom's dipole shape, the decoded density includes their dipolar lobes
    (docs/model.md sections 11 and 11.1), as the app's Density page draws it."""
    rho = density_on_points(mol, dm, coords)
    _, bgrid = basis_on_grid(library, mol, coords)
    w = np.asarray(model_weights, dtype=np.float64).reshape(mol.natm, 4)
    model = np.einsum("gak,ak->g", bgrid, w)
    if dipoles is not None and dipole_shapes is not None:
        model = model + dipole_density(coords, mol.atom_coords(), dipoles, dipole_shapes).numpy()
    return l1_error(model, rho, grid_weights)
