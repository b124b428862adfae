"""Spherically symmetric, spin-polarized atomic DFT with configuration-controlled occupations (PySCF).

Plain UKS breaks the spherical symmetry of open-shell atoms (C, O, Cl, ...): it fills a subset of a p shell.
Here the occupations are fixed by a configuration such as ``"1s2 2s1 2p3"`` instead:

* each shell (n, l) holds ``min(count, 2l+1)`` alpha electrons and the rest beta (Hund, highest spin);
* in every SCF iteration the molecular orbitals of each spin are classified by their angular momentum l and,
  within one l, sorted by energy; the k-th group of 2l+1 orbitals is the shell n = l + 1 + k;
* spherical mode: a shell's electrons of one spin are spread evenly over its 2l+1 orbitals (fractional
  occupation), so the density, and with it the Kohn-Sham potential, stay exactly spherical;
* integer mode (the library default, see :func:`run_atom`): the lowest orbitals of each open shell are filled
  with one electron each (one M_L component of the term); the stored density is its exact spherical average.

The l-character of an orbital C_i is exact: AOs of different l on one centre are orthogonal, so the overlap
matrix S is block-diagonal in l and the l-population sum_{p,q in l} C_pi S_pq C_qi sums to one over l.
This mirrors :func:`pyscf.scf.addons.frac_occ`, which replaces ``mf.get_occ`` the same way.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
from pyscf import dft, gto
from pyscf.dft import LebedevGrid

from lsip.errors import ReferenceCalculationError

_L_LETTERS = "spdf"
_SHELL = re.compile(r"^(\d+)([spdf])(\d+)$")
_CORES = {"[He]": "1s2", "[Ne]": "1s2 2s2 2p6", "[Ar]": "1s2 2s2 2p6 3s2 3p6"}
#: Noble-gas cores that a configuration may abbreviate in brackets, e.g. ``"[Ne] 3s2 3p5"``.
NOBLE_GAS_CORES: dict[str, str] = {
    "[He]": "1s2",
    "[Ne]": "1s2 2s2 2p6",
    "[Ar]": "1s2 2s2 2p6 3s2 3p6",
}
#: Radii (bohr) at which the sphericity of a density is measured.
SPHERICITY_RADII: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0)
#: Lebedev points used for the spherical average (exact for spherical harmonics up to degree 17).
N_ANGULAR = 110


@dataclass(frozen=True)
class AtomResult:
    """One converged atomic state.

    Attributes
    ----------
    symbol, configuration : element and the occupation it was computed with.
    n_electrons, spin : electron count and 2S = N_alpha - N_beta.
    energy : total energy of the returned state, hartree.
    spherical_energy : energy of the spherical (fractionally occupied) SCF, hartree.
    converged : whether PySCF's SCFs converged (each after at most one retry).
    radial_density : (n_r,) spherically averaged density on the requested grid, bohr^-3.
    electrons : 4 pi int r^2 rho dr of ``radial_density`` on the grid (should equal ``n_electrons``).
    sphericity : of the spherical SCF's density: max over :data:`SPHERICITY_RADII` of (max - min) / mean
        of rho over a Lebedev sphere (~1e-13 when the spherical occupation works).
    anisotropy : the same measure for the density that was averaged (O(1) for an open p shell with
        integer occupations; equal to ``sphericity`` for ``occupation="spherical"``).
    homo : highest occupied orbital energy, hartree (> 0 signals a basis-confined, unbound state).
    """

    symbol: str
    configuration: str
    n_electrons: int
    spin: int
    energy: float
    spherical_energy: float
    converged: bool
    radial_density: np.ndarray
    electrons: float
    sphericity: float
    anisotropy: float
    homo: float


def parse_configuration(text: str) -> dict[tuple[int, int], int]:
    """Parse ``"1s2 2s2 2p3"`` (a bracketed noble-gas core allowed) into ``{(n, l): electrons}``.

    >>> parse_configuration("1s2 2p1")
    {(1, 0): 2, (2, 1): 1}
    >>> parse_configuration("[He] 2s1")
    {(1, 0): 2, (2, 0): 1}
    """
    shells: dict[tuple[int, int], int] = {}
    for token in " ".join(NOBLE_GAS_CORES.get(t, t) for t in text.split()).split():
        m = _SHELL.match(token)
        if m is None:
            raise ReferenceCalculationError(f"cannot parse shell {token!r} in configuration {text!r}")
        n, l, count = int(m.group(1)), _L_LETTERS.index(m.group(2)), int(m.group(3))
        if l >= n or count > 2 * (2 * l + 1) or (n, l) in shells:
            raise ReferenceCalculationError(f"impossible shell {token!r} in configuration {text!r}")
        shells[(n, l)] = count
    return shells


def expand_configuration(text: str) -> str:
    """Write a configuration with its noble-gas core expanded, e.g. ``"[He] 2s1"`` -> ``"1s2 2s1"``."""
    return " ".join(_CORES.get(t, t) for t in text.split())


def spin_occupations(text: str) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Highest-spin split of a configuration: per spin, ``{l: [electrons of shell n = l+1, l+2, ...]}``.

    >>> spin_occupations("1s2 2s1 2p4")
    ({0: [1, 1], 1: [3]}, {0: [1, 0], 1: [1]})
    """
    shells = parse_configuration(text)
    alpha: dict[int, list[int]] = {}
    beta: dict[int, list[int]] = {}
    for (n, l), count in shells.items():
        deg = 2 * l + 1
        for spin_occ, value in ((alpha, min(count, deg)), (beta, count - min(count, deg))):
            shell_list = spin_occ.setdefault(l, [])
            shell_list.extend([0] * (n - l - len(shell_list)))
            shell_list[n - l - 1] = value
    return alpha, beta


