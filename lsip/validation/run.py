"""Run the validation: model, QEq, EEQ and GFN2-xTB against reference DFT on the validation set and the scans.

:func:`run_validation` returns a JSON-ready report (docs/validation.md explains every field):

* ``molecules``: per entry the charges (model, QEq, EEQ, GFN2-xTB, DFT Hirshfeld / Hirshfeld-I / Mulliken / density
  encoder), dipoles (D, about the centre of mass), energies (eV; model and DFT relative to free neutral
  atoms, QEq's charge-equilibration energy) and density errors (e, integral |rho - rho_DFT|);
* ``statistics``: MAE / RMSE / max with the worst cases for each comparison (:data:`COMPARISONS`);
* ``scans``: the dissociation curves (model, QEq, EEQ, DFT RKS and broken-symmetry UKS).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from lsip.calibration.dataset import make_split
from lsip.data.masses import atomic_mass
from lsip.model.baselines import baseline
from lsip.model.decoder import as_numpy
from lsip.model.model import LSIPModel
from lsip.reference.broken_symmetry import flag_points, fragment_references, lowest_solution, unphysical_threshold
from lsip.reference.cache import ReferenceCache
from lsip.reference.driver import ReferenceDFT, ReferenceSettings
from lsip.scan.path import predict_along, scan_structures
from lsip.structure import Structure
from lsip.units import E_ANGSTROM_TO_DEBYE, E_BOHR_TO_DEBYE, HARTREE_TO_EV
from lsip.validation.dft import atom_energies
from lsip.validation.molecules import QUICK_SCANS, QUICK_SET, SCANS, ScanSpec, covered_elements, load, load_set
from lsip.validation.xtb import gfn2

#: (label, quantity, predicted key, reference key) of every reported comparison.
COMPARISONS: tuple[tuple[str, str, str, str], ...] = (
    ("model vs Hirshfeld-I", "charges", "model", "dft_hirshfeld_i"),
    ("model vs Hirshfeld", "charges", "model", "dft_hirshfeld"),
    ("model vs density encoder", "charges", "model", "dft_density_encoder"),
    ("density encoder vs Hirshfeld-I", "charges", "dft_density_encoder", "dft_hirshfeld_i"),
    ("QEq vs Hirshfeld-I", "charges", "qeq", "dft_hirshfeld_i"),
    ("EEQ vs Hirshfeld-I", "charges", "eeq", "dft_hirshfeld_i"),
    ("QEq vs Hirshfeld", "charges", "qeq", "dft_hirshfeld"),
    ("EEQ vs Hirshfeld", "charges", "eeq", "dft_hirshfeld"),
    ("GFN2-xTB vs Hirshfeld-I", "charges", "gfn2", "dft_hirshfeld_i"),
    ("model dipole vs DFT", "dipole_D", "model", "dft"),
    ("QEq dipole vs DFT", "dipole_D", "qeq", "dft"),
    ("EEQ dipole vs DFT", "dipole_D", "eeq", "dft"),
    ("GFN2-xTB dipole vs DFT", "dipole_D", "gfn2", "dft"),
    ("Hirshfeld-I point-charge dipole vs DFT", "dipole_D", "dft_hirshfeld_i_point", "dft"),
    ("model energy vs DFT atomization", "energy_eV", "model", "dft_atomization"),
    ("decoded density vs promolecule (error, e)", "density_error_e", "model", "promolecule"),
)


def _dipole_D(positions_A: np.ndarray, symbols: tuple[str, ...], charges: np.ndarray) -> float:
    """|sum q (r - r_COM)| in debye for point charges (positions in angstrom)."""
    m = np.array([atomic_mass(s) for s in symbols])
    com = (m[:, None] * positions_A).sum(0) / m.sum()
    mu_eA = (np.asarray(charges)[:, None] * (positions_A - com)).sum(0)
    return float(np.linalg.norm(mu_eA) * E_ANGSTROM_TO_DEBYE)


def molecule_record(st: Structure, model: LSIPModel, settings: ReferenceSettings, cache: ReferenceCache | None,
                    atoms: dict[str, float | None]) -> dict:
    """Model, baselines and reference DFT of one structure (see the module docstring for the fields)."""
    t0 = time.perf_counter()
    pred = model.predict(st, forces=False, raise_on_failure=False)
    t_model = time.perf_counter() - t0
    qeq, eeq = baseline("qeq", st), baseline("eeq", st)
    xtb = gfn2(st)
    shapes = [model.tables.dipole_shapes[model.tables.index[s]] for s in st.symbols]
    ref = ReferenceDFT(st, settings, cache=cache if cache is not None else False).kernel(
        model_weights=pred.weights.detach().numpy(), raise_on_failure=False,
        model_dipoles=pred.atomic_dipoles.detach().numpy(), dipole_shapes=shapes)
    e_atoms = [atoms.get(s) for s in st.symbols]
    e_at = None if any(e is None for e in e_atoms) or not ref.converged else (ref.energy - sum(e_atoms))
    ch = {k: np.asarray(v, float) for k, v in ref.charges.items()}
    charges = {"model": as_numpy(pred.charges), "qeq": as_numpy(qeq.charges), "eeq": as_numpy(eeq.charges),
               **({"gfn2": xtb.charges} if xtb is not None else {}), **{f"dft_{k}": v for k, v in ch.items()}}
    dip = {"model": float(np.linalg.norm(as_numpy(pred.dipole))) * E_BOHR_TO_DEBYE,
           "qeq": float(np.linalg.norm(as_numpy(qeq.dipole))) * E_BOHR_TO_DEBYE,
           "eeq": float(np.linalg.norm(as_numpy(eeq.dipole))) * E_BOHR_TO_DEBYE,
           "gfn2": None if xtb is None else float(np.linalg.norm(xtb.dipole)) * E_BOHR_TO_DEBYE,
           "dft": None if ref.dipole is None else float(np.linalg.norm(ref.dipole)) * E_BOHR_TO_DEBYE}
    if "hirshfeld_i" in ch:
        dip["dft_hirshfeld_i_point"] = _dipole_D(st.positions, st.symbols, ch["hirshfeld_i"])
    return {
        "name": st.name, "formula": st.formula, "category": st.info.get("category", "covalent"),
        "split": make_split().get(st.name, "train"),
        "total_charge": int(st.charge), "symbols": list(st.symbols),
        "charges": {k: v.tolist() for k, v in charges.items()}, "dipole_D": dip,
        "energy_eV": {"model": pred.energy * HARTREE_TO_EV,
                      "qeq": None if qeq.energy is None else qeq.energy * HARTREE_TO_EV,
                      "dft_atomization": None if e_at is None else e_at * HARTREE_TO_EV},
        "density_error_e": {k: v for k, v in ref.density_error.items()},
        "model_converged": bool(pred.converged), "dft_converged": bool(ref.converged),
        "dft_time_s": float(ref.compute_time_s), "model_time_s": t_model, "dft_warnings": list(ref.warnings),
    }


def matched_pairs(records: list[dict], quantity: str, pred: str, ref: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Matched (predicted, reference, label) values of one comparison, skipping missing ones."""
    xs, ys, labels = [], [], []
    for r in records:
        block = r.get(quantity, {})
        a, b = block.get(pred), block.get(ref)
        if a is None or b is None or not r["dft_converged"]:
            continue
        if quantity == "charges":
            for k, (u, v) in enumerate(zip(a, b)):
                xs.append(u)
                ys.append(v)
                labels.append(f"{r['name']}:{r['symbols'][k]}{k}")
        else:
            xs.append(a)
            ys.append(b)
            labels.append(r["name"])
    return np.asarray(xs, float), np.asarray(ys, float), labels


