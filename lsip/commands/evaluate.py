"""``lsip evaluate``: the model (and the EEQ/QEq baselines) against a data set with reference properties.

A table of summary errors on stdout; per-frame records as JSON (``--json OUT``) and CSV (``--csv OUT``).
What is compared, and how energies of another zero are aligned, is in docs/evaluate.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lsip.errors import LSIPError, SystemTooLargeError
from lsip.export import records_csv
from lsip.model.model import LSIPModel
from lsip.model.params import default_parameter_set
from lsip.results import json_safe
from lsip.workflows.evaluate import (
    APP_MAX_FRAMES,
    APP_MAX_TOTAL_ATOMS,
    BASELINES,
    EVALUATION_FORMATS,
    MAX_FRAMES,
    MAX_TOTAL_ATOMS,
    Evaluation,
    ReferenceKeys,
    evaluate_file,
    evaluation_to_dict,
    frame_records,
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate``."""
    p = sub.add_parser("evaluate", help="errors of the model (and baselines) against a data set with reference "
                                        "energies, forces, charges and dipoles (extended XYZ)")
    p.add_argument("path", type=Path, help="data set: extended XYZ as ASE writes it (or an ASE .traj)")
    p.add_argument("--format", dest="fmt", default=None, choices=EVALUATION_FORMATS,
                   help="extxyz or traj (default: traj for .traj files, else extxyz)")
    p.add_argument("--params", default=default_parameter_set(),
                   help=f"parameter set name (default: {default_parameter_set()}; also: first-principles)")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.add_argument("--baselines", action="store_true", help=f"also run {' and '.join(BASELINES).upper()} "
                   "(charges and dipoles)")
    p.add_argument("--json", dest="json_out", type=Path, default=None, metavar="OUT",
                   help="write the summary and per-frame records as JSON to OUT")
    p.add_argument("--csv", dest="csv_out", type=Path, default=None, metavar="OUT",
                   help="write the per-frame records as CSV to OUT")
    p.add_argument("--max-frames", type=int, default=APP_MAX_FRAMES,
                   help=f"frame limit (default {APP_MAX_FRAMES}, at most {MAX_FRAMES})")
    p.add_argument("--max-atoms", type=int, default=APP_MAX_TOTAL_ATOMS,
                   help=f"limit on the atoms of all frames together (default {APP_MAX_TOTAL_ATOMS:,}, at most "
                        f"{MAX_TOTAL_ATOMS:,})")
    for key, default in (("energy", "energy"), ("forces", "forces"), ("charges", "charges"), ("dipole", "dipole")):
        p.add_argument(f"--{key}-key", default=default,
                       help=f"name of the reference {key} in the file (default {default!r}; e.g. REF_{key})")
    p.set_defaults(func=run_evaluate)


def _progress(k: int, n: int) -> None:
    if sys.stderr.isatty():
        print(f"\rframe {k} of {n}", end="\n" if k == n else "", file=sys.stderr, flush=True)


def run_evaluate(args: argparse.Namespace) -> int:
    """Entry of ``lsip evaluate``: 0 when every frame was evaluated, 1 when some failed (listed on stderr)."""
    if not 1 <= args.max_frames <= MAX_FRAMES:
        raise LSIPError(f"--max-frames must be between 1 and {MAX_FRAMES}")
    if not 1 <= args.max_atoms <= MAX_TOTAL_ATOMS:
        raise LSIPError(f"--max-atoms must be between 1 and {MAX_TOTAL_ATOMS:,}")
    fmt = args.fmt or ("traj" if args.path.suffix.lower() == ".traj" else "extxyz")
    keys = ReferenceKeys(args.energy_key, args.forces_key, args.charges_key, args.dipole_key)
    model = LSIPModel(params=args.params, device=args.device)
    try:
        result = evaluate_file(args.path, model, fmt, name=args.path.name, keys=keys,
                               baselines=BASELINES if args.baselines else (), max_frames=args.max_frames,
                               max_total_atoms=args.max_atoms, progress=_progress)
    except SystemTooLargeError as exc:
        raise SystemTooLargeError(f"{exc}; raise the limit with --max-frames / --max-atoms") from None
    _print_summary(result)
    outputs = [(args.json_out, lambda: json.dumps(json_safe(evaluation_to_dict(result)), indent=1, allow_nan=False)),
               (args.csv_out, lambda: records_csv(frame_records(result)))]
    for path, text in outputs:
        if path is not None:
            try:
                path.write_text(text())
            except OSError as exc:
                raise LSIPError(f"cannot write {path}: {exc.strerror or exc}") from None
    for r in result.frames:
        if not r.ok:
            print(f"frame {r.frame} ({r.formula}) failed: {r.message}", file=sys.stderr)
    return 0 if result.n_failed == 0 else 1


def _number(value: float | None) -> str:
    return f"{value:12.4g}" if value is not None else f"{'-':>12}"


def _print_summary(result: Evaluation) -> None:
    fit = result.energy_fit
    print(f"{result.source}: {len(result.frames)} frames, {result.n_failed} failed, parameter set {result.params} "
          f"({result.time_s:.1f} s)")
    print(f"energies: {fit.message}")
    print(f"{'quantity':<18} {'model':<24} {'unit':<8} {'frames':>6} {'values':>7} {'MAE':>12} {'RMSE':>12}")
    for row in result.summary:
        if not row["values"]:
            continue
        print(f"{row['quantity']:<18} {row['model']:<24} {row['unit']:<8} {row['frames']:>6} {row['values']:>7} "
              f"{_number(row['MAE'])} {_number(row['RMSE'])}")