def ao_angular_momentum(mol: gto.Mole) -> np.ndarray:
    """(nao,) angular momentum l of every AO of a one-atom molecule (spherical or cartesian basis)."""
    ls = []
    for ib in range(mol.nbas):
        l = mol.bas_angular(ib)
        nf = (2 * l + 1) if not mol.cart else (l + 1) * (l + 2) // 2
        ls.extend([l] * (nf * mol.bas_nctr(ib)))
    return np.asarray(ls, dtype=int)


def orbital_angular_momentum(ao_l: np.ndarray, overlap: np.ndarray, mo_coeff: np.ndarray) -> np.ndarray:
    """(nmo,) l of each MO: the l whose population C^T S C (restricted to its AOs) is largest."""
    sc = overlap @ mo_coeff
    lmax = int(ao_l.max())
    pops = np.stack([np.sum((mo_coeff * sc)[ao_l == l], axis=0) for l in range(lmax + 1)])
    return np.argmax(pops, axis=0)


def _spin_occ(spec: dict[int, list[int]], energies: np.ndarray, l_of_mo: np.ndarray,
              spherical: bool) -> np.ndarray:
    occ = np.zeros_like(energies)
    for l, counts in spec.items():
        deg = 2 * l + 1
        idx = np.where(l_of_mo == l)[0]
        order = idx[np.argsort(energies[idx], kind="stable")]
        if len(order) < deg * len(counts):
            raise ReferenceCalculationError(f"basis has too few l={l} orbitals for {len(counts)} shells")
        for k, count in enumerate(counts):
            shell = order[k * deg:(k + 1) * deg]
            if spherical:
                occ[shell] = count / deg
            else:  # aufbau inside the shell: the `count` lowest of its 2l+1 orbitals, one electron each
                occ[shell[:count]] = 1.0
    return occ


def configuration_get_occ(mf: dft.uks.UKS, configuration: str, spherical: bool = True) -> None:
    """Replace ``mf.get_occ`` by the configuration-controlled occupation (in place).

    ``spherical=True``: each shell's electrons of one spin spread evenly over its 2l+1 orbitals (exactly
    spherical density). ``spherical=False``: integer occupations, the lowest orbitals of each shell filled
    (one M_L component of the term, the usual symmetry-broken UKS determinant).
    """
    spec = spin_occupations(configuration)
    ao_l = ao_angular_momentum(mf.mol)
    overlap = mf.mol.intor_symmetric("int1e_ovlp")

    def get_occ(mo_energy: np.ndarray | None = None, mo_coeff: np.ndarray | None = None) -> np.ndarray:
        mo_energy = mf.mo_energy if mo_energy is None else mo_energy
        mo_coeff = mf.mo_coeff if mo_coeff is None else mo_coeff
        return np.array([
            _spin_occ(spec[s], np.asarray(mo_energy[s]),
                      orbital_angular_momentum(ao_l, overlap, np.asarray(mo_coeff[s])), spherical)
            for s in (0, 1)
        ])

    mf.get_occ = get_occ