def error_stats(pred: np.ndarray, ref: np.ndarray, labels: list[str], n_worst: int = 3) -> dict:
    """MAE, RMSE, max |error|, mean signed error and the ``n_worst`` cases of ``pred - ref``.

    Parameters
    ----------
    pred, ref : (m,) values in the same unit.  labels : m names.
    """
    if len(pred) == 0:
        return {"n": 0, "mae": None, "rmse": None, "max": None, "mse": None, "worst": []}
    err = pred - ref
    order = np.argsort(-np.abs(err))[:n_worst]
    return {"n": len(err), "mae": float(np.mean(np.abs(err))), "rmse": float(np.sqrt(np.mean(err ** 2))),
            "max": float(np.max(np.abs(err))), "mse": float(np.mean(err)),
            "worst": [{"label": labels[k], "pred": float(pred[k]), "ref": float(ref[k]), "error": float(err[k])}
                      for k in order]}


def statistics(records: list[dict], categories: tuple[str, ...] = ("ionic", "covalent", "ion", "complex")) -> dict:
    """{comparison label: {"all": stats, category: stats, ..., "train": stats, "test": stats}} over the converged
    records; train and test are the sides of the calibration split (docs/calibration.md)."""
    out = {}
    for label, quantity, pred, ref in COMPARISONS:
        entry = {"quantity": quantity, "pred": pred, "ref": ref,
                 "all": error_stats(*matched_pairs(records, quantity, pred, ref))}
        for cat in categories:
            entry[cat] = error_stats(*matched_pairs([r for r in records if r["category"] == cat], quantity, pred, ref))
        for side in ("train", "test"):
            entry[side] = error_stats(*matched_pairs([r for r in records if r.get("split") == side], quantity, pred,
                                                     ref))
        out[label] = entry
    return out


