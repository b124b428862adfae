"""Build the latent library (docs/library.md) from atomic PySCF calculations.

For every element and state (cation, neutral, anion, excited neutral; configurations in
:mod:`lsip.data.atomic_reference`) this runs :func:`lsip.reference.atoms.run_atom` and stores

* the total energy and the spherically averaged density rho_k(r) on a grid uniform in ln r;
* a non-negative s-Gaussian fit rho_k(r) ~ sum_g c_g (a_g/pi)^(3/2) exp(-a_g r^2) (:func:`gaussian_fit`);
* the embedding function F_k(rho_bar) = int [g(rho_k + rho_bar) - g(rho_k) - g(rho_bar)] d^3r with
  g = Thomas-Fermi kinetic + LDA exchange-correlation energy density (:func:`embedding_function`).

All in Hartree atomic units. See ``docs/library.md``.
"""

from __future__ import annotations

import datetime
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pyscf
import scipy
from pyscf.dft import libxc
from scipy.optimize import nnls
from scipy.special import erf

import lsip
from lsip.data.atomic_reference import AtomicReference, atomic_reference
from lsip.errors import UnsupportedElementError
from lsip.model.library import STATE_LABELS, AtomicState, ElementEntry, LatentLibrary
from lsip.reference.atoms import N_ANGULAR, SPHERICITY_RADII, AtomResult, atom_basis, run_atom
from lsip.reference.cores import add_cores
from lsip.reference.transitions import add_sp_dipoles, add_transitions

#: Elements of the shipped library (docs/library.md), in atomic-number order.
DEFAULT_ELEMENTS: tuple[str, ...] = (
    "H", "Li", "Be", "B", "C", "N", "O", "F", "Na", "Mg", "Al", "Si", "P", "S", "Cl", "K", "Ca",
)
#: Thomas-Fermi constant C_F = 3/10 (3 pi^2)^(2/3), hartree bohr^2.
C_F = 0.3 * (3.0 * math.pi**2) ** (2.0 / 3.0)
#: LDA exchange-correlation functional of the embedding (libxc via PySCF; VWN is VWN5 there).
EMBEDDING_XC = "LDA,VWN"
#: Even-tempered candidate exponents (bohr^-2) of the Gaussian fit: 0.004 * 1.5^k, k = 0..47 (to 7.6e5).
FIT_EXPONENTS = 0.004 * 1.5 ** np.arange(48)
MAX_GAUSSIANS = 16
#: Weight of the r * potential residuals relative to the density residuals in the fit.
POTENTIAL_WEIGHT = 10.0
#: A state's fit is flagged "fit_poor" if its potential error beyond 1 bohr exceeds this (hartree) or
#: int |rho_fit - rho| d^3r exceeds FIT_POOR_FRACTION of its electrons.
FIT_POOR_POTENTIAL = 0.01
FIT_POOR_FRACTION = 0.05
#: The spherical SCF is flagged "not_spherical" above this relative spread.
SPHERICITY_TOL = 1e-6


def log_grid(lo: float, hi: float, n: int) -> np.ndarray:
    """(n,) grid from ``lo`` to ``hi`` uniform in the logarithm."""
    return np.exp(np.linspace(math.log(lo), math.log(hi), n))


