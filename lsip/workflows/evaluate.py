"""Evaluate the model, and the EEQ and QEq baselines, on a data set with reference properties (issue 14).

A data set is a multi-frame extended XYZ file as ASE writes it (docs/evaluate.md): per frame a reference energy
(eV), forces (eV/angstrom), per-atom charges (e) and a dipole (e angstrom), each optional. They are read where
ASE puts them: the calculator results of a frame (``energy``, ``forces``, ``charges``, ``dipole``; ASE's reader
turns the header entries ``energy=`` / ``dipole=`` and the columns ``forces`` / ``charge`` into a
``SinglePointCalculator``), else ``atoms.info`` / ``atoms.arrays`` under the same names (so other names such as
``REF_energy`` can be chosen with :class:`ReferenceKeys`); charges fall back to the ``initial_charges`` column.
The bytes go through the safe readers of :mod:`lsip.io` (explicit format, size and count limits checked before
ASE sees the text, nothing unpickled; docs/limits.md), and every frame through the checks every structure gets.

Energies (docs/evaluate.md, "Energies"): the model's energy is relative to free neutral atoms; a reference
energy is usually a total energy with another zero. The two are compared after a per-element offset
E_ref ~ E_model + sum_el n_el c_el fitted by least squares over the frames (:func:`fit_energy_offsets`); with too
few frames for that fit, only relative energies E - mean over the frames of one composition are compared.

Each frame is evaluated on its own; one that cannot be read, holds an element outside the latent library or
does not converge is kept as a failed frame with its message (never dropped). Units at this boundary: eV,
angstrom, e, debye, converted once through :func:`lsip.results.user_units` and :mod:`lsip.units`.

>>> fit = fit_energy_offsets([("H", "H"), ("H", "H", "O"), ("H", "O")] * 2, [0.0, 1.0, 2.0] * 2,
...                          [-10.0, -4.0, 2.0] * 2)
>>> fit.method, {k: round(v, 6) for k, v in fit.offsets_eV.items()}
('per-element offsets', {'H': -5.0, 'O': 5.0})
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from lsip.errors import LSIPError, StructureError, SystemTooLargeError
from lsip.io import (
    DEFAULT_MAX_ATOMS,
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_FRAMES,
    FORMATS,
    MIN_DISTANCE,
    Source,
    checked_structure,
    read_frames,
)
from lsip.model.baselines import baseline
from lsip.model.model import LSIPModel
from lsip.results import user_units
from lsip.structure import Structure
from lsip.units import BOHR_TO_ANGSTROM, E_ANGSTROM_TO_DEBYE

#: Formats that carry reference properties (ASE's extended XYZ and ulm trajectories).
EVALUATION_FORMATS: tuple[str, ...] = ("extxyz", "traj")
#: Limits of one evaluation in the app (frames, and atoms summed over the frames); the CLI's defaults too,
#: raised there with ``--max-frames`` / ``--max-atoms`` (docs/evaluate.md).
APP_MAX_FRAMES: int = 500
APP_MAX_TOTAL_ATOMS: int = 25_000
#: The most the CLI flags may ask for: the frame limit of every structure file (lsip.io), 1,000,000 atoms.
MAX_FRAMES: int = DEFAULT_MAX_FRAMES
MAX_TOTAL_ATOMS: int = 1_000_000
#: Baselines the evaluation can run beside the model (charges and dipoles; lsip.model.baselines).
BASELINES: tuple[str, ...] = ("eeq", "qeq")
BASELINE_LABELS: dict[str, str] = {"eeq": "EEQ", "qeq": "QEq"}
#: What the built-in example (``EVALUATE_EXAMPLE``, written by ``scripts/make_evaluate_example.py``) holds.
EXAMPLE_DESCRIPTION: str = ("18 frames computed here at PBE0/def2-SVP (the library's level): 14 relaxed molecules, "
                            "covalent and ionic, and a water O-H stretch from 0.75 to 1.35 times its length, with "
                            "total energies, analytic forces, Hirshfeld-I charges and dipoles.")
#: The per-element energy offset fit needs at least this many frames beyond the rank of the composition matrix
#: (degrees of freedom left to measure an error); with fewer, energies are compared as relative energies.
MIN_FIT_DOF: int = 2
#: Per-frame error columns: key -> (label, unit) (the map's colour choices, the tables).
ERROR_COLUMNS: dict[str, tuple[str, str]] = {
    "energy_error_per_atom_eV": ("energy error per atom", "eV/atom"),
    "force_rmse_eV_A": ("force RMSE", "eV/Å"),
    "charge_mae_e": ("charge MAE", "e"),
    "dipole_error_D": ("dipole error |Δμ|", "D"),
}
#: Distance histogram of the map's per-frame descriptor: bin edges, angstrom.
MAP_BIN_EDGES: np.ndarray = np.linspace(0.5, 6.0, 23)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReferenceKeys:
    """Names of the reference properties in a frame (calculator results first, then ``info`` / ``arrays``)."""

    energy: str = "energy"
    forces: str = "forces"
    charges: str = "charges"
    dipole: str = "dipole"


@dataclass(frozen=True)
class Reference:
    """Reference properties of one frame (None where absent): energy eV, forces (n, 3) eV/angstrom, charges (n,)
    e, dipole (3,) e angstrom."""

    energy_eV: float | None = None
    forces_eV_A: np.ndarray | None = None
    charges_e: np.ndarray | None = None
    dipole_eA: np.ndarray | None = None

    @property
    def quantities(self) -> tuple[str, ...]:
        """Names of the properties present (``energy``, ``forces``, ``charges``, ``dipole``)."""
        values = {"energy": self.energy_eV, "forces": self.forces_eV_A, "charges": self.charges_e,
                  "dipole": self.dipole_eA}
        return tuple(k for k, v in values.items() if v is not None)


@dataclass(frozen=True)
class DataSetFrame:
    """One frame of a data set: its number (from 1), label, the checked structure (None when it could not be
    used, with ``error`` saying why), and its reference properties."""

    frame: int
    formula: str
    n_atoms: int
    structure: Structure | None
    reference: Reference
    error: str = ""


@dataclass(frozen=True)
class Computed:
    """One model's numbers on a frame (user units; energy and forces None for the charge-only baselines)."""

    charges_e: np.ndarray
    dipole_eA: np.ndarray
    energy_eV: float | None = None
    forces_eV_A: np.ndarray | None = None