def _relative(energy: float | None, e_atoms: float | None) -> float | None:
    """(energy - e_atoms) in eV, or None when either is missing or not finite (inputs in hartree)."""
    if energy is None or e_atoms is None or not np.isfinite(energy):
        return None
    return (energy - e_atoms) * HARTREE_TO_EV


def scan_record(spec: ScanSpec, model: LSIPModel, settings: ReferenceSettings, cache: ReferenceCache | None,
                atoms: dict[str, float | None]) -> dict:
    """One dissociation curve: charges of atoms i, j and energies (eV, relative to free atoms) per distance.

    DFT per point: :func:`lsip.reference.broken_symmetry.lowest_solution` (RKS and broken-symmetry UKS from the
    separately computed fragments' densities, stability-checked; the app's scans run the same procedure).
    ``energy_eV.rks`` / ``uks`` are the two solutions, ``energy_eV.dft`` the reported (lowest) one and
    ``dft_method`` its kind; ``dft_unphysical`` lists the solutions (``"rks"``, ``"uks"``) that
    :func:`lsip.reference.broken_symmetry.flag_points` rejects (failed ones are only marked not converged), and
    ``dft_flag`` says why the reported one is not drawn ('' when it is).
    """
    st = load(spec.molecule)
    frames, moved = scan_structures(st, spec.i, spec.j, np.asarray(spec.distances))
    e_ref = sum(atoms[s] for s in st.symbols) if all(atoms.get(s) is not None for s in st.symbols) else None
    fixed = [k for k in range(st.n_atoms) if k not in moved]
    frags = fragment_references(frames[0], (fixed, moved), settings, library=model.library, cache=cache)
    e_frag = float(sum(f.energy for f in frags))
    threshold = unphysical_threshold([f.structure for f in frags], model.library)
    sols = [lowest_solution(fr, settings, library=model.library, cache=cache, fragments=frags) for fr in frames]
    dist = np.asarray(spec.distances, dtype=float)

    def flags(energy: list[float], conv: list[bool], stable: list[bool | None]) -> list[str]:
        return flag_points(dist, np.asarray(energy) - e_frag, np.asarray(conv), stable, threshold)

    rks_flags = flags([s.rks_energy for s in sols], [s.rks_converged for s in sols], [s.rks_stable for s in sols])
    uks_flags = flags([s.uks_energy for s in sols], [s.uks_converged for s in sols],
                      [s.uks_stable if s.method != "RKS" else None for s in sols])
    reported = flags([s.energy for s in sols], [s.converged for s in sols], [s.stable for s in sols])
    nan_q = [np.nan] * st.n_atoms
    points = []
    for k, (r, fr, pred) in enumerate(zip(spec.distances, frames, predict_along(model, frames, forces=False))):
        qeq, eeq, sol = baseline("qeq", fr), baseline("eeq", fr), sols[k]
        e_rks = _relative(sol.rks_energy if sol.rks_converged else None, e_ref)
        e_uks = _relative(sol.uks_energy if sol.uks_converged else None, e_ref)
        points.append({
            "distance_A": float(r),
            "charges": {"model": as_numpy(pred.charges).tolist(), "qeq": as_numpy(qeq.charges).tolist(),
                        "eeq": as_numpy(eeq.charges).tolist(),
                        "rks_hirshfeld_i": np.asarray(sol.rks_charges.get("hirshfeld_i", nan_q)).tolist(),
                        "uks_hirshfeld_i": np.asarray(sol.uks_charges.get("hirshfeld_i", nan_q)).tolist()},
            "energy_eV": {"model": pred.energy * HARTREE_TO_EV,
                          "qeq": None if qeq.energy is None else qeq.energy * HARTREE_TO_EV,
                          "rks": e_rks, "uks": e_uks,
                          "dft": _relative(sol.energy if sol.converged else None, e_ref)},
            "uks_spin_square": sol.uks_spin_square, "model_converged": bool(pred.converged),
            "dft_method": sol.method, "dft_stable": sol.stable, "dft_flag": reported[k],
            "dft_unphysical": [name for name, fl, conv in (("rks", rks_flags[k], sol.rks_converged),
                                                           ("uks", uks_flags[k], sol.uks_converged))
                               if conv and fl],
            "rks_converged": bool(sol.rks_converged), "uks_converged": bool(sol.uks_converged),
        })
    return {"name": spec.name, "molecule": spec.molecule, "atoms": [spec.i, spec.j],
            "symbols": list(st.symbols), "moved": moved, "points": points,
            "fragments": [{"label": f.label, "energy_Eh": f.energy if f.converged else None} for f in frags],
            "unphysical_threshold_eV": threshold * HARTREE_TO_EV}


