"""Re-run the model side of the validation against the DFT numbers stored in a previous report.

The DFT references of ``docs/validation/validation.json`` (PBE0/def2-SVP) do not change when the model does;
this script recomputes the model's charges, dipoles and energies on the same geometries and prints the
before/after errors (markdown), so a physics change is judged without re-running 58 DFT calculations.

    python scripts/revalidate_model.py [--report docs/validation/validation.json] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from lsip.model.model import LSIPModel
from lsip.units import E_BOHR_TO_DEBYE, HARTREE_TO_EV
from lsip.validation.molecules import load

ROOT = Path(__file__).resolve().parents[1]


def _stats(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    d = np.array([p - r for p, r in pairs])
    return float(np.mean(np.abs(d))), float(np.max(np.abs(d)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", type=Path, default=ROOT / "docs" / "validation" / "validation.json")
    ap.add_argument("--json", type=Path, default=None, help="write the per-molecule numbers here")
    args = ap.parse_args()
    report = json.loads(args.report.read_text())
    model = LSIPModel(device="cpu")
    rows, out = {"before": {"q": [], "mu": [], "e": []}, "after": {"q": [], "mu": [], "e": []}}, []
    by_cat: dict[str, dict[str, list]] = {}
    for mol in report["molecules"]:
        st = load(mol["name"])
        pred = model.predict(st, raise_on_failure=False)
        ref_q = np.asarray(mol["charges"]["dft_hirshfeld_i"])
        q_new = pred.charges.numpy()
        mu_new = float(np.linalg.norm(pred.dipole.numpy())) * E_BOHR_TO_DEBYE
        e_new = pred.energy * HARTREE_TO_EV
        e_ref = mol["energy_eV"]["dft_atomization"]
        for tag, q, mu, e in (("before", np.asarray(mol["charges"]["model"]), mol["dipole_D"]["model"],
                               mol["energy_eV"]["model"]), ("after", q_new, mu_new, e_new)):
            rows[tag]["q"] += list(zip(q.tolist(), ref_q.tolist()))
            rows[tag]["mu"].append((mu, mol["dipole_D"]["dft"]))
            if e_ref is not None:
                rows[tag]["e"].append((e, e_ref))
                by_cat.setdefault(mol["category"], {"before": [], "after": []})[tag].append((e, e_ref))
        out.append({"name": mol["name"], "category": mol["category"], "converged": bool(pred.converged),
                    "energy_eV": e_new, "energy_eV_before": mol["energy_eV"]["model"], "dft_atomization_eV": e_ref,
                    "dipole_D": mu_new, "dipole_D_before": mol["dipole_D"]["model"],
                    "dft_dipole_D": mol["dipole_D"]["dft"],
                    "charges": q_new.tolist(), "hirshfeld_i": ref_q.tolist()})
    print("| quantity | unit | MAE before | MAE after | max before | max after |")
    print("|---|---|---:|---:|---:|---:|")
    for key, label, unit in (("q", "charges vs Hirshfeld-I", "e"), ("mu", "dipole vs DFT", "D"),
                             ("e", "energy vs DFT atomization", "eV")):
        (mb, xb), (ma, xa) = _stats(rows["before"][key]), _stats(rows["after"][key])
        print(f"| {label} | {unit} | {mb:.3f} | {ma:.3f} | {xb:.3f} | {xa:.3f} |")
    for cat, d in sorted(by_cat.items()):
        (mb, xb), (ma, xa) = _stats(d["before"]), _stats(d["after"])
        print(f"| energy, {cat} ({len(d['after'])}) | eV | {mb:.2f} | {ma:.2f} | {xb:.2f} | {xa:.2f} |")
    print(f"\nnot converged: {[o['name'] for o in out if not o['converged']]}")
    ions = [o for o in out if o["category"] == "ion"]
    print("\n| ion | E before | E after | DFT atomization | dipole before | after | DFT |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for o in ions:
        print(f"| {o['name']} | {o['energy_eV_before']:+.2f} | {o['energy_eV']:+.2f} | "
              f"{o['dft_atomization_eV']:+.2f} | {o['dipole_D_before']:.2f} | {o['dipole_D']:.2f} | "
              f"{o['dft_dipole_D']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
