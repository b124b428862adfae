"""Fit a parameter set to the calibration data: ``lsip calibrate`` (docs/calibration.md).

The residuals (model - DFT, each divided by its tolerance :data:`SIGMA`) are

* atomization energy per atom of every molecule (eV / atom),
* bond-scan and bend-scan energies relative to the relaxed point (eV),
* dimer binding energies against the monomers at the same geometry (eV),
* Hirshfeld-I charges of every atom (e) and dipoles of the neutral molecules (D),

over the training side of the recorded split (:mod:`lsip.calibration.dataset`). The fitted vector is the small
set of universal and per-element scalars of :data:`PARAMETERS` (positive ones in log space). The optimiser is
scipy's trust-region reflective least squares with forward differences: every residual evaluation is one batched
equalization of the whole training set (about 0.5 s), so the Jacobian costs ~25 of them. The equalization is
exact at every evaluation; the finite differences therefore include the response of the latent coordinates to
the parameters (the implicit derivative) without any approximation beyond the difference step. Deterministic:
no random numbers, fixed start, fixed data order.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from lsip.calibration.dataset import BEND_SCANS, BOND_SCANS, DIMER_SCANS, SPLIT_FILE, load_split
from lsip.errors import LSIPError
from lsip.model.latent import Latent
from lsip.model.model import LSIPModel
from lsip.model.params import ModelParameters
from lsip.reference.cache import ReferenceCache
from lsip.reference.driver import ReferenceDFT, ReferenceSettings
from lsip.structure import Structure
from lsip.units import E_BOHR_TO_DEBYE, HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM, HARTREE_TO_EV
from lsip.validation.molecules import LIBRARY_ELEMENTS, available, category, free_atom, load

#: Tolerances that turn each residual into a dimensionless number (eV/atom, eV, eV, e, D).
SIGMA: dict[str, float] = {"atomization": 0.10, "scan": 0.10, "dimer": 0.05, "charge": 0.05, "dipole": 0.30,
                           "force": 0.25, "bend": 0.10}
#: Reported but not fitted (derived from the scans: bond length and bond angle at the minimum).
DERIVED: tuple[str, ...] = ("bond_length", "angle")

#: Fitted parameters: (name, transform, start); the optimiser sees log(p) ("log": positive), logit(p) ("logit":
#: in (0, 1)), log(p - 1) ("above1": above 1) or p ("linear"). Per-element slopes are "electronegativity_slope:X".
PARAMETERS: tuple[tuple[str, str, float], ...] = (
    ("kappa", "log", 1.0), ("embedding_scale", "log", 1.0), ("embedding_pairing", "logit", 0.5),
    ("pairing_strength", "log", 0.3), ("pairing_decay", "log", 2.0),
    ("pauli_strength", "log", 0.5), ("pauli_decay", "log", 1.0), ("polarizability_scale", "log", 1.0),
    ("overlap_repulsion", "log", 1.0), ("charge_transfer_saturation", "logit", 0.5),
    # Bent's rule as a bound (docs/model.md 10.8; tenth round): a lone pair claims at least a bond's share of s
    ("hybrid_repulsion", "log", 0.1), ("lone_pair_s_period2", "above1", 2.0), ("lone_pair_s_period3", "above1", 2.0),
    ("pauli_bond_relief", "logit", 0.5),
    # frozen-core walls (docs/model.md 10.10; twelfth round)
    ("core_repulsion", "log", 1.0),
    # lone-pair dipoles (docs/model.md 11.1; fifteenth round)
    ("lone_pair_dipole", "log", 0.5),
    *((f"electronegativity_slope:{s}", "linear", 0.0) for s in LIBRARY_ELEMENTS),
)

_FORWARD = {"log": np.log, "logit": lambda p: np.log(p / (1 - p)), "linear": lambda p: p,
            "above1": lambda p: np.log(p - 1)}
_INVERSE = {"log": np.exp, "logit": lambda x: 1 / (1 + np.exp(-x)), "linear": lambda x: x,
            "above1": lambda x: 1 + np.exp(x)}

#: Prior width of the per-element slopes (hartree bohr^3): a weak pull towards zero.
SLOPE_PRIOR = 2.0


@dataclass
class Entry:
    """Structures of one data item with their DFT targets (eV, e, D)."""

    kind: str  # "molecule" | "scan" | "bend" | "dimer"
    name: str
    molecule: str
    structures: list[Structure]
    energy: np.ndarray  # molecule: atomization (1,); scan, bend: relative to the relaxed point; dimer: binding
    charges: np.ndarray | None = None
    dipole: float | None = None
    monomers: tuple[int, int] = (0, 0)
    monomer_structures: list[Structure] = field(default_factory=list)
    distances: np.ndarray | None = None  # scans: bond length (A) of every point; bends: the angle (degrees)


def _reference(st: Structure, settings: ReferenceSettings, cache: ReferenceCache, compute: bool,
               unrestricted: bool | None = None) -> object:
    dft = ReferenceDFT(st, settings, cache=cache, unrestricted=unrestricted)
    if not compute:
        hit = cache.get(dft.key())
        if hit is None:
            raise LSIPError(f"no cached reference for {st.name or st.formula}; run `lsip calibrate --generate` first")
    res = dft.kernel(raise_on_failure=False)
    if not res.converged:
        raise LSIPError(f"the reference SCF of {st.name or st.formula} did not converge; it cannot be a target")
    return res


def load_data(settings: ReferenceSettings | None = None, cache: ReferenceCache | None = None, *,
              compute: bool = False, progress: Callable[[str], None] | None = None) -> list[Entry]:
    """Every entry of the calibration set with its DFT targets (``compute``: run missing references)."""
    settings = settings or ReferenceSettings()
    cache = cache or ReferenceCache()
    say = progress or (lambda msg: None)
    # free neutral atoms in their ground-state spin, UKS (as lsip validate's atomization energies)
    atoms = {s: _reference(free_atom(s), settings, cache, compute, unrestricted=True).energy
             for s in sorted(LIBRARY_ELEMENTS)}
    out: list[Entry] = []
    for name in available():
        st = load(name)
        res = _reference(st, settings, cache, compute)
        e_at = (res.energy - sum(atoms[s] for s in st.symbols)) * HARTREE_TO_EV
        dip = None if res.dipole is None or st.charge else float(np.linalg.norm(res.dipole)) * E_BOHR_TO_DEBYE
        out.append(Entry("molecule", name, name, [st], np.array([e_at]),
                         np.asarray(res.charges["hirshfeld_i"], float), dip))
    say(f"{len(out)} molecules")
    for scan in BOND_SCANS:
        sts = scan.structures()
        e = np.array([_reference(s, settings, cache, compute).energy for s in sts])
        mid = [s.name for s in sts].index(f"{scan.name} x1.00")
        r = np.array([np.linalg.norm(s.positions[scan.j] - s.positions[scan.i]) for s in sts])
        out.append(Entry("scan", scan.name, scan.molecule, sts, (e - e[mid]) * HARTREE_TO_EV, distances=r))
    say(f"{len(BOND_SCANS)} bond scans")
    for bend in BEND_SCANS:
        sts = bend.structures()
        e = np.array([_reference(s, settings, cache, compute).energy for s in sts])
        mid = [s.name for s in sts].index(f"{bend.name} x1.00")
        out.append(Entry("bend", bend.name, bend.molecule, sts, (e - e[mid]) * HARTREE_TO_EV,
                         distances=bend.angles()))
    say(f"{len(BEND_SCANS)} bend scans")
    for dim in DIMER_SCANS:
        sts = dim.structures()
        n1, _ = dim.monomers()
        q1 = dim.donor_charge()
        mons, binding = [], []
        for s in sts:
            m1 = Structure(s.symbols[:n1], s.positions[:n1], q1, None, name=s.name + " A")
            m2 = Structure(s.symbols[n1:], s.positions[n1:], s.charge - q1, None, name=s.name + " B")
            e = [_reference(x, settings, cache, compute).energy for x in (s, m1, m2)]
            binding.append((e[0] - e[1] - e[2]) * HARTREE_TO_EV)
            mons += [m1, m2]
        out.append(Entry("dimer", dim.name, dim.molecule, sts, np.array(binding),
                         monomers=(n1, len(sts[0].symbols) - n1), monomer_structures=mons))
    say(f"{len(DIMER_SCANS)} dimer scans")
    return out


def side(entry: Entry, split: dict[str, str]) -> str:
    """``train`` or ``test``: the side of the entry's molecule in the split."""
    return split.get(entry.molecule, "train")


