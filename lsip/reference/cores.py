"""Frozen-core densities of the latent library (docs/model.md section 10.10, docs/library.md).

The core of an element is every shell below its valence shell: 1s for Li-F, 1s 2s 2p for Na-Cl, 1s-3p for K and
Ca; hydrogen has none. Its density is the same in every state of the atom (the cation, neutral, anion and excited
states differ in their valence shell only), so it is a property of the element. This module takes it from the
neutral atom's spherical UKS at the library's level of theory: the density matrix of the core orbitals (for each
angular momentum the lowest ones by energy, both spins, one electron each), spherically averaged on the library
grid and fitted with normalised s-Gaussians like the state densities (:func:`lsip.reference.library_build.
gaussian_fit`), so every overlap with a state density is a closed-form Gaussian sum.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lsip.errors import ReferenceCalculationError
from lsip.model.library import Core, ElementEntry, LatentLibrary
from lsip.reference.atoms import orbital_angular_momentum, parse_configuration, spherical_orbitals, spherical_profile


def core_shells(configuration: str) -> dict[tuple[int, int], int]:
    """The shells of ``configuration`` below its valence shell (principal number below the highest occupied one).

    >>> core_shells("1s1")
    {}
    >>> core_shells("1s2 2s2 2p4")
    {(1, 0): 2}
    >>> sorted(core_shells("1s2 2s2 2p6 3s2 3p6 4s1"))
    [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1)]
    """
    shells = parse_configuration(configuration)
    if not shells:
        return {}
    n_valence = max(n for n, _ in shells)
    core = {k: v for k, v in shells.items() if k[0] < n_valence}
    for (n, l), count in core.items():
        if count != 2 * (2 * l + 1):
            raise ReferenceCalculationError(f"core shell {n}{'spdf'[l]} of {configuration!r} is not full")
    return core


def format_shells(shells: dict[tuple[int, int], int]) -> str:
    """``{(1, 0): 2, (2, 1): 6}`` -> ``"1s2 2p6"`` (sorted by n, then l)."""
    return " ".join(f"{n}{'spdf'[l]}{c}" for (n, l), c in sorted(shells.items()))


def compute_core(symbol: str, z: int, ground: str, r: np.ndarray, xc: str = "pbe0",
                 basis: str | list = "def2-tzvppd", grid_level: int = 4, conv_tol: float = 1e-9) -> Core:
    """The :class:`Core` of ``symbol`` from one spherical UKS of its ground configuration ``ground``."""
    from lsip.reference.library_build import gaussian_fit

    r = np.asarray(r, dtype=float)
    shells = core_shells(ground)
    n_core = sum(shells.values())
    if not n_core:
        return Core(0, "", np.zeros(0), np.zeros(0), np.zeros_like(r), 0.0)
    mol, mf, ao_l, overlap = spherical_orbitals(symbol, z, ground, basis, xc, grid_level, conv_tol,
                                                "the core density (ground configuration)")
    dm = np.zeros((mol.nao, mol.nao))
    for spin in range(2):
        coeff, energies = np.asarray(mf.mo_coeff[spin]), np.asarray(mf.mo_energy[spin])
        l_of_mo = orbital_angular_momentum(ao_l, overlap, coeff)
        for l in sorted({l for _, l in shells}):
            count = sum(1 for (_, ll) in shells if ll == l) * (2 * l + 1)
            idx = np.where(l_of_mo == l)[0]
            members = idx[np.argsort(energies[idx], kind="stable")][:count]
            if len(members) < count:
                raise ReferenceCalculationError(f"{symbol}: too few l={l} orbitals for the core")
            c = coeff[:, members]
            dm += c @ c.T
    rho, _ = spherical_profile(mol, dm, r)
    coef, expo, err = gaussian_fit(r, rho, float(n_core))
    return Core(n_core, format_shells(shells), coef, expo, rho, err)


def add_cores(library: LatentLibrary, progress: Callable[[str], None] | None = None) -> LatentLibrary:
    """The library with every element's :class:`Core` (one neutral-atom SCF per element at the library's own
    level of theory, ~1 s each); states and transitions are untouched."""
    from lsip.reference.library_build import add_element_data

    r = np.asarray(library.r_grid)

    def line(sym: str, e: ElementEntry) -> str:
        core = e.core
        return (f"{sym:2s} core {core.shells or '-':28s} N={core.n_electrons:2d} G={len(core.gauss_exponents)} "
                f"fit={core.fit_error:.4f}")

    return add_element_data(
        library, "core",
        lambda sym, ref, settings: compute_core(sym, ref.Z, ref.configurations["neutral"], r, **settings),
        line, "cores", "frozen-core densities from one spherical UKS of the neutral ground configuration per "
        "element (lsip.reference.cores)", progress)
