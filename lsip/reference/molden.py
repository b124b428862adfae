"""Molden files of reference calculations (for Multiwfn, Molden, Jmol, IboView and other wavefunction tools).

:func:`molden_text` writes the basis (PySCF ``tools.molden.header``) and the Kohn-Sham orbitals with their
energies (hartree) and occupations (``tools.molden.orbital_coeff``) of a
:class:`lsip.reference.driver.ReferenceResult`: one ``[MO]`` section, alpha orbitals (occupations 2/0 for RKS)
followed by beta orbitals for UKS, exactly as ``pyscf.tools.molden.from_scf`` writes a converged SCF object.
Coordinates are in bohr (``[Atoms] (AU)``); spherical d/f/g functions (``[5d] [7f] [9g]``); functions of angular
momentum above g (none in the app's basis sets) are dropped by PySCF, as Molden cannot hold them.

The orbitals are part of every result computed since the export exists (the cache stores them next to the
density matrix). A result read from an older cache entry has none: :func:`molden_text` then raises
:class:`MoldenUnavailable`, whose message says to recompute the reference (docs/reference.md, "Molden export").
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from lsip.errors import LSIPError

#: The message of :class:`MoldenUnavailable` (the app and the CLI show it as it is).
RECOMPUTE_MESSAGE = ("this reference comes from an older cache entry that holds the density matrix but no molecular "
                     "orbitals: recompute to export Molden (the recomputed result replaces the cache entry)")


class MoldenUnavailable(LSIPError):
    """The reference result has no molecular orbitals (an older cache entry): recompute it."""


def has_orbitals(result: object) -> bool:
    """Whether ``result`` carries the orbitals a Molden file needs."""
    return all(getattr(result, name, None) is not None for name in ("mo_coeff", "mo_occ", "mo_energy"))


def molden_text(result: object) -> str:
    """The Molden file of a reference result (see the module docstring).

    Parameters
    ----------
    result : a :class:`lsip.reference.driver.ReferenceResult` with ``mo_coeff``, ``mo_occ`` and ``mo_energy``.

    Raises
    ------
    MoldenUnavailable
        when the result holds no orbitals (an older cache entry).
    """
    if not has_orbitals(result):
        raise MoldenUnavailable(RECOMPUTE_MESSAGE)
    from pyscf.tools import molden

    mol = result.mole()
    coeff, occ, energy = (np.asarray(a, dtype=np.float64) for a in (result.mo_coeff, result.mo_occ, result.mo_energy))
    out = io.StringIO()
    molden.header(mol, out)
    if coeff.ndim == 3:  # UKS: alpha then beta, one [MO] section (PySCF's own layout)
        molden.orbital_coeff(mol, out, coeff[0], spin="Alpha", ene=energy[0], occ=occ[0])
        molden.orbital_coeff(mol, out, coeff[1], spin="Beta", ene=energy[1], occ=occ[1])
    else:
        molden.orbital_coeff(mol, out, coeff, spin="Alpha", ene=energy, occ=occ)
    return out.getvalue()


def write_molden(result: object, path: str | Path) -> Path:
    """Write :func:`molden_text` of ``result`` to ``path``; return the path."""
    path = Path(path)
    path.write_text(molden_text(result))
    return path
