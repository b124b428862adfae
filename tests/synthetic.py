"""A small analytic latent library for fast model tests (independent of the shipped PySCF build).

Energies from experimental I and A (NIST, see lsip/data), densities made of a tight core Gaussian and two
valence Gaussians whose width follows zeta = sqrt(2 I); embedding functions zero unless asked.
"""

from __future__ import annotations

import math

import numpy as np

from lsip.model.library import STATE_LABELS, AtomicState, ElementEntry, LatentLibrary
from lsip.structure import Structure
from lsip.units import EV_TO_HARTREE

# (Z, I eV, A eV, excitation eV, core electrons) - experimental I/A (NIST ASD / CRC), used only in tests
ELEMENTS = {
    "H": (1, 13.598, 0.754, 10.199, 0), "Li": (3, 5.392, 0.618, 1.848, 2), "C": (6, 11.260, 1.262, 4.18, 2),
    "N": (7, 14.534, -0.07, 10.92, 2), "O": (8, 13.618, 1.461, 9.146, 2), "F": (9, 17.423, 3.401, 12.70, 2),
    "Na": (11, 5.139, 0.548, 2.104, 10), "Cl": (17, 12.968, 3.613, 8.92, 10),
}


def _gauss_fit(n_core: float, n_val: float, zeta: float) -> tuple[np.ndarray, np.ndarray]:
    a_val = (zeta**2) * np.array([0.6, 2.0])
    c = np.array([n_core, 0.5 * n_val, 0.5 * n_val])
    a = np.concatenate([[30.0], a_val])
    keep = c > 0
    return c[keep], a[keep]


def _radial(c: np.ndarray, a: np.ndarray, r: np.ndarray) -> np.ndarray:
    return np.zeros_like(r) + sum(ci * (ai / math.pi) ** 1.5 * np.exp(-ai * r * r) for ci, ai in zip(c, a))


def synthetic_library(symbols: tuple[str, ...] = tuple(ELEMENTS), embedding: float = 0.0) -> LatentLibrary:
    """Analytic library for ``symbols``; ``embedding`` scales a toy F_k(rho_bar) = embedding * N_k * rho_bar."""
    r = np.exp(np.linspace(math.log(1e-5), math.log(60.0), 400))
    rhobar = np.exp(np.linspace(math.log(1e-7), math.log(10.0), 60))
    elements = {}
    for s in symbols:
        z, i_ev, a_ev, x_ev, core = ELEMENTS[s]
        i, a, x = i_ev * EV_TO_HARTREE, a_ev * EV_TO_HARTREE, x_ev * EV_TO_HARTREE
        energies = {"cation": i, "neutral": 0.0, "anion": -a, "excited": x}
        shift = {"cation": -1, "neutral": 0, "anion": 1, "excited": 0}
        states = {}
        for lab in STATE_LABELS:
            n = z + shift[lab]
            zeta = math.sqrt(2 * i) * (1.3 if lab == "cation" else 0.8 if lab == "anion" else 1.0)
            zeta *= 0.8 if lab == "excited" else 1.0
            c, g = _gauss_fit(min(core, n), n - min(core, n), zeta)
            states[lab] = AtomicState(lab, n, energies[lab], "synthetic", _radial(c, g, r), c, g, 0.0,
                                      embedding * n * rhobar)
        elements[s] = ElementEntry(s, z, states, ("anion_unbound_experimentally",) if a_ev < 0 else ())
    return LatentLibrary({"xc": "synthetic", "basis": "none"}, r, rhobar, elements)


def tetrahedral(center: str, d: float, charge: int = 0, ligand: str = "H") -> Structure:
    """An exactly tetrahedral XL4 (bond length ``d``, angstrom): relaxed geometries are symmetric only to ~1e-6 A,
    and the reservoir's response to that asymmetry is ~1e-6 e, the size of the symmetry tolerance."""
    v = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    return Structure((center,) + (ligand,) * 4, np.vstack([np.zeros(3), d * v]), charge, name=f"{center}{ligand}4")