@dataclass
class FrameResult:
    """A frame after evaluation: ``status`` "ok" or "failed" (``message`` says why), the model's and the
    baselines' numbers, and the per-frame errors (:data:`ERROR_COLUMNS` and more; None where not compared)."""

    frame: int
    formula: str
    n_atoms: int
    structure: Structure | None
    reference: Reference
    status: str
    message: str = ""
    model: Computed | None = None
    baselines: dict[str, Computed] = field(default_factory=dict)
    baseline_errors: dict[str, str] = field(default_factory=dict)
    errors: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the model ran and converged on this frame."""
        return self.status == "ok"


@dataclass(frozen=True)
class EnergyFit:
    """How model and reference energies were put on one zero (docs/evaluate.md, "Energies").

    Attributes
    ----------
    method : "per-element offsets", "relative per composition" or "none".
    message : one sentence for users saying what was compared.
    elements : elements of the fitted frames; offsets_eV : element -> c_el (eV) when the fit determines every
        one (rank == number of elements), else None (only their sums over a composition are determined).
    rank, n_frames : rank of the composition matrix and number of frames with a reference energy.
    raw_mae_eV : mean |E_ref - E_model| before any offset (eV per frame; a measure of the zero's difference).
    mae_eV, rmse_eV, mae_per_atom_eV : errors after alignment (eV, eV, eV/atom), None when not compared.
    model_eV, reference_eV : per frame (all frames of the evaluation), the compared energies on the model's zero:
        E_model and E_ref - sum n_el c_el (or both minus their composition's mean); NaN where not compared.
    """

    method: str
    message: str
    elements: tuple[str, ...]
    offsets_eV: dict[str, float] | None
    rank: int
    n_frames: int
    raw_mae_eV: float | None
    mae_eV: float | None
    rmse_eV: float | None
    mae_per_atom_eV: float | None
    model_eV: np.ndarray
    reference_eV: np.ndarray


@dataclass
class Evaluation:
    """The result of :func:`evaluate_frames`: per-frame results, the energy alignment, the summary rows, and
    the 2D map of the frames (:func:`structure_map`; NaN rows for frames without a structure)."""

    source: str
    params: str
    baselines: tuple[str, ...]
    frames: list[FrameResult]
    energy_fit: EnergyFit
    summary: list[dict]
    map_xy: np.ndarray
    map_variance: tuple[float, float]
    time_s: float

    @property
    def n_failed(self) -> int:
        """Number of frames the model could not evaluate."""
        return sum(not f.ok for f in self.frames)

    def frame(self, number: int) -> FrameResult:
        """The result of frame ``number`` (counting from 1)."""
        return self.frames[number - 1]


# ------------------------------------------------------------------------------------------------------ reading


def read_dataset(source: Source, fmt: str = "extxyz", *, name: str | None = None,
                 keys: ReferenceKeys | None = None, max_frames: int = APP_MAX_FRAMES,
                 max_total_atoms: int = APP_MAX_TOTAL_ATOMS, max_bytes: int = DEFAULT_MAX_BYTES,
                 min_distance: float = MIN_DISTANCE) -> list[DataSetFrame]:
    """Frames of a data set with their reference properties.

    Parameters
    ----------
    source : a path, raw bytes (an upload) or a binary file object, as for :func:`lsip.io.read_structures`.
    fmt : ``extxyz`` (default) or ``traj`` (:data:`EVALUATION_FORMATS`).
    name : label of the frames' structures (default: the file's stem); frame k is named "<name> frame k".
    keys : where the reference properties are (:class:`ReferenceKeys`).
    max_frames, max_total_atoms : limits of one evaluation (:data:`APP_MAX_FRAMES`, :data:`APP_MAX_TOTAL_ATOMS`).
    max_bytes, min_distance : file size limit (bytes) and overlap threshold (angstrom) of :mod:`lsip.io`.

    Returns
    -------
    list of :class:`DataSetFrame`, one per frame in file order. A frame that is not a usable structure (element
    beyond krypton, overlapping atoms, impossible charge) comes back with ``structure=None`` and its message.
    Raises :class:`StructureError` for a file that cannot be read at all and :class:`SystemTooLargeError` above
    the limits (docs/evaluate.md).
    """
    if not isinstance(fmt, str) or fmt.lower() not in EVALUATION_FORMATS:
        raise StructureError(f"a data set must be {' or '.join(EVALUATION_FORMATS)} (formats that carry reference "
                             f"energies and forces), not {fmt!r}")
    spec = FORMATS[fmt.lower()]
    keys = keys or ReferenceKeys()
    per_frame = min(DEFAULT_MAX_ATOMS, max_total_atoms)
    try:
        frames, label = read_frames(source, spec.name, max_atoms=per_frame, max_bytes=max_bytes,
                                    max_frames=max_frames)
    except StructureError as exc:
        if str(exc).endswith(f"more than {max_frames} frames"):
            raise SystemTooLargeError(f"the data set has more than {max_frames} frames, the limit of one "
                                      "evaluation (docs/evaluate.md)") from None
        raise
    total = sum(len(atoms) for atoms in frames)
    if total > max_total_atoms:
        raise SystemTooLargeError(f"the data set has {total:,} atoms in {len(frames)} frames, more than the limit "
                                  f"of {max_total_atoms:,} atoms in one evaluation (docs/evaluate.md)")
    stem = name or label or "data set"
    return [_frame(atoms, k + 1, stem, keys, min_distance) for k, atoms in enumerate(frames)]


def _frame(atoms: Atoms, number: int, stem: str, keys: ReferenceKeys, min_distance: float) -> DataSetFrame:
    """One ASE frame -> :class:`DataSetFrame` (reference properties first, then the checked structure)."""
    n = len(atoms)
    formula = atoms.get_chemical_formula(mode="hill") if n else ""
    try:
        ref = _reference(atoms, keys, n)
    except StructureError as exc:
        return DataSetFrame(number, formula, n, None, Reference(), str(exc))
    charge = None
    has_total = {str(k).lower() for k in atoms.info} & {"charge", "total_charge"}
    if not has_total and "initial_charges" not in atoms.arrays and ref.charges_e is not None:
        charge = round(float(np.sum(ref.charges_e)))  # the reference charges carry the total charge
    try:
        structure = checked_structure(atoms, charge=charge, name=f"{stem} frame {number}", max_atoms=max(n, 1),
                                      min_distance=min_distance)
    except StructureError as exc:
        return DataSetFrame(number, formula, n, None, ref, str(exc))
    return DataSetFrame(number, structure.formula, n, structure, ref)


def _lookup(atoms: Atoms, key: str, per_atom: bool) -> object | None:
    results = getattr(getattr(atoms, "calc", None), "results", None) or {}
    if key in results:
        return results[key]
    store = atoms.arrays if per_atom else atoms.info
    return store.get(key)


def _reference(atoms: Atoms, keys: ReferenceKeys, n: int) -> Reference:
    """The reference properties of one ASE frame, checked for shape and finiteness."""
    energy = _lookup(atoms, keys.energy, False)
    forces = _lookup(atoms, keys.forces, True)
    charges = _lookup(atoms, keys.charges, True)
    if charges is None and keys.charges == "charges":
        charges = atoms.arrays.get("initial_charges")
    dipole = _lookup(atoms, keys.dipole, False)
    return Reference(energy_eV=None if energy is None else _finite(energy, (), f"reference {keys.energy}"),
                     forces_eV_A=None if forces is None else _finite(forces, (n, 3), f"reference {keys.forces}"),
                     charges_e=None if charges is None else _finite(charges, (n,), f"reference {keys.charges}"),
                     dipole_eA=None if dipole is None else _finite(dipole, (3,), f"reference {keys.dipole}"))


def _finite(value: object, shape: tuple[int, ...], what: str) -> float | np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise StructureError(f"{what} is not numeric") from None
    if arr.shape != shape:
        if arr.size == math.prod(shape):
            arr = arr.reshape(shape)
        else:
            raise StructureError(f"{what} has shape {arr.shape}, expected {shape}")
    if not np.isfinite(arr).all():
        raise StructureError(f"{what} contains NaN or infinite values")
    return float(arr) if shape == () else arr


# --------------------------------------------------------------------------------------------------- evaluation


def evaluate_file(source: Source, model: LSIPModel, fmt: str = "extxyz", *, name: str | None = None,
                  baselines: Sequence[str] = BASELINES, keys: ReferenceKeys | None = None,
                  max_frames: int = APP_MAX_FRAMES, max_total_atoms: int = APP_MAX_TOTAL_ATOMS,
                  progress: Progress | None = None) -> Evaluation:
    """:func:`read_dataset` then :func:`evaluate_frames` (same arguments)."""
    frames = read_dataset(source, fmt, name=name, keys=keys, max_frames=max_frames, max_total_atoms=max_total_atoms)
    label = name or Path(str(source if isinstance(source, str | os.PathLike) else getattr(source, "name", "") or
                               "data set")).name
    return evaluate_frames(frames, model, baselines=baselines, progress=progress, source=label)


def evaluate_frames(frames: Sequence[DataSetFrame], model: LSIPModel, *, baselines: Sequence[str] = BASELINES,
                    progress: Progress | None = None, source: str = "") -> Evaluation:
    """Run the model (and the baselines) on every frame and compare with the references.

    Parameters
    ----------
    frames : from :func:`read_dataset`.
    model : the model with its parameter set (``model.params.name`` is reported).
    baselines : any of :data:`BASELINES` (charges and dipoles only); frames where a baseline does not apply
        (EEQ on periodic frames) keep its message in ``baseline_errors``.
    progress : called as ``progress(k, n)`` after frame k of n.
    source : label of the data set (a file name).

    Returns
    -------
    :class:`Evaluation`. Raises :class:`LSIPError` when no frame holds any reference property.
    """
    if not frames:
        raise StructureError("the data set has no frames")
    if not any(f.reference.quantities for f in frames):
        raise LSIPError("no reference properties found in any frame (looked for an energy, forces, charges or "
                        "initial_charges, and a dipole; docs/evaluate.md)")
    unknown = [b for b in baselines if b not in BASELINES]
    if unknown:
        raise LSIPError(f"unknown baseline(s) {', '.join(unknown)}; choose from {', '.join(BASELINES)}")
    t0 = time.perf_counter()
    results = []
    for k, frame in enumerate(frames):
        results.append(_evaluate_frame(frame, model, tuple(baselines)))
        if progress is not None:
            progress(k + 1, len(frames))
    fit = fit_energy_offsets([r.structure.symbols if r.structure is not None else () for r in results],
                             [r.model.energy_eV if r.ok and r.model is not None else None for r in results],
                             [r.reference.energy_eV if r.ok else None for r in results])
    for k, r in enumerate(results):
        _frame_errors(r, fit, k)
    xy, variance = structure_map([r.structure for r in results])
    summary = _summary(results, fit, model.params.name, baselines)
    return Evaluation(source, model.params.name, tuple(baselines), results, fit, summary, xy, variance,
                      time.perf_counter() - t0)


def _evaluate_frame(frame: DataSetFrame, model: LSIPModel, baselines: tuple[str, ...]) -> FrameResult:
    res = FrameResult(frame.frame, frame.formula, frame.n_atoms, frame.structure, frame.reference, "failed",
                      frame.error)
    st = frame.structure
    if st is None:
        return res
    try:
        model.library.check_symbols(st.symbols)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = model.predict(st, raise_on_failure=False)
    except (LSIPError, RuntimeError, ValueError) as exc:
        res.message = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
        return res
    if not pred.converged:
        res.message = (f"charge equalization did not converge ({pred.failure or f'residual {pred.residual:.1e} Ha'}"
                       f" after {pred.iterations} iterations)")
        return res
    u = user_units(pred)
    res.status, res.message = "ok", ""
    res.model = Computed(charges_e=np.asarray(u.charges_e, dtype=float), dipole_eA=np.asarray(u.dipole_eA, float),
                         energy_eV=float(u.energy_eV), forces_eV_A=np.asarray(u.forces_eV_A, dtype=float))
    for name in baselines:
        try:
            b = baseline(name, st, library=model.library)
        except (LSIPError, RuntimeError, ValueError) as exc:
            res.baseline_errors[name] = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else \
                type(exc).__name__
            continue
        # a baseline's charges are in e already; its dipole e bohr -> e angstrom
        res.baselines[name] = Computed(charges_e=b.charges.detach().cpu().numpy().astype(float),
                                       dipole_eA=b.dipole.detach().cpu().numpy().astype(float) * BOHR_TO_ANGSTROM)
    return res


def fit_energy_offsets(symbols: Sequence[Sequence[str]], model_eV: Sequence[float | None],
                       reference_eV: Sequence[float | None]) -> EnergyFit:
    """Put model and reference energies on one zero (docs/evaluate.md, "Energies").

    Parameters
    ----------
    symbols : per frame, its element symbols.
    model_eV, reference_eV : per frame, the model's energy (relative to free neutral atoms) and the reference
        energy, eV; None where a frame has none (failed, or no reference energy): left out of the fit.

    Returns
    -------
    :class:`EnergyFit`. With at least :data:`MIN_FIT_DOF` frames more than the rank of the frames' composition
    matrix N (frames x elements), the offsets c = argmin |E_ref - E_model - N c|^2 (least squares, minimum norm)
    and errors E_model + N c - E_ref. Otherwise, where frames of one composition number two or more, relative
    energies E - mean over that composition; otherwise nothing is compared.
    """
    n = len(symbols)
    idx = [k for k in range(n) if model_eV[k] is not None and reference_eV[k] is not None and len(symbols[k])]
    elements = tuple(sorted({s for k in idx for s in symbols[k]}))
    model_cmp = np.full(n, np.nan)
    ref_cmp = np.full(n, np.nan)
    if not idx:
        return EnergyFit("none", "no frame has both a reference energy and a model energy: energies are not "
                         "compared", elements, None, 0, 0, None, None, None, None, model_cmp, ref_cmp)
    counts = np.array([[sum(1 for s in symbols[k] if s == el) for el in elements] for k in idx], dtype=float)
    e_model = np.array([float(model_eV[k]) for k in idx])
    e_ref = np.array([float(reference_eV[k]) for k in idx])
    resid = e_ref - e_model
    raw_mae = float(np.mean(np.abs(resid)))
    rank = int(np.linalg.matrix_rank(counts))
    m = len(idx)
    offsets: dict[str, float] | None = None
    if m - rank >= MIN_FIT_DOF:
        coef, *_ = np.linalg.lstsq(counts, resid, rcond=None)
        model_cmp[idx] = e_model
        ref_cmp[idx] = e_ref - counts @ coef
        method = "per-element offsets"
        if rank == len(elements):
            offsets = {el: float(c) for el, c in zip(elements, coef)}
            what = "one offset per element (" + ", ".join(f"{el} {c:+.4f} eV" for el, c in offsets.items()) + ")"
        else:
            what = (f"offsets per element fitted over {rank} independent composition(s); the single elements' "
                    f"offsets are not determined by these {len(elements)} elements' compositions")
        message = (f"Energies compared after fitting E_ref ≈ E_model + Σ n_el c_el by least squares over {m} frames: "
                   f"{what}. Mean |E_ref − E_model| before the fit: {raw_mae:.4g} eV.")
    else:
        method, message = _relative_per_composition(idx, counts, model_eV, reference_eV, model_cmp, ref_cmp, rank)
    ok = np.isfinite(model_cmp) & np.isfinite(ref_cmp)
    err = (model_cmp - ref_cmp)[ok]
    n_at = np.array([len(symbols[k]) for k in range(n)], dtype=float)[ok]
    mae = float(np.mean(np.abs(err))) if len(err) else None
    rmse = float(np.sqrt(np.mean(err**2))) if len(err) else None
    mae_atom = float(np.mean(np.abs(err) / n_at)) if len(err) else None
    return EnergyFit(method, message, elements, offsets, rank, m, raw_mae, mae, rmse, mae_atom, model_cmp, ref_cmp)


def _relative_per_composition(idx: list[int], counts: np.ndarray, model_eV: Sequence[float | None],
                              reference_eV: Sequence[float | None], model_cmp: np.ndarray, ref_cmp: np.ndarray,
                              rank: int) -> tuple[str, str]:
    """The fallback of :func:`fit_energy_offsets` with too few frames: fill ``model_cmp``/``ref_cmp`` (in place)
    with E - mean over the frames of one composition where it has two or more; (method, message)."""
    m = len(idx)
    groups: dict[tuple[int, ...], list[int]] = {}
    for row, k in enumerate(idx):
        groups.setdefault(tuple(int(c) for c in counts[row]), []).append(k)
    compared = [ks for ks in groups.values() if len(ks) >= 2]
    for ks in compared:
        e_m = np.array([float(model_eV[k]) for k in ks])
        e_r = np.array([float(reference_eV[k]) for k in ks])
        model_cmp[ks] = e_m - e_m.mean()
        ref_cmp[ks] = e_r - e_r.mean()
    if compared:
        return "relative per composition", (
            f"Too few frames ({m}) for a per-element energy offset fit (it needs {rank + MIN_FIT_DOF}): "
            "energies compared only as relative energies E − mean over the frames of one composition.")
    return "none", (f"{'One frame' if m == 1 else f'{m} frames of different compositions'} with a reference "
                    "energy: an energy on another zero cannot be compared with the model's (relative to free "
                    "atoms), so energies are not compared.")


def _frame_errors(r: FrameResult, fit: EnergyFit, k: int) -> None:
    """Fill ``r.errors``: per-frame errors of the model and the baselines (None where not compared)."""
    err: dict[str, float | None] = {key: None for key in ("energy_error_eV", "energy_error_per_atom_eV",
                                                          "force_rmse_eV_A", "force_mae_eV_A", "charge_mae_e",
                                                          "dipole_error_D")}
    for b in BASELINES:
        err[f"{b}_charge_mae_e"] = None
        err[f"{b}_dipole_error_D"] = None
    r.errors = err
    if not r.ok or r.model is None:
        return
    ref = r.reference
    if math.isfinite(fit.model_eV[k]) and math.isfinite(fit.reference_eV[k]):
        e = float(fit.model_eV[k] - fit.reference_eV[k])
        err["energy_error_eV"] = e
        err["energy_error_per_atom_eV"] = e / r.n_atoms
    if ref.forces_eV_A is not None and r.model.forces_eV_A is not None:
        d = r.model.forces_eV_A - ref.forces_eV_A
        err["force_rmse_eV_A"] = float(np.sqrt(np.mean(d**2)))
        err["force_mae_eV_A"] = float(np.mean(np.abs(d)))
    compare_dipole = ref.dipole_eA is not None and r.structure is not None and r.structure.charge == 0
    if ref.dipole_eA is not None and not compare_dipole:
        r.notes.append("dipole not compared: the dipole of a charged frame depends on its origin")
    models = {"": r.model, **{f"{b}_": c for b, c in r.baselines.items()}}
    for prefix, comp in models.items():
        if ref.charges_e is not None:
            err[f"{prefix}charge_mae_e"] = float(np.mean(np.abs(comp.charges_e - ref.charges_e)))
        if compare_dipole:
            err[f"{prefix}dipole_error_D"] = float(np.linalg.norm(comp.dipole_eA - ref.dipole_eA)) * E_ANGSTROM_TO_DEBYE


def parity_pairs(result: Evaluation, quantity: str, model: str = "lsip") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reference, predicted, frame number) of every compared value, for parity plots and the summary.

    Parameters
    ----------
    quantity : ``energy`` (per atom, eV/atom, on the model's zero: :class:`EnergyFit`), ``forces`` (components,
        eV/angstrom), ``charges`` (per atom, e) or ``dipole`` (components, debye; neutral frames only).
    model : ``lsip`` or a baseline name (charges and dipole only).
    """
    return _pairs(result.frames, result.energy_fit, quantity, model)


def _pairs(frames: Sequence[FrameResult], fit: EnergyFit, quantity: str,
           model: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    refs, preds, nums = [], [], []
    for k, r in enumerate(frames):
        if not r.ok or r.model is None:
            continue
        comp = r.model if model == "lsip" else r.baselines.get(model)
        if comp is None:
            continue
        ref = r.reference
        if quantity == "energy":
            if model != "lsip" or not (math.isfinite(fit.model_eV[k]) and math.isfinite(fit.reference_eV[k])):
                continue
            a, b = np.array([fit.reference_eV[k] / r.n_atoms]), np.array([fit.model_eV[k] / r.n_atoms])
        elif quantity == "forces":
            if ref.forces_eV_A is None or comp.forces_eV_A is None:
                continue
            a, b = ref.forces_eV_A.ravel(), comp.forces_eV_A.ravel()
        elif quantity == "charges":
            if ref.charges_e is None:
                continue
            a, b = ref.charges_e, comp.charges_e
        elif quantity == "dipole":
            if r.errors.get("dipole_error_D") is None:
                continue
            a, b = ref.dipole_eA * E_ANGSTROM_TO_DEBYE, comp.dipole_eA * E_ANGSTROM_TO_DEBYE
        else:
            raise LSIPError(f"unknown quantity {quantity!r}; choose energy, forces, charges or dipole")
        refs.append(np.asarray(a, dtype=float))
        preds.append(np.asarray(b, dtype=float))
        nums.append(np.full(len(a), r.frame))
    if not refs:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=int)
    return np.concatenate(refs), np.concatenate(preds), np.concatenate(nums).astype(int)


def _stats(errors: np.ndarray) -> tuple[float | None, float | None]:
    if not len(errors):
        return None, None
    return float(np.mean(np.abs(errors))), float(np.sqrt(np.mean(errors**2)))


def _summary(results: list[FrameResult], fit: EnergyFit, params: str, baselines: Sequence[str]) -> list[dict]:
    """Summary rows: quantity, model, unit, frames compared, values pooled, MAE, RMSE."""
    rows = []
    label = f"LSIP ({params})"

    def add(quantity: str, unit: str, model: str, name: str, errors: np.ndarray, frames: int) -> None:
        mae, rmse = _stats(errors)
        rows.append({"quantity": quantity, "model": name, "unit": unit, "frames": frames, "values": len(errors),
                     "MAE": mae, "RMSE": rmse})

    ok = [r for r in results if r.ok]
    e = np.array([r.errors["energy_error_eV"] for r in ok if r.errors.get("energy_error_eV") is not None])
    e_atom = np.array([r.errors["energy_error_per_atom_eV"] for r in ok
                       if r.errors.get("energy_error_per_atom_eV") is not None])
    add("energy per atom", "eV/atom", "lsip", label, e_atom, len(e_atom))
    add("energy", "eV", "lsip", label, e, len(e))
    for quantity, unit, name in (("forces", "eV/Å", "force components"), ("charges", "e", "charges"),
                                 ("dipole", "D", "dipole |Δμ|")):
        models = ["lsip"] if quantity == "forces" else ["lsip", *baselines]
        for model in models:
            ref, pred, nums = _pairs(results, fit, quantity, model)
            if quantity == "dipole":
                key = "dipole_error_D" if model == "lsip" else f"{model}_dipole_error_D"
                errors = np.array([r.errors[key] for r in ok if r.errors.get(key) is not None])
            else:
                errors = pred - ref
            add(name, unit, model, label if model == "lsip" else BASELINE_LABELS[model], errors,
                len(set(nums.tolist())))
    return rows


# --------------------------------------------------------------------------------------------------------- map


def frame_descriptor(structure: Structure, elements: Sequence[str]) -> np.ndarray:
    """A simple per-frame descriptor for the structure-property map: the fraction of each of ``elements``,
    log(number of atoms), and the histogram of interatomic distances (:data:`MAP_BIN_EDGES`, angstrom) per atom.

    Distances are plain Cartesian ones (no periodic images); the map is a guide to where frames differ, not a
    metric of their geometry. O(n log n) through a KD-tree.
    """
    from scipy.spatial import cKDTree

    n = structure.n_atoms
    frac = [sum(1 for s in structure.symbols if s == el) / n for el in elements]
    cumulative = cKDTree(structure.positions).count_neighbors(cKDTree(structure.positions), MAP_BIN_EDGES)
    hist = np.diff(np.asarray(cumulative, dtype=float)) / 2.0 / n  # ordered pairs -> pairs, per atom
    return np.concatenate([frac, [math.log(n)], hist])


def structure_map(structures: Sequence[Structure | None]) -> tuple[np.ndarray, tuple[float, float]]:
    """2D coordinates of the frames: the first two principal components of their standardised
    :func:`frame_descriptor` (numpy SVD). Returns ((n, 2) array, NaN rows for None) and the fraction of the
    variance along each axis."""
    xy = np.full((len(structures), 2), np.nan)
    idx = [k for k, s in enumerate(structures) if s is not None]
    if not idx:
        return xy, (0.0, 0.0)
    elements = sorted({s for k in idx for s in structures[k].symbols})
    x = np.array([frame_descriptor(structures[k], elements) for k in idx])
    x = x - x.mean(axis=0)
    scale = x.std(axis=0)
    x = x[:, scale > 1e-12] / scale[scale > 1e-12]
    if x.shape[1] == 0 or len(idx) < 2:
        xy[idx] = 0.0
        return xy, (0.0, 0.0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    comps = u * s
    var = s**2 / np.sum(s**2)
    out = np.zeros((len(idx), 2))
    out[:, : min(2, comps.shape[1])] = comps[:, :2]
    # a deterministic sign: the frame furthest along each axis lies on its positive side
    for a in range(2):
        j = int(np.argmax(np.abs(out[:, a])))
        if out[j, a] < 0:
            out[:, a] *= -1
    xy[idx] = out
    return xy, (float(var[0]), float(var[1]) if len(var) > 1 else 0.0)


# ------------------------------------------------------------------------------------------------------ records


def frame_records(result: Evaluation) -> list[dict]:
    """One flat record per frame (the per-frame table, CSV and JSON): frame number (from 1), formula, atoms,
    total charge (e), status and message, the reference and model energies (eV), the errors of
    :func:`evaluate_frames` (eV, eV/atom, eV/angstrom, e, D; empty where not compared), notes, map position."""
    rows = []
    for k, r in enumerate(result.frames):
        row: dict = {"frame": r.frame, "formula": r.formula, "n_atoms": r.n_atoms,
                     "charge_e": r.structure.charge if r.structure is not None else None, "status": r.status,
                     "message": r.message, "reference": " ".join(r.reference.quantities),
                     "energy_ref_eV": r.reference.energy_eV,
                     "energy_model_eV": r.model.energy_eV if r.model is not None else None}
        row.update(r.errors or {})
        row["baseline_messages"] = "; ".join(f"{BASELINE_LABELS[b]}: {m}" for b, m in r.baseline_errors.items())
        row["notes"] = "; ".join(r.notes)
        row["map_x"] = None if not np.isfinite(result.map_xy[k, 0]) else float(result.map_xy[k, 0])
        row["map_y"] = None if not np.isfinite(result.map_xy[k, 1]) else float(result.map_xy[k, 1])
        rows.append(row)
    return rows


def evaluation_to_dict(result: Evaluation) -> dict:
    """JSON-ready summary of an evaluation (keys documented in docs/evaluate.md): ``source``, ``params``,
    ``baselines``, ``n_frames``, ``n_failed``, ``energy_fit``, ``summary``, ``frames``, ``time_s``."""
    fit = result.energy_fit
    return {
        "source": result.source,
        "params": result.params,
        "baselines": list(result.baselines),
        "n_frames": len(result.frames),
        "n_failed": result.n_failed,
        "energy_fit": {"method": fit.method, "message": fit.message, "elements": list(fit.elements),
                       "offsets_eV": fit.offsets_eV, "rank": fit.rank, "n_frames": fit.n_frames,
                       "raw_mae_eV": fit.raw_mae_eV, "mae_eV": fit.mae_eV, "rmse_eV": fit.rmse_eV,
                       "mae_per_atom_eV": fit.mae_per_atom_eV},
        "summary": result.summary,
        "frames": frame_records(result),
        "time_s": result.time_s,
    }
