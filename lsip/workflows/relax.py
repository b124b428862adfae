"""Geometry optimisation with the model: an ASE optimizer over :class:`lsip.calculator.LSIPCalculator`.

:func:`relax` moves the atoms downhill on the model's energy surface until the largest force is below ``fmax``
(eV/angstrom) or ``max_steps`` optimizer steps are spent, and keeps the whole trajectory in memory (positions,
energy in eV, largest force per step). Every step's charge equalization starts from the previous step's latent
coordinates (the calculator's warm start, ``warm_start=True``; docs/optimize.md). Whatever happens on the way - a
step whose equalization does not converge, atoms that collapse onto each other, the step or time limit - comes
back as ``RelaxResult.converged = False`` with ``reason`` saying why and the last geometry whose solve converged;
only invalid input (a bad setting, an unusable start structure) raises :class:`lsip.errors.LSIPError`.

Periodic structures relax their positions only, at a fixed cell (no cell filter). Molecules are not constrained.

Comparison helpers: :func:`kabsch_rmsd` (after the optimal rotation and translation, same atom order),
:func:`bond_table` (bonded pairs from covalent radii, lengths before / after / reference in angstrom) and
:func:`find_dft_reference`, which finds the DFT-relaxed geometry (PBE0/def2-SVP, the validation set of
``assets/validation/``; docs/validation.md) of the same molecule when there is one. The gallery's geometries are
experimental or force-field ones, not DFT minima (``lsip/gallery/__init__.py``), so the DFT reference of a gallery
molecule is the validation geometry it matches. What the page and ``lsip optimize`` show, and the limits, are in
docs/optimize.md.

>>> import numpy as np
>>> a = np.array([[0.0, 0.0, 0.0], [0.96, 0.0, 0.0], [-0.24, 0.93, 0.0]])
>>> turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
>>> round(kabsch_rmsd(a, a @ turn.T + 5.0), 12)
0.0
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from lsip.errors import ConvergenceError, LSIPError, StructureError, SystemTooLargeError
from lsip.io import MIN_DISTANCE, check_structure, structure_to_ase
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters, default_parameter_set
from lsip.structure import Structure, atom_label

#: Default convergence threshold: the largest force on any atom, eV/angstrom (ASE's default).
DEFAULT_FMAX: float = 0.05
#: Default largest number of optimizer steps.
DEFAULT_MAX_STEPS: int = 200
#: The ASE optimizers offered (``ase.optimize``).
OPTIMIZERS: tuple[str, ...] = ("BFGS", "FIRE")
#: Smallest ``fmax`` accepted, eV/angstrom (below it the model's own solver tolerance shows as noise).
MIN_FMAX: float = 1e-4
#: Most optimizer steps accepted in one call.
MAX_STEPS_LIMIT: int = 10_000
#: BFGS keeps a dense (3n x 3n) Hessian and diagonalises it every step: refused above this many atoms (use FIRE).
MAX_BFGS_ATOMS: int = 1000
#: Most atoms the app relaxes (a BFGS step of 300 atoms takes ~0.1 s besides the model; docs/optimize.md).
APP_MAX_ATOMS: int = 300
#: Two atoms are bonded when closer than this factor times the sum of their covalent radii (``ase.data``).
BOND_SCALE: float = 1.2
#: A validation geometry is the DFT reference of a structure when, after the best atom matching, rotation and
#: translation, it lies within this RMSD (angstrom) of the start structure.
REFERENCE_MATCH_RMSD: float = 0.3
#: The level of theory of the validation geometries (``assets/validation/relaxation.json``).
REFERENCE_LEVEL: str = "PBE0/def2-SVP"

Positions = Structure | np.ndarray


@dataclass(frozen=True)
class RelaxStep:
    """One point of the trajectory: optimizer step ``step`` (0 = the start structure).

    ``positions`` angstrom (n, 3), ``energy_eV`` the model energy (relative to free neutral atoms, eV),
    ``fmax_eV_A`` the largest |F| on any atom (eV/angstrom), ``elapsed_s`` since the relaxation began.
    """

    step: int
    energy_eV: float
    fmax_eV_A: float
    elapsed_s: float
    positions: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class DFTReference:
    """A DFT-relaxed geometry of the same molecule, atoms in the order of the start structure.

    ``structure`` (angstrom, reordered), ``name`` (validation entry), ``level`` (level of theory),
    ``reordered`` (the file lists the atoms in another order), ``start_rmsd_A`` (start vs reference, Kabsch).
    """

    structure: Structure
    name: str
    level: str
    reordered: bool
    start_rmsd_A: float

    @property
    def label(self) -> str:
        """One line naming the reference."""
        return f"validation geometry {self.name!r} ({self.level}-relaxed, assets/validation/)"


#: Called once per trajectory point, as soon as its energy and forces are known.
ProgressCallback = Callable[[RelaxStep], None]


@dataclass
class RelaxResult:
    """What :func:`relax` returns (lengths angstrom, energies eV, forces eV/angstrom).

    Attributes
    ----------
    start, final : the start structure and the last geometry whose charge equalization converged (the relaxed
        structure when ``converged``).
    converged : the largest force fell below ``fmax``.
    reason : why not (step limit, a step whose solve failed, collapsing atoms, time limit); "" when converged.
    trajectory : every point, step 0 (the start) first.
    start_forces, final_forces : (n, 3) forces at ``start`` and ``final`` (None when the start failed).
    fmax, max_steps, optimizer, params_name : the settings.
    elapsed_s : wall time of the whole relaxation.
    reference : the DFT-relaxed geometry of the same molecule, or None.
    notes : facts the reader should know (periodic structures: positions only, the cell kept).
    """

    start: Structure
    final: Structure
    converged: bool
    reason: str
    trajectory: list[RelaxStep]
    start_forces: np.ndarray | None
    final_forces: np.ndarray | None
    fmax: float
    max_steps: int
    optimizer: str
    params_name: str
    elapsed_s: float
    reference: DFTReference | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_steps(self) -> int:
        """Optimizer steps taken (trajectory points minus the start)."""
        return max(len(self.trajectory) - 1, 0)

    @property
    def periodic(self) -> bool:
        """Whether the structure has a periodic direction (then RMSDs are taken without rotation)."""
        return any(self.start.pbc)

    @property
    def energies_eV(self) -> np.ndarray:
        """Model energy per trajectory point, eV."""
        return np.array([s.energy_eV for s in self.trajectory], dtype=np.float64)

    @property
    def fmax_eV_A(self) -> np.ndarray:
        """Largest force per trajectory point, eV/angstrom."""
        return np.array([s.fmax_eV_A for s in self.trajectory], dtype=np.float64)

    @property
    def energy_change_eV(self) -> float:
        """Final minus start energy, eV (NaN without a trajectory)."""
        return float(self.trajectory[-1].energy_eV - self.trajectory[0].energy_eV) if self.trajectory else math.nan

    @property
    def rmsd_to_start_A(self) -> float:
        """RMSD of the final geometry from the start (Kabsch; periodic: translation only), angstrom."""
        return kabsch_rmsd(self.final, self.start, rotate=not self.periodic)

    @property
    def rmsd_to_reference_A(self) -> float | None:
        """RMSD of the final geometry from the DFT reference (Kabsch), angstrom; None without one."""
        return None if self.reference is None else kabsch_rmsd(self.final, self.reference.structure)

    def bonds(self) -> list[dict[str, Any]]:
        """:func:`bond_table` of start, final and (when there is one) the reference."""
        ref = self.reference.structure if self.reference is not None else None
        return bond_table(self.start, self.final, ref)


# ----------------------------------------------------------------------------------------------- relaxation


def _optimizer_class(name: str) -> type:
    from ase.optimize import BFGS, FIRE

    return {"BFGS": BFGS, "FIRE": FIRE}[name]


def check_settings(structure: Structure, fmax: float, max_steps: int, optimizer: str) -> None:
    """Raise :class:`LSIPError` for settings :func:`relax` refuses (docs/optimize.md)."""
    if optimizer not in OPTIMIZERS:
        raise LSIPError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not (isinstance(fmax, int | float) and math.isfinite(fmax) and fmax >= MIN_FMAX):
        raise LSIPError(f"fmax must be a number of at least {MIN_FMAX:g} eV/Å, got {fmax!r}")
    if isinstance(max_steps, bool) or not isinstance(max_steps, int | np.integer) or \
            not 0 <= max_steps <= MAX_STEPS_LIMIT:
        raise LSIPError(f"the step limit must be an integer from 0 to {MAX_STEPS_LIMIT}, got {max_steps!r}")
    if optimizer == "BFGS" and structure.n_atoms > MAX_BFGS_ATOMS:
        raise SystemTooLargeError(f"BFGS keeps a dense Hessian: {structure.n_atoms} atoms is more than its limit of "
                                  f"{MAX_BFGS_ATOMS}; use FIRE")


def relax(structure: Structure, params: ModelParameters | str | None = None, *, model: LSIPModel | None = None,
          fmax: float = DEFAULT_FMAX, max_steps: int = DEFAULT_MAX_STEPS, optimizer: str = "BFGS",
          progress: ProgressCallback | None = None, device: str = "auto", time_limit_s: float | None = None,
          reference: Structure | str | None = "auto") -> RelaxResult:
    """Relax ``structure`` on the model's energy surface with an ASE optimizer (docs/optimize.md).

    Parameters
    ----------
    structure : the start (angstrom); its total charge and spin are kept.
    params : parameter set (name or object; default :func:`lsip.model.params.default_parameter_set`); ignored
        when ``model`` is given.
    model : a ready :class:`LSIPModel` (the app passes its cached one).
    fmax : convergence threshold on the largest force, eV/angstrom.
    max_steps : largest number of optimizer steps (0: evaluate the start only).
    optimizer : ``"BFGS"`` (dense Hessian, at most :data:`MAX_BFGS_ATOMS` atoms) or ``"FIRE"``.
    progress : called with each :class:`RelaxStep` as soon as it is known (step 0 is the start).
    device : "auto", "cpu" or "cuda" when no ``model`` is given.
    time_limit_s : stop (not converged) once this much wall time has passed.
    reference : the DFT-relaxed geometry to compare with: ``"auto"`` (:func:`find_dft_reference`), a
        :class:`Structure` with the same atoms in the same order, or None.

    Returns
    -------
    RelaxResult; ``converged`` is False with a ``reason`` when the relaxation stopped early for any reason.

    Raises
    ------
    LSIPError
        for invalid settings or a start structure the model refuses (unsupported element, overlapping atoms).
    """
    check_settings(structure, fmax, max_steps, optimizer)
    check_structure(structure)
    ref = _resolve_reference(structure, reference)
    if model is None:
        model = LSIPModel(params=params or default_parameter_set(), device=device)
    model.library.check_symbols(structure.symbols)
    from lsip.calculator import LSIPCalculator

    atoms = structure_to_ase(structure)
    atoms.calc = LSIPCalculator(model=model, charge=int(structure.charge), warm_start=True)
    opt = _optimizer_class(optimizer)(atoms, logfile=None)
    notes = ["periodic structure: positions relaxed at the fixed cell (the cell is not optimised)"] \
        if any(structure.pbc) else []
    t0 = time.perf_counter()
    trajectory, forces, converged, reason = _run(opt, atoms, structure, fmax, max_steps, time_limit_s, progress)
    elapsed = time.perf_counter() - t0
    final = _relaxed_structure(structure, trajectory[-1].positions, model.params.name, optimizer, fmax) \
        if trajectory else structure
    return RelaxResult(start=structure, final=final, converged=converged and not reason, reason=reason,
                       trajectory=trajectory, start_forces=forces[0] if forces else None,
                       final_forces=forces[-1] if forces else None, fmax=float(fmax), max_steps=int(max_steps),
                       optimizer=optimizer, params_name=model.params.name, elapsed_s=elapsed, reference=ref,
                       notes=notes)


def _run(opt: Any, atoms: Any, structure: Structure, fmax: float, max_steps: int, time_limit_s: float | None,
         progress: ProgressCallback | None) -> tuple[list[RelaxStep], list[np.ndarray], bool, str]:
    """Step the ASE optimizer until converged, collapsed, out of steps or time, or the model fails: the points and
    their forces, whether it converged, and why it stopped otherwise ("" when converged)."""
    trajectory: list[RelaxStep] = []
    forces: list[np.ndarray] = []
    converged, reason = False, ""
    t0 = time.perf_counter()
    try:
        for done in opt.irun(fmax=float(fmax), steps=int(max_steps)):
            energy = float(atoms.get_potential_energy())
            f = np.array(atoms.get_forces(), dtype=np.float64)
            point = RelaxStep(len(trajectory), energy, _fmax(f), time.perf_counter() - t0,
                              np.array(atoms.positions, dtype=np.float64))
            trajectory.append(point)
            forces.append(f)
            if progress is not None:
                progress(point)
            reason = _collapse_reason(structure, point)
            if reason:
                break
            if done:
                converged = True
                break
            if time_limit_s is not None and point.elapsed_s > time_limit_s:
                reason = (f"stopped at the time limit of {time_limit_s:g} s after {point.step} steps "
                          f"(largest force {point.fmax_eV_A:.3g} eV/Å)")
                break
        else:
            last = trajectory[-1]
            reason = (f"not converged within {max_steps} steps: the largest force is still {last.fmax_eV_A:.3g} "
                      f"eV/Å (threshold {fmax:g} eV/Å)")
    except ConvergenceError as exc:
        reason = (f"the model's charge equalization did not converge at step {len(trajectory)} ({exc}); "
                  + ("the start structure has no model solution" if not trajectory else
                     f"the geometry of step {len(trajectory) - 1}, the last one solved, is kept"))
    except StructureError as exc:  # a step made the geometry unusable (beyond the coordinate or span limits)
        reason = f"step {len(trajectory)} produced an unusable geometry ({exc}); the previous geometry is kept"
    return trajectory, forces, converged, reason


def _relaxed_structure(start: Structure, positions: np.ndarray, params_name: str, optimizer: str,
                       fmax: float) -> Structure:
    """``start`` at ``positions``; its description of where the geometry came from is replaced."""
    info = {k: v for k, v in start.info.items() if k not in ("description", "source")}
    info["source"] = f"relaxed with the LSIP model ({params_name}, {optimizer}, fmax {fmax:g} eV/A)"
    return Structure(start.symbols, positions, start.charge, start.spin, start.cell, start.pbc, start.name, info)


def _fmax(forces: np.ndarray) -> float:
    return float(np.linalg.norm(forces, axis=1).max()) if len(forces) else 0.0


def _collapse_reason(structure: Structure, point: RelaxStep) -> str:
    """A reason when the last geometry has atoms closer than :data:`lsip.io.MIN_DISTANCE`, else ""."""
    try:
        check_structure(structure.with_positions(point.positions), min_distance=MIN_DISTANCE)
    except StructureError as exc:
        return (f"the model pulled atoms onto each other by step {point.step}: {exc}. The parameter set's energy "
                "keeps falling as these atoms approach (no short-range wall; docs/optimize.md)")
    return ""


# ------------------------------------------------------------------------------------------------- comparison


def _positions(x: Positions) -> np.ndarray:
    arr = np.asarray(x.positions if isinstance(x, Structure) else x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise LSIPError(f"positions must have shape (n, 3), got {arr.shape}")
    return arr


def kabsch_rotation(mobile: Positions, target: Positions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The proper rotation that best lays ``mobile`` onto ``target`` (same atom order), with both centroids.

    Returns ``(R, c_mobile, c_target)`` such that ``(mobile - c_mobile) @ R.T + c_target`` is the aligned copy.
    """
    a, b = _positions(mobile), _positions(target)
    if a.shape != b.shape:
        raise LSIPError(f"cannot compare {len(a)} atoms with {len(b)}")
    ca, cb = a.mean(axis=0), b.mean(axis=0)
    h = (a - ca).T @ (b - cb)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T)) or 1.0
    rot = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rot, ca, cb