#: Physics choices the fit keeps fixed (docs/model.md section 10.4): the saturation density of the environment
#: electronegativity, so no trial set can collapse atoms onto each other through an unbounded shift.
FIXED: dict[str, float] = {"electronegativity_saturation": 0.05}


def params_from_vector(x: np.ndarray, base: ModelParameters, fixed: dict | None = None) -> ModelParameters:
    """A parameter set from the fitted vector (see :data:`PARAMETERS`) with the :data:`FIXED` choices (and the
    experiment's ``fixed`` ones, e.g. ``{"pauli_two_sided": True}``; a fixed value wins over the vector's, so a
    fitted field can be held, e.g. ``{"polarizability_scale": 2.4e-6}``)."""
    changes: dict = {}
    slopes: dict[str, float] = {}
    for (name, transform, _), v in zip(PARAMETERS, x, strict=True):
        value = float(_INVERSE[transform](v))
        if name.startswith("electronegativity_slope:"):
            slopes[name.split(":")[1]] = value
        else:
            changes[name] = value
    changes.update({**FIXED, **(fixed or {})})
    return replace(base, electronegativity_slope=slopes, **changes)


def start_vector(start: ModelParameters | None = None) -> np.ndarray:
    """The starting point of the fit: the fixed defaults of :data:`PARAMETERS`, or the values of a given set
    (``lsip calibrate --start NAME``; a value outside a transform's domain, e.g. a strength of 0 in log space, and
    a slope the set lacks take the default)."""
    out = []
    for name, transform, default in PARAMETERS:
        value = default
        if start is not None:
            if name.startswith("electronegativity_slope:"):
                value = start.electronegativity_slope.get(name.split(":")[1], default)
            else:
                value = float(getattr(start, name))
            if (transform == "log" and value <= 0) or (transform == "logit" and not 0 < value < 1) \
                    or (transform == "above1" and value <= 1):
                value = default
        out.append(_FORWARD[transform](value))
    return np.array(out)


