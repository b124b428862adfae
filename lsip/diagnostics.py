"""Physics invariants of docs/model.md section 9, evaluated on one structure (the app's Diagnostics page, the CLI).

Every check returns a :class:`CheckResult` (name, passed, value, tolerance, detail): ``value`` is the largest
deviation found, in the unit named in ``detail`` (atomic units: hartree, e, hartree/bohr), ``passed`` is
``value <= tolerance``, or ``None`` when the check was skipped (the reason is in ``detail``).

Checks that only read a :class:`~lsip.model.decoder.Prediction` (sum rules) cost nothing; checks that re-run
the physical encoder (rotation, permutation, free atoms, finite-difference forces) run on a private copy of the
model and are skipped above :data:`MAX_RESOLVE_ATOMS` atoms to stay interactive.

>>> from lsip.gallery import gallery_structure                      # doctest: +SKIP
>>> from lsip.model.model import LSIPModel                           # doctest: +SKIP
>>> [c.passed for c in run_diagnostics(LSIPModel(), gallery_structure("water"))]  # doctest: +SKIP
[True, True, True, True, True, True, True]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lsip.errors import LSIPError
from lsip.model.decoder import Prediction, as_numpy
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.scan.path import FINE_STEP, PathContinuity, path_continuity, scan_structures
from lsip.structure import Structure, atom_label
from lsip.units import ANGSTROM_TO_BOHR

#: Largest structure on which the checks that re-solve the encoder run (each is one to nine solves).
MAX_RESOLVE_ATOMS = 60
#: Sum rules are exact algebra on float64 numbers: round-off only.
SUM_TOL = 1e-9
#: Energy (hartree) and charge/weight (e) agreement after a rigid motion or a relabelling; the encoder stops at
#: a KKT residual of ``params.tol`` (1e-7 Ha), so latent coordinates agree to about that, energies far better.
ENERGY_TOL = 1e-6
CHARGE_TOL = 1e-5
#: Finite-difference step (angstrom) and tolerance on |F - F_fd| (hartree/bohr).
FD_STEP = 1e-4
FD_TOL = 1e-5
#: Separation (angstrom) of the free-atom check: beyond every cut-off of the shipped parameter sets.
FREE_ATOM_SPACING = 100.0


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one invariant check.

    Attributes
    ----------
    name : short human name, e.g. ``"charge conservation"``.
    passed : True / False, or None when the check was skipped.
    value : largest deviation found (NaN when skipped), unit in ``detail``.
    tolerance : the threshold ``value`` is compared with.
    detail : one sentence: what was compared, the unit, or why the check was skipped.
    """

    name: str
    passed: bool | None
    value: float
    tolerance: float
    detail: str

    @property
    def skipped(self) -> bool:
        """Whether the check did not run."""
        return self.passed is None


def _result(name: str, value: float, tolerance: float, detail: str) -> CheckResult:
    value = float(value)
    return CheckResult(name, bool(np.isfinite(value) and value <= tolerance), value, tolerance, detail)


def _skipped(name: str, tolerance: float, reason: str) -> CheckResult:
    return CheckResult(name, None, float("nan"), tolerance, f"skipped: {reason}")


def _too_large(name: str, tolerance: float, structure: Structure) -> CheckResult | None:
    if structure.n_atoms > MAX_RESOLVE_ATOMS:
        return _skipped(name, tolerance, f"{structure.n_atoms} atoms > {MAX_RESOLVE_ATOMS} (re-solving the "
                                         "encoder would be slow)")
    return None


def check_term_sum(pred: Prediction, tol: float = SUM_TOL) -> CheckResult:
    """Named terms sum to the total energy, and each term's per-atom values sum to its total (hartree)."""
    dev_total = abs(sum(pred.term_totals.values()) - pred.energy)
    dev_atoms = max((abs(float(v.sum()) - pred.term_totals[k]) for k, v in pred.terms.items()), default=0.0)
    return _result("terms sum to total", max(dev_total, dev_atoms), tol,
                   f"|sum of {len(pred.term_totals)} terms - E| = {dev_total:.1e} Ha; largest |sum over atoms - "
                   f"term total| = {dev_atoms:.1e} Ha")