def kabsch_align(mobile: Positions, target: Positions) -> np.ndarray:
    """Positions of ``mobile`` moved by the best rotation and translation onto ``target`` (angstrom)."""
    rot, ca, cb = kabsch_rotation(mobile, target)
    return (_positions(mobile) - ca) @ rot.T + cb


def kabsch_rmsd(a: Positions, b: Positions, rotate: bool = True) -> float:
    """Root-mean-square distance (angstrom) between two geometries of the same atoms in the same order, after the
    translation and (with ``rotate``) the proper rotation that minimise it (Kabsch). 0.0 for no atoms."""
    pa, pb = _positions(a), _positions(b)
    if pa.shape != pb.shape:
        raise LSIPError(f"cannot compare {len(pa)} atoms with {len(pb)}")
    if not len(pa):
        return 0.0
    moved = kabsch_align(pa, pb) if rotate else pa - pa.mean(axis=0) + pb.mean(axis=0)
    return float(np.sqrt(np.mean(np.sum((moved - pb) ** 2, axis=1))))


def _bonded_pairs(structure: Structure, scale: float) -> dict[tuple[int, int, tuple[int, int, int]], None]:
    """(i, j, cell shift) of every pair closer than ``scale`` x the sum of covalent radii, i < j (O(n))."""
    from ase.data import covalent_radii
    from ase.neighborlist import neighbor_list

    atoms = structure_to_ase(structure)
    cutoffs = [scale * float(covalent_radii[z]) for z in atoms.numbers]
    i, j, shift = neighbor_list("ijS", atoms, cutoffs)
    return {(int(a), int(b), tuple(int(s) for s in sh)): None for a, b, sh in zip(i, j, shift) if a < b}