#: Solver iteration cap while fitting (a trial point whose solve would run to ``max_iter`` costs at most this; the
#: converged structures take 10-70 iterations). The reported errors use the set's own ``max_iter``.
FIT_MAX_ITER = 400


@dataclass
class Evaluation:
    """Model - DFT on a set of entries: residual arrays by kind (physical units) and failures."""

    errors: dict[str, list[float]]
    per_entry: list[dict]
    failures: int
    #: atoms with |q_HI| >= 0.1 e, and those among them whose model charge has the other sign
    polar_atoms: int = 0
    wrong_sign: int = 0
    #: molecules the model does not bind against their free atoms (E >= 0)
    unbound: int = 0
    #: scan and bend points ("scan", "bend"): the DFT energy above the relaxed point (eV), which softens their
    #: weight in the fit
    scan_reference: dict[str, list[float]] = field(default_factory=dict)
    #: the converged latent coordinates of every structure (entries' structures then monomers, in order; None where
    #: the equalization did not converge): the warm start of the next evaluation
    latents: list[Latent | None] = field(default_factory=list)


def evaluate(params: ModelParameters, entries: list[Entry], guess: list[Latent | None] | None = None) -> Evaluation:
    """Run the model on every structure of ``entries`` (one batch) and collect model - DFT by kind.

    ``guess``: the ``latents`` of an evaluation of the same entries with other parameters, as the solver's start.
    The equalization has one solution (docs/model.md section 5), so a warm start changes the result only within
    the solver's tolerance (measured on the training set: 1e-12 hartree, 3e-7 e) and makes a fit's finite
    differences about twice as fast (docs/calibration.md).
    """
    model = LSIPModel(params=params, device="cpu")
    flat: list[Structure] = []
    for e in entries:
        flat += e.structures + e.monomer_structures
    if guess is not None and len(guess) != len(flat):
        guess = None
    preds = model.predict(flat, guess=guess, forces=False, raise_on_failure=False)
    latents = [p.latent if p.converged else None for p in preds]
    # forces at the DFT-relaxed molecules (DFT's are zero there): one RMS per molecule (eV/A), started from the
    # solution just found for the same structures
    first, at = [], 0
    for e in entries:
        if e.kind == "molecule":
            first.append(at)
        at += len(e.structures) + len(e.monomer_structures)
    mols = [flat[i] for i in first]
    forced = iter(model.predict(mols, guess=[latents[i] for i in first], forces=True, raise_on_failure=False)
                  if mols else [])
    errors: dict[str, list[float]] = {k: [] for k in (*SIGMA, *DERIVED)}
    per_entry, k, failures = [], 0, 0
    polar = wrong = unbound = 0
    scan_ref: dict[str, list[float]] = {"scan": [], "bend": []}
    for e in entries:
        ps = preds[k: k + len(e.structures)]
        k += len(e.structures)
        ms = preds[k: k + len(e.monomer_structures)]
        k += len(e.monomer_structures)
        failures += sum(not p.converged for p in ps + ms)
        energies = np.array([p.energy for p in ps]) * HARTREE_TO_EV
        rec: dict = {"kind": e.kind, "name": e.name}
        if e.kind == "molecule":
            p = ps[0]
            err = (energies[0] - e.energy[0]) / len(e.structures[0].symbols)
            errors["atomization"].append(err)
            q = p.charges.numpy()
            dq = q - e.charges
            errors["charge"] += dq.tolist()
            strong = np.abs(e.charges) >= 0.1
            polar += int(strong.sum())
            wrong += int((np.sign(q[strong]) != np.sign(e.charges[strong])).sum())
            unbound += int(energies[0] >= 0.0)
            f = next(forced).forces.detach().numpy() * HARTREE_PER_BOHR_TO_EV_PER_ANGSTROM
            errors["force"].append(float(np.sqrt(np.mean(f * f))))
            rec["force_rms_eV_A"] = errors["force"][-1]
            rec.update(model_eV=float(energies[0]), dft_eV=float(e.energy[0]), charge_mae=float(np.abs(dq).mean()))
            if e.dipole is not None:
                mu = float(np.linalg.norm(p.dipole.numpy())) * E_BOHR_TO_DEBYE
                errors["dipole"].append(mu - e.dipole)
                rec.update(model_D=mu, dft_D=e.dipole)
        elif e.kind in ("scan", "bend"):
            mid = int(np.argmin(np.abs(np.array([float(s.name.rsplit("x", 1)[1]) for s in e.structures]) - 1.0)))
            rel = energies - energies[mid]
            errors[e.kind] += (rel - e.energy).tolist()
            scan_ref[e.kind] += e.energy.tolist()
            lo, hi = minimum(e.distances, rel), minimum(e.distances, e.energy)
            if e.kind == "scan":
                rec.update(model_eV=rel.tolist(), dft_eV=e.energy.tolist(), distances_A=e.distances.tolist(),
                           model_min_A=lo, dft_min_A=hi)
                errors["bond_length"].append(lo - hi)
            else:
                rec.update(model_eV=rel.tolist(), dft_eV=e.energy.tolist(), angles_deg=e.distances.tolist(),
                           model_min_deg=lo, dft_min_deg=hi)
                errors["angle"].append(lo - hi)
        else:
            mono = np.array([p.energy for p in ms]).reshape(-1, 2).sum(1) * HARTREE_TO_EV
            bind = energies - mono
            errors["dimer"] += (bind - e.energy).tolist()
            rec.update(model_eV=bind.tolist(), dft_eV=e.energy.tolist())
        per_entry.append(rec)
    return Evaluation(errors, per_entry, failures, polar, wrong, unbound, scan_ref, latents)


