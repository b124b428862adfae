"""The DFT atomization energy of a structure, the number that judges the model's energy (docs/reference.md).

E_at = E(structure) - sum_A E(free neutral atom A), the same zero as the model's energy (free neutral atoms; an
ion's energy therefore includes its ionization). The structure runs through the reference driver at the given
settings (RKS for a closed shell, UKS otherwise) and every free atom as a UKS ground-state atom
(:func:`lsip.reference.broken_symmetry.free_atom`, the entries ``lsip validate`` and the scans share), all from and
into the reference cache. :func:`cached_atomization` only looks (milliseconds); :func:`compute_atomization` runs
what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from lsip.model.library import LatentLibrary
from lsip.reference.broken_symmetry import fragment_settings, free_atom
from lsip.reference.driver import ProgressCallback, ReferenceDFT, ReferenceSettings
from lsip.structure import Structure
from lsip.units import HARTREE_TO_EV


@dataclass(frozen=True)
class Atomization:
    """A DFT atomization energy: ``energy_eV`` (E - sum of free atoms), the level, and whether all was cached."""

    energy_eV: float
    level: str
    cached: bool


def _drivers(structure: Structure, settings: ReferenceSettings, library: LatentLibrary | None,
             progress: ProgressCallback | None = None) -> list[ReferenceDFT]:
    atoms = [free_atom(s) for s in sorted(set(structure.symbols))]
    return [ReferenceDFT(structure, settings, library=library, progress=progress)] + [
        ReferenceDFT(a, fragment_settings(settings, a), library=library, progress=progress) for a in atoms]


def cached_atomization(structure: Structure, settings: ReferenceSettings | None = None,
                       library: LatentLibrary | None = None) -> Atomization | None:
    """The atomization energy when the reference cache holds the structure and all its free atoms, else None."""
    settings = settings or ReferenceSettings()
    drivers = _drivers(structure, settings, library)
    if any(d.cache is None or d.key() not in d.cache for d in drivers):
        return None
    return _combine(structure, settings, drivers)


def compute_atomization(structure: Structure, settings: ReferenceSettings | None = None,
                        library: LatentLibrary | None = None,
                        progress: ProgressCallback | None = None) -> Atomization | None:
    """Run (or load) the structure and its free atoms; None when an SCF did not converge."""
    settings = settings or ReferenceSettings()
    return _combine(structure, settings, _drivers(structure, settings, library, progress))


def _combine(structure: Structure, settings: ReferenceSettings, drivers: list[ReferenceDFT]) -> Atomization | None:
    results = [d.kernel(raise_on_failure=False) for d in drivers]
    if not all(r.converged for r in results):
        return None
    by_symbol = {d.structure.symbols[0]: r.energy for d, r in zip(drivers[1:], results[1:])}
    e_atoms = sum(by_symbol[s] for s in structure.symbols)
    return Atomization((results[0].energy - e_atoms) * HARTREE_TO_EV, f"{settings.xc}/{settings.basis}",
                       all(r.cached for r in results))