def _pair_length(structure: Structure, i: int, j: int, shift: tuple[int, int, int]) -> float:
    d = structure.positions[j] - structure.positions[i]
    if any(shift) and structure.cell is not None:
        d = d + np.asarray(shift, dtype=np.float64) @ structure.cell
    return float(np.linalg.norm(d))


def bond_table(before: Structure, after: Structure, reference: Structure | None = None,
               scale: float = BOND_SCALE) -> list[dict[str, Any]]:
    """Bonded pairs with their lengths in angstrom, one dict per bond, sorted by atom indices.

    A pair is bonded when closer than ``scale`` x the sum of the covalent radii (``ase.data.covalent_radii``) in
    any of the geometries (periodic: minimum image in the cell of ``before``). Keys: ``bond`` (``"O0-H1"``),
    ``i``, ``j``, ``start_A``, ``relaxed_A``, ``change_A`` (relaxed - start), ``status`` ("" / "formed" /
    "broken" when only the relaxed / only the start geometry has it), and with a ``reference``:
    ``reference_A`` and ``relaxed_minus_reference_A``. All three structures list the same atoms in one order.
    """
    structures = [before, after] + ([reference] if reference is not None else [])
    for other in structures[1:]:
        if other.symbols != before.symbols:
            raise LSIPError("bond_table needs the same atoms in the same order in every structure")
    found = [_bonded_pairs(s, scale) for s in structures]
    pairs = sorted({p for f in found for p in f})
    rows = []
    for i, j, shift in pairs:
        start, relaxed = _pair_length(before, i, j, shift), _pair_length(after, i, j, shift)
        in_start, in_after = (i, j, shift) in found[0], (i, j, shift) in found[1]
        row: dict[str, Any] = {
            "bond": f"{atom_label(before.symbols, i)}-{atom_label(before.symbols, j)}", "i": i, "j": j,
            "start_A": start, "relaxed_A": relaxed, "change_A": relaxed - start,
            "status": "" if in_start == in_after else ("formed" if in_after else "broken"),
        }
        if reference is not None:
            ref = _pair_length(reference, i, j, shift)
            row.update(reference_A=ref, relaxed_minus_reference_A=relaxed - ref)
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------- DFT references