def minimum(r: np.ndarray, e: np.ndarray) -> float:
    """Position of the minimum of a scan: the vertex of the parabola through the lowest point and its two
    neighbours (an end point when the lowest point is at an end: then the minimum lies outside the scan)."""
    k = int(np.argmin(e))
    if k == 0 or k == len(e) - 1 or not np.all(np.isfinite(e)):
        return float(r[k])
    a, b, _ = np.polyfit(r[k - 1: k + 2], e[k - 1: k + 2], 2)
    return float(-b / (2 * a)) if a > 0 else float(r[k])


#: A scan point E_DFT above its relaxed point has the tolerance SIGMA["scan"] (1 + E_DFT / SCAN_SOFTENING_EV): the
#: compressed points (0.75 R_e, several eV up the wall) teach the wall's position without outweighing the minimum.
SCAN_SOFTENING_EV = 1.0


def residual_vector(ev: Evaluation) -> np.ndarray:
    """The dimensionless residuals (errors / :data:`SIGMA`, scan points softened by their height, see
    :data:`SCAN_SOFTENING_EV`), non-finite ones replaced by a large penalty."""
    scale = {k: np.ones(len(ev.errors[k])) for k in SIGMA}
    for kind, heights in ev.scan_reference.items():
        if len(heights) == len(ev.errors[kind]):
            scale[kind] = 1.0 + np.abs(np.asarray(heights, float)) / SCAN_SOFTENING_EV
    parts = [np.asarray(ev.errors[k], float) / (SIGMA[k] * scale[k]) for k in SIGMA]
    r = np.concatenate(parts) if parts else np.zeros(0)
    return np.where(np.isfinite(r), r, 1e3)