def check_charge_conservation(pred: Prediction, total_charge: float | None = None,
                              tol: float = SUM_TOL) -> CheckResult:
    """sum_A q_A equals the total charge Q (e); Q defaults to ``pred.total_charge``."""
    q_target = pred.total_charge if total_charge is None else float(total_charge)
    q_sum = float(as_numpy(pred.charges).sum())
    return _result("charge conservation", abs(q_sum - q_target), tol,
                   f"sum q = {q_sum:+.10f} e, Q = {q_target:+g} e")


def check_weights(pred: Prediction, tol: float = SUM_TOL) -> CheckResult:
    """Every ensemble weight lies in [0, 1] and each atom's four weights sum to 1."""
    w = as_numpy(pred.weights)
    below, above = float(max(0.0, -w.min())), float(max(0.0, w.max() - 1.0))
    norm = float(np.abs(w.sum(axis=1) - 1.0).max())
    return _result("weights in [0, 1], sum to 1", max(below, above, norm), tol,
                   f"min w = {w.min():.3g}, max w = {w.max():.3g}, largest |sum_k w_k - 1| = {norm:.1e}")


def check_converged(pred: Prediction, tol: float) -> CheckResult:
    """The equalization converged: KKT residual at or below the solver tolerance (hartree)."""
    return _result("encoder converged", pred.residual if pred.converged else float("inf"), tol,
                   f"KKT residual {pred.residual:.2e} Ha after {pred.iterations} iterations "
                   f"({'converged' if pred.converged else 'NOT converged'})")


#: Distance tolerance (angstrom) of the symmetry-equivalence search, and the largest structure it runs on.
SYMMETRY_DISTANCE_TOL = 1e-3
MAX_SYMMETRY_ATOMS = 1000
#: Largest charge/weight difference (e) allowed between symmetry-equivalent atoms.
SYMMETRY_TOL = 1e-6


def equivalent_atoms(structure: Structure, tol: float = SYMMETRY_DISTANCE_TOL) -> list[list[int]]:
    """Classes of atoms that the geometry cannot tell apart (docs/model.md, "Symmetry").

    Colour refinement on the distance matrix: start from the elements, then repeatedly give every atom the
    colour of (its colour, the sorted list of (neighbour colour, distance rounded to ``tol``)) until the number
    of classes stops growing. Atoms related by a symmetry operation always end in one class; for molecules
    and clusters the classes are the symmetry orbits (a distance-regular counter-example would merge two
    orbits, never split one). Periodic cells use the minimum-image distances. O(n^2) per round.
    """
    pos = structure.positions
    n = structure.n_atoms
    if n > MAX_SYMMETRY_ATOMS:
        raise LSIPError(f"symmetry search limited to {MAX_SYMMETRY_ATOMS} atoms, got {n}")
    diff = pos[None, :, :] - pos[:, None, :]
    if structure.cell is not None and any(structure.pbc):
        cell = np.asarray(structure.cell)
        frac = diff @ np.linalg.inv(cell)
        frac -= np.round(frac) * np.asarray(structure.pbc, dtype=float)
        diff = frac @ cell
    d = np.rint(np.linalg.norm(diff, axis=-1) / tol).astype(np.int64)
    _, colour = np.unique(np.array(structure.symbols), return_inverse=True)
    n_classes = len(set(colour.tolist()))
    for _ in range(n):
        keys = [(int(colour[a]), tuple(sorted(zip(colour.tolist(), d[a].tolist())))) for a in range(n)]
        index: dict[tuple, int] = {}
        new = np.array([index.setdefault(k, len(index)) for k in keys])
        if len(index) == n_classes:
            break
        colour, n_classes = new, len(index)
    classes: dict[int, list[int]] = {}
    for a, c in enumerate(colour.tolist()):
        classes.setdefault(c, []).append(a)
    return sorted(classes.values())