@lru_cache(maxsize=1)
def _validation_set() -> tuple[Structure, ...]:
    from lsip.validation.molecules import load_set

    return tuple(load_set())


def match_atoms(structure: Structure, other: Structure) -> tuple[np.ndarray, float] | None:
    """The atom order of ``other`` that best matches ``structure`` (same elements), with its Kabsch RMSD.

    Returns ``(perm, rmsd)`` with ``other.positions[perm]`` atom by atom comparable to ``structure.positions``,
    or None when the element counts differ. Searches from the principal-axes frame of both molecules turned by
    the 24 rotations of a cube (and from the structures as given), assigning atoms of each element by the
    Hungarian method and refining with Kabsch; small molecules only (O(24 n^3)).
    """
    if sorted(structure.symbols) != sorted(other.symbols):
        return None
    n = structure.n_atoms
    if other.symbols == structure.symbols and kabsch_rmsd(structure, other) < 1e-6:
        return np.arange(n), 0.0
    from scipy.optimize import linear_sum_assignment

    a = structure.positions - structure.positions.mean(axis=0)
    b = other.positions - other.positions.mean(axis=0)
    sym_a, sym_b = np.array(structure.symbols), np.array(other.symbols)
    groups = [(np.nonzero(sym_a == s)[0], np.nonzero(sym_b == s)[0]) for s in sorted(set(structure.symbols))]

    def assign(rot: np.ndarray) -> np.ndarray:
        moved = b @ rot.T
        perm = np.empty(n, dtype=int)
        for ia, ib in groups:
            cost = np.linalg.norm(a[ia][:, None] - moved[ib][None], axis=-1)
            rows, cols = linear_sum_assignment(cost)
            perm[ia[rows]] = ib[cols]
        return perm

    best: tuple[np.ndarray, float] | None = None
    if other.symbols == structure.symbols:  # the given order wins unless another one is clearly better
        best = (np.arange(n), kabsch_rmsd(a, b) - 1e-4)
    for rot in _start_rotations(a, b):
        perm = assign(rot)
        for _ in range(4):
            rot, _, _ = kabsch_rotation(b[perm], a)
            new = assign(rot)
            if np.array_equal(new, perm):
                break
            perm = new
        rmsd = kabsch_rmsd(a, b[perm])
        if best is None or rmsd < best[1]:
            best = (perm, rmsd)
    return None if best is None else (best[0], kabsch_rmsd(a, b[best[0]]))