def atom_basis(symbol: str, basis: str = "def2-tzvppd", diffuse_s: bool = True) -> list:
    """PySCF basis list of ``symbol``: the named basis, plus one diffuse s shell if ``diffuse_s``.

    The extra shell's exponent is the basis's smallest s exponent / 3 (one even-tempered step). def2-TZVPPD
    has no diffuse s function on H, so without it H- is unbound (PBE0: A = -0.05 eV vs 0.75 eV measured);
    with it A(H) = 0.58 eV, A(Li) 0.34 -> 0.49 eV, and the O, F, S Rydberg (n+1)s excitations drop by
    0.4-0.8 eV towards experiment. Other energies change by < 0.02 eV.
    """
    try:
        shells = gto.basis.load(basis, symbol)
    except (KeyError, RuntimeError, ValueError, OSError) as exc:
        raise ReferenceCalculationError(f"basis {basis!r} is not available for {symbol}: {exc}") from exc
    if not diffuse_s:
        return shells
    s_min = min(prim[0] for shell in shells if shell[0] == 0 for prim in shell[1:] if isinstance(prim, list | tuple))
    return [*shells, [0, [s_min / 3.0, 1.0]]]


def atom_molecule(symbol: str, configuration: str, basis: str | list, z: int) -> gto.Mole:
    """One-atom :class:`pyscf.gto.Mole` whose charge and spin match ``configuration``."""
    alpha, beta = spin_occupations(configuration)
    na = sum(sum(v) for v in alpha.values())
    nb = sum(sum(v) for v in beta.values())
    try:
        return gto.M(atom=f"{symbol} 0 0 0", basis={symbol: basis}, charge=z - na - nb, spin=na - nb, verbose=0)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ReferenceCalculationError(f"cannot build {symbol} with basis {basis!r}: {exc}") from exc