def check_symmetry(structure: Structure, pred: Prediction, tol: float = SYMMETRY_TOL) -> CheckResult:
    """Symmetry-equivalent atoms (:func:`equivalent_atoms`) have equal charges and state weights (e)."""
    name = "equal charges on equivalent atoms"
    if structure.n_atoms > MAX_SYMMETRY_ATOMS:
        return _skipped(name, tol, f"{structure.n_atoms} atoms > {MAX_SYMMETRY_ATOMS}")
    classes = [c for c in equivalent_atoms(structure) if len(c) > 1]
    if not classes:
        return _result(name, 0.0, tol, "no two atoms are symmetry-equivalent in this geometry")
    q, w = as_numpy(pred.charges), as_numpy(pred.weights)
    spread = [(max(np.ptp(q[c]), float(np.ptp(w[c], axis=0).max())), c) for c in classes]
    worst, members = max(spread, key=lambda t: t[0])
    labels = ", ".join(atom_label(structure.symbols, a) for a in members[:6]) + (" ..." if len(members) > 6 else "")
    return _result(name, worst, tol, f"{len(classes)} classes of equivalent atoms; largest spread of a charge or "
                   f"weight within a class {worst:.1e} e ({labels}: q = "
                   + ", ".join(f"{q[a]:+.4f}" for a in members[:6]) + ")")


#: Half-width (angstrom) of the fine continuity scan around the current bond length, and its spacing.
CONTINUITY_HALF_WIDTH = 0.25


def bond_continuity(model: LSIPModel, structure: Structure, i: int, j: int,
                    half_width: float = CONTINUITY_HALF_WIDTH) -> PathContinuity:
    """Continuity along a fine scan of bond I-J: R0 +- ``half_width`` at the continuity spacing (0.005 Å).

    The largest energy and charge step between neighbouring points and the force against the energy's slope
    (:func:`lsip.scan.path.path_continuity`; docs/model.md "Continuity check"). Up to ``MAX_RESOLVE_ATOMS`` atoms.
    """
    if structure.n_atoms > MAX_RESOLVE_ATOMS:
        raise LSIPError(f"the fine bond scan re-solves ~{int(2 * half_width / FINE_STEP) + 1} geometries: limited "
                        f"to {MAX_RESOLVE_ATOMS} atoms, this structure has {structure.n_atoms}")
    r0 = float(np.linalg.norm(structure.positions[j] - structure.positions[i]))
    n = round(2 * half_width / FINE_STEP) + 1
    dist = np.linspace(max(r0 - half_width, 0.35), max(r0 - half_width, 0.35) + (n - 1) * FINE_STEP, n)
    frames, moved = scan_structures(structure, i, j, dist)
    return path_continuity(model, frames, dist, moved, max_extra=0)


def _rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _compare(name: str, ref: Prediction, new: Prediction, order: np.ndarray, what: str) -> CheckResult:
    """Energy and (reordered) charges and weights of ``new`` against ``ref``.

    ``value`` is dimensionless: the worst of |dE| / ENERGY_TOL and max(|dq|, |dw|) / CHARGE_TOL (tolerance 1).
    """
    d_e = abs(new.energy - ref.energy)
    d_q = float(np.abs(as_numpy(new.charges) - as_numpy(ref.charges)[order]).max())
    d_w = float(np.abs(as_numpy(new.weights) - as_numpy(ref.weights)[order]).max())
    value = max(d_e / ENERGY_TOL, max(d_q, d_w) / CHARGE_TOL)
    return _result(name, value, 1.0, f"{what}: |dE| = {d_e:.1e} Ha (tol {ENERGY_TOL:.0e}), max |dq| = {d_q:.1e} e, "
                   f"max |dw| = {d_w:.1e} (tol {CHARGE_TOL:.0e}); value = worst deviation / its tolerance")


