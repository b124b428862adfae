"""Time estimates of DFT scans from measured wall times (the reference cache's ``timings`` table).

Every computed reference calculation records its wall time per method and basis-function count
(:meth:`~lsip.reference.cache.ReferenceCache.record_timing`): the driver as ``rks`` / ``uks`` (fragments and single
points), :func:`~lsip.reference.broken_symmetry.lowest_solution` as ``scan-rks`` and ``scan-bs-uks``. A scan is
estimated as ``points x (RKS + BS-UKS) + fragments`` over what the cache does not hold yet, each term from
:func:`fitted_time`, falling back to the driver's static estimate (:func:`lsip.reference.grids.estimate_scf_time_s`)
where nothing was measured (:data:`STATIC_SCFS_PER_POINT`). docs/reference.md, "DFT along scans", gives the
measured accuracy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lsip.model.library import LatentLibrary
from lsip.reference.broken_symmetry import fragment_settings, fragment_structures, solution_key
from lsip.reference.cache import ReferenceCache
from lsip.reference.driver import ReferenceDFT, ReferenceSettings
from lsip.reference.grids import omp_threads
from lsip.structure import Structure

#: Exponent of the static estimate t ~ n_basis^p, used when the measurements do not span a factor of 2 in size.
DEFAULT_EXPONENT = 2.7
#: Fitted exponents are clipped to this range.
EXPONENT_RANGE = (1.0, 3.5)
#: Most recent measurements of a method used for a fit.
MAX_RECORDS = 200
#: Static stand-in for one scan point when nothing was measured, in units of the driver's one-SCF estimate. Measured
#: on the validation scans (PBE0/def2-SVP): 2.5 (LiH) to 22 (NaCl, several guesses and second-order SCFs at the
#: stretched ionic points) SCF-equivalents per point, H2O 8, H3N-BH3 13; 8 is the geometric middle, so the
#: fallback is good to a factor of ~3 either way.
STATIC_SCFS_PER_POINT = 8.0


def fitted_time(records: Sequence[tuple[int, float]], n_basis: int) -> float | None:
    """Wall time (s) at ``n_basis`` from measured (n_basis, seconds) pairs, or None without measurements.

    ``t = c n^p``: p is fitted (log-log least squares, clipped to :data:`EXPONENT_RANGE`) when the sizes span a
    factor of 2, else :data:`DEFAULT_EXPONENT`; c is the **mean** of t_i / n_i^p over the measurements within a
    factor of 2 of ``n_basis`` (all of them when none is that close). The mean, not the median, because a scan's
    time is a sum: slow stretched points (second-order retries) must count fully.
    """
    if not records:
        return None
    rec = np.asarray(records[-MAX_RECORDS:], dtype=float)
    ns, ts = np.maximum(rec[:, 0], 1.0), np.maximum(rec[:, 1], 1e-6)
    p = DEFAULT_EXPONENT
    if ns.max() >= 2.0 * ns.min():
        p = float(np.clip(np.polyfit(np.log(ns), np.log(ts), 1)[0], *EXPONENT_RANGE))
    near = np.abs(np.log(ns / max(n_basis, 1))) <= np.log(2.0)
    sel = near if near.any() else np.ones_like(near)
    c = float(np.mean(ts[sel] / ns[sel] ** p))
    return c * max(n_basis, 1) ** p


def measured_time(cache: ReferenceCache | None, method: str, n_basis: int, xc: str) -> float | None:
    """:func:`fitted_time` over the cache's records of ``method`` and functional ``xc`` (preferring this machine's
    thread count), or None."""
    if cache is None:
        return None
    records = cache.timings(method, xc=xc, threads=omp_threads()) or cache.timings(method, xc=xc)
    return fitted_time(records, n_basis)


@dataclass(frozen=True)
class ScanEstimate:
    """The estimated wall time of a DFT scan and where it came from.

    Attributes
    ----------
    seconds : estimated total, s (0 when everything is cached).
    source : "measured" (every term fitted to recorded times), "static" (the driver's a-priori formula),
        "measured+static" (some of each) or "cached" (nothing to compute).
    points, points_cached : scan points and how many the cache holds.
    fragments, fragments_cached : fragment calculations (2, or 4 for a charged system) and how many are cached.
    n_basis : basis functions of the scanned structure.  point_s : estimated time of one uncached point, s.
    fragments_s : estimated time of the uncached fragments, s.  detail : a one-line explanation.

    Formats like its ``seconds`` (``f"{est:.0f}"``) and converts with ``float(est)``.
    """

    seconds: float
    source: str
    points: int
    points_cached: int
    fragments: int
    fragments_cached: int
    n_basis: int
    point_s: float
    fragments_s: float
    detail: str

    @property
    def all_cached(self) -> bool:
        """Every point and fragment is in the cache (the scan loads in milliseconds)."""
        return self.points_cached == self.points and self.fragments_cached == self.fragments

    def __float__(self) -> float:
        return float(self.seconds)

    def __format__(self, spec: str) -> str:
        return format(self.seconds, spec)


def estimate_scan(structures: Sequence[Structure], fragments: Sequence[Sequence[int]],
                  settings: ReferenceSettings | None = None, *, library: LatentLibrary | None = None,
                  cache: ReferenceCache | None = None) -> ScanEstimate:
    """Estimate ``points x (RKS + BS-UKS) + fragments`` for the uncached parts of a scan.

    Parameters
    ----------
    structures : the scan's geometries.  fragments : (fixed atoms, moving atoms).
    settings : level of theory.  library : latent library (cache keys).  cache : the reference cache (None: no
        cache, so nothing is cached and only the static estimate is available).

    Raises
    ------
    SystemTooLargeError
        above the driver's size limits.
    """
    settings = settings or ReferenceSettings()
    sizer = ReferenceDFT(structures[0], settings, library=library, cache=False)
    n_basis, static = sizer.check_size()
    lib = sizer.library
    xc = settings.xc
    keys = [solution_key(st, settings, lib, fragments) for st in structures]
    cached_pts = sum(1 for k in keys if cache is not None and k in cache)
    todo = len(structures) - cached_pts
    sources: set[str] = set()

    def term(method: str, n: int, static_s: float) -> float:
        t = measured_time(cache, method, n, xc)
        sources.add("measured" if t is not None else "static")
        return t if t is not None else static_s

    point_s = 0.0
    if todo:
        closed = structures[0].n_electrons % 2 == 0 and not (structures[0].spin or 0)
        rks_s = term("scan-rks", n_basis, static) if closed else 0.0
        point_s = rks_s + term("scan-bs-uks", n_basis, static * (STATIC_SCFS_PER_POINT - (1.0 if closed else 0.0)))
    frag_s, n_frag, frag_cached, seen = 0.0, 0, 0, set()
    for split in fragment_structures(structures[0], fragments):
        for fs in split:
            drv = ReferenceDFT(fs, fragment_settings(settings, fs), library=lib,
                               cache=cache if cache is not None else False)
            key = drv.key()
            if key in seen or fs.n_electrons == 0:
                continue
            seen.add(key)
            n_frag += 1
            if cache is not None and key in cache:
                frag_cached += 1
                continue
            nb, st_s = drv.check_size()
            unrestricted = drv.settings.unrestricted if drv.settings.unrestricted is not None else drv.spin > 0
            frag_s += term("uks" if unrestricted else "rks", nb, st_s)
    total = todo * point_s + frag_s
    source = "cached" if not sources else "+".join(sorted(sources))
    origin = {"measured": "measured SCF times", "cached": "the cache (nothing to compute)",
              "static": "the a-priori formula (nothing measured yet; good to a factor of ~3)",
              "measured+static": "measured SCF times and the a-priori formula"}[source]
    detail = (f"{todo} of {len(structures)} points to compute (RKS + broken-symmetry UKS, ~{point_s:.1f} s each), "
              f"{n_frag - frag_cached} of {n_frag} fragments (~{frag_s:.1f} s); {n_basis} basis functions; "
              f"estimate from {origin}")
    return ScanEstimate(float(total), source, len(structures), cached_pts, n_frag, frag_cached, int(n_basis),
                        float(point_s), float(frag_s), detail)
