"""Dipolar transition densities of the latent library (docs/model.md section 11, docs/library.md).

Every element's excited state promotes one electron between shells of neighbouring angular momentum
(H 1s->2p, C 2s->2p, O 2p->3s, ...). Mixing the ground state with the excited state, |0> + c |*>, gives the
atom a dipolar transition density 2 c phi_a phi_b whose radial part is t(r) = R_a(r) R_b(r): the polarization
channel of the atom. This module computes, from the atomic PySCF orbitals:

* the radial functions R_a, R_b (from one spherical SCF of the excited configuration, in which both shells
  are present; each radial function is the rank-one factor of its shell's orbital values along an axis);
* the one-electron transition dipole mu_t = <a, m=0 | z | b, m=0> = int R_a R_b r^3 dr / sqrt(3) (bohr);
* the *shape* s(r) of the atomic dipole: the dipolar charge density of an atomic dipole p is -p . grad s(r),
  with -s'(r) proportional to t(r) and int s d^3r = 1, so that its dipole moment is exactly p; s is fitted with
  normalised s-Gaussians (the same form as the state densities), so every interaction is an erf sum.

The two-state sum-over-states polarizability of the library's ground and excited states is
alpha = 2 mu_t^2 / eps (eps the library's excitation energy; :attr:`lsip.model.library.ElementEntry.polarizability`).

The same radial functions give the *valence s-p dipole* mu_sp = int R_ns R_np r^3 dr / sqrt(3) of the neutral
atom's own ns and np shells (:func:`compute_sp_dipole`): the dipole of an s-p hybrid, which sets the lone-pair
dipoles of docs/model.md section 11.1.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from pyscf import dft

from lsip.errors import ReferenceCalculationError
from lsip.model.library import ElementEntry, LatentLibrary, Transition
from lsip.reference.atoms import orbital_angular_momentum, parse_configuration, spherical_orbitals

#: Exponents (bohr^-2) offered to the shape fit: 0.01 * 1.6^k, k = 0..24.
SHAPE_EXPONENTS = 0.01 * 1.6 ** np.arange(25)
MAX_SHAPE_GAUSSIANS = 8


def promoted_shells(ground: str, excited: str) -> tuple[tuple[int, int], tuple[int, int]]:
    """The shell (n, l) that loses an electron and the one that gains it."""
    g, e = parse_configuration(ground), parse_configuration(excited)
    keys = set(g) | set(e)
    lost = [k for k in keys if e.get(k, 0) < g.get(k, 0)]
    gained = [k for k in keys if e.get(k, 0) > g.get(k, 0)]
    if len(lost) != 1 or len(gained) != 1 or abs(lost[0][1] - gained[0][1]) != 1:
        raise ReferenceCalculationError(f"{ground!r} -> {excited!r} is not one dipole-allowed promotion")
    return lost[0], gained[0]


def _shell_radial(mol: object, coeff: np.ndarray, energies: np.ndarray, l_of_mo: np.ndarray, shell: tuple[int, int],
                  r: np.ndarray) -> np.ndarray:
    """Radial function R(r) (normalised, positive tail) of shell (n, l) from one spin's orbitals."""
    n, l = shell
    idx = np.where(l_of_mo == l)[0]
    order = idx[np.argsort(energies[idx], kind="stable")]
    deg = 2 * l + 1
    k = n - l - 1
    if len(order) < deg * (k + 1):
        raise ReferenceCalculationError(f"basis has too few l={l} orbitals for shell {n}{'spdf'[l]}")
    members = order[k * deg:(k + 1) * deg]
    # orbital values along three axes: phi(r u) = R(r) Y(u) makes each block rank one
    blocks = []
    for axis in np.eye(3):
        ao = dft.numint.eval_ao(mol, r[:, None] * axis[None, :])
        blocks.append(ao @ coeff[:, members])
    vals = np.concatenate(blocks, axis=1)  # (n_r, 3 deg)
    u, _, _ = np.linalg.svd(vals * r[:, None] ** 1.5, full_matrices=False)  # weight: int R^2 r^2 dr on ln r
    radial = u[:, 0] / r**1.5
    tail = np.argmax(np.abs(radial) * r**2 * (r > 1.0))
    radial = radial * np.sign(radial[tail])
    h = math.log(r[1] / r[0])
    return radial / math.sqrt(float(np.sum(radial**2 * r**3) * h))


