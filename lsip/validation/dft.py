"""Reference-DFT pieces of the validation: free-atom energies and broken-symmetry UKS along bond scans.

The reference driver runs UKS only for open shells and starts it from a restricted guess, so a stretched
closed-shell bond stays on the (spin-restricted) ionic/covalent mixture. :func:`broken_symmetry_uks` mixes the
HOMO and LUMO of opposite spins (+45 / -45 degrees) to give the SCF a chance to localize one electron on
each fragment, keeps the lower of the two UKS solutions, and analyses the density like the driver does.
Results are stored in the same SQLite cache under their own keys.
"""

from __future__ import annotations

import numpy as np

from lsip import __version__
from lsip.model.library import LatentLibrary
from lsip.reference.cache import ReferenceCache, cache_key
from lsip.reference.charges import analyse_density
from lsip.reference.driver import ReferenceDFT, ReferenceSettings
from lsip.reference.grids import build_mole, make_scf, retry_scf
from lsip.structure import Structure
from lsip.validation.molecules import free_atom

_CHARGE_KEYS = ("hirshfeld", "hirshfeld_i", "mulliken")


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


#: Macro-iteration cap of the second-order retry of a broken-symmetry UKS.
NEWTON_MAX_CYCLE = 25


def _mix_homo_lumo(mo_coeff: np.ndarray, mo_occ: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alpha and beta orbitals with HOMO/LUMO rotated by +45 and -45 degrees (a broken-symmetry guess)."""
    ca, cb = np.array(mo_coeff[0]), np.array(mo_coeff[1])
    h = int(np.count_nonzero(mo_occ[0] > 0)) - 1
    lumo = h + 1
    for c, sign in ((ca, 1.0), (cb, -1.0)):
        homo_v, lumo_v = c[:, h].copy(), c[:, lumo].copy()
        c[:, h] = (homo_v + sign * lumo_v) / np.sqrt(2.0)
        c[:, lumo] = (-sign * homo_v + lumo_v) / np.sqrt(2.0)
    return ca, cb


def _uks_key(structure: Structure, settings: ReferenceSettings) -> str:
    return cache_key({"kind": "validation-bs-uks", "symbols": list(structure.symbols),
                      "positions_A": np.round(structure.positions, 6).tolist(), "charge": int(structure.charge),
                      "settings": settings.key_fields(), "lsip": __version__})


def broken_symmetry_uks(structure: Structure, settings: ReferenceSettings, library: LatentLibrary,
                        cache: ReferenceCache | None = None) -> dict:
    """UKS of a closed-shell structure from a broken-symmetry guess (2S = 0).

    Returns
    -------
    dict: ``energy`` (hartree), ``spin_square`` <S^2>, ``converged``, ``charges`` {hirshfeld, hirshfeld_i,
    mulliken} -> (n,) e.
    """
    key = _uks_key(structure, settings)
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            scalars, arrays = hit
            return {**scalars, "charges": {k.split("/", 1)[1]: v for k, v in arrays.items()}}
    mol = build_mole(structure, settings.basis, 0)
    best = None
    guess = None
    for _ in range(2):
        mf = make_scf(mol, settings.xc, settings.grid_level, settings.conv_tol, settings.max_cycle, True, False)
        mf.kernel(dm0=guess)
        if not mf.converged:
            dm_last = mf.make_rdm1()
            # second-order macro-iterations converge quadratically when they converge at all: 25 is ample,
            # and a stretched ionic bond (NaCl at 8-10 A) otherwise spends many minutes in 100 of them
            mf = retry_scf(mf, "newton", min(settings.max_cycle, NEWTON_MAX_CYCLE))
            mf.kernel(dm0=dm_last)
        if mf.converged and (best is None or mf.e_tot < best.e_tot - 1e-8):
            best = mf
        guess = mf.make_rdm1(_mix_homo_lumo(mf.mo_coeff, mf.mo_occ), mf.mo_occ)
    if best is None:
        return {"energy": float("nan"), "spin_square": float("nan"), "converged": False, "charges": {}}
    dm = best.make_rdm1()
    ana = analyse_density(mol, dm, np.asarray(best.grids.coords), np.asarray(best.grids.weights), library,
                          settings.weighting)
    out = {"energy": float(best.e_tot), "spin_square": float(best.spin_square()[0]), "converged": True,
           "charges": {k: np.asarray(ana["charges"][k]) for k in _CHARGE_KEYS if k in ana["charges"]}}
    if cache is not None:
        cache.put(key, {k: out[k] for k in ("energy", "spin_square", "converged")},
                  {f"charges/{k}": v for k, v in out["charges"].items()})
    return out
