"""``lsip predict`` and ``lsip scan``: the model (or a baseline) on structure files, as tables or JSON."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from lsip.errors import ConvergenceError, LSIPError
from lsip.io import format_from_extension, read_structures
from lsip.model.baselines import baseline
from lsip.model.model import LSIPModel
from lsip.model.params import default_parameter_set
from lsip.results import baseline_to_dict, json_safe, prediction_to_dict
from lsip.scan.path import predict_along, scan_structures
from lsip.structure import Structure


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``predict`` and ``scan``."""
    p = sub.add_parser("predict", help="charges, channels, energy terms and forces of structures")
    _common(p)
    p.set_defaults(func=run_predict)
    s = sub.add_parser("scan", help="stretch a bond / separate fragments, warm-started")
    _common(s)
    s.add_argument("--atoms", nargs=2, type=int, required=True, metavar=("I", "J"), help="0-based atom indices")
    s.add_argument("--start", type=float, required=True, help="first I-J distance, angstrom")
    s.add_argument("--stop", type=float, required=True, help="last I-J distance, angstrom")
    s.add_argument("--steps", type=int, default=21, help="number of points (default 21)")
    s.set_defaults(func=run_scan)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="structure file")
    p.add_argument("--format", dest="fmt", default=None,
                   help="xyz, extxyz, cif, pdb, poscar, traj (default: from the file extension)")
    p.add_argument("--charge", type=int, default=None, help="total charge (default: from the file, else 0)")
    p.add_argument("--model", choices=["lsip", "qeq", "eeq"], default="lsip")
    p.add_argument("--params", default=default_parameter_set(),
                   help=f"parameter set name (default: {default_parameter_set()}; also: first-principles)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _read(args: argparse.Namespace) -> list[Structure]:
    fmt = args.fmt or format_from_extension(args.path)
    return read_structures(args.path, fmt, charge=args.charge)


def _run_model(args: argparse.Namespace, structures: list[Structure]) -> list[dict]:
    if args.model != "lsip":
        return [baseline_to_dict(baseline(args.model, st, device="cpu" if args.device == "auto" else args.device))
                for st in structures]
    model = LSIPModel(params=args.params, device=args.device)
    t0 = time.perf_counter()
    try:
        preds = model.predict(structures)
    except ConvergenceError as exc:
        preds = exc.result
        print(f"warning: {exc}", file=sys.stderr)
    elapsed = time.perf_counter() - t0
    for p in preds:
        p.time_s = elapsed / len(preds)
    return [prediction_to_dict(p) for p in preds]


def run_predict(args: argparse.Namespace) -> int:
    """Entry of ``lsip predict``."""
    structures = _read(args)
    results = _run_model(args, structures)
    if args.json:
        print(json.dumps(json_safe(results[0] if len(results) == 1 else results), indent=1, allow_nan=False))
    else:
        for st, r in zip(structures, results):
            _print_table(st, r)
    return 0 if all(r["converged"] for r in results) else 1


def run_scan(args: argparse.Namespace) -> int:
    """Entry of ``lsip scan``."""
    st = _read(args)[0]
    if args.steps < 2:
        raise LSIPError("--steps must be at least 2")
    distances = np.linspace(args.start, args.stop, args.steps)
    frames, moved = scan_structures(st, args.atoms[0], args.atoms[1], distances)
    points = []
    if args.model == "lsip":
        model = LSIPModel(params=args.params, device=args.device)
        points = [{"distance_A": float(r), **prediction_to_dict(pred)}
                  for r, pred in zip(distances, predict_along(model, frames))]
    else:
        points = [{"distance_A": float(r), **baseline_to_dict(baseline(args.model, fr))}
                  for r, fr in zip(distances, frames)]
    if args.json:
        print(json.dumps(json_safe({"atoms": list(args.atoms), "moved_atoms": moved, "points": points}), indent=1,
                         allow_nan=False))
    else:
        i, j = args.atoms
        print(f"scan of {st.formula}: atoms {i}-{j}, moving {moved}")
        print(f"{'R/A':>8} {'E/eV':>12} {'q_I':>8} {'q_J':>8} {'conv':>5}")
        for pt in points:
            e = pt["energy_eV"]
            e_txt = f"{e:12.4f}" if e is not None else f"{'-':>12}"
            print(f"{pt['distance_A']:8.3f} {e_txt} {pt['charges_e'][i]:8.4f} {pt['charges_e'][j]:8.4f} "
                  f"{'yes' if pt['converged'] else 'NO':>5}")
    return 0 if all(pt["converged"] for pt in points) else 1


def _print_table(st: Structure, r: dict) -> None:
    print(f"{st.name or st.formula}: {r['n_atoms']} atoms, Q = {r['total_charge']:+g}, model {r['model']}")
    if r.get("energy_eV") is not None:
        terms = ", ".join(f"{k} {v:.4f}" for k, v in r.get("terms_eV", {}).items())
        print(f"  energy {r['energy_eV']:.6f} eV" + (f"  ({terms})" if terms else ""))
    print(f"  dipole {r['dipole_D']:.4f} D" + (f", mu {r['mu_eV']:.4f} eV" if "mu_eV" in r else ""))
    if "iterations" in r:
        print(f"  converged {r['converged']} in {r['iterations']} iterations (residual {r['residual']:.1e} Ha),"
              f" {r['time_s'] * 1000:.1f} ms on {r['device']}")
    print(f"  {'atom':>6} {'q/e':>9}" + ("  w+      w0      w-      w*" if "weights" in r else ""))
    for k, sym in enumerate(r["symbols"]):
        line = f"  {sym + str(k):>6} {r['charges_e'][k]:9.4f}"
        if "weights" in r:
            line += "  " + "  ".join(f"{r['weights'][lab][k]:.4f}" for lab in ("cation", "neutral", "anion", "excited"))
        print(line)
