"""Reference-DFT pieces of the validation: free-atom energies.

The dissociation curves use the reference layer's scan procedure, shared with the app's DFT scans:
:func:`lsip.reference.broken_symmetry.lowest_solution` (RKS against broken-symmetry UKS with a stability check)
and :func:`lsip.reference.broken_symmetry.fragment_references` (docs/reference.md, "DFT along scans").
"""

from __future__ import annotations

from lsip.reference.broken_symmetry import free_atom
from lsip.reference.cache import ReferenceCache
from lsip.reference.driver import ReferenceDFT, ReferenceSettings


def atom_energies(elements: set[str] | list[str], settings: ReferenceSettings,
                  cache: ReferenceCache | None) -> dict[str, float | None]:
    """Total UKS energies (hartree) of the free neutral atoms in their ground-state spin.

    Parameters
    ----------
    elements : element symbols.  settings : the molecules' level of theory.  cache : reference cache or None.

    Returns
    -------
    {symbol: energy in hartree, or None when the SCF did not converge}.  Plain UKS (not spherically averaged):
    open-shell p atoms get the usual symmetry-broken, slightly too low energy.
    """
    out: dict[str, float | None] = {}
    for sym in sorted(elements):
        res = ReferenceDFT(free_atom(sym), settings, cache=cache if cache is not None else False,
                           unrestricted=True).kernel(raise_on_failure=False)
        out[sym] = float(res.energy) if res.converged else None
    return out