def radial_potential(r: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Electrostatic potential of a spherical density, V(r) = Q(r)/r + 4 pi int_r^inf rho r' dr'.

    Parameters
    ----------
    r : (n,) radii uniform in ln r, bohr.
    rho : (n,) density, bohr^-3 (treated as constant inside r[0]).

    Returns
    -------
    (n,) potential in hartree per unit positive test charge (positive for electrons' density counted
    as positive).
    """
    ln_r = np.log(r)
    inner_f = 4.0 * math.pi * r**3 * rho
    outer_f = 4.0 * math.pi * r**2 * rho
    q0 = 4.0 * math.pi * rho[0] * r[0] ** 3 / 3.0
    q = q0 + np.concatenate([[0.0], np.cumsum(0.5 * (inner_f[1:] + inner_f[:-1]) * np.diff(ln_r))])
    tail = np.concatenate([np.cumsum((0.5 * (outer_f[1:] + outer_f[:-1]) * np.diff(ln_r))[::-1])[::-1], [0.0]])
    return q / r + tail


def gaussian_density(coef: np.ndarray, expo: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(n,) sum_g c_g (a_g/pi)^(3/2) exp(-a_g r^2), bohr^-3, for (G,) coefficients and exponents."""
    return (coef * (expo / math.pi) ** 1.5 * np.exp(-np.outer(r * r, expo))).sum(axis=1)


def gaussian_potential(coef: np.ndarray, expo: np.ndarray, r: np.ndarray) -> np.ndarray:
    """(n,) potential sum_g c_g erf(sqrt(a_g) r) / r of the Gaussian density, hartree."""
    return (coef * erf(np.outer(r, np.sqrt(expo)))).sum(axis=1) / r


def _fit_rows(r: np.ndarray, rho: np.ndarray, n_el: float, expo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least-squares rows: density (relative-ish weight), r * potential, electron count."""
    h = math.log(r[1] / r[0])
    shell = 4.0 * math.pi * r**3 * h  # d^3r per grid point
    dens_w = shell / np.sqrt(shell * rho + 1e-6 * n_el * h)
    basis_rho = (expo / math.pi) ** 1.5 * np.exp(-np.outer(r * r, expo))
    basis_rv = erf(np.outer(r, np.sqrt(expo)))  # r * potential of each unit Gaussian
    sel = r > 0.02
    v_w = POTENTIAL_WEIGHT * math.sqrt(h)
    a = np.vstack([dens_w[:, None] * basis_rho, v_w * basis_rv[sel], 1e3 * np.ones((1, len(expo)))])
    b = np.concatenate([dens_w * rho, v_w * r[sel] * radial_potential(r, rho)[sel], [1e3 * n_el]])
    return a, b


def gaussian_fit(r: np.ndarray, rho: np.ndarray, n_electrons: float,
                 max_gaussians: int = MAX_GAUSSIANS) -> tuple[np.ndarray, np.ndarray, float]:
    """Non-negative s-Gaussian fit of a spherical density over :data:`FIT_EXPONENTS` (scipy NNLS).

    Minimises a weighted sum of squared density residuals (weight ~ 1/sqrt(rho), so the valence tail
    counts), residuals of r V(r) (the electrostatic potential, the quantity the model integrates), and the
    electron count (weight 1e3); keeps at most ``max_gaussians`` largest terms and refits.

    Returns
    -------
    coef : (G,) electrons (>= 0, sum ~ N); expo : (G,) bohr^-2; fit_error : int |rho_fit - rho| d^3r.
    """
    if n_electrons <= 0:
        return np.zeros(0), np.zeros(0), 0.0
    expo = FIT_EXPONENTS
    a, b = _fit_rows(r, rho, n_electrons, expo)
    coef, _ = nnls(a, b, maxiter=50 * len(expo))
    keep = np.argsort(coef)[::-1][:max_gaussians]
    keep = np.sort(keep[coef[keep] > 0])
    coef, _ = nnls(a[:, keep], b, maxiter=50 * len(keep))
    nz = coef > 0
    coef, expo = coef[nz], expo[keep][nz]
    coef = coef * (n_electrons / coef.sum())  # exact electron count (a change of < 1e-3 relative)
    err = 4.0 * math.pi * math.log(r[1] / r[0]) * float(np.sum(r**3 * np.abs(gaussian_density(coef, expo, r) - rho)))
    return coef, expo, err


def fit_potential_error(r: np.ndarray, state: AtomicState, r_min: float = 1.0) -> float:
    """max over r >= r_min of |V_fit(r) - V(r)|, hartree: the fit's error in the electrostatic potential."""
    sel = r >= r_min
    v = radial_potential(r, state.radial_density)[sel]
    return float(np.max(np.abs(gaussian_potential(state.gauss_coefficients, state.gauss_exponents, r[sel]) - v)))


def fit_is_poor(state: AtomicState, r: np.ndarray) -> bool:
    """Whether a state's Gaussian fit is poor (see :data:`FIT_POOR_POTENTIAL`, :data:`FIT_POOR_FRACTION`)."""
    if state.n_electrons == 0:
        return False
    return (fit_potential_error(r, state) > FIT_POOR_POTENTIAL
            or state.fit_error > FIT_POOR_FRACTION * state.n_electrons)


def lda_energy_density(rho: np.ndarray) -> np.ndarray:
    """g(rho) = C_F rho^(5/3) + rho eps_xc^LDA(rho): Thomas-Fermi kinetic + LDA xc energy density, hartree/bohr^3."""
    rho = np.asarray(rho, dtype=float)
    flat = rho.reshape(-1)
    out = np.zeros_like(flat)
    pos = flat > 1e-30
    exc = libxc.eval_xc(EMBEDDING_XC, flat[pos], spin=0, deriv=0)[0]
    out[pos] = C_F * flat[pos] ** (5.0 / 3.0) + flat[pos] * exc
    return out.reshape(rho.shape)


def embedding_function(r: np.ndarray, rho: np.ndarray, rhobar: np.ndarray) -> np.ndarray:
    """F(rho_bar) = 4 pi int r^3 [g(rho + rho_bar) - g(rho) - g(rho_bar)] d(ln r), hartree.

    Parameters
    ----------
    r : (n_r,) radii uniform in ln r, bohr.  rho : (n_r,) state density, bohr^-3.
    rhobar : (n_b,) uniform background densities, bohr^-3.
    """
    h = math.log(r[1] / r[0])
    total = lda_energy_density(rho[:, None] + rhobar[None, :])
    nonadd = total - lda_energy_density(rho)[:, None] - lda_energy_density(rhobar)[None, :]
    nonadd[rho <= 0.0, :] = 0.0
    return 4.0 * math.pi * h * (r**3) @ nonadd


def build_state(label: str, res: AtomResult, r: np.ndarray, rhobar: np.ndarray) -> AtomicState:
    """Turn an atomic calculation into a library :class:`AtomicState` (fit and embedding added)."""
    coef, expo, err = gaussian_fit(r, res.radial_density, res.n_electrons)
    return AtomicState(label=label, n_electrons=res.n_electrons, energy=res.energy,
                       configuration=res.configuration, radial_density=res.radial_density,
                       gauss_coefficients=coef, gauss_exponents=expo, fit_error=err,
                       embedding=embedding_function(r, res.radial_density, rhobar),
                       converged=res.converged, sphericity=res.sphericity, spin=res.spin)


def reference_data(symbol: str) -> AtomicReference:
    """Experimental data and configurations of ``symbol`` or :class:`UnsupportedElementError`."""
    try:
        return atomic_reference(symbol)
    except KeyError:
        raise UnsupportedElementError(
            f"no atomic reference data (configurations) for {symbol!r}; supported: {', '.join(DEFAULT_ELEMENTS)}"
        ) from None


def element_settings(library: LatentLibrary, symbol: str) -> tuple[AtomicReference, dict]:
    """The reference data of ``symbol`` and the SCF settings of ``library``'s own level of theory (xc, basis with
    the library's extra diffuse s, grid level, convergence): what an addition to a built library (transitions,
    cores) computes with."""
    lv = library.level
    settings = {"xc": lv["xc"], "basis": atom_basis(symbol, lv["basis"], diffuse_s="basis_extra" in lv),
                "grid_level": int(lv.get("xc_grid_level", 4)), "conv_tol": float(lv.get("conv_tol", 1e-9))}
    return reference_data(symbol), settings


def add_element_data(library: LatentLibrary, field: str, compute: Callable[[str, AtomicReference, dict], object],
                     line: Callable[[str, ElementEntry], str], level_key: str, level_text: str,
                     progress: Callable[[str], None] | None = None) -> LatentLibrary:
    """The library with one more per-element datum: ``field`` of every :class:`ElementEntry` set to
    ``compute(symbol, reference, settings)`` at the library's own level (:func:`element_settings`), one progress
    ``line(symbol, new_entry)`` per element, and ``level[level_key] = level_text`` as provenance; nothing else
    changes. The transitions, cores and valence s-p dipoles (docs/library.md) are added this way."""
    elements = {}
    for sym, entry in library.elements.items():
        ref, settings = element_settings(library, sym)
        elements[sym] = replace(entry, **{field: compute(sym, ref, settings)})
        if progress is not None:
            progress(line(sym, elements[sym]))
    level = dict(library.level)
    level[level_key] = level_text
    return replace(library, level=level, elements=elements)


def element_flags(symbol: str, states: dict[str, AtomicState], r: np.ndarray) -> tuple[str, ...]:
    """Flags of an element: unbound anions (experiment / DFT), poor fits, SCF failures, broken sphericity."""
    ref = reference_data(symbol)
    flags = []
    if ref.anion_unbound:
        flags.append("anion_unbound_experimentally")
    if states["neutral"].energy - states["anion"].energy < 0.0:
        flags.append("anion_unbound_dft")
    if any(fit_is_poor(st, r) for st in states.values()):
        flags.append("fit_poor")
    if not all(st.converged for st in states.values()):
        flags.append("scf_not_converged")
    if any(st.sphericity > SPHERICITY_TOL for st in states.values()):
        flags.append("not_spherical")
    return tuple(flags)


def build_library(elements: tuple[str, ...] | list[str] = DEFAULT_ELEMENTS, xc: str = "pbe0",
                  basis: str = "def2-tzvppd", progress: Callable[[str], None] | None = None,
                  diffuse_s: bool = True, occupation: str = "integer", grid_level: int = 4,
                  n_r: int = 400, r_range: tuple[float, float] = (1e-5, 60.0), n_rhobar: int = 80,
                  rhobar_range: tuple[float, float] = (1e-7, 10.0), conv_tol: float = 1e-9,
                  command: str | None = None) -> LatentLibrary:
    """Compute the latent library of ``elements`` at one level of theory.

    Parameters
    ----------
    elements : element symbols (default :data:`DEFAULT_ELEMENTS`, all 17 supported elements).
    xc, basis : PySCF functional and basis for every element.
    progress : called with one line of text per state (e.g. ``print``).
    diffuse_s : add one diffuse s shell per element (:func:`lsip.reference.atoms.atom_basis`).
    occupation : ``"integer"`` (default) or ``"spherical"`` (see :func:`lsip.reference.atoms.run_atom`).
    grid_level : PySCF XC grid level.  n_r, r_range : radial grid (bohr), uniform in ln r.
    n_rhobar, rhobar_range : background-density grid of the embedding (bohr^-3), uniform in ln.
    conv_tol : SCF convergence, hartree.  command : the command line, recorded in ``level``.
    """
    t_start = time.perf_counter()
    r, rhobar = log_grid(*r_range, n_r), log_grid(*rhobar_range, n_rhobar)
    entries, diagnostics = {}, {}
    refs = {sym: reference_data(sym) for sym in elements}  # fail early on unknown elements
    for sym in elements:
        ref = refs[sym]
        bas = atom_basis(sym, basis, diffuse_s)
        states, diag = {}, {}
        for label in STATE_LABELS:
            t0 = time.perf_counter()
            res = run_atom(sym, ref.Z, ref.configurations[label], r, xc=xc, basis=bas, grid_level=grid_level,
                           conv_tol=conv_tol, occupation=occupation)
            states[label] = build_state(label, res, r, rhobar)
            diag[label] = {"electrons_on_grid": res.electrons, "anisotropy": res.anisotropy, "homo": res.homo,
                           "spherical_energy": res.spherical_energy}
            if progress is not None:
                st = states[label]
                progress(f"{sym:2s} {label:8s} N={res.n_electrons:2d} 2S={res.spin} E={res.energy:.6f} Eh "
                         f"conv={res.converged} N_grid={res.electrons:.6f} sph={res.sphericity:.1e} "
                         f"G={len(st.gauss_exponents)} fit={st.fit_error:.4f} e ({time.perf_counter() - t0:.1f} s)")
        entries[sym] = ElementEntry(symbol=sym, Z=ref.Z, states=states, flags=element_flags(sym, states, r))
        diagnostics[sym] = diag
    level = _level(xc, basis, diffuse_s, occupation, grid_level, r_range, n_r, rhobar_range, n_rhobar, conv_tol,
                   command)
    level["diagnostics"] = diagnostics
    library = LatentLibrary(level=level, r_grid=r, rhobar_grid=rhobar, elements=entries)
    library = add_transitions(library, progress)
    library = add_cores(library, progress)
    library = add_sp_dipoles(library, progress)
    library.level["build_time_s"] = round(time.perf_counter() - t_start, 1)
    return library


def _level(xc: str, basis: str, diffuse_s: bool, occupation: str, grid_level: int, r_range: tuple[float, float],
           n_r: int, rhobar_range: tuple[float, float], n_rhobar: int, conv_tol: float,
           command: str | None) -> dict:
    """Level of theory and provenance recorded in the library file."""
    return {
        "xc": xc, "basis": basis,
        "basis_extra": "one diffuse s shell per element, exponent = smallest s exponent / 3" if diffuse_s else "",
        "method": f"UKS, configuration-controlled occupations ({occupation}), spherically averaged density",
        "occupation": occupation, "xc_grid_level": grid_level, "conv_tol": conv_tol,
        "r_grid": {"min": r_range[0], "max": r_range[1], "n": n_r, "spacing": "uniform in ln r"},
        "rhobar_grid": {"min": rhobar_range[0], "max": rhobar_range[1], "n": n_rhobar, "spacing": "uniform in ln"},
        "lebedev_points": N_ANGULAR, "sphericity_radii": list(SPHERICITY_RADII),
        "fit": {"exponents": "0.004 * 1.5^k, k = 0..47 (bohr^-2)", "max_gaussians": MAX_GAUSSIANS,
                "method": "NNLS", "potential_weight": POTENTIAL_WEIGHT},
        "embedding": {"g": "Thomas-Fermi kinetic + LDA xc", "lda_xc": EMBEDDING_XC + " (libxc via PySCF)"},
        "pyscf_version": pyscf.__version__, "numpy_version": np.__version__, "scipy_version": scipy.__version__,
        "python_version": platform.python_version(), "lsip_version": lsip.__version__,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
    }