def _fit_shape(r: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Gaussians of s(r), -s'(r) = C t(r), int s d^3r = 1 (least squares on -s', then the normalisation)."""
    h = math.log(r[1] / r[0])
    a = SHAPE_EXPONENTS
    # -d/dr (a/pi)^(3/2) exp(-a r^2) = 2 a r (a/pi)^(3/2) exp(-a r^2); weight r^2 sqrt(r h): the dipole integrand
    basis = 2.0 * a * r[:, None] * (a / math.pi) ** 1.5 * np.exp(-np.outer(r * r, a))
    # normalise t so that int (-s') (4 pi / 3) r^3 dr = 1 (the dipole of -p . grad s is p int s = p)
    norm = 4.0 * math.pi / 3.0 * float(np.sum(t * r**4) * h)
    target = t / norm
    weight = r**2 * np.sqrt(r * h)
    from scipy.optimize import nnls

    coef, _ = nnls(weight[:, None] * basis, weight * target, maxiter=50 * len(a))
    keep = np.sort(np.argsort(coef)[::-1][:MAX_SHAPE_GAUSSIANS])
    keep = keep[coef[keep] > 0]
    coef, _ = nnls(weight[:, None] * basis[:, keep], weight * target, maxiter=50 * len(keep))
    coef = coef / coef.sum()
    fitted = basis[:, keep] @ coef
    err = float(np.sum(np.abs(fitted - target) * r**4) / np.sum(np.abs(target) * r**4))
    return coef, a[keep], err


def compute_transition(symbol: str, z: int, ground: str, excited: str, r: np.ndarray, xc: str = "pbe0",
                       basis: str | list = "def2-tzvppd", grid_level: int = 4, conv_tol: float = 1e-9) -> Transition:
    """The :class:`Transition` of ``symbol`` between its ground and excited configurations (one spherical
    UKS of the excited configuration; the orbitals of the spin that holds the promoted electron)."""
    a, b = promoted_shells(ground, excited)
    mol, mf, ao_l, overlap = spherical_orbitals(symbol, z, excited, basis, xc, grid_level, conv_tol,
                                                "the transition (excited configuration)")
    coeff, energies = np.asarray(mf.mo_coeff[0]), np.asarray(mf.mo_energy[0])
    l_of_mo = orbital_angular_momentum(ao_l, overlap, coeff)
    r_a = _shell_radial(mol, coeff, energies, l_of_mo, a, r)
    r_b = _shell_radial(mol, coeff, energies, l_of_mo, b, r)
    t = r_a * r_b
    h = math.log(r[1] / r[0])
    mu = abs(float(np.sum(t * r**4) * h)) / math.sqrt(3.0)
    t = t * np.sign(np.sum(t * r**4))
    coef, expo, err = _fit_shape(r, t)
    label = f"{a[0]}{'spdf'[a[1]]}->{b[0]}{'spdf'[b[1]]}"
    return Transition(label=label, dipole=mu, shape_coefficients=coef, shape_exponents=expo, radial=t,
                      fit_error=err)


def valence_sp_shells(configuration: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The valence ns and np shells of a configuration whose outermost p shell is occupied, else None.

    >>> valence_sp_shells("[He] 2s2 2p4"), valence_sp_shells("[Ne] 3s2"), valence_sp_shells("1s1")
    (((2, 0), (2, 1)), None, None)
    """
    shells = parse_configuration(configuration)
    n = max(k[0] for k in shells)
    if shells.get((n, 1), 0) <= 0 or shells.get((n, 0), 0) <= 0:
        return None
    return (n, 0), (n, 1)


def compute_sp_dipole(symbol: str, z: int, ground: str, r: np.ndarray, xc: str = "pbe0",
                      basis: str | list = "def2-tzvppd", grid_level: int = 4, conv_tol: float = 1e-9) -> float | None:
    """mu_sp = int R_ns R_np r^3 dr / sqrt(3) (bohr) of the neutral atom's valence shells (one spherical UKS of the
    ground configuration, the majority spin's orbitals); None when the ground configuration has no valence p
    electrons (H, Li, Be, Na, Mg, K, Ca)."""
    shells = valence_sp_shells(ground)
    if shells is None:
        return None
    mol, mf, ao_l, overlap = spherical_orbitals(symbol, z, ground, basis, xc, grid_level, conv_tol,
                                                "the valence s-p dipole (ground configuration)")
    coeff, energies = np.asarray(mf.mo_coeff[0]), np.asarray(mf.mo_energy[0])
    l_of_mo = orbital_angular_momentum(ao_l, overlap, coeff)
    t = _shell_radial(mol, coeff, energies, l_of_mo, shells[0], r) * _shell_radial(mol, coeff, energies, l_of_mo,
                                                                                     shells[1], r)
    h = math.log(r[1] / r[0])
    return abs(float(np.sum(t * r**4) * h)) / math.sqrt(3.0)


def add_sp_dipoles(library: LatentLibrary, progress: Callable[[str], None] | None = None) -> LatentLibrary:
    """The library with every element's valence s-p dipole (:func:`compute_sp_dipole`, one ground-state SCF per
    p-block element at the library's own level); states, transitions and cores are untouched."""
    from lsip.reference.library_build import add_element_data

    r = np.asarray(library.r_grid)
    return add_element_data(
        library, "sp_dipole",
        lambda sym, ref, settings: compute_sp_dipole(sym, ref.Z, ref.configurations["neutral"], r, **settings),
        lambda sym, e: f"{sym:2s} valence s-p dipole " + ("-" if e.sp_dipole is None else f"{e.sp_dipole:.3f} bohr"),
        "sp_dipoles", "valence s-p dipoles int R_ns R_np r^3 dr / sqrt(3) from one spherical UKS of the neutral "
        "ground configuration per element (lsip.reference.transitions)", progress)


def add_transitions(library: LatentLibrary, progress: Callable[[str], None] | None = None) -> LatentLibrary:
    """The library with every element's :class:`Transition` (computed at the library's own level of theory,
    one excited-state SCF per element, ~1 s each); the states are untouched."""
    from lsip.reference.library_build import add_element_data

    r = np.asarray(library.r_grid)

    def line(sym: str, e: ElementEntry) -> str:
        tr = e.transition
        return (f"{sym:2s} transition {tr.label:7s} mu_t={tr.dipole:.3f} bohr alpha={e.polarizability:.2f} bohr^3 "
                f"shape G={len(tr.shape_exponents)} fit={tr.fit_error:.3f}")

    return add_element_data(
        library, "transition",
        lambda sym, ref, settings: compute_transition(sym, ref.Z, ref.configurations["neutral"],
                                                      ref.configurations["excited"], r, **settings),
        line, "transitions", "dipolar transition densities R_a R_b from one spherical UKS of the excited "
        "configuration per element (lsip.reference.transitions)", progress)