def check_rigid_motion(model: LSIPModel, structure: Structure, pred: Prediction, seed: int = 7) -> CheckResult:
    """Energy, charges and weights unchanged by a random proper rotation plus a translation."""
    name = "rotation + translation invariance"
    if (skip := _too_large(name, 1.0, structure)) is not None:
        return skip
    if structure.cell is not None and any(structure.pbc):
        return _skipped(name, 1.0, "periodic cell (a rotation must rotate the cell too)")
    moved = structure.positions @ _rotation(seed).T + np.array([3.1, -2.4, 7.5])
    new = model.predict(structure.with_positions(moved), forces=False, raise_on_failure=False)
    return _compare(name, pred, new, np.arange(structure.n_atoms), "random rotation + (3.1, -2.4, 7.5) A")


def equal_atom_pair(structure: Structure) -> tuple[int, int] | None:
    """The first two atoms of the same element (indices), or None when all elements differ."""
    seen: dict[str, int] = {}
    for k, s in enumerate(structure.symbols):
        if s in seen:
            return seen[s], k
        seen[s] = k
    return None


def check_permutation(model: LSIPModel, structure: Structure, pred: Prediction) -> CheckResult:
    """Swapping the labels of two atoms of the same element permutes charges and weights, keeps the energy."""
    name = "permutation of equal atoms"
    if (skip := _too_large(name, 1.0, structure)) is not None:
        return skip
    pair = equal_atom_pair(structure)
    if pair is None:
        return _skipped(name, 1.0, "no two atoms of the same element")
    i, j = pair
    order = np.arange(structure.n_atoms)
    order[[i, j]] = order[[j, i]]
    new = model.predict(structure.with_positions(structure.positions[order]), forces=False, raise_on_failure=False)
    pair = f"{atom_label(structure.symbols, i)} <-> {atom_label(structure.symbols, j)}"
    return _compare(name, pred, new, order, f"atoms {pair} swapped")


def check_free_atoms(model: LSIPModel, structure: Structure, spacing: float = FREE_ATOM_SPACING) -> CheckResult:
    """Atoms placed ``spacing`` angstrom apart are neutral with E = 0 (the integer-charge dissociation limit).

    A charged structure is checked with Q = 0 (free atoms of an ion cannot all be neutral).
    """
    name = "free-atom limit"
    if (skip := _too_large(name, CHARGE_TOL, structure)) is not None:
        return skip
    line = np.zeros((structure.n_atoms, 3))
    line[:, 0] = spacing * np.arange(structure.n_atoms)
    free = Structure(structure.symbols, line, charge=0, name="free atoms")
    new = model.predict(free, forces=False, raise_on_failure=False)
    d_q = float(np.abs(as_numpy(new.charges)).max())
    note = " (checked at Q = 0)" if structure.charge else ""
    return _result(name, max(d_q, abs(new.energy)), CHARGE_TOL,
                   f"atoms {spacing:g} A apart{note}: max |q| = {d_q:.1e} e, E = {new.energy:.1e} Ha")