def spherical_profile(mol: gto.Mole, dm: np.ndarray, r_grid: np.ndarray) -> tuple[np.ndarray, float]:
    """Spherical average of the density of ``dm`` on ``r_grid`` and its sphericity.

    Parameters
    ----------
    mol : one atom at the origin.
    dm : (nao, nao) total (alpha + beta) density matrix.
    r_grid : (n_r,) radii, bohr.

    Returns
    -------
    rho : (n_r,) Lebedev average of the density, bohr^-3 (PySCF's Lebedev weights sum to 1).
    sphericity : max over :data:`SPHERICITY_RADII` of (max - min) / mean over the sphere (0 if no density).
    """
    ang = LebedevGrid.MakeAngularGrid(N_ANGULAR)
    dirs, w = ang[:, :3], ang[:, 3]
    radii = np.concatenate([np.asarray(r_grid, dtype=float), np.asarray(SPHERICITY_RADII)])
    values = np.empty((len(radii), len(w)))
    block = max(1, 20000 // len(w))
    for i0 in range(0, len(radii), block):
        pts = (radii[i0:i0 + block, None, None] * dirs[None]).reshape(-1, 3)
        ao = dft.numint.eval_ao(mol, pts)
        values[i0:i0 + block] = dft.numint.eval_rho(mol, ao, dm).reshape(-1, len(w))
    mean = values @ w
    sph = values[len(r_grid):]
    spread = (sph.max(axis=1) - sph.min(axis=1)) / np.maximum(mean[len(r_grid):], 1e-300)
    sphericity = float(spread.max()) if mean[len(r_grid):].max() > 1e-12 else 0.0
    return np.maximum(mean[:len(r_grid)], 0.0), sphericity


def radial_electrons(r_grid: np.ndarray, rho: np.ndarray) -> float:
    """4 pi int r^3 rho d(ln r) on a grid uniform in ln r (trapezoid rule), electrons."""
    ln_r = np.log(r_grid)
    return float(4.0 * math.pi * np.trapezoid(r_grid**3 * rho, ln_r))


def atom_scf(mol: gto.Mole, configuration: str, xc: str, grid_level: int, conv_tol: float, spherical: bool,
             dm0: np.ndarray | None = None) -> dft.uks.UKS:
    """UKS of a free atom with the occupations of ``configuration`` (:func:`configuration_get_occ`; ``spherical``:
    each shell's electrons spread evenly over its orbitals), from ``dm0`` when given; one level-shifted retry."""
    mf = dft.UKS(mol, xc=xc)
    mf.grids.level = grid_level
    mf.conv_tol = conv_tol
    mf.max_cycle = 150
    configuration_get_occ(mf, configuration, spherical=spherical)
    mf.kernel(dm0=dm0)
    if not mf.converged:  # one retry: level shift + damping, restarting from the last density
        mf.level_shift, mf.damp, mf.diis_start_cycle, mf.max_cycle = 0.3, 0.5, 8, 300
        mf.kernel(dm0=mf.make_rdm1())
    return mf


def spherical_orbitals(symbol: str, z: int, configuration: str, basis: str | list, xc: str, grid_level: int,
                       conv_tol: float, purpose: str) -> tuple[gto.Mole, dft.uks.UKS, np.ndarray, np.ndarray]:
    """One spherical UKS of ``configuration`` for reading its orbitals: (mol, mf, the angular momentum of each AO,
    the AO overlap); a clear error naming ``purpose`` when the SCF does not converge (the transitions and cores of
    the library, docs/library.md)."""
    mol = atom_molecule(symbol, configuration, basis, z)
    mf = atom_scf(mol, configuration, xc, grid_level, conv_tol, spherical=True)
    if not mf.converged:
        raise ReferenceCalculationError(f"{symbol}: the SCF for {purpose} did not converge")
    return mol, mf, ao_angular_momentum(mol), mol.intor_symmetric("int1e_ovlp")


def run_atom(symbol: str, z: int, configuration: str, r_grid: np.ndarray, xc: str = "pbe0",
             basis: str | list = "def2-tzvppd", grid_level: int = 4, conv_tol: float = 1e-9,
             occupation: str = "integer") -> AtomResult:
    """Atomic UKS of one state with configuration-controlled occupations; spherically averaged density.

    First a spherical SCF (fractional occupations, exactly spherical density; its sphericity is measured).
    With ``occupation="integer"`` (default) a second SCF started from that density fills each open shell
    with integer occupations (one M_L component of the term): its energy is returned and its density is
    averaged exactly over the sphere (Lebedev, degree 17), which is the ensemble average over the term's
    M_L components. With ``occupation="spherical"`` the fractional SCF's energy and density are returned.
    Reason for the default: with PBE0, fractional occupations raise open-shell energies by 13-82 mEh
    (exact exchange of fractionally occupied orbitals), which shifts I and A by up to 1.7 eV.

    Parameters
    ----------
    symbol, z : element symbol and atomic number.
    configuration : e.g. ``"1s2 2s1 2p3"`` (see :func:`spin_occupations`); ``""`` for no electrons (H+).
    r_grid : (n_r,) radii of the returned radial density, bohr.
    xc, basis : PySCF functional and basis (name or PySCF basis list for this element).
    grid_level : PySCF XC grid level (0-9).
    conv_tol : SCF energy convergence threshold, hartree.
    occupation : ``"integer"`` or ``"spherical"``.
    """
    if occupation not in ("integer", "spherical"):
        raise ReferenceCalculationError(f"occupation must be 'integer' or 'spherical', not {occupation!r}")
    r_grid = np.asarray(r_grid, dtype=float)
    if not configuration.strip():
        return AtomResult(symbol, configuration, 0, 0, 0.0, 0.0, True, np.zeros_like(r_grid), 0.0, 0.0, 0.0,
                          0.0)
    mol = atom_molecule(symbol, configuration, basis, z)
    mf_sph = atom_scf(mol, configuration, xc, grid_level, conv_tol, spherical=True)
    dm = mf_sph.make_rdm1()
    rho, sphericity = spherical_profile(mol, dm[0] + dm[1], r_grid)
    mf, anisotropy = mf_sph, sphericity
    if occupation == "integer":
        mf = atom_scf(mol, configuration, xc, grid_level, conv_tol, spherical=False, dm0=dm)
        dm = mf.make_rdm1()
        rho, anisotropy = spherical_profile(mol, dm[0] + dm[1], r_grid)
    occ = np.asarray(mf.mo_occ)
    homo = float(max(np.asarray(mf.mo_energy)[s][occ[s] > 0].max(initial=-np.inf) for s in (0, 1)))
    return AtomResult(symbol=symbol, configuration=configuration, n_electrons=int(mol.nelectron),
                      spin=int(mol.spin), energy=float(mf.e_tot), spherical_energy=float(mf_sph.e_tot),
                      converged=bool(mf.converged and mf_sph.converged), radial_density=rho,
                      electrons=radial_electrons(r_grid, rho), sphericity=sphericity, anisotropy=anisotropy,
                      homo=homo)