def summary(ev: Evaluation) -> dict[str, float]:
    """MAE by kind (eV/atom, eV, eV, e, D), the failure count, the share of polar atoms (|q_HI| >= 0.1 e) with the
    wrong sign, and the number of unbound molecules."""
    out: dict[str, float] = {f"{k}_mae": float(np.mean(np.abs(v))) if len(v) else float("nan")
                             for k, v in ev.errors.items()}
    out["failures"] = float(ev.failures)
    out["wrong_sign_fraction"] = ev.wrong_sign / ev.polar_atoms if ev.polar_atoms else float("nan")
    out["unbound"] = float(ev.unbound)
    return out


#: The test measures a calibrated set must improve to become the default (docs/calibration.md).
DEFAULT_CRITERIA: tuple[str, ...] = ("atomization_mae", "scan_mae", "bond_length_mae", "dimer_mae", "charge_mae",
                                     "dipole_mae", "force_mae", "bend_mae", "angle_mae")


def beats_on_test(first_principles: dict[str, float], calibrated: dict[str, float]) -> bool:
    """Whether the calibrated set is better than first-principles on every test measure of
    :data:`DEFAULT_CRITERIA` it reports and has no more failures (then it becomes the default)."""
    return (all(calibrated[k] < first_principles[k] for k in DEFAULT_CRITERIA if k in calibrated)
            and calibrated["failures"] <= first_principles["failures"])


def objective(params: ModelParameters, entries: list[Entry]) -> float:
    """The fit's cost of a parameter set on ``entries``: 0.5 |r|^2 over the scaled residuals and the slopes' prior
    (what :func:`calibrate` minimises on the training side; comparable between sets on the same data)."""
    r = residual_vector(evaluate(params.with_(max_iter=FIT_MAX_ITER), entries))
    slopes = np.array([params.electronegativity_slope.get(n.split(":")[1], 0.0)
                       for n, _, _ in PARAMETERS if n.startswith("electronegativity_slope:")])
    r = np.concatenate([r, slopes / SLOPE_PRIOR])
    return 0.5 * float(r @ r)


