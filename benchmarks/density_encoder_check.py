"""Density encoder before/after (issue 11.6): reconstruction error against the promolecule, charges against HI.

Usage: python benchmarks/density_encoder_check.py [--molecules h2o,hcl,...] [--basis def2-SVP] [--grid-level 3]
                                                  [--out benchmarks/results/density_encoder.json]

For every validation molecule (``assets/validation/``, default all 58) the reference DFT comes from
``lsip.reference.driver.ReferenceDFT`` (PBE0/def2-SVP, grid level 3, as ``lsip validate``) through the
persistent reference cache (its density matrix is stored, so a second run does no SCF: ~8 min of DFT on a
2-core machine from an empty cache, about a minute cached). On the SCF's own molecular grid it then runs

* **before**: the former encoder, ``weighting="inverse_density"`` (chi2 = integral (rho_w - rho)^2 / rho);
* **fit**: the L1 fit alone (``weighting="l1", use_prior=False``);
* **after**: the default encoder (L1 fit with the Hirshfeld-I prior inside the error budget),

and prints a markdown table: promolecule, before and after reconstruction errors (integral |rho_w - rho|, e),
the best L1 error E_min, charge MAE against Hirshfeld-I (same library and grid) before and after, and for every
molecule whose fit ties with the promolecule the slope that proves the tie (:func:`promolecule_slope`, >= 0:
no latent density is closer). "Polar" means max |q_HI| >= 0.1 e. See docs/reference.md ("The density encoder").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

HERE = Path(__file__).resolve().parent
POLAR_MIN = 0.1  # e: a molecule is polar when some Hirshfeld-I charge reaches this
TIE = 1e-6  # e: errors closer than this to the promolecule's count as equal


def below(row: dict, label: str) -> bool:
    """The encoder's reconstruction error is below the promolecule's (by more than :data:`TIE`)."""
    return row[label]["error"] < row["promolecule_error"] - TIE


def check_molecule(name: str, basis: str, grid_level: int) -> dict:
    """Reference DFT (cached) and the three encoders for one validation molecule."""
    from lsip.model.library import default_library
    from lsip.reference.charges import basis_on_grid, hirshfeld_i_charges
    from lsip.reference.density_encoder import project_density, promolecule_slope
    from lsip.reference.driver import ReferenceDFT
    from lsip.reference.grids import density_on_points, molecular_grid
    from lsip.validation.molecules import category, load

    library = default_library()
    t0 = time.perf_counter()
    res = ReferenceDFT(load(name), library=library, basis=basis, grid_level=grid_level).kernel()
    t_dft = time.perf_counter() - t0
    mol = res.mole()
    coords, weights = molecular_grid(mol, grid_level)
    rho = density_on_points(mol, res.density_matrix, coords)
    bd, bgrid = basis_on_grid(library, mol, coords)
    n_el, numbers = bd.n_electrons.numpy(), bd.numbers.numpy()
    hi = hirshfeld_i_charges(bgrid, rho, weights, numbers).charges
    args = (bgrid, n_el, numbers, rho, weights, float(mol.nelectron))
    out: dict = {"name": name, "formula": res.structure().formula, "category": category(name),
                 "symbols": list(res.symbols), "hirshfeld_i": hi.tolist(), "dft_time_s": t_dft,
                 "dft_cached": res.cached, "n_grid": len(rho)}
    for label, kw in (("before", {"weighting": "inverse_density"}), ("fit", {"use_prior": False}),
                      ("after", {"prior_charges": hi})):
        t0 = time.perf_counter()
        p = project_density(*args, **kw)
        out[label] = {"charges": p.charges.tolist(), "weights": p.weights.tolist(), "error": p.error,
                      "converged": p.converged, "time_s": time.perf_counter() - t0,
                      "mae_hirshfeld_i": float(np.mean(np.abs(p.charges - hi))),
                      "fit_error": p.fit_error, "error_budget": p.error_budget}
        out["promolecule_error"] = p.promolecule_error
    out["polar"] = bool(np.max(np.abs(hi)) >= POLAR_MIN)
    out["promolecule_slope"] = promolecule_slope(bgrid, n_el, rho, weights)
    return out


def summarise(rows: list[dict]) -> dict:
    """Charge MAE over all atoms (and over polar molecules' atoms) before/after; polar molecules not below."""
    def mae(label: str, sel: list[dict]) -> float:
        dev = [abs(q - h) for r in sel for q, h in zip(r[label]["charges"], r["hirshfeld_i"])]
        return float(np.mean(dev)) if dev else float("nan")

    polar = [r for r in rows if r["polar"]]
    not_below = [r["name"] for r in polar if not below(r, "after")]
    return {
        "n_molecules": len(rows), "n_polar": len(polar),
        "mae_all_before": mae("before", rows), "mae_all_after": mae("after", rows),
        "mae_polar_before": mae("before", polar), "mae_polar_after": mae("after", polar),
        "polar_below_promolecule_before": sum(below(r, "before") for r in polar),
        "polar_below_promolecule_after": sum(below(r, "after") for r in polar),
        "polar_not_below_after": not_below,
        "slopes_of_ties": {r["name"]: r["promolecule_slope"] for r in rows if not below(r, "after")},
        "encoder_time_s_before": sum(r["before"]["time_s"] for r in rows),
        "encoder_time_s_after": sum(r["after"]["time_s"] for r in rows),
    }


def table(rows: list[dict]) -> str:
    """Markdown table of the per-molecule numbers."""
    head = ("| molecule | polar | E_pro e | E before | E after | E_min | after < pro | q HI (1st atom) | q before | "
            "q after | MAE before | MAE after | slope at pro | after s |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in rows:
        b, a = r["before"], r["after"]
        slope = f"{r['promolecule_slope']:+.3f}" if not below(r, "after") else ""
        lines.append(
            f"| {r['name']} | {'yes' if r['polar'] else 'no'} | {r['promolecule_error']:.3f} | {b['error']:.3f} | "
            f"{a['error']:.3f} | {r['fit']['error']:.3f} | {'yes' if below(r, 'after') else 'tie'} | "
            f"{r['hirshfeld_i'][0]:+.3f} | {b['charges'][0]:+.3f} | {a['charges'][0]:+.3f} | "
            f"{b['mae_hirshfeld_i']:.3f} | {a['mae_hirshfeld_i']:.3f} | {slope} | {a['time_s']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the check and print/write the results."""
    from lsip.validation.molecules import available

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--molecules", default=None, help="comma-separated validation names (default: all)")
    ap.add_argument("--basis", default="def2-SVP")
    ap.add_argument("--grid-level", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "density_encoder.json"))
    args = ap.parse_args(argv)
    names = args.molecules.split(",") if args.molecules else available()
    rows = []
    for name in names:
        row = check_molecule(name, args.basis, args.grid_level)
        rows.append(row)
        print(f"{name:12s} pro {row['promolecule_error']:.4f} before {row['before']['error']:.4f} "
              f"after {row['after']['error']:.4f}  MAE(HI) {row['before']['mae_hirshfeld_i']:.3f} -> "
              f"{row['after']['mae_hirshfeld_i']:.3f}  ({row['after']['time_s']:.2f} s)", file=sys.stderr, flush=True)
    summary = summarise(rows)
    print(table(rows))
    print()
    print(json.dumps(summary, indent=1))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"settings": {"basis": args.basis, "grid_level": args.grid_level,
                                                       "omp_threads": os.environ.get("OMP_NUM_THREADS")},
                                          "summary": summary, "molecules": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
