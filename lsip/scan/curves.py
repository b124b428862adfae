"""Curves along a bond / fragment scan: the model (warm-started), QEq and EEQ baselines, optional reference DFT.

:func:`model_scan` moves atom J's fragment along I->J (:func:`lsip.scan.path.scan_structures`) and records, at every
distance, the model's energy, every energy term, charges, ensemble weights and channel occupations, and the
QEq and EEQ charges. :func:`add_dft` adds reference-DFT energies (the lowest of RKS and broken-symmetry UKS,
relative to the separately computed fragments) and Hirshfeld charges per point, with failed or unphysical points
flagged instead of drawn (docs/reference.md, "DFT along scans"). :func:`dissociation_verdict` checks the
separated limit: fragment charges must be integers (|q - round(q)| < ``charge_tol``, neutral fragments for a
neutral system) and the model's energy at the last point must equal the sum of the fragments' own energies (for
atoms: zero, the free-atom reference) within ``energy_tol``; QEq's residual fractional charge is reported next
to it (docs/model.md section 9).

Hartree atomic units inside (energies hartree, charges e); distances in angstrom (the user's scan axis).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from lsip.errors import LSIPError
from lsip.model.baselines import eeq_charges, qeq_charges
from lsip.model.decoder import Prediction, as_numpy
from lsip.model.library import STATE_LABELS
from lsip.scan.path import PathContinuity, path_continuity, predict_along, scan_structures
from lsip.structure import Structure
from lsip.units import HARTREE_TO_EV

if TYPE_CHECKING:  # the reference layer (PySCF) is imported only when DFT is asked for
    from lsip.model.library import LatentLibrary
    from lsip.model.model import LSIPModel
    from lsip.reference.broken_symmetry import FragmentReference, KSSolution
    from lsip.reference.cache import ReferenceCache
    from lsip.reference.driver import CancelToken, ReferenceSettings, SCFProgress
    from lsip.reference.timing import ScanEstimate

#: Default tolerance on fragment charges at the last point, e.
CHARGE_TOL = 1e-6
#: Default tolerance on E(last point) - sum of fragment energies, hartree (1 meV).
ENERGY_TOL = 1e-3 / HARTREE_TO_EV
#: Largest estimated total SCF time of a DFT scan the app accepts, s.
DFT_SCAN_MAX_S = 240.0


@dataclass
class ScanCurves:
    """Everything along one scan (arrays over the m points; n atoms).

    Attributes
    ----------
    i, j : the scanned atom pair (J's fragment moves).  moved : atoms that move with J.
    distances : (m,) R_IJ, angstrom.  structures : the m geometries.  predictions : the model's m predictions.
    energy : (m,) model energy relative to free neutral atoms, hartree.  terms : name -> (m,) term totals, hartree.
    charges : (m, n) e.  weights : (m, n, 4).  channels : "Na0->Cl1" -> (m,) occupation c (0 where absent).
    converged : (m,) bool.  iterations : (m,) int.
    qeq_charges, qeq_energy : (m, n) e and (m,) hartree (QEq charge energy).
    eeq_charges : (m, n) e, or None when EEQ is unavailable for these elements.  eeq_error : why.
    dft_energy : (m,) reference DFT energy relative to the separately computed fragments, hartree:
        E(point) - sum E(fragment), so 0 is the separated limit and a bound geometry is negative (no shift to
        any scan point). E(point) is the lowest converged solution among RKS and broken-symmetry UKS
        (:func:`lsip.reference.broken_symmetry.lowest_solution`). NaN where not computed, where the SCF failed,
        where the point is flagged (``dft_flags``), and everywhere when a fragment failed (no zero).
    dft_charges : (m, n) Hirshfeld charges of that solution, e; NaN where not computed, failed or flagged (a
        failed fragment removes only the energies).
    dft_flags : m strings, '' for a drawn point, else why it is not drawn (SCF failed, unstable solution, too
        far above the fragments: :func:`lsip.reference.broken_symmetry.flag_points`).
    dft_method : m strings, "RKS", "BS-UKS" (or "UKS" for open shells), '' where nothing converged.
    dft_spin_square : (m,) <S^2> of the reported solution (0 for RKS; NaN where nothing converged).
    dft_total_energy : (m,) total energy of the lowest converged solution, hartree, flagged points included
        (for inspection; not drawn).
    dft_fragment_energy : sum of the fragments' energies, hartree (NaN when one failed).
    dft_fragments : the fragments (:class:`lsip.reference.broken_symmetry.FragmentReference`).
    dft_points : the per-point :class:`lsip.reference.broken_symmetry.KSSolution` (RKS and UKS energies,
        stability, timings).  dft_threshold : energy above the fragments that flags a point on the dissociating
        side, hartree.  dft_estimate : the :class:`lsip.reference.timing.ScanEstimate` made before the run.
    dft_time_s : measured wall time of :func:`add_dft`, s.
    dft_level : e.g. "PBE0/def2-SVP" once DFT points exist.  dft_notes : messages (failed points and fragments).
    """

    i: int
    j: int
    moved: list[int]
    distances: np.ndarray
    structures: list[Structure]
    predictions: list[Prediction]
    energy: np.ndarray
    terms: dict[str, np.ndarray]
    charges: np.ndarray
    weights: np.ndarray
    channels: dict[str, np.ndarray]
    converged: np.ndarray
    iterations: np.ndarray
    qeq_charges: np.ndarray
    qeq_energy: np.ndarray
    eeq_charges: np.ndarray | None
    eeq_error: str = ""
    dft_energy: np.ndarray | None = None
    dft_charges: np.ndarray | None = None
    dft_level: str = ""
    dft_notes: list[str] = field(default_factory=list)
    dft_flags: list[str] = field(default_factory=list)
    dft_method: list[str] = field(default_factory=list)
    dft_spin_square: np.ndarray | None = None
    dft_total_energy: np.ndarray | None = None
    dft_fragment_energy: float = float("nan")
    dft_fragments: list[FragmentReference] = field(default_factory=list)
    dft_points: list[KSSolution] = field(default_factory=list)
    dft_threshold: float = float("nan")
    dft_estimate: ScanEstimate | None = None
    dft_time_s: float = float("nan")

    @property
    def symbols(self) -> tuple[str, ...]:
        """Element symbols."""
        return self.structures[0].symbols

    @property
    def labels(self) -> list[str]:
        """Atom labels "Na0", "Cl1", ..."""
        return [f"{s}{k}" for k, s in enumerate(self.symbols)]

    @property
    def fragments(self) -> tuple[list[int], list[int]]:
        """(fixed atoms, moved atoms)."""
        return [k for k in range(len(self.symbols)) if k not in self.moved], list(self.moved)

    def fragment_charge(self, charges: np.ndarray) -> np.ndarray:
        """(m,) total charge of the moving fragment from (m, n) charges, e."""
        return np.asarray(charges)[:, self.moved].sum(axis=1)


def model_scan(model: LSIPModel, structure: Structure, i: int, j: int, distances: np.ndarray,
               with_baselines: bool = True, progress: Callable[[int, int], None] | None = None) -> ScanCurves:
    """Run the model along the scan, each point warm-started from the previous one, plus QEq and EEQ.

    Parameters
    ----------
    model : an :class:`lsip.model.model.LSIPModel`.
    structure : the starting geometry (angstrom).  i, j : atom indices (J's fragment moves along I->J).
    distances : (m,) R_IJ values, angstrom.
    with_baselines : also compute QEq and EEQ charges.
    progress : called as ``progress(k, m)`` after the model's point k of m.

    Returns
    -------
    ScanCurves
    """
    dist = np.asarray(distances, dtype=np.float64).reshape(-1)
    if len(dist) < 2:
        raise LSIPError("a scan needs at least two distances")
    frames, moved = scan_structures(structure, i, j, dist)
    preds = predict_along(model, frames, progress=progress)
    n = structure.n_atoms
    names = list(preds[0].term_totals)
    curves = ScanCurves(
        i=i, j=j, moved=moved, distances=dist, structures=frames, predictions=preds,
        energy=np.array([p.energy for p in preds]),
        terms={k: np.array([p.term_totals.get(k, 0.0) for p in preds]) for k in names},
        charges=np.stack([p.charges.numpy() for p in preds]), weights=np.stack([p.weights.numpy() for p in preds]),
        channels=_channel_curves(preds), converged=np.array([p.converged for p in preds]),
        iterations=np.array([p.iterations for p in preds]),
        qeq_charges=np.full((len(dist), n), np.nan), qeq_energy=np.full(len(dist), np.nan), eeq_charges=None)
    if with_baselines:
        _add_baselines(curves, model.library)
    return curves


def _channel_curves(preds: list[Prediction]) -> dict[str, np.ndarray]:
    """"A->B" label -> (m,) occupation along the scan (channels enter and leave with the cut-off)."""
    labels = [f"{s}{k}" for k, s in enumerate(preds[0].symbols)]
    out: dict[str, np.ndarray] = {}
    for m, p in enumerate(preds):
        for d, a, c in zip(p.donor.tolist(), p.acceptor.tolist(), p.occupation.tolist()):
            key = f"{labels[d]}->{labels[a]}"
            out.setdefault(key, np.zeros(len(preds)))[m] = c
    return out


def _add_baselines(curves: ScanCurves, library: LatentLibrary) -> None:
    for m, fr in enumerate(curves.structures):
        q = qeq_charges(fr, library)
        curves.qeq_charges[m] = as_numpy(q.charges)
        curves.qeq_energy[m] = q.energy
    try:
        curves.eeq_charges = np.stack([as_numpy(eeq_charges(fr).charges) for fr in curves.structures])
    except (LSIPError, ValueError, KeyError, RuntimeError) as exc:  # tad-multicharge: unsupported input
        curves.eeq_error = f"EEQ unavailable: {exc}"


def dft_scan_estimate(curves: ScanCurves, settings: ReferenceSettings, cache: ReferenceCache | None = None,
                      library: LatentLibrary | None = None) -> ScanEstimate:
    """Estimated wall time of :func:`add_dft` on this scan, and where it came from.

    ``points x (RKS + BS-UKS) + fragments`` over what the cache does not hold, each term fitted to the wall times
    the cache has recorded (falling back to the driver's static estimate where nothing was measured):
    :func:`lsip.reference.timing.estimate_scan`. ``cache``: as for :func:`add_dft`. The result formats like its
    seconds (``f"{est:.0f} s"``); ``est.source``, ``est.detail`` and ``est.all_cached`` say more.

    Raises
    ------
    SystemTooLargeError
        above the driver's size limits.
    """
    from lsip.reference.cache import resolve_cache
    from lsip.reference.timing import estimate_scan

    return estimate_scan(curves.structures, curves.fragments, settings, library=library,
                         cache=resolve_cache(cache))


def add_dft(curves: ScanCurves, settings: ReferenceSettings, cache: ReferenceCache | None = None,
            progress: Callable[[int, SCFProgress], None] | None = None, cancel: CancelToken = None,
            max_total_s: float = DFT_SCAN_MAX_S, library: LatentLibrary | None = None) -> ScanCurves:
    """Reference DFT along the scan: the lowest of RKS and broken-symmetry UKS per point, zeroed on the fragments.

    The two fragments (``curves.fragments``) are computed alone first (:func:`lsip.reference.broken_symmetry.
    fragment_references`); each point then runs :func:`lsip.reference.broken_symmetry.lowest_solution` (the same
    procedure as ``lsip validate``'s dissociation curves) with the fragments' densities as its broken-symmetry
    guess, and failed or unphysical points are flagged (:func:`lsip.reference.broken_symmetry.flag_points`) and
    left out (NaN). Every point and fragment is cached; computed ones record their wall times for
    :func:`dft_scan_estimate`.

    Parameters
    ----------
    curves : a model scan.  settings : :class:`lsip.reference.driver.ReferenceSettings` (``time_limit_s`` applies
        per point and per fragment).
    cache : a :class:`~lsip.reference.cache.ReferenceCache` (None: the default cache file; False: none).
    progress : called as ``progress(index, SCFProgress)``: index m (the number of points) for the fragments,
        which are computed first, then 0..m-1 for the points.
    cancel : cancel token (stops at the next SCF cycle with CalculationCancelled; finished points stay cached).
    max_total_s : refuse scans estimated to take longer.  library : latent library (default: the shipped one).

    Returns
    -------
    A copy of ``curves`` with every ``dft_*`` field set (see :class:`ScanCurves`).

    Raises
    ------
    SystemTooLargeError
        when the system is above the driver's limits or the scan would take longer than ``max_total_s``.
    """
    from lsip.errors import SystemTooLargeError
    from lsip.reference.broken_symmetry import (
        flag_points,
        fragment_references,
        lowest_solution,
        unphysical_threshold,
    )
    from lsip.reference.cache import resolve_cache

    t0 = time.perf_counter()
    store = resolve_cache(cache)
    est = dft_scan_estimate(curves, settings, store if store is not None else False, library)
    if est.seconds > max_total_s:
        raise SystemTooLargeError(f"a DFT scan of {len(curves.structures)} points would take ~{est.seconds:.0f} s "
                                  f"(limit {max_total_s:.0f} s; {est.detail}): use fewer points or a smaller basis")
    m, n = len(curves.structures), len(curves.symbols)

    def reporter(k: int) -> Callable[[SCFProgress], None] | None:
        return (lambda pr: progress(k, pr)) if progress is not None else None

    frags = fragment_references(curves.structures[0], curves.fragments, settings, library=library, cache=store,
                                progress=reporter(m), cancel=cancel)
    notes = [f"fragment {f.label} failed: {f.message}" for f in frags if not f.converged]
    e_frag = float(sum(f.energy for f in frags)) if not notes else float("nan")
    points = [lowest_solution(fr, settings, library=library, cache=store, fragments=frags, progress=reporter(k),
                              cancel=cancel) for k, fr in enumerate(curves.structures)]
    total = np.array([p.energy for p in points])
    rel = total - e_frag
    threshold = unphysical_threshold([f.structure for f in frags], library)
    flags = flag_points(curves.distances, rel, np.array([p.converged for p in points]),
                        [p.stable for p in points], threshold)
    energy, charges = np.full(m, np.nan), np.full((m, n), np.nan)
    for k, (p, flag) in enumerate(zip(points, flags)):
        if flag:
            notes.append(f"R = {curves.distances[k]:.3f} Å: not drawn: {flag}")
            continue
        energy[k] = rel[k]
        q = p.charges.get("hirshfeld", p.charges.get("mulliken"))
        if q is not None:
            charges[k] = q
    level = f"{settings.xc}/{settings.basis}"
    return replace(curves, dft_energy=energy, dft_charges=charges, dft_level=level, dft_notes=notes,
                   dft_flags=flags, dft_method=[p.method for p in points],
                   dft_spin_square=np.array([p.spin_square for p in points]), dft_total_energy=total,
                   dft_fragment_energy=e_frag, dft_fragments=list(frags), dft_points=points,
                   dft_threshold=float(threshold), dft_estimate=est, dft_time_s=time.perf_counter() - t0)


@dataclass(frozen=True)
class DissociationVerdict:
    """The separated-fragment check at the last scan point.

    Attributes
    ----------
    distance : last R_IJ, angstrom.  fragments : (fixed atoms, moved atoms).
    model_charges : (2,) fragment charges of the model, e.  expected : (2,) the nearest integers.
    integer_charges : every |q - round(q)| < charge_tol (and both zero for a neutral system).
    energy_gap : model E(last) - (E(fragment 1) + E(fragment 2)), hartree (NaN if not computable).
    energy_ok : |energy_gap| < energy_tol.  qeq_charges, eeq_charges : (2,) fragment charges of the baselines.
    qeq_residual : max |QEq fragment charge - nearest integer|, e.  charge_tol, energy_tol : tolerances used.
    continuity : energy, force and charge continuity along the whole curve (:func:`lsip.scan.path.path_continuity`).
    passed : integer_charges and energy_ok and the curve is continuous.  message : a one-paragraph explanation.
    """

    distance: float
    fragments: tuple[list[int], list[int]]
    model_charges: np.ndarray
    expected: np.ndarray
    integer_charges: bool
    energy_gap: float
    energy_ok: bool
    qeq_charges: np.ndarray
    eeq_charges: np.ndarray | None
    qeq_residual: float
    charge_tol: float
    energy_tol: float
    passed: bool
    message: str
    continuity: PathContinuity | None = None


def _fragment_energy(model: LSIPModel, structure: Structure, atoms: list[int], charge: int) -> float:
    """Model energy of one fragment alone with an integer charge (a free neutral atom: 0; an ion: I or -A)."""
    sub = Structure(tuple(structure.symbols[k] for k in atoms), structure.positions[atoms], charge=charge)
    pred = model.predict(sub, raise_on_failure=False)
    return pred.energy if pred.converged else float("nan")


def dissociation_verdict(curves: ScanCurves, model: LSIPModel, charge_tol: float = CHARGE_TOL,
                         energy_tol: float = ENERGY_TOL) -> DissociationVerdict:
    """Do the fragments end with integer (neutral) charges, and is the energy that of separated fragments?"""
    fixed, moved = curves.fragments
    q_last = curves.charges[-1]
    qm = np.array([q_last[fixed].sum(), q_last[moved].sum()])
    expected = np.round(qm)
    total = curves.structures[-1].charge
    integer = bool(np.all(np.abs(qm - expected) < charge_tol)) and (total != 0 or bool(np.all(expected == 0)))
    last = curves.structures[-1]
    e_frag = sum(_fragment_energy(model, last, atoms, int(c)) for atoms, c in zip((fixed, moved), expected))
    gap = float(curves.energy[-1] - e_frag)
    energy_ok = bool(np.isfinite(gap) and abs(gap) < energy_tol)
    qq = np.array([curves.qeq_charges[-1][fixed].sum(), curves.qeq_charges[-1][moved].sum()])
    qe = None if curves.eeq_charges is None else np.array([curves.eeq_charges[-1][fixed].sum(),
                                                           curves.eeq_charges[-1][moved].sum()])
    residual = float(np.max(np.abs(qq - np.round(qq)))) if np.all(np.isfinite(qq)) else float("nan")
    # a bounded number of refinement solves: many for small molecules, none past a few hundred atoms
    n = len(curves.symbols)
    budget = 64 if n <= 50 else 16 if n <= 300 else 0
    continuity = path_continuity(model, curves.structures, curves.distances, curves.moved, curves.predictions,
                                 max_extra=budget)
    passed = integer and energy_ok and continuity.passed
    r = curves.distances[-1]
    if np.isfinite(gap):
        gap_text = (f"E - E(fragments) = {gap * HARTREE_TO_EV:+.2e} eV ({'within' if energy_ok else 'NOT within'} "
                    f"{energy_tol * HARTREE_TO_EV:g} eV)")
    else:  # never print nan: say what is missing (issue 14.3)
        gap_text = ("E - E(fragments) is not available: the model did not converge on a fragment alone, or the "
                    "last scan point did not converge")
    qeq_text = (f"QEq leaves {residual:.3f} e of fractional charge on each fragment" if np.isfinite(residual)
                else "QEq gave no finite charges here")
    msg = (f"At R = {r:.2f} Å the model's fragments carry {qm[0]:+.2e} e and {qm[1]:+.2e} e "
           f"({'integer' if integer else 'NOT integer'} within {charge_tol:g} e); {gap_text}. {qeq_text}"
           + (f", EEQ {np.max(np.abs(qe - np.round(qe))):.3f} e." if qe is not None else "."))
    if integer and not energy_ok and np.isfinite(gap):
        msg += (" The fragments still interact at this distance (e.g. dipole-dipole electrostatics): extend the "
                "range to reach the separated limit.")
    msg += " " + continuity.message
    return DissociationVerdict(float(r), (fixed, moved), qm, expected, integer, gap, energy_ok, qq, qe, residual,
                               charge_tol, energy_tol, passed, msg, continuity)


def curves_table(curves: ScanCurves) -> tuple[list[str], list[list[float | str]]]:
    """Header and rows of every curve (eV, angstrom, e): one row per scan point.

    With DFT: ``E_dft_minus_fragments_eV`` (the energy relative to the separately computed fragments, NaN at
    flagged points), ``S2_dft``, the ``q_dft_hirshfeld_*`` charges, and two text columns at the end:
    ``dft_method`` ("RKS" / "BS-UKS" / "UKS") and ``dft_flag`` ('' for a drawn point, else why it is not drawn).
    Every other value is a float.
    """
    labs = curves.labels
    cols: dict[str, np.ndarray] = {"R_A": curves.distances, "E_model_eV": curves.energy * HARTREE_TO_EV}
    cols.update({f"E_{k}_eV": v * HARTREE_TO_EV for k, v in curves.terms.items()})
    cols["E_qeq_eV"] = curves.qeq_energy * HARTREE_TO_EV
    if curves.dft_energy is not None:
        cols["E_dft_minus_fragments_eV"] = curves.dft_energy * HARTREE_TO_EV
        if curves.dft_spin_square is not None:
            cols["S2_dft"] = curves.dft_spin_square
    series = [("model", curves.charges), ("qeq", curves.qeq_charges), ("eeq", curves.eeq_charges),
              ("dft_hirshfeld", curves.dft_charges)]
    for name, q in series:
        if q is not None:
            cols.update({f"q_{name}_{lab}": q[:, k] for k, lab in enumerate(labs)})
    for k, lab in enumerate(labs):
        cols.update({f"w_{st}_{lab}": curves.weights[:, k, s] for s, st in enumerate(STATE_LABELS)})
    cols.update({f"c_{name}": v for name, v in curves.channels.items()})
    cols["converged"] = curves.converged.astype(float)
    m = len(curves.distances)
    text: dict[str, list[str]] = {}
    if curves.dft_energy is not None:
        text["dft_method"] = list(curves.dft_method) if len(curves.dft_method) == m else [""] * m
        text["dft_flag"] = list(curves.dft_flags) if len(curves.dft_flags) == m else [""] * m
    header = [*cols, *text]
    rows: list[list[float | str]] = [[float(cols[h][k]) for h in cols] + [text[h][k] for h in text]
                                     for k in range(m)]
    return header, rows


def curves_csv(curves: ScanCurves) -> str:
    """CSV text of :func:`curves_table` (NaN where a curve has no value; text columns as they are)."""
    header, rows = curves_table(curves)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[v if isinstance(v, str) else f"{v:.10g}" for v in row] for row in rows])
    return buf.getvalue()


def default_range(structure: Structure, i: int, j: int) -> tuple[float, float]:
    """A default scan range (angstrom): from 0.75 R0 (at least 0.4 Å) to R0 + 6 Å, R0 the current distance."""
    r0 = float(np.linalg.norm(structure.positions[j] - structure.positions[i]))
    return round(max(0.4, 0.75 * r0), 2), round(r0 + 6.0, 2)