def fd_components(pred: Prediction, n_components: int = 4, seed: int = 0) -> list[tuple[int, int]]:
    """(atom, axis) pairs to test: the largest force components first, then seeded random ones, no repeats."""
    f = np.abs(as_numpy(pred.forces)).ravel()
    chosen = [int(k) for k in np.argsort(-f)[: max(1, n_components // 2)]]
    for k in np.random.default_rng(seed).permutation(f.size):
        if len(chosen) >= min(n_components, f.size):
            break
        if int(k) not in chosen:
            chosen.append(int(k))
    return [(k // 3, k % 3) for k in chosen]


def check_forces_fd(model: LSIPModel, structure: Structure, pred: Prediction, n_components: int = 4,
                    step: float = FD_STEP, tol: float = FD_TOL) -> CheckResult:
    """Forces against central finite differences of the energy, re-equalizing at every displaced geometry.

    F_fd = -(E(x + h) - E(x - h)) / 2h with h = ``step`` angstrom; each displaced solve is warm-started from the
    latent coordinates of ``structure`` and converged to the solver tolerance. 2 ``n_components`` solves.
    """
    name = "forces = finite differences"
    if (skip := _too_large(name, tol, structure)) is not None:
        return skip
    start = model.predict(structure, forces=False, raise_on_failure=False).latent
    worst, rows = 0.0, []
    for atom, axis in fd_components(pred, n_components):
        energies = []
        for sign in (1.0, -1.0):
            pos = structure.positions.copy()
            pos[atom, axis] += sign * step
            energies.append(model.predict(structure.with_positions(pos), guess=start, forces=False,
                                          raise_on_failure=False).energy)
        fd = -(energies[0] - energies[1]) / (2.0 * step * ANGSTROM_TO_BOHR)
        dev = abs(float(pred.forces[atom, axis]) - fd)
        worst = max(worst, dev)
        label = atom_label(structure.symbols, atom) + "xyz"[axis]
        rows.append(f"{label} {float(pred.forces[atom, axis]):+.5f}/{fd:+.5f}")
    return _result(name, worst, tol, f"max |F - F_fd| in Ha/bohr, h = {step:g} A; F/F_fd: " + ", ".join(rows))


#: Checks that re-solve the encoder, by name, in the order they are run; "forces" is the slow one.
RESOLVING_CHECKS: dict[str, Callable[[LSIPModel, Structure, Prediction], CheckResult]] = {
    "rigid": check_rigid_motion,
    "permutation": check_permutation,
    "free_atoms": lambda model, structure, pred: check_free_atoms(model, structure),
    "forces": check_forces_fd,
}


def run_diagnostics(model: LSIPModel, structure: Structure, pred: Prediction | None = None,
                    include_slow: bool = False) -> list[CheckResult]:
    """Every check on ``structure``; the finite-difference forces only when ``include_slow``.

    Parameters
    ----------
    model : the model whose prediction is checked (models hold no per-call state, so sharing it is safe).
    structure : the structure (angstrom) with its total charge.
    pred : the prediction to check (e.g. the app's cached one); computed with ``model`` when None.
    include_slow : also run the finite-difference forces (2 x 4 extra solves).
    """
    if pred is None:
        pred = model.predict(structure, raise_on_failure=False)
    results = [check_converged(pred, model.params.tol), check_term_sum(pred),
               check_charge_conservation(pred, structure.charge), check_weights(pred), check_symmetry(structure, pred)]
    for key, check in RESOLVING_CHECKS.items():
        if key == "forces" and not include_slow:
            continue
        results.append(check(model, structure, pred))
    return results


#: One sentence per check: why the invariant must hold (teaching mode shows it).
EXPLANATIONS: dict[str, str] = {
    "encoder converged": "The latent coordinates are a minimum of the energy only if the solver converged; "
                         "otherwise every number derived from them is unreliable.",
    "terms sum to total": "The energy is partitioned into named terms; nothing may be lost or double-counted.",
    "charge conservation": "Electrons move between atoms but are never created: the charges add up to Q.",
    "weights in [0, 1], sum to 1": "Ensemble weights are probabilities of the atomic states.",
    "rotation + translation invariance": "Physics does not depend on where the molecule is or how it is turned.",
    "equal charges on equivalent atoms": "Atoms that the geometry cannot tell apart (related by a symmetry) "
                                         "must get the same charge and weights: a unique minimum cannot prefer "
                                         "one of them.",
    "permutation of equal atoms": "Two atoms of the same element are indistinguishable: swapping their labels "
                                  "swaps their numbers and changes nothing else.",
    "free-atom limit": "Atoms far apart must be neutral with zero interaction energy; quadratic charge models "
                       "(QEq) fail this and leave fractional charges on separated fragments.",
    "forces = finite differences": "Forces are the negative slope of the energy; checking them against small "
                                   "displacements (with the charges re-equalized) catches gradient bugs.",
}

#: Model parameters the Diagnostics sliders may change.
LIVE_PARAMETERS: tuple[str, ...] = ("kappa", "embedding_scale", "channel_overlap_min", "electronic_temperature")
#: Values a live parameter may take when it comes from a link (model units: hartree for the temperature).
LIVE_BOUNDS: dict[str, tuple[float, float]] = {"kappa": (0.0, 10.0), "embedding_scale": (0.0, 10.0),
                                               "channel_overlap_min": (1e-8, 0.5),
                                               "electronic_temperature": (0.0, 0.05)}


def slider_value(chosen: float, base_value: float, lo: float, hi: float, step: float, scale: float = 1.0) -> float:
    """The parameter a live slider stands for: the set's own value while the slider sits on the grid point nearest
    to it (a slider's grid may not hold a calibrated value), else the slider's value (unscaled).

    >>> slider_value(0.65, 0.6354, 0.0, 3.0, 0.05), slider_value(0.70, 0.6354, 0.0, 3.0, 0.05)
    (0.6354, 0.7)
    """
    snapped = min(hi, max(lo, round(base_value * scale / step) * step))
    return float(base_value) if abs(chosen - snapped) < 1e-9 * max(1.0, abs(step)) else chosen / scale


def parameter_overrides(base: ModelParameters, values: dict[str, float]) -> dict[str, object]:
    """The fields of ``values`` that differ from ``base`` (relative 1e-12), plus a ``name`` that says so.

    Returns an empty dict when nothing differs, so ``base.with_(**overrides)`` is ``base`` itself; otherwise
    the name becomes e.g. ``"first-principles + kappa=1.5"`` so that every page shows that the parameters
    were changed live.

    Raises
    ------
    LSIPError
        for a field that is not one of :data:`LIVE_PARAMETERS`.
    """
    unknown = sorted(set(values) - set(LIVE_PARAMETERS))
    if unknown:
        raise LSIPError(f"not a live model parameter: {', '.join(unknown)} (allowed: {', '.join(LIVE_PARAMETERS)})")
    changed = {k: float(v) for k, v in values.items()
               if not np.isclose(float(v), float(getattr(base, k)), rtol=1e-12, atol=0.0)}
    if not changed:
        return {}
    label = ", ".join(f"{k}={v:g}" for k, v in changed.items())
    return {**changed, "name": f"{base.name} + {label}"}


def overrides_to_url(overrides: dict[str, object]) -> str:
    """Live overrides as URL text, ``kappa:0.7,embedding_scale:0.3`` (full float precision; empty when none).

    >>> overrides_to_url({"kappa": 0.7, "name": "calibrated + kappa=0.7"})
    'kappa:0.7'
    """
    return ",".join(f"{k}:{float(v)!r}" for k, v in overrides.items() if k in LIVE_PARAMETERS)


def overrides_from_url(text: str, base: ModelParameters) -> dict[str, object]:
    """The overrides of :func:`overrides_to_url` text on top of ``base``; anything that is not a live parameter with
    a finite value inside :data:`LIVE_BOUNDS` is ignored (a hand-edited link can never break the model).

    >>> overrides_from_url("kappa:0.7,bogus:1,embedding_scale:nan", ModelParameters())["kappa"]
    0.7
    """
    values: dict[str, float] = {}
    for item in str(text).split(",")[: len(LIVE_PARAMETERS)]:
        key, _, raw = item.partition(":")
        try:
            value = float(raw)
        except ValueError:
            continue
        if key in LIVE_BOUNDS and np.isfinite(value) and LIVE_BOUNDS[key][0] <= value <= LIVE_BOUNDS[key][1]:
            values[key] = value
    return parameter_overrides(base, values)