def git_hash() -> str:
    """The repository's commit (``unknown`` outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def calibrate(name: str, entries: list[Entry], *, max_nfev: int = 40, base: ModelParameters | None = None,
              progress: Callable[[str], None] | None = None,
              start: ModelParameters | None = None, fixed: dict | None = None,
              checkpoint: Callable[[ModelParameters, float, int], None] | None = None,
              ) -> tuple[ModelParameters, dict]:
    """Fit :data:`PARAMETERS` on the training side from :func:`start_vector` (``start``: a given set's values);
    returns the parameter set and the report (train and test). ``fixed``: non-fitted fields of the experiment
    (recorded in the report); ``checkpoint(params, cost, evaluation)`` is called whenever the training cost
    improves, so a long fit can be stopped and its best point kept."""
    say = progress or (lambda msg: None)
    base = base or ModelParameters()
    split = load_split()
    train = [e for e in entries if side(e, split) == "train"]
    slope_idx = [k for k, (n, _, _) in enumerate(PARAMETERS) if n.startswith("electronegativity_slope:")]
    calls = [0]
    best = [np.inf]
    t0 = time.perf_counter()

    last: list[list] = [[]]  # the previous evaluation's latents: the next one's warm start

    def fun(x: np.ndarray) -> np.ndarray:
        calls[0] += 1
        ev = evaluate(params_from_vector(x, base, fixed).with_(max_iter=FIT_MAX_ITER), train, last[0] or None)
        last[0] = ev.latents
        r = np.concatenate([residual_vector(ev), x[slope_idx] / SLOPE_PRIOR])
        cost = 0.5 * float(r @ r)
        if calls[0] % 10 == 1:
            say(f"evaluation {calls[0]}: cost {cost:.1f} ({time.perf_counter() - t0:.0f} s)")
        if cost < best[0]:
            best[0] = cost
            if checkpoint is not None:
                checkpoint(params_from_vector(x, base, fixed), cost, calls[0])
        return r

    x0 = start_vector(start)
    fit = least_squares(fun, x0, method="trf", diff_step=1e-3, max_nfev=max_nfev, x_scale=1.0)
    meta = {"cost": float(fit.cost), "evaluations": calls[0], "optimizer": "scipy least_squares trf",
            "status": fit.message, "seconds": time.perf_counter() - t0,
            "start": "defaults" if start is None else f"{start.name} (git {start.fitted_to.get('git', '?')})",
            "fixed": {**FIXED, **(fixed or {})}}
    return assess(name, params_from_vector(fit.x, base, fixed), entries, base=base, meta=meta)


def assess(name: str, params: ModelParameters, entries: list[Entry], *, base: ModelParameters | None = None,
           meta: dict | None = None, fitted_git: str | None = None) -> tuple[ModelParameters, dict]:
    """Train and test errors of ``params`` next to ``base`` (first-principles): the report, and the set with its
    provenance (``fitted_to``; ``default`` when it beats the base on every test measure)."""
    base = base or ModelParameters()
    split = load_split()
    train = [e for e in entries if side(e, split) == "train"]
    test = [e for e in entries if side(e, split) == "test"]
    before = {"train": summary(evaluate(base, train)), "test": summary(evaluate(base, test))}
    ev_train, ev_test = evaluate(params, train), evaluate(params, test)
    after = {"train": summary(ev_train), "test": summary(ev_test)}
    meta = meta or {"cost": float("nan"), "evaluations": 0, "optimizer": "none (assessment of a given set)",
                    "status": "not fitted here", "seconds": 0.0}
    report = {
        "name": name, "level": "PBE0/def2-SVP", "git": git_hash(), "split_file": str(SPLIT_FILE.name),
        "train_entries": [e.name for e in train], "test_entries": [e.name for e in test], "sigma": SIGMA, **meta,
        "first_principles": before, "calibrated": after,
        "test_per_entry": ev_test.per_entry, "train_per_entry": ev_train.per_entry,
        "categories": {e.name: category(e.molecule) if e.kind == "molecule" else e.kind for e in entries},
    }
    beats = beats_on_test(before["test"], after["test"])
    report["beats_first_principles_on_test"] = beats
    fitted_at = fitted_git or report["git"]
    report["fitted_git"] = fitted_at
    fitted_to = {"data": "lsip.calibration.dataset (molecules, bond scans, bend scans, dimers)",
                 "level": "PBE0/def2-SVP", "default": beats, "split": SPLIT_FILE.name, "git": fitted_at,
                 "assessed_git": report["git"], "train_size": len(train), "test_size": len(test),
                 "test_mae": after["test"], "train_mae": after["train"]}
    return replace(params, name=name, fitted_to=fitted_to), report


def write_parameter_set(params: ModelParameters, path: Path) -> None:
    """The parameter set as JSON (``assets/params/<name>.json`` is picked up by ``get_parameters``)."""
    data = params.to_dict()
    data.pop("name")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1) + "\n")
