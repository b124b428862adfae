"""``lsip optimize``: relax a structure on the model's energy surface (:func:`lsip.workflows.relax.relax`,
docs/optimize.md).

Prints one line per optimizer step (energy in eV, largest force in eV/angstrom), then the RMSD to the start and to
the DFT-relaxed geometry when there is one, and the bond table; ``--out`` writes the relaxed structure as extended
XYZ (with its forces). Exit code 0 when converged, 1 when not (the last geometry is still written), 2 for errors.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lsip.errors import LSIPError
from lsip.io import format_from_extension, read_structure
from lsip.model.model import LSIPModel
from lsip.model.params import default_parameter_set
from lsip.results import json_safe
from lsip.workflows import relax as relax_mod

#: Bond rows printed in the table output (the JSON has all).
MAX_PRINTED_BONDS = 60


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``optimize``."""
    p = sub.add_parser("optimize", help="relax a structure with the model (ASE BFGS or FIRE)")
    p.add_argument("path", type=Path, help="structure file (the first frame is relaxed)")
    p.add_argument("--format", dest="fmt", default=None,
                   help="xyz, extxyz, cif, pdb, poscar, traj (default: from the file extension)")
    p.add_argument("--charge", type=int, default=None, help="total charge (default: from the file, else 0)")
    p.add_argument("--params", default=default_parameter_set(),
                   help=f"parameter set name (default: {default_parameter_set()}; also: first-principles)")
    p.add_argument("--fmax", type=float, default=relax_mod.DEFAULT_FMAX,
                   help=f"largest force at convergence, eV/Å (default {relax_mod.DEFAULT_FMAX})")
    p.add_argument("--steps", type=int, default=relax_mod.DEFAULT_MAX_STEPS,
                   help=f"most optimizer steps (default {relax_mod.DEFAULT_MAX_STEPS})")
    p.add_argument("--optimizer", choices=relax_mod.OPTIMIZERS, default="BFGS")
    p.add_argument("--reference", type=Path, default=None,
                   help="DFT-relaxed structure to compare with (same atoms, same order; default: the matching "
                        "validation geometry, if any)")
    p.add_argument("--out", type=Path, default=None, help="write the relaxed structure here (extended XYZ)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--json", action="store_true", help="print JSON instead of progress lines and tables")
    p.set_defaults(func=run_optimize)


def _progress_line(step: relax_mod.RelaxStep) -> str:
    return (f"step {step.step:4d}  E {step.energy_eV:14.6f} eV  fmax {step.fmax_eV_A:10.4f} eV/Å  "
            f"{step.elapsed_s:7.2f} s")


def run_optimize(args: argparse.Namespace) -> int:
    """Entry of ``lsip optimize``."""
    structure = read_structure(args.path, args.fmt or format_from_extension(args.path), charge=args.charge)
    reference: object = "auto"
    if args.reference is not None:
        reference = read_structure(args.reference, format_from_extension(args.reference), charge=structure.charge)
    relax_mod.check_settings(structure, args.fmax, args.steps, args.optimizer)
    model = LSIPModel(params=args.params, device=args.device)
    if not args.json:
        print(f"relaxing {structure.name or structure.formula} ({structure.n_atoms} atoms, Q = {structure.charge:+d})"
              f" with {args.optimizer}, parameter set {model.params.name}, fmax {args.fmax:g} eV/Å, at most "
              f"{args.steps} steps")
    result = relax_mod.relax(structure, model=model, fmax=args.fmax, max_steps=args.steps,
                             optimizer=args.optimizer, reference=reference,
                             progress=None if args.json else (lambda s: print(_progress_line(s), flush=True)))
    if args.out is not None:
        _write(result, args.out)
    if args.json:
        out = relax_mod.result_to_dict(result)
        out["out"] = str(args.out) if args.out is not None else None
        print(json.dumps(json_safe(out), indent=1, allow_nan=False))
    else:
        _print_summary(result, args.out)
    return 0 if result.converged else 1


def _write(result: relax_mod.RelaxResult, path: Path) -> None:
    try:
        path.write_text(relax_mod.relaxed_extxyz(result))
    except OSError as exc:
        raise LSIPError(f"cannot write {path}: {exc.strerror or exc}") from None


def _print_summary(result: relax_mod.RelaxResult, out: Path | None) -> None:
    if result.converged:
        print(f"converged in {result.n_steps} steps ({result.elapsed_s:.2f} s): energy change "
              f"{result.energy_change_eV:+.6f} eV")
    else:
        print(f"NOT converged: {result.reason}")
    for note in result.notes:
        print(f"note: {note}")
    if not result.trajectory:
        return
    periodic = " (translation only: periodic)" if result.periodic else ""
    print(f"RMSD to the start: {result.rmsd_to_start_A:.4f} Å{periodic}")
    ref = result.reference
    if ref is not None:
        print(f"DFT reference: {ref.label}; RMSD start {ref.start_rmsd_A:.4f} Å, model-relaxed "
              f"{result.rmsd_to_reference_A:.4f} Å")
    rows = result.bonds()
    head = f"{'bond':>12} {'start/Å':>9} {'relaxed/Å':>10} {'change/Å':>9}"
    print(head + (f" {'DFT/Å':>9} {'relaxed-DFT':>11}" if ref is not None else ""))
    for r in rows[:MAX_PRINTED_BONDS]:
        line = f"{r['bond']:>12} {r['start_A']:9.4f} {r['relaxed_A']:10.4f} {r['change_A']:+9.4f}"
        if ref is not None:
            line += f" {r['reference_A']:9.4f} {r['relaxed_minus_reference_A']:+11.4f}"
        print(line + (f"  ({r['status']})" if r["status"] else ""))
    if len(rows) > MAX_PRINTED_BONDS:
        print(f"... {len(rows) - MAX_PRINTED_BONDS} more bonds (all in --json)")
    print(f"relaxed structure written to {out}" if out is not None else
          "(--out FILE writes the relaxed structure as extended XYZ)")