def run_validation(quick: bool = False, basis: str | None = None, xc: str = "PBE0",
                   cache: ReferenceCache | None = None, names: list[str] | None = None,
                   scans: tuple[ScanSpec, ...] | None = None, model: LSIPModel | None = None,
                   log: Callable[[str], None] | None = None) -> dict:
    """The whole validation report (see the module docstring).

    Parameters
    ----------
    quick : the CI set (:data:`QUICK_SET`, :data:`QUICK_SCANS`) with basis ``sto-3g`` unless ``basis`` is given.
    basis, xc : reference level (default PBE0/def2-SVP).  cache : reference cache (None: no caching).
    names, scans : override the molecules / scans.  model : the model (default: shipped first-principles).
    log : progress messages (e.g. ``print``).
    """
    t0 = time.perf_counter()
    say = log or (lambda msg: None)
    basis = basis or ("sto-3g" if quick else "def2-SVP")
    settings = ReferenceSettings(xc=xc, basis=basis)
    model = model or LSIPModel(device="cpu")
    structures = load_set(names if names is not None else (QUICK_SET if quick else None))
    scans = scans if scans is not None else (QUICK_SCANS if quick else SCANS)
    elements = covered_elements(structures) | {s for sp in scans for s in load(sp.molecule).symbols}
    atoms = atom_energies(elements, settings, cache)
    say(f"free atoms done ({time.perf_counter() - t0:.1f} s)")
    records = []
    for st in structures:
        records.append(molecule_record(st, model, settings, cache, atoms))
        say(f"{st.name:12s} {records[-1]['dft_time_s']:7.1f} s")
    curves = []
    for sp in scans:
        curves.append(scan_record(sp, model, settings, cache, atoms))
        say(f"scan {sp.name} done ({time.perf_counter() - t0:.1f} s)")
    return {"settings": {"xc": xc, "basis": basis, "quick": quick, "grid_level": settings.grid_level,
                         "model_params": model.params.name},
            "n_molecules": len(records), "elements": sorted(covered_elements(structures)),
            "atom_energies_Eh": atoms, "molecules": records, "statistics": statistics(records), "scans": curves,
            "runtime_s": time.perf_counter() - t0}