def _principal_axes(x: np.ndarray) -> np.ndarray:
    """Rows: principal axes of a centred point set (largest spread first), a right-handed frame."""
    _, vecs = np.linalg.eigh(x.T @ x)
    axes = vecs[:, ::-1].T
    if np.linalg.det(axes) < 0:
        axes[2] *= -1.0
    return axes


def _cube_rotations() -> list[np.ndarray]:
    """The 24 proper rotations that map the coordinate axes onto each other."""
    import itertools

    out = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            m = np.zeros((3, 3))
            m[range(3), perm] = signs
            if np.linalg.det(m) > 0:
                out.append(m)
    return out


def _start_rotations(a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """Rotations of ``b`` to try as starting guesses: identity, and principal frames matched up to the cube group."""
    fa, fb = _principal_axes(a), _principal_axes(b)
    return [np.eye(3)] + [fa.T @ c @ fb for c in _cube_rotations()]


def find_dft_reference(structure: Structure, max_rmsd: float = REFERENCE_MATCH_RMSD) -> DFTReference | None:
    """The DFT-relaxed geometry of the same molecule, or None (docs/optimize.md).

    Candidates are the validation geometries (``assets/validation/``, relaxed at :data:`REFERENCE_LEVEL`) with the
    same elements and total charge; the one closest to ``structure`` after :func:`match_atoms` is the reference if
    it lies within ``max_rmsd`` angstrom (the same molecule and conformer near its DFT minimum). Periodic
    structures and structures over 40 atoms have none.
    """
    if any(structure.pbc) or structure.n_atoms > 40:
        return None
    best: DFTReference | None = None
    for cand in _validation_set():
        if cand.charge != structure.charge or cand.n_atoms != structure.n_atoms:
            continue
        match = match_atoms(structure, cand)
        if match is None or match[1] > max_rmsd or (best is not None and match[1] >= best.start_rmsd_A):
            continue
        perm, rmsd = match
        ref = Structure(structure.symbols, cand.positions[perm], cand.charge, cand.spin, name=cand.name,
                        info={"level": REFERENCE_LEVEL})
        best = DFTReference(ref, cand.name, REFERENCE_LEVEL, not np.array_equal(perm, np.arange(len(perm))), rmsd)
    return best


def _resolve_reference(structure: Structure, reference: Structure | str | None) -> DFTReference | None:
    if reference is None:
        return None
    if isinstance(reference, str):
        if reference != "auto":
            raise LSIPError(f"reference must be 'auto', a Structure or None, got {reference!r}")
        return find_dft_reference(structure)
    if reference.symbols != structure.symbols:
        raise LSIPError("the reference structure must list the same atoms in the same order as the start")
    rmsd = kabsch_rmsd(structure, reference, rotate=not any(structure.pbc))
    return DFTReference(reference, reference.name or "given", "reference", False, rmsd)


# ----------------------------------------------------------------------------------------------- reporting


def xyz_text(structure: Structure, comment: str = "") -> str:
    """Plain XYZ of ``structure`` (angstrom, 8 decimals) with ``charge=`` and ``spin=`` on the comment line, which
    :func:`lsip.io.parse_xyz_text` reads back (no cell: periodic structures need extended XYZ)."""
    head = f"charge={int(structure.charge)}" + (f" spin={int(structure.spin)}" if structure.spin is not None else "")
    lines = [str(structure.n_atoms), f"{head} {comment}".strip()]
    lines += [f"{s:<2} {x:16.8f} {y:16.8f} {z:16.8f}" for s, (x, y, z) in zip(structure.symbols, structure.positions)]
    return "\n".join(lines) + "\n"


def extxyz_info(result: RelaxResult) -> dict[str, Any]:
    """Header entries of the relaxed structure's extended XYZ: how it was made and whether it converged."""
    return {"lsip_relaxed": bool(result.converged), "lsip_params": result.params_name,
            "lsip_optimizer": result.optimizer, "lsip_fmax_eV_A": result.fmax, "lsip_steps": result.n_steps,
            "energy_eV": float(result.trajectory[-1].energy_eV) if result.trajectory else math.nan}


def relaxed_extxyz(result: RelaxResult) -> str:
    """Extended XYZ text of the final geometry with its forces (eV/angstrom) and :func:`extxyz_info`."""
    from lsip.io import extxyz_text

    arrays = {"forces": result.final_forces} if result.final_forces is not None else None
    info = {k: v for k, v in extxyz_info(result).items() if not (isinstance(v, float) and not math.isfinite(v))}
    return extxyz_text(result.final, arrays, info)


def result_to_dict(result: RelaxResult) -> dict[str, Any]:
    """JSON-ready summary (the ``lsip optimize --json`` schema; lengths angstrom, energies eV, forces eV/angstrom)."""
    ref = result.reference
    return {
        "name": result.start.name or result.start.formula, "formula": result.start.formula,
        "n_atoms": result.start.n_atoms, "total_charge": int(result.start.charge),
        "params": result.params_name, "optimizer": result.optimizer, "fmax_threshold_eV_A": result.fmax,
        "max_steps": result.max_steps, "converged": bool(result.converged), "reason": result.reason,
        "n_steps": result.n_steps, "elapsed_s": result.elapsed_s,
        "energy_start_eV": result.trajectory[0].energy_eV if result.trajectory else None,
        "energy_final_eV": result.trajectory[-1].energy_eV if result.trajectory else None,
        "fmax_final_eV_A": result.trajectory[-1].fmax_eV_A if result.trajectory else None,
        "trajectory": [{"step": s.step, "energy_eV": s.energy_eV, "fmax_eV_A": s.fmax_eV_A,
                        "elapsed_s": s.elapsed_s} for s in result.trajectory],
        "rmsd_to_start_A": result.rmsd_to_start_A,
        "reference": None if ref is None else {
            "name": ref.name, "level": ref.level, "reordered": ref.reordered, "rmsd_start_A": ref.start_rmsd_A,
            "rmsd_relaxed_A": result.rmsd_to_reference_A},
        "bonds": result.bonds(),
        "symbols": list(result.final.symbols),
        "positions_A": result.final.positions.tolist(),
        "notes": list(result.notes),
    }
